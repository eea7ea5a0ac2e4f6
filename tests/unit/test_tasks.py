"""Specification of vc_core.tasks: which clip frame lands on which output frame, with which mask,
for video inpainting, outpainting, extension, transitions, seamless loops and camera moves.

Everything is checked after build_plan on a 32x48 (HxW) canvas, 17 frames long, with clips whose
frames are distinct solid colours, so each canvas tells exactly which clip frame it holds.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from vc_core.canvas import VAE_ZERO, camera_path, warp_onto_canvas
from vc_core.plan import FrameRange, PlanError, build_plan
from vc_core.tasks import (
    CameraClipPatch,
    TaskError,
    camera_move_sources,
    clip_frame_at,
    extend_sources,
    inpaint_sources,
    kept_frames,
    loop_append_frames,
    loop_sources,
    outpaint_sources,
    transition_sources,
)

H, W, LENGTH = 32, 48, 17


def colour(i: int, clip: int = 0) -> torch.Tensor:
    """The distinct solid colour of frame i of clip number `clip`."""
    return torch.tensor([0.05 * i + 0.1, 0.9 - 0.05 * i, 0.2 + 0.3 * clip])


def clip_of(frames: int, h: int = H, w: int = W, clip: int = 0) -> torch.Tensor:
    return torch.stack([colour(i, clip).expand(h, w, 3) for i in range(frames)])


def plan(sources, length=LENGTH):
    return build_plan(sources, W, H, length)


def holds(canvas: torch.Tensor, rgb: torch.Tensor, where=(slice(None), slice(None))) -> bool:
    """Every pixel of canvas[where] has colour rgb."""
    region = canvas[where]
    return torch.allclose(region, rgb.expand_as(region), atol=1e-5)


def which_frames(canvases, clip=0, at=(H // 2, W // 2)) -> list[int]:
    """For each canvas, the index of the clip frame whose colour it shows at pixel `at`."""
    out = []
    for canvas in canvases:
        matches = [i for i in range(32) if torch.allclose(canvas[at], colour(i, clip), atol=1e-5)]
        assert len(matches) == 1, f"canvas shows no clip-{clip} frame colour at {at}: {canvas[at]}"
        out.append(matches[0])
    return out


# ------------------------------------------------------------------------------------- kept frames


def test_every_nth_keeps_every_nth_frame_and_always_the_last():
    assert kept_frames(5) == [0, 1, 2, 3, 4]
    assert kept_frames(9, 4) == [0, 4, 8]
    assert kept_frames(8, 4) == [0, 4, 7]
    assert kept_frames(3, 10) == [0, 2]
    assert kept_frames(1, 3) == [0]
    with pytest.raises(TaskError, match="every_nth must be an integer >= 1; got 0"):
        kept_frames(5, 0)


# -------------------------------------------------------------------------------------- inpainting


def hole_mask(h=H, w=W) -> torch.Tensor:
    """1 (hole) on rows 8..23, columns 12..35; 0 elsewhere."""
    m = torch.zeros(h, w)
    m[8:24, 12:36] = 1.0
    return m


def test_inpaint_keeps_exactly_one_minus_mask_of_each_frame_from_start_frame_on():
    p = plan(inpaint_sources(clip_of(5), hole_mask(), start_frame=3))
    assert p.frames == [3, 4, 5, 6, 7]
    assert p.labels == ["inpaint"] * 5 and p.strengths == [1.0] * 5
    keep = 1.0 - hole_mask()
    for k in range(5):
        assert torch.equal(p.masks[k], keep)
        assert holds(p.canvases[k], colour(k), (slice(0, 8), slice(None)))  # kept: the clip frame
        assert torch.equal(p.canvases[k, 8:24, 12:36], torch.full((16, 24, 3), VAE_ZERO))  # hole


def test_inpaint_soft_mask_keeps_its_complement_and_zero_fills_the_rest():
    soft = torch.full((H, W), 0.25)
    p = plan(inpaint_sources(clip_of(1), soft))
    assert torch.allclose(p.masks[0], torch.full((H, W), 0.75))
    assert holds(p.canvases[0], 0.75 * colour(0) + 0.25 * VAE_ZERO)


def test_inpaint_every_nth_and_per_frame_masks():
    masks = torch.stack([hole_mask() * 0] * 2 + [hole_mask()] * 3)  # frames 2.. have the hole
    p = plan(inpaint_sources(clip_of(5), masks, start_frame=1, every_nth=2, strength=0.5))
    assert p.frames == [1, 3, 5] and which_frames(p.canvases, at=(0, 0)) == [0, 2, 4]
    assert p.strengths == [0.5] * 3
    assert p.masks[0].min() == 1.0  # frame 0: nothing to generate
    assert torch.equal(p.masks[1], 1.0 - hole_mask()) and torch.equal(p.masks[2], 1.0 - hole_mask())


def test_inpaint_skips_frames_the_mask_covers_entirely():
    masks = torch.zeros(5, H, W)
    masks[1:4] = 1.0  # regenerate clip frames 1..3 completely
    p = plan(inpaint_sources(clip_of(5), masks, start_frame=2))
    assert p.frames == [2, 6] and which_frames(p.canvases) == [0, 4]


def test_inpaint_stretches_a_smaller_video_to_the_canvas():
    half = torch.zeros(1, 16, 24)
    half[:, :, :12] = 1.0  # hole on the left half
    p = plan(inpaint_sources(clip_of(2, 16, 24), half))
    assert p.frames == [0, 1]
    assert (p.masks[:, :, :20] == 0).all() and (p.masks[:, :, 28:] == 1).all()
    assert holds(p.canvases[1], colour(1), (slice(None), slice(28, None)))
    assert holds(p.canvases[1], torch.full((3,), VAE_ZERO), (slice(None), slice(0, 20)))


def test_inpaint_refuses_bad_masks_naming_the_mask_and_both_sizes():
    with pytest.raises(TaskError, match=r"mask is 16x24 \(HxW\) but the video frames are 32x48"):
        inpaint_sources(clip_of(5), torch.zeros(16, 24))
    with pytest.raises(TaskError, match="mask has 3 frames but the video has 5"):
        inpaint_sources(clip_of(5), torch.zeros(3, H, W))
    with pytest.raises(TaskError, match="mask covers every pixel of every kept frame"):
        inpaint_sources(clip_of(5), torch.ones(1, H, W))
    with pytest.raises(TaskError, match="mask must be a MASK"):
        inpaint_sources(clip_of(5), torch.zeros(1, 1, H, W))


def test_inpaint_refuses_bad_numbers_and_clips_that_overrun_the_video():
    with pytest.raises(TaskError, match="start_frame must be an integer >= 0; got -1"):
        inpaint_sources(clip_of(5), hole_mask(), start_frame=-1)
    with pytest.raises(TaskError, match="strength must be a number in \\[0, 1\\]; got 1.5"):
        inpaint_sources(clip_of(5), hole_mask(), strength=1.5)
    with pytest.raises(TaskError, match="video must be an IMAGE"):
        inpaint_sources(torch.zeros(5, H, W, 3, dtype=torch.uint8), hole_mask())
    with pytest.raises(PlanError, match=r"condition #1 \(inpaint\).*out of range"):
        plan(inpaint_sources(clip_of(5), hole_mask(), start_frame=13))


# ------------------------------------------------------------------------------------- outpainting


def test_outpaint_puts_each_frame_inside_the_box_with_its_fit():
    # default box 0.2, 0.2, 0.6, 0.6 of 48x32: x 10..38, y 6..26 (28x20 px); a square clip contained
    # in it is 20x20, centred: columns 14..34
    p = plan(outpaint_sources(clip_of(3, 16, 16), start_frame=4))
    assert p.frames == [4, 5, 6] and p.labels == ["outpaint"] * 3
    inside = torch.zeros(H, W)
    inside[6:26, 14:34] = 1.0
    for k in range(3):
        assert torch.equal(p.masks[k], inside)
        assert holds(p.canvases[k], colour(k), (slice(6, 26), slice(14, 34)))
        outside = p.canvases[k][inside == 0]
        assert torch.equal(outside, torch.full_like(outside, VAE_ZERO))

    stretched = plan(outpaint_sources(clip_of(1, 16, 16), 0.0, 0.5, 0.5, 0.5, fit="stretch"))
    inside = torch.zeros(H, W)
    inside[16:32, 0:24] = 1.0
    assert torch.equal(stretched.masks[0], inside)


def test_outpaint_every_nth_and_feather():
    p = plan(outpaint_sources(clip_of(5, 16, 16), start_frame=2, every_nth=3, feather=2.0))
    assert p.frames == [2, 5, 6] and which_frames(p.canvases) == [0, 3, 4]
    assert 0 < p.masks[0, 6, 24] < 1 and p.masks[0, 16, 24] == 1  # soft edge, solid centre


def test_outpaint_box_must_lie_on_the_canvas():
    with pytest.raises(TaskError, match=r"x \+ width must be <= 1.*x=0.5 \+ width=0.6"):
        outpaint_sources(clip_of(2), x=0.5, width=0.6)
    with pytest.raises(TaskError, match="width and height must be > 0"):
        outpaint_sources(clip_of(2), height=0.0)
    with pytest.raises(TaskError, match="fit must be one of"):
        outpaint_sources(clip_of(2), fit="fill")
    with pytest.raises(TaskError, match="feather must be a number of pixels >= 0"):
        outpaint_sources(clip_of(2), feather=-1.0)


# --------------------------------------------------------------------------------------- extension


def test_extend_forward_puts_the_clips_last_frames_first():
    p = plan(extend_sources(clip_of(7), context_frames=3, direction="forward"))
    assert p.frames == [0, 1, 2] and which_frames(p.canvases) == [4, 5, 6]
    assert (p.masks == 1).all() and p.labels == ["extend forward"] * 3


def test_extend_backward_puts_the_clips_first_frames_last():
    p = plan(extend_sources(clip_of(7), context_frames=3, direction="backward"))
    assert p.frames == [14, 15, 16] and which_frames(p.canvases) == [0, 1, 2]
    one = plan(extend_sources(clip_of(7), context_frames=1, direction="backward"))
    assert one.frames == [16] and which_frames(one.canvases) == [0]
    whole = plan(extend_sources(clip_of(7), context_frames=7, direction="backward"), length=9)
    assert whole.frames == [2, 3, 4, 5, 6, 7, 8] and which_frames(whole.canvases) == list(range(7))


def test_extend_refuses_more_context_than_the_clip_or_the_video_has():
    with pytest.raises(TaskError, match="context_frames is 8 but the video has only 7 frames; "
                       "allowed 1..7"):
        extend_sources(clip_of(7), context_frames=8)
    with pytest.raises(TaskError, match="context_frames must be an integer >= 1; got 0"):
        extend_sources(clip_of(7), context_frames=0)
    with pytest.raises(TaskError, match="direction must be one of \\('forward', 'backward'\\)"):
        extend_sources(clip_of(7), direction="sideways")
    with pytest.raises(PlanError, match="extend backward"):
        plan(extend_sources(clip_of(7), context_frames=7, direction="backward"), length=5)


# ------------------------------------------------------------------------------ transition and loop


def test_transition_puts_the_end_of_a_first_and_the_start_of_b_last():
    p = plan(transition_sources(clip_of(6, clip=0), clip_of(5, clip=1), frames_a=2, frames_b=3,
                                strength=0.8))
    assert p.frames == [0, 1, 14, 15, 16]
    assert which_frames(p.canvases[:2], clip=0) == [4, 5]
    assert which_frames(p.canvases[2:], clip=1) == [0, 1, 2]
    assert p.labels == ["transition A"] * 2 + ["transition B"] * 3
    assert p.strengths == [0.8] * 5


def test_transition_names_the_clip_that_is_too_short():
    with pytest.raises(TaskError, match="frames_b is 6 but clip_b has only 5 frames"):
        transition_sources(clip_of(6), clip_of(5), frames_b=6)
    with pytest.raises(TaskError, match="clip_a must be an IMAGE"):
        transition_sources("clip", clip_of(5))


def test_loop_bridge_holds_the_clip_end_first_and_its_start_last():
    p = plan(loop_sources(clip_of(9), context_frames=2))
    assert p.frames == [0, 1, 15, 16] and which_frames(p.canvases) == [7, 8, 0, 1]
    assert p.labels == ["loop: clip end"] * 2 + ["loop: clip start"] * 2


def test_loop_append_rule_closes_the_loop():
    # the bridge output, by what its frames hold: the clip's end, new frames, the clip's start
    assert loop_append_frames(17, 2) == range(2, 15)
    clip = [f"clip{i}" for i in range(9)]
    bridge = [clip[7], clip[8], *(f"new{i}" for i in range(2, 15)), clip[0], clip[1]]
    cycle = clip + [bridge[i] for i in loop_append_frames(17, 2)]  # then back to clip[0]
    shown_next = {(a, b) for seq in (clip, bridge) for a, b in pairwise(seq)}
    seams = list(pairwise(cycle + cycle[:1]))
    assert all(seam in shown_next for seam in seams)  # every cut in the loop was generated smoothly
    assert (clip[8], "new2") in seams and ("new14", clip[0]) in seams
    with pytest.raises(TaskError, match="length must exceed 2 x context_frames"):
        loop_append_frames(9, 5)


def test_loop_refuses_more_context_than_the_clip():
    with pytest.raises(TaskError, match="context_frames is 10 but the video has only 9 frames"):
        loop_sources(clip_of(9), context_frames=10)


# ------------------------------------------------------------------------------------- camera move


def picture(h=16, w=24) -> torch.Tensor:
    """An image with the canvas' aspect, distinct in every pixel."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(h, w, 3, generator=g)


