"""What every paradigm's forward over a Wan DiT (ComfyUI's `comfy.ldm.wan.model.WanModel` layout)
shares: the conditions as the model consumes them, the latent grid, each sample's noise level.

Duck-typed on the model's own parts (`patch_size`, `rope_embedder`, `forward_orig`) so no paradigm
needs a ComfyUI import: the node pack calls the forwards from a diffusion-model wrapper, and the
training code calls them on the very same model class. The forwards themselves live with their
paradigm (vc_core/paradigms/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .condition_tokens import Footprint


@dataclass(frozen=True)
class ConditionLatents:
    """Encoded conditions as the model consumes them.

    latents: [1 or B, C, K, h, w] in the model's latent space (latent format already applied);
    frames: the pixel frame of each condition; strengths: see paradigms.in_context.STRENGTH_DEFINITION
    (1 = the clean condition, timestep 0).
    """

    latents: torch.Tensor
    frames: tuple[int, ...]
    strengths: tuple[float, ...] = field(default=())
    stride: int = 4
    seed: int = 0  # the sampler's seed: noise for strength < 1 is drawn from it
    # Where each canvas holds patch pixels (condition_tokens.Footprint): what `sparse` keeps; None
    # (conditions made without the plan's masks) keeps every token.
    footprint: Footprint | None = None
    # Training batches: one frames tuple per batch row (each row its own anchors, K each), so a batch
    # of differently placed conditions runs as one forward; `frames` is then row 0's. Sampling never
    # sets it: every row of a sampling call shares one plan.
    row_frames: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self):
        if not self.strengths:
            object.__setattr__(self, "strengths", (1.0,) * len(self.frames))
        if len(self.frames) != self.latents.shape[2] or len(self.strengths) != len(self.frames):
            raise ValueError(f"{self.latents.shape[2]} condition latents, {len(self.frames)} frames "
                             f"and {len(self.strengths)} strengths must agree")
        if self.row_frames:
            rows = self.row_frames
            if (len(rows) != self.latents.shape[0] or tuple(rows[0]) != tuple(self.frames)
                    or any(len(r) != len(self.frames) for r in rows)):
                raise ValueError(f"row_frames: one tuple of {len(self.frames)} frames per batch row "
                                 f"({self.latents.shape[0]}), the first equal to frames")


def check_grid(wan, x: torch.Tensor) -> tuple[int, int]:
    pt, ph, pw = wan.patch_size
    _, _, _, h, w = x.shape
    if pt != 1 or h % ph or w % pw:
        raise ValueError(f"latent size {h}x{w} must be a multiple of the patch size {ph}x{pw} "
                         f"(pixel width/height a multiple of 16 for Wan)")
    return h // ph, w // pw



def video_sigma(timestep: torch.Tensor, transformer_options: dict, batch: int) -> torch.Tensor:
    """[B] noise level sigma of each sample. The model's timestep is sigma x the model sampling's
    multiplier (1000 for Wan, 1 under ModelSamplingAuraFlow), so take sigma from what ComfyUI's
    sampler puts in transformer_options["sigmas"]; without it (the training code), Wan's t / 1000."""
    sigmas = transformer_options.get("sigmas")
    if sigmas is not None:
        # ComfyUI batches cond/uncond chunks as cat([x] * chunks) with the sigmas of one chunk.
        s = torch.as_tensor(sigmas).reshape(-1).float()
        if batch % s.numel():
            raise ValueError(f"transformer_options['sigmas'] has {s.numel()} values for a batch of "
                             f"{batch}: not a whole number of ComfyUI cond/uncond chunks")
        return s.repeat(batch // s.numel())
    return torch.as_tensor(timestep).reshape(batch, -1).float().amax(dim=1) / 1000.0
