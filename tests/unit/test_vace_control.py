"""VACE control (vc_core/paradigms/vace_control.py): the streams and the mask a VACE model reads, and
the latent mask rule that keeps every condition known in the latent frame holding it."""

from __future__ import annotations

import pytest
import torch

from vc_core.paradigms.vace_control import (
    VaceControlError,
    control_streams,
    latent_frame_slots,
    latent_mask,
    native_latent_mask,
    with_references,
)


def test_the_streams_split_the_control_video_by_the_mask_around_grey():
    video = torch.tensor([0.0, 0.25, 1.0]).reshape(1, 1, 3, 1).expand(1, 1, 3, 3).clone()  # [L, H, W, 3]
    generate = torch.tensor([[[0.0, 1.0, 0.5]]])  # known, generated, half known
    inactive, reactive = control_streams(video, generate)
    assert inactive[0, 0, :, 0].tolist() == [0.0, 0.5, 0.75]  # known pixels stay, generated ones grey
    assert reactive[0, 0, :, 0].tolist() == [0.5, 0.25, 0.75]
    assert torch.equal(inactive + reactive - 0.5, video)  # the two streams add back to the video


def test_latent_frames_hold_pixel_frames_as_a_causal_vae_packs_them():
    assert [list(s) for s in latent_frame_slots(9)] == [[0], [1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(VaceControlError, match="length must be 4k\\+1; got 10"):
        latent_frame_slots(10)


def test_the_mask_puts_each_pixel_of_an_8x8_block_in_its_own_channel():
    generate = torch.zeros(1, 16, 8)
    generate[0, 9, 3] = 1.0  # latent cell (1, 0), pixel (dy, dx) = (1, 3)
    mask = latent_mask(generate)
    assert mask.shape == (1, 64, 1, 2, 1)
    assert mask.nonzero().tolist() == [[0, 1 * 8 + 3, 0, 1, 0]]


def test_a_mask_the_same_at_every_frame_gives_the_native_mask_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    hole = (torch.rand(1, 32, 48, generator=g) > 0.5).float().expand(81, -1, -1)
    assert torch.equal(latent_mask(hole), native_latent_mask(hole))


@pytest.mark.parametrize("frame", [0, 41, 42, 43, 44, 80])
def test_a_single_known_frame_is_known_in_the_latent_frame_that_holds_it(frame):
    """81 frames, one known frame: native nearest-exact resampling reads pixel frames 1, 5, 9, 13, 17,
    21, 25, 28, 32, 36, 40, 44, ... 79 (one per latent frame; latent frame 0 reads pixel frame 1), so of
    these it sees frame 44 only; this rule sees every one, in the latent frame that holds it."""
    generate = torch.ones(81, 8, 8)
    generate[frame] = 0.0
    slot = 0 if frame == 0 else (frame - 1) // 4 + 1
    ours, native = latent_mask(generate), native_latent_mask(generate)
    assert ours[0, :, slot].eq(0).all() and ours[0, :, [s for s in range(21) if s != slot]].eq(1).all()
    native_sees = bool(native[0, :, slot].eq(0).all())
    assert native_sees == (frame == 44), f"native sees frame {frame}: {native_sees}"


def test_references_go_ahead_of_the_control_video_known_with_no_reactive_stream():
    """WanVaceToVideo's reference_image layout: the reference latent one frame ahead of the control
    video's in the inactive stream, the no-reactive latent in the reactive one, mask 0 (known)."""
    frames = torch.full((1, 32, 3, 2, 2), 5.0)  # inactive (16) + reactive (16), 3 latent frames
    mask = torch.ones(1, 64, 3, 2, 2)
    refs = torch.full((1, 16, 2, 2, 2), 7.0)  # two references
    frames_out, mask_out = with_references(frames, mask, refs, torch.full((1, 16, 1, 2, 2), -1.0))
    assert frames_out.shape == (1, 32, 5, 2, 2) and mask_out.shape == (1, 64, 5, 2, 2)
    assert frames_out[:, :16, :2].eq(7).all() and frames_out[:, 16:, :2].eq(-1).all()
    assert torch.equal(frames_out[:, :, 2:], frames) and torch.equal(mask_out[:, :, 2:], mask)
    assert mask_out[:, :, :2].eq(0).all()


def test_a_condition_without_a_time_is_a_reference_only_a_vace_model_reads():
    from vc_core.canvas import Box
    from vc_core.paradigms import PARADIGMS, ParadigmError
    from vc_core.plan import REFERENCE, ConditionSource, Patch, Placement, PlanError, build_plan

    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 16, 16, 3, generator=g)
    full = Patch(image, None, Placement(Box(0.0, 0.0, 1.0, 1.0, "fraction"), "cover", 0.0))
    sources = [ConditionSource(full, 4), ConditionSource(full, REFERENCE, label="subject")]
    plan = build_plan(sources, 16, 16, 9)
    assert plan.frames == [4] and plan.num_conditions == 1 and plan.num_references == 1
    assert torch.equal(plan.references[0], image[0]) and torch.equal(plan.canvases[0], image[0])
    assert plan.reference_origins == ["condition #2 (subject)"]
    PARADIGMS["vace_control"].check_references(plan.reference_origins, "a Wan VACE model")
    for name in ("in_context", "latent_replacement", "channel_concat"):
        PARADIGMS[name].check_references((), "any model")
        message = (r"conditions: condition #2 \(subject\): 1 reference \(VideoCanvas Reference Image: a "
                   r"condition without a time\) needs a model with a reference slot \(a Wan VACE model\); "
                   r"this is a T2V model")
        with pytest.raises(ParadigmError, match=message):
            PARADIGMS[name].check_references(plan.reference_origins, lambda: "a T2V model")
    with pytest.raises(PlanError, match=r"strength of condition #1: a reference has no strength"):
        build_plan([ConditionSource(full, REFERENCE, strength=0.5)], 16, 16, 9)
    clip = Patch(torch.rand(3, 16, 16, 3, generator=g), None, full.placement)
    with pytest.raises(PlanError, match=r"condition #1: a reference is one image; got a 3-frame clip"):
        build_plan([ConditionSource(clip, REFERENCE)], 16, 16, 9)
    # read whole by the model: a patch that leaves canvas pixels uncovered is refused, not padded grey
    half = Patch(image, None, Placement(Box(0.0, 0.0, 0.5, 1.0, "fraction"), "cover", 0.0))
    masked = Patch(image, (torch.rand(16, 16, generator=g) > 0.5).float(), full.placement)
    for patch in (half, masked):
        with pytest.raises(PlanError, match=r"condition #1: a reference is read whole, with no mask"):
            build_plan([ConditionSource(patch, REFERENCE)], 16, 16, 9)
    # only the node's own marker means "no time": no frame spec a user types does
    with pytest.raises(PlanError, match="frames of condition #1"):
        build_plan([ConditionSource(full, "reference")], 16, 16, 9)