def placement(image, point, frames=1):
    """The canvas of `image` held still at (cx, cy, zoom): the reference for a path's ends."""
    return warp_onto_canvas(image, camera_path(frames, image.shape[-3:-1], (H, W), point, point), (H, W))


def test_camera_move_spans_the_whole_video_on_every_nth_frame():
    start, end = (0.4, 0.5, 1.0), (0.6, 0.45, 0.5)
    p = plan(camera_move_sources(picture(), start, end, every_nth=4))
    assert p.frames == [0, 4, 8, 12, 16] and p.labels == ["camera move"] * 5
    first, last = placement(picture(), start), placement(picture(), end)
    assert torch.allclose(p.canvases[0], first.pixels[0], atol=1e-5)
    assert torch.allclose(p.masks[0], first.mask[0], atol=1e-5)
    assert torch.allclose(p.canvases[-1], last.pixels[0], atol=1e-5)
    assert torch.allclose(p.masks[-1], last.mask[0], atol=1e-5)
    # zoom out to 0.5: the image covers the middle quarter, the borders are left to the model
    assert p.masks[-1, 0].max() == 0 and p.masks[-1, :, :8].max() == 0 and p.masks[-1, 16, 24] == 1


def test_camera_move_always_includes_the_last_frame():
    def frames(n):
        return plan(camera_move_sources(picture(), every_nth=n)).frames

    assert frames(5) == [0, 5, 10, 15, 16]
    assert frames(16) == [0, 16] and frames(40) == [0, 16]
    assert frames(1) == list(range(17))
    src, = camera_move_sources(picture(), every_nth=3)
    assert src.frames == FrameRange(0, -1, 3)


