"""Specification of vc_core.windows: a long video as overlapping windows, each carrying the last frames
of the one before and the user conditions that fall on its new frames (pure maths, exact values)."""

from __future__ import annotations

import pytest
import torch

from vc_core.plan import VideoCanvasPlan
from vc_core.windows import (
    MAX_WINDOWS,
    Window,
    WindowError,
    plan_windows,
    window_plan,
    window_seed,
    window_starts,
)


def test_windows_step_by_window_minus_overlap_and_the_last_runs_past_the_end():
    # 61 frames, 17-frame windows overlapping by 5: each window adds 12 frames
    assert window_starts(61, 17, 5) == [0, 12, 24, 36, 48]
    ws = plan_windows(61, 17, 5)
    assert [(w.start, w.carried, w.keep) for w in ws] == [(0, 0, 17), (12, 5, 12), (24, 5, 12),
                                                          (36, 5, 12), (48, 5, 8)]
    assert [list(w.new_frames)[::len(w.new_frames) - 1] for w in ws] == [[0, 16], [17, 28], [29, 40],
                                                                         [41, 52], [53, 60]]
    assert list(ws[1].carried_frames) == [12, 13, 14, 15, 16]  # window 0's last 5 frames


def test_every_frame_comes_from_exactly_one_window_and_carried_frames_were_generated_before():
    for total, window, overlap in [(61, 17, 5), (1001, 81, 9), (17, 17, 1), (5, 5, 4), (100, 9, 8)]:
        ws = plan_windows(total, window, overlap)
        covered = [f for w in ws for f in w.new_frames]
        assert covered == list(range(total)), (total, window, overlap)
        for before, w in zip(ws, ws[1:], strict=False):
            assert list(w.carried_frames) == list(range(before.start + window - overlap,
                                                         before.start + window))
            assert w.carried_frames[-1] < w.new_frames[0]


def test_one_window_when_the_video_fits_in_it():
    assert plan_windows(17, 17, 4) == [Window(0, 0, 17, 0, 17)]


def test_a_window_longer_than_the_video_is_refused_by_name():
    """It would sample frames only to drop them (window_length 1025 on a 61-frame canvas sampled 1025
    frames to keep 61): refused, with the longest window allowed."""
    with pytest.raises(WindowError, match=r"^window_length 17 is longer than the length 9: one window "
                       r"would sample 17 frames to keep 9; allowed: window_length <= length, 4k\+1, i.e. "
                       r"at most 9$"):
        plan_windows(9, 17, 4)
    with pytest.raises(WindowError, match=r"window_length 1025 is longer than the canvas length 100: .* at "
                       r"most 97$"):
        plan_windows(100, 1025, 9, names={"total": "canvas length"})


def test_user_conditions_condition_the_window_whose_new_frames_hold_them():
    # frames on the whole timeline, in plan order (rows 0..5)
    frames = [0, 16, 17, 40, 13, 60]
    ws = plan_windows(61, 17, 5, frames)
    assert [(w.rows, w.frames) for w in ws] == [
        ((0, 1, 4), (0, 16, 13)),  # window 0 (new 0..16): at their own frames
        ((2,), (5,)),              # window 1 (new 17..28, starts at 12): 17 - 12
        ((3,), (16,)),             # window 2 (new 29..40, starts at 24): 40 - 24
        ((), ()),                  # window 3 (new 41..52)
        ((5,), (12,)),             # window 4 (new 53..60, starts at 48): 60 - 48
    ]
    # a condition on a carried frame (16 is carried into window 1) conditions only the window that
    # generated it
    assert sum(1 in w.rows for w in ws) == 1
    assert [w.conditions for w in ws] == [3, 6, 6, 5, 6]


def test_a_sixteen_thousand_frame_plan_is_exact():
    ws = plan_windows(16_001, 81, 17, [16_000], max_windows=300)
    assert len(ws) == 250 and ws[-1].start == 249 * 64 and ws[-1].rows == (0,)
    assert ws[-1].frames == (16_000 - 249 * 64,)


