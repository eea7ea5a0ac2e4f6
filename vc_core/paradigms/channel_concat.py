"""Channel concatenation: VideoCanvas conditions for Wan's image-to-video models (36 input channels =
16 noise + 4 mask + 16 image latent), the paper's baseline paradigm.

Those models read conditions as channels, not tokens: a full-length pixel video that is VAE-zero
(0.5 grey) except where conditions put pixels, encoded in video mode by the model's VAE (what
ComfyUI's WanImageToVideo / WanFirstLastFrameToVideo build from [start image, grey..., end image]),
plus a mask with one channel per pixel frame of the 4 that a latent frame packs. This module builds
both from a plan, in ComfyUI's `concat_mask` convention (read in comfy.model_base.WAN21.concat_cond):

- shape [1, 4, F, h, w] at the latent's spatial size, float32;
- 1 = generate, 0 = known (ComfyUI hands the model 1 - concat_mask);
- the pixel frames laid out as WanFirstLastFrameToVideo does: frame 0 fills the 4 channels of latent
  frame 0 (a causal VAE's first latent frame holds one pixel frame), pixel frame p >= 1 is channel
  (p + 3) % 4 of latent frame (p + 3) // 4;
- spatially, a latent cell (stride x stride pixels) is known by the share of its pixels the patch
  covers, times the condition's strength (CHANNEL_STRENGTH_DEFINITION).

So a full first frame (and a full last frame) at strength 1 is bit for bit the mask the native nodes
make; middle frames and partial patches use the same channels in ways the public weights were never
trained on (zero-shot).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..canvas import VAE_ZERO
from .base import Paradigm, ParadigmError, PatchOptions, refuse_in_context_options

# What strength means for these models, in one sentence (tooltips, help pages and README say it too).
CHANNEL_STRENGTH_DEFINITION = (
    "On a Wan image-to-video model (36 channels) strength s is how strongly the mask channels mark "
    "the condition known: each latent cell it covers reads s x the share of the cell's pixels it "
    "covers (1 = known, as the native first/last-frame nodes mark their frames; 0 = left to the "
    "model, its pixels still in the image channels).")


class ChannelConcatError(ParadigmError):
    """Inputs that cannot be laid out; the message names the input."""


@dataclass
class ChannelConditions:
    """What a channel-concatenation model gets from the conditions, before the VAE.

    video: [L, H, W, 3] in [0, 1], VAE_ZERO where no condition puts pixels (encode in video mode);
    known: [L, H, W] in [0, 1], how known each pixel is (mask x strength; later conditions win)."""

    video: torch.Tensor
    known: torch.Tensor


def pixel_video(canvases: torch.Tensor, masks: torch.Tensor, frames, strengths, length: int
                ) -> ChannelConditions:
    """Composite every condition canvas [K, H, W, 3] (VAE_ZERO where its mask [K, H, W] is 0) onto its
    pixel frame of a grey `length`-frame video, in order: a later condition on the same frame wins
    where its mask covers (as paste-back does)."""
    if canvases.ndim != 4 or masks.shape != canvases.shape[:3]:
        raise ChannelConcatError(f"canvases must be [K, H, W, 3] with masks [K, H, W]; got "
                                 f"{tuple(canvases.shape)} and {tuple(masks.shape)}")
    k = canvases.shape[0]
    if len(frames) != k or len(strengths) != k:
        raise ChannelConcatError(f"{k} canvases but {len(frames)} frames and {len(strengths)} strengths")
    _, height, width, _ = canvases.shape
    video = torch.full((length, height, width, 3), VAE_ZERO, dtype=torch.float32)
    known = torch.zeros(length, height, width, dtype=torch.float32)
    for i, (f, s) in enumerate(zip(frames, strengths, strict=True)):
        if not 0 <= int(f) < length:
            raise ChannelConcatError(f"condition {i + 1}: frame {f} is outside the {length}-frame video")
        m = masks[i].float()
        # The canvas already holds VAE_ZERO where m is 0: over a grey frame it lands exactly as it is,
        # and pixels it does not cover at all keep their value exactly.
        over = canvases[i].float() + (1.0 - m)[..., None] * (video[f] - VAE_ZERO)
        video[f] = torch.where((m == 0)[..., None], video[f], over)
        known[f] = m * float(s) + (1.0 - m) * known[f]
    return ChannelConditions(video, known)


def latent_frame_slots(length: int, stride: int = 4) -> list[list[int]]:
    """For each latent frame, the pixel frame each of its `stride` mask channels stands for (frame 0
    fills every channel of latent frame 0: WanFirstLastFrameToVideo's layout)."""
    if length < 1 or (length - 1) % stride:
        raise ChannelConcatError(f"length must be {stride}k+1; got {length}")
    flat = [0] * stride + list(range(1, length))
    return [flat[i:i + stride] for i in range(0, len(flat), stride)]


def concat_mask(known: torch.Tensor, spatial: int, stride: int = 4) -> torch.Tensor:
    """ComfyUI's `concat_mask` [1, stride, F, h, w] (1 = generate, 0 = known) from per-pixel
    knownness [L, H, W]: each latent cell known by the mean over its spatial x spatial pixels."""
    length, height, width = known.shape
    if height % spatial or width % spatial:
        raise ChannelConcatError(f"the canvas {width}x{height} is not a multiple of the VAE's "
                                 f"spatial stride {spatial}")
    cells = torch.nn.functional.avg_pool2d(known.float()[:, None], spatial)[:, 0]  # [L, h, w]
    slots = torch.tensor(latent_frame_slots(length, stride))                        # [F, stride]
    per_slot = cells[slots.reshape(-1)].reshape(*slots.shape, *cells.shape[-2:])    # [F, s, h, w]
    return (1.0 - per_slot).transpose(0, 1).unsqueeze(0).contiguous()


def from_plan(plan) -> ChannelConditions:
    """The pixel video and knownness of a vc_core.plan.VideoCanvasPlan."""
    return pixel_video(plan.canvases, plan.masks, plan.frames, plan.strengths, plan.length)


def _check_options(options: PatchOptions, model: str) -> None:
    refuse_in_context_options(options, model, "its own mask and image channels", ChannelConcatError)


PARADIGM = Paradigm(
    name="channel_concat",
    condition_becomes=("pixels of one grey full-length video encoded by the model's VAE (its image "
                       "channels) and a known-mask (its 4 mask channels), as Wan image-to-video reads "
                       "its start and end frames"),
    strength_definition=CHANNEL_STRENGTH_DEFINITION,
    adds_tokens=False,
    encoding="pixel_video",
    check_options=_check_options,
    forward=None,  # the model's own forward reads the channels ComfyUI's WAN21.concat_cond builds
)
