"""LTX guides: VideoCanvas conditions for LTX-Video (0.9.x 2B / 13B), the open model trained with the
paper's own mechanism: conditions as clean latent tokens appended to the video's, at their own pixel
positions, with their own timestep.

LTX-Video reads a condition as guide latents appended after the video's latent frames, with their
own pixel coordinates for its RoPE (`keyframe_idxs`) and their own timestep through the noise mask
(0 = clean). ComfyUI's LTXVAddGuide builds them one guide per node; here every condition is a canvas
encoded on its own as one image (one latent frame), so each guide holds exactly one pixel frame:

- its tokens, in the latent's (frame, row, column) raster order, start at the condition's pixel frame
  and end one frame later (a single image is one pixel frame: the causal fix LTXVAddGuide applies to
  single-image guides), and cover their 32x32 pixel cell in space;
- its noise-mask row is max(0, 1 - strength), as LTXVAddGuide writes it (1 = generate, 0 = kept);
- after sampling the guides are cropped off the end (LTXVCropGuides).

ComfyUI 0.33.0 stores each token's (start, end) coordinates, [B, 3, N, 2]; 0.3.75 and 0.7.0 only its
start, [B, 3, N]. Both layouts are built here from the same numbers. (0.33.0's LTXVAddGuide also
records guide_attention_entries, its per-guide attention strength: guide_attention_entries builds
them.) A plain LTXVAddGuide chain of full single images gives exactly this layout, bit for bit
(tests/host/test_ltx_paradigm.py); beyond it, a condition here may be a patch on its zero canvas (the
paper's), any frame of a clip, and any number of them from one node.

Unlike the other paradigms, guides change the latent itself (frames appended after the video's), so
the nodes lay them out where the latent is made (VideoCanvas Conditioning / Sampler) with the model's
VAE, not when sampling starts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import Paradigm, ParadigmError, PatchOptions, refuse_in_context_options

# LTX-Video's VAE: 8 pixel frames per latent frame (the first holds one), 32x32 pixels per latent cell
LTX_SCALE = (8, 32, 32)


# What strength means on an LTX-Video model, in one sentence (tooltips, help pages and README say it).
LTX_STRENGTH_DEFINITION = (
    "On an LTX-Video model strength s is the guide's noise-mask row 1 - s, as LTXVAddGuide writes it: "
    "1 = a clean guide (timestep 0), 0 = noised like the video (ComfyUI 0.33 and later also weight "
    "attention to the guide by s).")


# What the RoPE Interpolator may change on an LTX-Video model (the paradigm only)
LTX_LEAVE = ("position_policy, condition_tokens and condition_attention at their defaults (interpolate, "
             "full, two-way; paradigm may be in_context, LTX's guides, or latent_replacement, "
             "LTXVImgToVideo's way)")


class LtxGuideError(ParadigmError):
    """Inputs that cannot be laid out as guides; the message names the input."""


def guide_coords(frames: Sequence[int], latent_hw: tuple[int, int], scale: tuple[int, int, int] = LTX_SCALE,
                 start_end: bool = True, batch: int = 1) -> torch.Tensor:
    """keyframe_idxs for one single-image guide per pixel frame in `frames`, in order: [batch, 3, N, 2]
    (start, end) or, start_end=False, [batch, 3, N] (start only); N = len(frames) x h x w, each guide's
    tokens in (row, column) raster order, coordinates (t, y, x) in pixels."""
    if any(int(f) < 0 for f in frames):
        raise LtxGuideError(f"frames must be resolved pixel frames >= 0; got {list(frames)}")
    h, w = latent_hw
    _, sy, sx = scale
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    per_guide = []
    for f in frames:
        t = torch.full((h * w,), int(f))
        start = torch.stack([t, ys.flatten() * sy, xs.flatten() * sx])
        per_guide.append(torch.stack([start, start + torch.tensor([1, sy, sx]).view(3, 1)], dim=-1))
    coords = torch.cat(per_guide, dim=1) if per_guide else torch.zeros(3, 0, 2, dtype=torch.long)
    coords = coords.unsqueeze(0).repeat(batch, 1, 1, 1)  # its own memory: callers shift it in place
    return coords if start_end else coords[..., 0].contiguous()


def guide_mask_rows(strengths: Sequence[float], batch: int = 1) -> torch.Tensor:
    """The noise-mask rows of the guides, [batch, 1, K, 1, 1]: max(0, 1 - strength) each."""
    rows = torch.tensor([max(0.0, 1.0 - float(s)) for s in strengths], dtype=torch.float32)
    return rows.view(1, 1, -1, 1, 1).repeat(batch, 1, 1, 1, 1)


def append_guides(latent: torch.Tensor, noise_mask: torch.Tensor | None, guides: torch.Tensor,
                  strengths: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(latent, noise_mask) with the guide latents [1 or B, C, K, h, w] appended after the video's
    frames and their mask rows after its rows (a missing mask is all ones, generate everywhere; the pack
    always starts from a fresh latent: a given mask is kept as ComfyUI 0.33's LTXVAddGuide keeps it,
    while 0.3.75's and 0.7.0's also reset the row of the latent frame at the guide's index)."""
    b, c, f, h, w = latent.shape
    if (guides.shape[0] not in (1, b) or guides.shape[1] != c or tuple(guides.shape[-2:]) != (h, w)
            or guides.shape[2] != len(strengths) or (noise_mask is not None and noise_mask.shape[0] != b)):
        raise LtxGuideError(f"guides {tuple(guides.shape)} do not fit the latent {tuple(latent.shape)} with "
                            f"{len(strengths)} strengths"
                            + ("" if noise_mask is None else f" and noise mask {tuple(noise_mask.shape)}"))
    if noise_mask is None:
        noise_mask = torch.ones(b, 1, f, 1, 1, dtype=latent.dtype, device=latent.device)
    rows = guide_mask_rows(strengths, b).to(noise_mask)
    if noise_mask.shape[-2:] != (1, 1):
        rows = rows.expand(-1, -1, -1, *noise_mask.shape[-2:])
    return (torch.cat([latent, guides.to(latent).expand(b, -1, -1, -1, -1)], dim=2),
            torch.cat([noise_mask, rows], dim=2))