def test_camera_move_default_is_a_centred_zoom_in():
    p = plan(camera_move_sources(picture()))
    assert p.masks[0].sum() < p.masks[-1].sum() == H * W  # zoom 1 -> 1.5 fills the canvas
    assert torch.allclose(p.canvases[-1], placement(picture(), (0.5, 0.5, 1.5)).pixels[0], atol=1e-5)


def test_camera_move_stretches_a_clip_over_the_move():
    assert [clip_frame_at(t, 17) for t in (0, 0.25, 0.5, 0.75, 1)] == [0, 4, 8, 12, 16]  # real time
    assert [clip_frame_at(t, 3) for t in (0, 0.25, 0.5, 0.75, 1)] == [0, 1, 1, 2, 2]
    assert [clip_frame_at(t, 9) for t in (0, 0.5, 1)] == [0, 4, 8]
    assert clip_frame_at(0.0, 9) == 0

    still = (0.5, 0.5, 1.0)  # zoom 1 on the canvas aspect: the centre pixel shows the clip frame
    p = plan(camera_move_sources(clip_of(17, 16, 24), still, still, every_nth=4))
    assert p.frames == [0, 4, 8, 12, 16] and which_frames(p.canvases) == [0, 4, 8, 12, 16]
    p = plan(camera_move_sources(clip_of(3, 16, 24), still, still, every_nth=4))
    assert which_frames(p.canvases) == [0, 1, 1, 2, 2]
    src, = camera_move_sources(clip_of(3, 16, 24))
    assert isinstance(src.patch, CameraClipPatch)


