"""VideoCanvas conditions under ComfyUI's own context windows (its ContextWindowsManual node), inside a
real in-process ComfyUI on the tiny Wan 2.1 checkpoints.

The specification: ComfyUI denoises the latent window by window at every step; every diffusion-model
call of a window with conditions gets exactly the conditions on that window's latent frames (the
rows of the whole video's condition latents, bit for bit) at that window's own frames
(vc_core.windows.context_window_conditions), and every condition is seen by some window at every
step. A window without conditions runs Wan's own forward. Where it cannot work the combination is
refused by name before sampling: a ComfyUI whose context windows have no per-item callback
(0.3.75), overlap 0, another paradigm than in-context tokens or channels.
"""

from __future__ import annotations

import pytest
import torch

from helpers import recorded_ksampler
from hostkit.inprocess import windowed

W, H, LENGTH = 48, 32, 33  # 9 latent frames
FRAMES = "0, 13, 20, 32"   # 13: between latent frames 3 and 4; 32: the last latent frame


def host_windows_conditions() -> bool:
    import comfy.context_windows as cw

    return hasattr(getattr(cw, "IndexListCallbacks", None), "RESIZE_COND_ITEM")


def prompts(seed=1):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 5, 4096, generator=g), {}]], [[torch.randn(1, 5, 4096, generator=g), {}]]


def conditioned(n, vae, frames=FRAMES):
    """VideoCanvas Conditioning: full random images at `frames` of a 33-frame 48x32 canvas."""
    canvas = n.canvas.VideoCanvasCanvas.execute(W, H, LENGTH, 16.0)[0]
    conds = None
    for i, f in enumerate(frames.split(",")):
        img = torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(10 + i))
        patch = n.patches.VideoCanvasPatchPlacer.execute(img, 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                         0.0)[0]
        conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, f.strip(), "frames", canvas,
                                                                  1.0, conds)[0]
    pos, neg = prompts()
    return n.sampling.VideoCanvasConditioning.execute(pos, neg, vae, canvas, 1, conds)[:3]


def patched(n, model, paradigm="in_context"):
    return n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(model, "interpolate", paradigm)[0]


@pytest.mark.skipif("not host_windows_conditions()", reason="this ComfyUI refuses it (tested below)")
def test_each_window_gets_the_conditions_on_its_latent_frames_at_its_own_frames(n, t2v, vae, monkeypatch):
    from vc_core.windows import context_window_conditions

    cw, wrappers = n.context_windows, n.wrappers
    whole = {}
    real_resize = cw.resize_for_window

    def resize_spy(cond_key, cond_value, window, x_in, device, new_cond_item):
        if cond_key == n.types.COND_LATENTS:
            whole["latents"] = cond_value.cond
        if cond_key == n.types.COND_TIMING and cond_value.cond.window_rows is None:
            whole["frames"] = cond_value.cond.frames
        return real_resize(cond_key, cond_value, window, x_in, device, new_cond_item)

    calls = []
    real_forward = wrappers.VideoCanvasForward.forward

    def forward_spy(self, wan, x, timestep, context, latents, timing, *args, **kwargs):
        window = args[2]["context_window"]  # after clip_fea, time_dim_concat: transformer_options
        calls.append((cw.window_slots(window), x.shape[2], timing.frames, latents, float(timestep[0])))
        return real_forward(self, wan, x, timestep, context, latents, timing, *args, **kwargs)

    monkeypatch.setattr(cw, "resize_for_window", resize_spy)
    monkeypatch.setattr(wrappers.VideoCanvasForward, "forward", forward_spy)
    pos, neg, latent = conditioned(n, vae)
    model = windowed(patched(n, t2v))
    samples, _ = recorded_ksampler(model, pos, neg, latent, 3, 2, 3.0)
    assert samples.shape == (1, 16, 9, H // 8, W // 8) and torch.isfinite(samples).all()

    assert whole["frames"] == (0, 13, 20, 32) and whole["latents"].shape[2] == 4
    steps = sorted({c[4] for c in calls}, reverse=True)
    assert len(steps) == 2
    for step in steps:
        seen = set()
        for slots, frames_in_x, frames, latents, _ in (c for c in calls if c[4] == step):
            rows, local = context_window_conditions(whole["frames"], slots)
            assert frames_in_x == len(slots) and frames == tuple(local) and rows
            for b in range(latents.shape[0]):  # cond and uncond rows, batched by ComfyUI
                assert torch.equal(latents[b], whole["latents"][0][:, rows])
            seen.update(rows)
        assert seen == {0, 1, 2, 3}  # every condition in some window at every step


def test_context_windows_are_refused_by_name_where_they_cannot_carry_the_conditions(n, t2v, vae):
    pos, neg, latent = conditioned(n, vae)
    if not host_windows_conditions():
        with pytest.raises(ValueError, match=r"context windows .*cannot give each window its own model "
                                             r"conditions \(ComfyUI 0\.7 or newer can\)"):
            recorded_ksampler(windowed(patched(n, t2v)), pos, neg, latent, 3, 1, 1.0)
        return
    with pytest.raises(ValueError, match=r"context_schedule must be 'standard_static' with context_overlap "
                                         r">= 1 .*\(got 'standard_static', overlap 0, stride 1\)"):
        recorded_ksampler(windowed(patched(n, t2v), overlap=0), pos, neg, latent, 3, 1, 1.0)
    with pytest.raises(ValueError, match=r"\(got 'standard_uniform', overlap 2, stride 1\)"):
        recorded_ksampler(windowed(patched(n, t2v), schedule="standard_uniform"), pos, neg, latent, 3, 1, 1.0)
    with pytest.raises(ValueError, match=r"the latent_replacement paradigm .* windowed: in_context, "
                                         r"channel_concat.*VideoCanvas Long Video"):
        recorded_ksampler(windowed(patched(n, t2v, "latent_replacement")), pos, neg, latent, 3, 1, 1.0)


@pytest.mark.skipif("not host_windows_conditions()", reason="this ComfyUI refuses it (tested above)")
def test_the_static_schedule_holds_every_pair_of_neighbouring_latent_frames_in_a_window():
    """What the pack's rule (schedule standard_static, overlap >= 1, stride 1) relies on, over
    ComfyUI's own schedule: a condition between latent frames k and k + 1 is in some window at every
    step. The uniform schedules shift their windows per step and leave such pairs out (hence refused)."""
    import comfy.context_windows as cw

    def missing(name, frames, length, overlap, step):
        handler = cw.IndexListContextHandler(cw.get_matching_context_schedule(name),
                                             cw.get_matching_fuse_method("pyramid"), length, overlap, 1,
                                             False, 2)
        handler._step = step
        windows = handler.context_schedule.func(frames, handler, {})
        pairs = {(w[j], w[j + 1]) for w in windows for j in range(len(w) - 1)}
        return [k for k in range(frames - 1) if (k, k + 1) not in pairs]

    for frames in range(3, 42):
        for length in range(2, min(frames, 12)):
            for overlap in range(1, length):
                assert not missing("standard_static", frames, length, overlap, 0), (frames, length, overlap)
    assert missing("standard_uniform", 21, 5, 1, 1) == [9]