def crop_guides(latent: torch.Tensor, count: int) -> torch.Tensor:
    """The video's latent frames without the `count` guides after them (LTXVCropGuides)."""
    if not 0 <= count < latent.shape[2]:
        raise LtxGuideError(f"cannot crop {count} guides off a latent of {latent.shape[2]} frames")
    return latent[:, :, :latent.shape[2] - count] if count else latent


def guide_attention_entries(strengths: Sequence[float], latent_hw: tuple[int, int]) -> list[dict]:
    """ComfyUI 0.33.0's guide_attention_entries for single-image guides, one per guide in order, as
    its LTXVAddGuide appends them: the guide's token count, its strength, no pixel mask, its latent
    shape [1, h, w]."""
    h, w = latent_hw
    return [{"pre_filter_count": h * w, "strength": float(s), "pixel_mask": None, "latent_shape": [1, h, w]}
            for s in strengths]


def _check_options(options: PatchOptions, model: str) -> None:
    refuse_in_context_options(options, model, "guide latents appended to its latent (its own "
                              "keyframe positions and noise mask)", LtxGuideError,
                              LTX_LEAVE)


PARADIGM = Paradigm(
    name="ltx_guides",
    condition_becomes=("a guide latent appended after the video's latent frames, at its exact pixel frame "
                       "(keyframe_idxs), clean by its noise-mask row"),
    strength_definition=LTX_STRENGTH_DEFINITION,
    adds_tokens=True,
    encoding="each",
    check_options=_check_options,
    forward=None,  # LTXVModel's own forward reads keyframe_idxs and the noise mask
)