def test_camera_move_refuses_bad_paths():
    with pytest.raises(TaskError, match="end_zoom must be > 0"):
        camera_move_sources(picture(), end=(0.5, 0.5, 0.0))
    with pytest.raises(TaskError, match="start_x must be a finite number"):
        camera_move_sources(picture(), start=(float("nan"), 0.5, 1.0))
    with pytest.raises(TaskError, match="easing must be one of"):
        camera_move_sources(picture(), easing="bounce")
    with pytest.raises(TaskError, match="every_nth must be an integer >= 1"):
        camera_move_sources(picture(), every_nth=0)
    with pytest.raises(TaskError, match="image must be an IMAGE"):
        camera_move_sources(torch.zeros(2, 2))


def test_camera_keeps_its_speed_when_the_last_gap_is_short():
    # every_nth 5 on 17 frames: conditions at 0, 5, 10, 15 and 16; the pan advances by frame time
    p = plan(camera_move_sources(picture(), (0.25, 0.5, 1.0), (0.75, 0.5, 1.0), every_nth=5))
    assert p.frames == [0, 5, 10, 15, 16]
    centres = [(m.sum(0) * torch.arange(W)).sum() / m.sum() for m in p.masks]
    steps = [float(b - a) for a, b in zip(centres, centres[1:], strict=False)]
    per_frame = [s / g for s, g in zip(steps, [5, 5, 5, 1], strict=True)]
    assert max(per_frame) - min(per_frame) < 0.05 * max(per_frame)


