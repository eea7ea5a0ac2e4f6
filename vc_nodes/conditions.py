"""VideoCanvas conditions as a CONDITIONING carries them to the model: two `model_conds` per entry
(ComfyUI's own per-prompt channel to the diffusion model), the condition latents (CONDRegular, so
cond/uncond batching concatenates them) and their timing (CONDConstant, so only equal timings batch
together).

Never silently wrong: both travel as pending values that refuse to be used. Only a patched model
(wrappers.accept_conditions) swaps them for usable ones, so conditions that reach a model without the
patch (say, one A14B expert of two) stop the run with an error that says what to add.
"""

from __future__ import annotations

from typing import NamedTuple

import comfy.conds

from ..vc_core.condition_tokens import Footprint
from .encode import DeferredEncoding
from .types import COND_LATENTS, COND_TIMING


class NotPatched(ValueError):
    pass


class ConditionTiming(NamedTuple):
    """Hashable and comparable: CONDConstant batches cond/uncond only when timings are equal.

    length: the pixel length the conditions were planned for (None: not checked); seed: the
    sampler's seed, filled in when a patched model accepts the conditions (strength noise)."""

    frames: tuple[int, ...]
    strengths: tuple[float, ...]
    stride: int
    length: int | None = None
    seed: int | None = None
    origins: tuple[str, ...] = ()  # per condition frame, where it came from in the graph
    footprint: Footprint | None = None  # where the canvases hold patch pixels (sparse tokens)
    # conditions without a time (their origins): latent frames ahead of the video (Wan VACE)
    references: tuple[str, ...] = ()
    # under ComfyUI's context windows: which of the whole video's conditions one window sees
    # (context_windows.resize_for_window); frames etc. are then that window's
    window_rows: tuple[int, ...] | None = None


_NOT_PATCHED = ("VideoCanvas conditions reached a model that was not patched for them, so they "
                "would be ignored. Put the model through 'VideoCanvas RoPE Interpolator' before this "
                "sampler (for Wan 2.2 A14B: both the high-noise and the low-noise expert), or use "
                "'VideoCanvas Sampler', which patches the model itself")


class PendingTiming(comfy.conds.CONDConstant):
    """The timing as the conditioning carries it: unusable until a patched model accepts it."""

    def process_cond(self, *args, **kwargs):
        raise NotPatched(_NOT_PATCHED)


class PendingLatents(comfy.conds.CONDRegular):
    """Condition latents not encoded yet (a DeferredEncoding from VideoCanvas Conditioning): the
    patched model encodes them after its memory check; any other use means no patch saw them."""

    def __init__(self, cond):
        self.cond = cond

    def process_cond(self, *args, **kwargs):
        raise NotPatched(_NOT_PATCHED)

    def size(self):  # ComfyUI's memory estimate asks before any step
        raise NotPatched(_NOT_PATCHED)


def check_latent_matches_plan(timing: ConditionTiming, latent_hw, shape) -> None:
    """Conditions planned for one length or size, sampled on a latent of another: refuse, naming both."""
    if len(shape) != 5:
        return
    f, h, w = shape[2], shape[3], shape[4]
    ch, cw = latent_hw
    refs = len(timing.references)
    planned_f = None if timing.length is None else (timing.length - 1) // timing.stride + 1 + refs
    if (ch, cw) != (h, w) or (planned_f is not None and planned_f != f):
        ahead = f" with {refs} reference frame{'s' if refs != 1 else ''} ahead" if refs else ""
        planned = (f"{timing.length} frames ({planned_f} latent frames{ahead})" if timing.length is not None
                   else "its length")
        given = f"{(f - 1) * timing.stride + 1} frames ({f} latent frames)"
        raise ValueError(f"latent_image: the VideoCanvas conditions were planned for {planned} at a "
                         f"{cw}x{ch} latent, but the sampler was given a latent of {given} at "
                         f"{w}x{h}. Use the latent the VideoCanvas Conditioning node outputs, or set "
                         f"its width, height and length to the latent's")


def latent_geometry(latents) -> tuple[int, tuple[int, int], int]:
    """(channels, latent h x w, number of conditions) of encoded latents [1, C, K, h, w] or of a
    DeferredEncoding (known without encoding)."""
    if isinstance(latents, DeferredEncoding):
        return latents.channels, latents.latent_hw, latents.num_conditions
    return int(latents.shape[1]), tuple(latents.shape[-2:]), int(latents.shape[2])


def attach_conditions(conditioning: list, latents, frames, strengths, stride: int,
                      length: int | None = None, origins=(), masks=None, references=()) -> list:
    """A copy of a CONDITIONING list whose entries carry the conditions, planned for `length`
    frames: raw VAE latents [1, C, K, h, w] (the patched model applies its latent format), or a
    DeferredEncoding that the patched model encodes before sampling. masks: the plan's pixel masks
    [K, H, W], what sparse condition tokens keep (without them, sparse keeps every token).
    references: the origins of conditions without a time, which only a model with a reference slot
    reads."""
    footprint = None if masks is None else Footprint.from_masks(masks, latent_geometry(latents)[1])
    timing = ConditionTiming(tuple(int(f) for f in frames), tuple(float(s) for s in strengths),
                             int(stride), None if length is None else int(length),
                             origins=tuple(origins), footprint=footprint, references=tuple(references))
    out = []
    for tensor, extras in conditioning:
        extras = dict(extras)
        model_conds = dict(extras.get("model_conds", {}))
        model_conds[COND_LATENTS] = (PendingLatents(latents) if isinstance(latents, DeferredEncoding)
                                     else comfy.conds.CONDRegular(latents))
        model_conds[COND_TIMING] = PendingTiming(timing)
        extras["model_conds"] = model_conds
        out.append([tensor, extras])
    return out
