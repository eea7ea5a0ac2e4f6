"""VACE control: VideoCanvas conditions for the Wan models trained to follow content at any frame and
region (Wan 2.1 VACE 1.3B / 14B, Wan 2.2 Fun VACE A14B).

Those models read a control video and a mask beside the noise (ComfyUI: WanVaceToVideo's vace_frames,
vace_mask, vace_strength): the control video split into an inactive stream (what is known, grey
elsewhere) and a reactive stream (what may change), each VAE-encoded in video mode, and a mask with
one channel per pixel of the 8x8 block a latent cell covers (64), 1 where the model generates.

Here the conditions are composited into the control video at their exact pixel frames (0.5 grey
elsewhere, as channel concatenation builds its pixel video) and the mask is 1 - knownness (a patch's
coverage times its strength).

The latent mask rule (where this differs from native): WanVaceToVideo resamples the pixel-frame mask
to latent frames with `interpolate(mode="nearest-exact")`, which reads one pixel frame per latent
frame (for 81 frames: 1, 5, 9, ..., 40, 44, ...): a condition alone at frame 0, 41, 42, 43 or 80 is
never seen, and the model is told to generate the latent frame whose pixels hold it. Here a latent
frame is as known as the most known of the pixel frames it holds (frame 0 alone in the first, frames
4j-3..4j in the j-th, as a causal VAE packs them): every condition is known in the latent frame that
holds it. Where each latent frame's pixel frames agree (an inpainting mask for the whole clip, a clip
to extend by whole latent frames) both rules give the same mask, bit for bit.

A condition without a time (VideoCanvas Reference Image: a subject or style for the whole video) goes
to VACE's reference slot, as WanVaceToVideo's reference_image: encoded as one image, a latent frame
ahead of the control video's (known in the mask), and a latent frame ahead of the video to generate,
trimmed off after sampling.
"""

from __future__ import annotations

import torch

from ..timing import latent_slot_frames
from .base import Paradigm, ParadigmError, PatchOptions, refuse_in_context_options
from .channel_concat import pixel_video

# What strength means on a VACE model, in one sentence (tooltips, help pages and README say it too).
VACE_STRENGTH_DEFINITION = (
    "On a Wan VACE model strength s is how known the condition's pixels are in VACE's mask: each pixel "
    "it covers reads s x its coverage (1 = known and kept, 0 = left to the model), while its pixels "
    "stay in the control video.")


class VaceControlError(ParadigmError):
    """Inputs that cannot be laid out; the message names the input."""


def control_streams(video: torch.Tensor, generate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inactive, reactive) pixel videos [L, H, W, 3] from the control video [L, H, W, 3] in [0, 1]
    and the pixel mask [L, H, W] (1 = generate), as WanVaceToVideo splits them."""
    if video.ndim != 4 or generate.shape != video.shape[:3]:
        raise VaceControlError(f"control video must be [L, H, W, 3] and its mask [L, H, W]; got "
                               f"{tuple(video.shape)} and {tuple(generate.shape)}")
    centred, m = video - 0.5, generate.unsqueeze(-1).to(video)
    return centred * (1 - m) + 0.5, centred * m + 0.5


def latent_frame_slots(length: int, stride: int = 4) -> list[range]:
    """The pixel frames each latent frame of a causal VAE holds: [0], [1..4], [5..8], ..."""
    if length < 1 or (length - 1) % stride:
        raise VaceControlError(f"length must be {stride}k+1; got {length}")
    return [latent_slot_frames(k, stride) for k in range((length - 1) // stride + 1)]


def _blocks(generate: torch.Tensor, spatial: int) -> torch.Tensor:
    """[spatial^2, L, h, w]: pixel (y*spatial+dy, x*spatial+dx) of frame t at [dy*spatial+dx, t, y, x]."""
    length, height, width = generate.shape
    if height % spatial or width % spatial:
        raise VaceControlError(f"the mask's size {width}x{height} must be a multiple of {spatial}")
    h, w = height // spatial, width // spatial
    blocks = generate.float().view(length, h, spatial, w, spatial).permute(2, 4, 0, 1, 3)
    return blocks.reshape(spatial * spatial, length, h, w)


def latent_mask(generate: torch.Tensor, stride: int = 4, spatial: int = 8) -> torch.Tensor:
    """VACE's mask [1, spatial^2, F, h, w] from the pixel mask [L, H, W] (1 = generate): channel
    dy*spatial+dx of latent cell (y, x) is pixel (y*spatial+dy, x*spatial+dx), as WanVaceToVideo lays
    them out; over time the module's rule (each latent frame as known as its most known pixel frame)."""
    blocks = _blocks(generate, spatial)
    per_slot = [blocks[:, s.start:s.stop].amin(dim=1) for s in latent_frame_slots(len(generate), stride)]
    return torch.stack(per_slot, dim=1).unsqueeze(0).contiguous()


def native_latent_mask(generate: torch.Tensor, stride: int = 4, spatial: int = 8) -> torch.Tensor:
    """WanVaceToVideo's own resampling (nearest-exact over time), for the comparison the module's
    docstring makes; not used to condition."""
    blocks = _blocks(generate, spatial)
    frames = (len(generate) - 1) // stride + 1
    return torch.nn.functional.interpolate(blocks.unsqueeze(0), size=(frames, *blocks.shape[2:]),
                                           mode="nearest-exact")


def with_references(frames: torch.Tensor, mask: torch.Tensor, references: torch.Tensor,
                    no_reactive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(vace_frames, vace_mask) with reference images in front, as WanVaceToVideo puts its reference
    image: each reference's latent [1, C, R, h, w] (R single images) is a latent frame ahead of the
    control video's, its reactive stream `no_reactive` (the latent that the model's latent format
    turns into zeros), its mask 0 (known)."""
    refs = torch.cat((references, no_reactive.expand_as(references)), dim=1)
    pad = torch.zeros_like(mask[:, :, :references.shape[2]])
    return torch.cat((refs, frames), dim=2), torch.cat((pad, mask), dim=2)


def from_plan(plan) -> tuple[torch.Tensor, torch.Tensor]:
    """(control video [L, H, W, 3], pixel mask [L, H, W], 1 = generate) of a VideoCanvasPlan."""
    layout = pixel_video(plan.canvases, plan.masks, plan.frames, plan.strengths, plan.length)
    return layout.video, 1.0 - layout.known


def _check_options(options: PatchOptions, model: str) -> None:
    refuse_in_context_options(options, model, "its VACE control video and mask", VaceControlError)


PARADIGM = Paradigm(
    name="vace_control",
    condition_becomes=("pixels of one grey full-length control video at their exact frames, split into "
                       "VACE's inactive and reactive streams, and its 64-channel known-mask"),
    strength_definition=VACE_STRENGTH_DEFINITION,
    adds_tokens=False,
    encoding="pixel_video",
    check_options=_check_options,
    forward=None,  # the VACE model's own forward reads vace_context (ComfyUI's WAN21_Vace.extra_conds)
    reads_references=True,
)