# ------------------------------------------------------------------------------------- refusals


def test_transition_ends_that_overlap_are_refused_with_the_numbers():
    with pytest.raises(PlanError) as err:
        plan(transition_sources(clip_of(9), clip_of(9), frames_a=5, frames_b=6), length=9)
    assert str(err.value) == (
        "condition #1 (transition A): frames_a + frames_b = 5 + 6 = 11 but the output has 9 frames: "
        "clip A's end (frames 0..4) and clip B's start (frames 3..8) would both condition frames 3..4; "
        "allowed: frames_a + frames_b <= length - 1 = 8 (lower frames_a or frames_b, or raise length)")


def test_transition_ends_that_touch_leave_nothing_to_generate_and_are_refused():
    with pytest.raises(PlanError, match="would fill all 9 frames, leaving none to generate; allowed: "
                       "frames_a \\+ frames_b <= length - 1 = 8"):
        plan(transition_sources(clip_of(9), clip_of(9), frames_a=4, frames_b=5), length=9)
    assert plan(transition_sources(clip_of(9), clip_of(9), frames_a=4, frames_b=4), length=9).frames == [
        0, 1, 2, 3, 5, 6, 7, 8]


def test_loop_whose_context_overlaps_itself_is_refused():
    with pytest.raises(PlanError) as err:
        plan(loop_sources(clip_of(9), context_frames=5), length=9)
    assert str(err.value) == (
        "condition #1 (loop: clip end): 2 x context_frames = 2 x 5 = 10 but the output has 9 frames: "
        "the clip's end (frames 0..4) and the clip's start (frames 4..8) would both condition frames 4; "
        "allowed: 2 x context_frames <= length - 1 = 8 (lower context_frames, or raise length)")
    assert plan(loop_sources(clip_of(9), context_frames=4), length=9).frames == [0, 1, 2, 3, 5, 6, 7, 8]