@pytest.mark.parametrize("args,fragments", [
    ((61, 16, 4), ["window_length", "4k+1", "got 16"]),
    ((61, 17, 17), ["overlap must be shorter than window_length", "got 17", "allowed 1..16"]),
    ((61, 17, 20), ["overlap must be shorter than window_length", "allowed 1..16"]),
    ((61, 17, 0), ["overlap must be an integer >= 1", "got 0"]),
    ((0, 17, 4), ["length must be an integer >= 1"]),
])
def test_bad_sizes_are_refused_naming_the_input(args, fragments):
    with pytest.raises(WindowError) as err:
        plan_windows(*args)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_conditions_beyond_the_video_are_refused_naming_the_frame():
    with pytest.raises(WindowError, match=r"conditions: frame 61 lies outside the 61-frame video "
                                          r"\(frames 0\.\.60"):
        plan_windows(61, 17, 5, [0, 61])
    with pytest.raises(WindowError, match="frame -1 lies outside"):
        plan_windows(61, 17, 5, [-1])


def test_more_windows_than_the_bound_are_refused_before_anything_runs():
    # 16,384 frames, 17-frame windows overlapping by 16: one new frame per window
    with pytest.raises(WindowError) as err:
        plan_windows(16_385, 17, 16)
    assert f"makes 16369 windows; at most {MAX_WINDOWS}" in str(err.value)
    assert len(plan_windows(MAX_WINDOWS * 12 + 5, 17, 5)) == MAX_WINDOWS
    with pytest.raises(WindowError, match=f"makes {MAX_WINDOWS + 1} windows"):
        plan_windows(MAX_WINDOWS * 12 + 6, 17, 5)


def test_inputs_are_named_as_the_caller_calls_them():
    with pytest.raises(WindowError, match=r"^canvas length 1001 in 17-frame windows overlapping by 16"):
        plan_windows(1001, 17, 16, max_windows=10, names={"total": "canvas length"})


def whole_plan() -> VideoCanvasPlan:
    """Three user conditions on a 61-frame, 8x8 video: frames 3, 20, 40 (colours 0.1, 0.2, 0.3)."""
    canvases = torch.stack([torch.full((8, 8, 3), v) for v in (0.1, 0.2, 0.3)])
    masks = torch.zeros(3, 8, 8)
    masks[:, :4] = 1
    return VideoCanvasPlan(8, 8, 61, 4, canvases, masks, [3, 20, 40], [1.0, 0.5, 0.8],
                           ["a", "b", "c"], ["condition #1", "condition #2", "condition #3"])


def test_window_plan_puts_carried_frames_first_then_the_users_at_window_relative_frames():
    plan = whole_plan()
    ws = plan_windows(61, 17, 5, plan.frames)
    first = window_plan(plan, ws[0])
    assert (first.length, first.frames, first.strengths, first.labels) == (17, [3], [1.0], ["a"])
    assert torch.equal(first.canvases, plan.canvases[:1]) and torch.equal(first.masks, plan.masks[:1])
    carried = torch.rand(5, 8, 8, 3)
    second = window_plan(plan, ws[1], carried)  # window 1: frames 12..28, new from 17
    assert second.frames == [0, 1, 2, 3, 4, 8] and second.strengths == [1.0] * 5 + [0.5]
    assert second.labels == ["carried"] * 5 + ["b"]
    assert second.origins[0] == "frame 12 carried from window 0"
    assert second.origins[5] == "condition #2 at frame 20"
    assert torch.equal(second.canvases[:5], carried) and torch.equal(second.canvases[5], plan.canvases[1])
    assert torch.equal(second.masks[:5], torch.ones(5, 8, 8)) and torch.equal(second.masks[5], plan.masks[1])
    assert window_plan(plan, ws[2], carried).frames == [0, 1, 2, 3, 4, 16]  # 40 - 24
    assert window_plan(plan, ws[3], carried).frames == [0, 1, 2, 3, 4]  # carried frames only


