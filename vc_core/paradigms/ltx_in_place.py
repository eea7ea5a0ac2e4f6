"""LTX in place: VideoCanvas conditions written into LTX-Video's own latent frames, the way ComfyUI's
LTXVImgToVideo writes a first frame: each condition, encoded on its own as one image, replaces the
latent frame that holds its pixel frame (its causal slot: frame 0 alone in latent frame 0, frames
8k-7..8k in latent frame k), and that frame's noise-mask row is 1 - strength (0 = kept clean). No
tokens are added and nothing is cropped.

A full image at frame 0 gives exactly LTXVImgToVideo's latent and noise mask (tests/host/
test_ltx_paradigm.py). Elsewhere it is the paper's latent-replacement baseline on LTX: a single image
stands for the eight pixel frames its latent frame holds. Chosen on an LTX-Video model with the RoPE
Interpolator's paradigm = latent_replacement; ltx_guides (the default) is VideoCanvas's own mechanism.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..timing import causal_latent_slot
from .base import Paradigm, PatchOptions, refuse_in_context_options
from .ltx_guides import LTX_LEAVE, LTX_SCALE, LtxGuideError, guide_mask_rows


def in_place_slots(frames: Sequence[int], latent_frames: int, origins: Sequence[str] = (),
                   stride: int = LTX_SCALE[0]) -> list[int]:
    """The latent frame each condition replaces; two in one latent frame are refused by name (one
    latent frame holds one image)."""
    slots, taken = [], {}
    for i, f in enumerate(frames):
        slot = causal_latent_slot(int(f), stride)
        where = origins[i] if i < len(origins) else f"condition frame #{i + 1}"
        if slot >= latent_frames:
            raise LtxGuideError(f"{where} (at frame {f}): its latent frame {slot} is past the video's "
                                f"{latent_frames}")
        if slot in taken:
            raise LtxGuideError(
                f"{where} (at frame {f}) and {taken[slot][0]} (at frame {taken[slot][1]}) fall in the same "
                f"latent frame {slot} (pixel frames {max(1, stride * (slot - 1) + 1) if slot else 0} to "
                f"{stride * slot}), which holds one image in place: keep one of them there, or leave the "
                f"RoPE Interpolator's paradigm at in_context (LTX's guides hold any number)")
        taken[slot] = (where, f)
        slots.append(slot)
    return slots


def write_in_place(latent: torch.Tensor, noise_mask: torch.Tensor | None, encoded: torch.Tensor,
                   slots: Sequence[int], strengths: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(latent, noise_mask) with each encoded image [1, C, K, h, w] in its latent frame and that
    frame's mask row max(0, 1 - strength), as LTXVImgToVideo writes frame 0 (a missing mask is all
    ones: generate everywhere)."""
    b, c, f, h, w = latent.shape
    if encoded.shape[1] != c or tuple(encoded.shape[-2:]) != (h, w) or encoded.shape[2] != len(slots):
        raise LtxGuideError(f"images {tuple(encoded.shape)} do not fit the latent {tuple(latent.shape)} at "
                            f"{len(slots)} slots")
    out = latent.clone()
    mask = (torch.ones(b, 1, f, 1, 1, dtype=latent.dtype, device=latent.device) if noise_mask is None
            else noise_mask.clone())
    rows = guide_mask_rows(strengths, b).to(mask)
    for i, slot in enumerate(slots):
        out[:, :, slot] = encoded[:, :, i].to(out)
        mask[:, :, slot] = rows[:, :, i]
    return out, mask


def _check_options(options: PatchOptions, model: str) -> None:
    refuse_in_context_options(PatchOptions(options.position_policy, "in_context", options.condition_tokens,
                                           options.condition_attention),
                              model, "its own latent frames (latent replacement, as LTXVImgToVideo)",
                              LtxGuideError, LTX_LEAVE)


PARADIGM = Paradigm(
    name="ltx_in_place",
    condition_becomes=("the LTX-Video latent frame holding its pixel frame, overwritten, with the noise-mask "
                       "row its strength gives (LTXVImgToVideo's way)"),
    strength_definition=("On an LTX-Video model patched for latent replacement strength s is the replaced "
                         "latent frame's noise-mask row 1 - s, as LTXVImgToVideo's strength."),
    adds_tokens=False,
    encoding="each",
    check_options=_check_options,
    forward=None,  # LTXVModel's own forward reads the noise mask
)