def test_inpaint_of_an_rgba_video_keeps_only_opaque_pixels_outside_the_hole():
    video = torch.cat([clip_of(2), torch.ones(2, H, W, 1)], -1)
    video[:, :, : W // 2, 3] = 0.0  # left half transparent
    video[1, ..., 3] = 0.0  # frame 1 wholly transparent: nothing kept, skipped like a full hole
    hole = torch.zeros(H, W)
    hole[: H // 2] = 1.0  # top half is the hole
    p = plan(inpaint_sources(video, hole))
    keep = torch.zeros(H, W)
    keep[H // 2:, W // 2:] = 1.0
    assert p.frames == [0] and torch.equal(p.masks[0], keep)
    assert holds(p.canvases[0], colour(0), (slice(H // 2, None), slice(W // 2, None)))
    assert holds(p.canvases[0], torch.full((3,), VAE_ZERO), (slice(None, H // 2), slice(None)))


def test_patch_mask_that_cannot_pair_with_its_image_is_refused_before_rendering():
    from vc_core.plan import ConditionSource, Patch

    patch = Patch(clip_of(1)[0], torch.ones(3, H, W))
    source = ConditionSource(patch, 0, node='"Hold it" (node 12)')
    with pytest.raises(PlanError) as err:
        build_plan([source], W, H, LENGTH, check_count=lambda k: pytest.fail("reached the count check"))
    assert str(err.value) == (
        'condition #1 from "Hold it" (node 12): its mask has 3 frames but its image has 1; give one mask '
        "for every frame (1) or one per image frame (1), or as many image frames as masks (e.g. "
        "RepeatImageBatch)")


@pytest.mark.parametrize("image, mask, what", [
    (clip_of(1)[0], torch.zeros(H, W), "its mask is zero everywhere"),
    (torch.cat([clip_of(1)[0], torch.zeros(H, W, 1)], -1), None,
     "the alpha channel of its image \\(RGBA\\) is zero everywhere"),
    (torch.cat([clip_of(1)[0], torch.ones(H, W, 1)], -1), torch.zeros(H, W),
     "its mask x the alpha channel of its image \\(RGBA\\) is zero everywhere"),
])
def test_patch_that_keeps_no_pixel_is_refused(image, mask, what):
    from vc_core.plan import ConditionSource, Patch

    with pytest.raises(PlanError, match="^condition #1: " + what):
        plan([ConditionSource(Patch(image, mask), 0)])


def test_source_frames_are_the_frames_the_plan_gives_each_source():
    """What a node checks where the frames are typed (vc_core.plan.source_frames) is exactly what
    build_plan resolves later, source by source."""
    from vc_core.plan import source_frames

    sources = [*inpaint_sources(clip_of(5), torch.zeros(H, W), start_frame=3, every_nth=2),
               *transition_sources(clip_of(4), clip_of(3, clip=1), 2, 3),
               *camera_move_sources(clip_of(1), every_nth=5)]
    assert [source_frames(s, LENGTH) for s in sources] == [[3, 5, 7], [0, 1], [14, 15, 16],
                                                           [0, 5, 10, 15, 16]]
    assert plan(sources).frames == [3, 5, 7, 0, 1, 14, 15, 16, 0, 5, 10, 15, 16]


def test_source_frames_name_the_input_they_are_checked_for():
    from vc_core.plan import source_frames

    (late,) = inpaint_sources(clip_of(5), torch.zeros(H, W), start_frame=14)
    with pytest.raises(PlanError, match=r"^start_frame entry 17 is out of range: allowed \[-17, 16\] "
                       r"for length 17 -- the 5-frame clip does not fit the 17-frame video"):
        source_frames(late, LENGTH, "start_frame")