def test_window_plan_checks_the_carried_frames():
    plan = whole_plan()
    ws = plan_windows(61, 17, 5, plan.frames)
    with pytest.raises(ValueError, match="window 1 carries 5 frames; got 4"):
        window_plan(plan, ws[1], torch.rand(4, 8, 8, 3))
    with pytest.raises(ValueError, match="window 0 carries 0 frames; got 5"):
        window_plan(plan, ws[0], torch.rand(5, 8, 8, 3))


def test_each_window_has_its_own_seed():
    assert [window_seed(7, i) for i in range(3)] == [7, 8, 9]
    assert window_seed(2 ** 64 - 1, 1) == 0


# --- fade_join: the join's residual, faded in over the first new frames --------------------------

def test_fade_join_adds_the_whole_residual_to_the_first_new_frame_and_none_after_length():
    from vc_core.windows import fade_join

    new = torch.full((5, 2, 2, 3), 100, dtype=torch.uint8)
    generated = torch.full((2, 2, 3), 90, dtype=torch.uint8)
    kept = torch.full((2, 2, 3), 110, dtype=torch.uint8)  # residual +20
    out = fade_join(new, generated, kept, 4)
    assert out[:, 0, 0, 0].tolist() == [120, 115, 110, 105, 100]
    assert torch.equal(fade_join(new, kept, kept, 4), new)  # an exact copy: nothing to fade


def test_fade_join_makes_the_join_step_the_windows_own_step():
    """The first new frame minus the kept last frame equals the window's own step from its copy."""
    from vc_core.windows import fade_join

    g = torch.Generator().manual_seed(3)
    generated = torch.randint(60, 190, (4, 4, 3), generator=g, dtype=torch.uint8)
    kept = torch.randint(60, 190, (4, 4, 3), generator=g, dtype=torch.uint8)
    new = (generated.int() + torch.randint(-5, 6, (3, 4, 4, 3), generator=g)).clamp(0, 255).to(torch.uint8)
    out = fade_join(new, generated, kept, 3)
    assert torch.equal(out[0].int() - kept.int(), new[0].int() - generated.int())


def test_fade_join_checks_its_shapes():
    from vc_core.windows import WindowError, fade_join

    with pytest.raises(WindowError, match="fade_join needs"):
        fade_join(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), torch.zeros(4, 4, 3), torch.zeros(2, 2, 3), 3)


# --- one window's canvases drawn on their own: the whole timeline is never rendered ---------------

def _dense_tasks():
    """Conditions on (nearly) every frame of a 61-frame 32x48 video, one task each: video inpainting
    (a clip with a moving mask), outpainting (feathered), a camera move over one image (every 2nd
    frame) and over a clip (CameraClipPatch), and a feathered patch held on a frame range."""
    from vc_core.canvas import Box
    from vc_core.plan import ConditionSource, FrameRange, Patch, Placement
    from vc_core.tasks import camera_move_sources, inpaint_sources, outpaint_sources

    gen = torch.Generator().manual_seed(0)
    clip = torch.rand(61, 32, 48, 3, generator=gen)
    hole = torch.zeros(61, 32, 48)
    for f in range(61):
        hole[f, 8:20, f % 30:f % 30 + 12] = 1
    patch = Patch(torch.rand(16, 16, 3, generator=gen), placement=Placement(Box(4, 4, 20, 20, "px"),
                                                                              feather=2.0))
    return {"inpaint": inpaint_sources(clip, hole),
            "outpaint": outpaint_sources(clip, fit="cover", feather=3.0),
            "camera move (image)": camera_move_sources(clip[0], (0.3, 0.5, 1.0), (0.7, 0.4, 1.6),
                                                       "ease_in_out", every_nth=2, feather=1.5),
            "camera move (clip)": camera_move_sources(clip[::3], every_nth=1),
            "held patch": [ConditionSource(patch, FrameRange(5, 50, 1), strength=0.6)]}


