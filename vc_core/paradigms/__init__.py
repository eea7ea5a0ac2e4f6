"""Every way VideoCanvas conditions reach a model family, one module each behind one interface
(base.Paradigm: what a condition becomes, the forward, the refusals):

  in_context          the paper's: each condition its own latent frame of tokens, appended
  latent_replacement  the paper's baseline: a condition overwrites its causal latent frame
  channel_concat      Wan image-to-video models: conditions in the model's mask and image channels
  vace_control        Wan VACE models: conditions in the control video and mask VACE was trained on
  ltx_guides          LTX-Video: each condition a guide latent appended at its pixel frame, as LTX was
                      trained to read them
  ltx_in_place        LTX-Video's latent replacement: a condition overwrites its latent frame, as
                      LTXVImgToVideo writes a first frame

A new paradigm is a new module here and one line below; nothing else needs to change to list it.
"""

from __future__ import annotations

from . import (
    channel_concat,
    in_context,
    latent_replacement,
    ltx_guides,
    ltx_in_place,
    vace_control,
)
from .base import Paradigm, ParadigmError, PatchOptions

PARADIGMS: dict[str, Paradigm] = {p.PARADIGM.name: p.PARADIGM
                                  for p in (in_context, latent_replacement, channel_concat, vace_control,
                                            ltx_guides, ltx_in_place)}

# The RoPE Interpolator's choice on token models (Wan T2V / TI2V-5B). An image-to-video model takes
# channel_concat and a VACE model vace_control, decided by the model, not by this choice; an LTX-Video
# model reads ltx_guides, or ltx_in_place where this choice is latent_replacement.
TOKEN_PARADIGMS = ("in_context", "latent_replacement")
IN_CONTEXT = in_context.PARADIGM.name
CHANNEL_CONCAT = channel_concat.PARADIGM.name
VACE_CONTROL = vace_control.PARADIGM.name
LTX_GUIDES = ltx_guides.PARADIGM.name
LTX_IN_PLACE = ltx_in_place.PARADIGM.name


def paradigm(name: str) -> Paradigm:
    """The paradigm called `name`; any other name is refused with the list."""
    if name not in PARADIGMS:
        raise ParadigmError(f"paradigm must be one of {list(PARADIGMS)}; got {name!r}")
    return PARADIGMS[name]


__all__ = ["CHANNEL_CONCAT", "IN_CONTEXT", "LTX_GUIDES", "LTX_IN_PLACE", "PARADIGMS", "TOKEN_PARADIGMS",
           "VACE_CONTROL", "Paradigm", "ParadigmError", "PatchOptions", "paradigm"]
