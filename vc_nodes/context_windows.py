"""VideoCanvas conditions under ComfyUI's own context windows (its Context Windows nodes).

ComfyUI denoises a long latent window by window at every step and blends the windows' predictions.
Each window must see the conditions that fall on its latent frames, at its own frames: ComfyUI asks
the model's conditions for each window through its handler's RESIZE_COND_ITEM callbacks (ComfyUI
0.7 on), and the pack answers for its two model_conds (vc_core.windows.context_window_conditions).
A ComfyUI without those callbacks, a paradigm whose layout the windows would cut (latent
replacement, VACE's control video, LTX-Video's guides), or windows that could leave a condition out
of every window (any schedule but the static one, no overlap), are refused by name before sampling.
Channel concatenation needs nothing of the pack: its conditions are the model's own mask and image
channels by then, which ComfyUI slices itself.
"""

from __future__ import annotations

import comfy.context_windows as cw

from ..vc_core.paradigms import CHANNEL_CONCAT, IN_CONTEXT
from ..vc_core.windows import context_window_conditions
from .types import COND_LATENTS, COND_TIMING

_KEY = "videocanvas"
# Paradigms whose conditions the pack windows (in-context tokens), or ComfyUI does (channels).
WINDOWED = (IN_CONTEXT, CHANNEL_CONCAT)
_RESIZE = getattr(getattr(cw, "IndexListCallbacks", None), "RESIZE_COND_ITEM", None)


def _refuse(why: str) -> ValueError:
    return ValueError(f"VideoCanvas conditions with context windows (a Context Windows node): {why}. "
                      f"Or use VideoCanvas Long Video, which chains windows through their frames")


def accept(handler, paradigm: str, entries: list) -> None:
    """Before sampling: refuse what cannot be windowed, then make the handler window the pack's
    conditions (idempotent: one callback under the pack's key)."""
    if paradigm not in WINDOWED:
        raise _refuse(f"the {paradigm} paradigm lays its conditions out in a way the windows would cut; "
                      f"windowed: {', '.join(WINDOWED)}")
    if _RESIZE is None or not isinstance(getattr(handler, "callbacks", None), dict):
        # (nor does 0.3.75 slice the channels of an image-to-video model per window)
        raise _refuse("this ComfyUI's context windows cannot give each window its own model "
                      "conditions (ComfyUI 0.7 or newer can)")
    if paradigm == CHANNEL_CONCAT:
        return  # the model's own channels by now: ComfyUI slices them per window
    if not isinstance(handler, cw.IndexListContextHandler):
        raise _refuse(f"the handler {type(handler).__name__} is not ComfyUI's index-list one")
    schedule = getattr(handler.context_schedule, "name", "")
    # Every pair of neighbouring latent frames must lie in one window at every step, or a condition
    # between two windows would be in none: true of the static schedule with an overlap; the
    # uniform ones shift their windows from step to step and leave such gaps (tested over ComfyUI's
    # schedules), and batched windows do not overlap.
    static = cw.ContextSchedules.STATIC_STANDARD  # (every ComfyUI with the callbacks has it)
    if schedule != static or handler.context_overlap < 1 or handler.context_stride != 1:
        raise _refuse(f"context_schedule must be {static!r} with context_overlap >= 1 and "
                      f"context_stride 1, so that every condition lies inside a window at every step "
                      f"(got {schedule!r}, overlap {handler.context_overlap}, stride "
                      f"{handler.context_stride})")
    if getattr(handler, "latent_retain_index_list", None):
        raise _refuse("retained latent frames (latent_retain_index_list) put whole-video frames into "
                      "every window; leave it empty")
    if any(c["model_conds"][COND_TIMING].cond.references for c in entries):
        raise _refuse("a reference (VideoCanvas Reference Image) takes latent frames ahead of the video")
    callbacks = handler.callbacks.setdefault("callbacks", {}).setdefault(_RESIZE, {})
    callbacks[_KEY] = [resize_for_window]


def window_slots(window) -> list[int]:
    """The whole video's latent frame at each of the window's latent frames: its index list, after
    the anchor frame ComfyUI 0.33 prepends (causal_window_fix)."""
    anchor = getattr(window, "causal_anchor_index", None)
    slots = list(window.index_list)
    return [anchor, *slots] if anchor is not None and anchor >= 0 else slots


def resize_for_window(cond_key, cond_value, window, x_in, device, new_cond_item):
    """RESIZE_COND_ITEM callback: the timing and the latents of the conditions this window sees;
    None (ComfyUI's own handling) for every other key. Both keys pick the same rows: the windowed
    timing records them, whichever key ComfyUI resizes first."""
    if cond_key not in (COND_TIMING, COND_LATENTS):
        return None
    timing = new_cond_item[COND_TIMING].cond
    if timing.window_rows is None:
        rows, local = context_window_conditions(timing.frames, window_slots(window), timing.stride)
        timing = timing._replace(
            frames=tuple(local), strengths=tuple(timing.strengths[r] for r in rows), length=None,
            origins=tuple(timing.origins[r] for r in rows) if timing.origins else (),
            footprint=None if timing.footprint is None else timing.footprint.rows(rows),
            window_rows=tuple(rows))
    if cond_key == COND_TIMING:
        return cond_value._copy_with(timing)
    return cond_value._copy_with(cond_value.cond[:, :, list(timing.window_rows)])