@pytest.mark.parametrize("task", list(_dense_tasks()))
def test_each_window_draws_only_its_own_canvases_and_they_equal_the_whole_plans(task):
    from vc_core.plan import build_plan, time_conditions

    sources = _dense_tasks()[task]
    whole = build_plan(sources, 48, 32, 61)
    timed = time_conditions(sources, 48, 32, 61)
    assert (timed.frames, timed.strengths, timed.labels, timed.origins) == (
        whole.frames, whole.strengths, whole.labels, whole.origins)
    for win in plan_windows(61, 17, 5, timed.frames):
        carried = torch.rand(win.carried, 32, 48, 3) if win.carried else None
        drawn, expected = window_plan(timed, win, carried), window_plan(whole, win, carried)
        assert drawn.frames == expected.frames and drawn.origins == expected.origins
        assert len(win.rows) < len(timed.frames)  # a window's share, not the timeline
        assert torch.equal(drawn.canvases, expected.canvases), task
        assert torch.equal(drawn.masks, expected.masks), task


def test_timed_conditions_draw_rows_in_the_order_asked():
    from vc_core.plan import time_conditions

    timed = time_conditions(_dense_tasks()["inpaint"], 48, 32, 61)
    canvases, masks = timed.render()
    some, some_masks = timed.render([40, 3, 3, 17])
    assert torch.equal(some, canvases[[40, 3, 3, 17]]) and torch.equal(some_masks, masks[[40, 3, 3, 17]])
    assert timed.render([])[0].shape == (0, 32, 48, 3)


# --- ComfyUI's context windows: which conditions a window sees, at which of its frames ------------

def test_a_context_window_sees_the_conditions_on_its_latent_frames_at_its_own_frames():
    from vc_core.windows import context_window_conditions

    # conditions at pixel frames 0, 13 (between latents 3 and 4), 16 (latent 4), 20, 30, 32
    frames = [0, 13, 16, 20, 30, 32]
    # window of latent frames 3..7: frame 13 -> 4*0 + 1, 16 -> 4, 20 -> 8, 30 -> 4*4 + 2 (7.5 needs
    # latent 8: not in the window), 32 -> latent 8: not in the window
    assert context_window_conditions(frames, [3, 4, 5, 6, 7]) == ([1, 2, 3], [1, 4, 8])
    assert context_window_conditions(frames, [0, 1, 2, 3]) == ([0], [0])  # 13 needs latent 4 too
    assert context_window_conditions(frames, [4, 5, 6, 7, 8]) == ([2, 3, 4, 5], [0, 4, 14, 16])
    # ComfyUI 0.33's anchor frame first (the frame before the window): every place moves by one
    assert context_window_conditions(frames, [2, 3, 4, 5, 6, 7]) == ([1, 2, 3], [5, 8, 12])
    # a looped window wraps (latents 7, 8, 0, 1): 30 sits between 7 and 8, 32 on 8, 0 on 0; nothing
    # sits between 8 and 0
    assert context_window_conditions(frames, [7, 8, 0, 1]) == ([0, 4, 5], [8, 2, 4])
    assert context_window_conditions([5, 6], [1, 2], stride=4) == ([0, 1], [1, 2])
    assert context_window_conditions([], [0, 1, 2]) == ([], [])


def test_a_condition_two_windows_see_sits_at_the_same_place_of_the_video_in_both():
    from vc_core.windows import context_window_conditions

    for f in range(0, 33):
        seen = []
        for slots in ([0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [4, 5, 6, 7, 8]):
            rows, local = context_window_conditions([f], slots)
            if rows:
                seen.append(slots[0] * 4 + local[0])  # back on the whole video's pixel frames
        assert seen and set(seen) == {f}, f  # every frame is in some window, always at f
