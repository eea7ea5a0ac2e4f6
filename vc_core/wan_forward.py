"""VideoCanvas forward passes over a Wan DiT (ComfyUI's `comfy.ldm.wan.model.WanModel` layout).

Duck-typed on the model's own parts (`patch_size`, `rope_embedder`, `forward_orig`) so this module
needs no ComfyUI import: the node pack calls it from a diffusion-model wrapper, and the training
code calls it on the very same model class. It replaces what `WanModel._forward` does (pad, RoPE
grid, crop) with the in-context version: appended condition frames, their own timesteps, and
fractional temporal positions kept in float64 until the table is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .in_context import (
    assemble,
    clamp_replaced_velocity,
    condition_noise_levels,
    drop_conditions,
    noise_conditions,
    plan_in_context,
    replace_latent_slots,
)
from .rope import rope_table
from .timing import causal_latent_slot


@dataclass(frozen=True)
class ConditionLatents:
    """Encoded conditions as the model consumes them.

    latents: [1 or B, C, K, h, w] in the model's latent space (latent format already applied);
    frames: the pixel frame of each condition; strengths: 1 = exact (timestep 0).
    """

    latents: torch.Tensor
    frames: tuple[int, ...]
    strengths: tuple[float, ...] = field(default=())
    stride: int = 4
    seed: int = 0  # the sampler's seed: noise for strength < 1 is drawn from it

    def __post_init__(self):
        if not self.strengths:
            object.__setattr__(self, "strengths", (1.0,) * len(self.frames))
        if len(self.frames) != self.latents.shape[2] or len(self.strengths) != len(self.frames):
            raise ValueError(f"{self.latents.shape[2]} condition latents, {len(self.frames)} frames "
                             f"and {len(self.strengths)} strengths must agree")


def _check_grid(wan, x: torch.Tensor) -> tuple[int, int]:
    pt, ph, pw = wan.patch_size
    _, _, _, h, w = x.shape
    if pt != 1 or h % ph or w % pw:
        raise ValueError(f"latent size {h}x{w} must be a multiple of the patch size {ph}x{pw} "
                         f"(pixel width/height a multiple of 16 for Wan)")
    return h // ph, w // pw


def in_context_forward(wan, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                       conditions: ConditionLatents, policy: str = "interpolate",
                       clip_fea=None, transformer_options=None, **kwargs) -> torch.Tensor:
    """One Wan forward with conditions appended as in-context tokens; returns the video's output."""
    transformer_options = {} if transformer_options is None else transformer_options
    b, _, f, _, _ = x.shape
    grid = _check_grid(wan, x)
    plan = plan_in_context(f, grid, list(conditions.frames), conditions.stride, policy)
    strengths = torch.tensor(conditions.strengths, dtype=torch.float32)
    t_video = torch.as_tensor(timestep).reshape(b, -1).float()
    t_cond = condition_noise_levels(t_video, strengths)
    cond = conditions.latents.expand(b, -1, -1, -1, -1)
    # Wan's timestep is sigma * 1000 (ComfyUI's flow model sampling).
    cond = noise_conditions(cond, t_cond / 1000.0)
    x_cat, t_cat = assemble(x, cond, t_video, t_cond)
    axes = wan.rope_embedder.axes_dim
    freqs = rope_table(plan.positions(), axes, wan.rope_embedder.theta, device=x.device)
    out = wan.forward_orig(x_cat, t_cat, context, clip_fea=clip_fea, freqs=freqs,
                           transformer_options=transformer_options, **kwargs)
    return drop_conditions(out, f)


def latent_replacement_forward(wan, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                               conditions: ConditionLatents, clip_fea=None, transformer_options=None,
                               **kwargs) -> torch.Tensor:
    """The baseline: conditions overwrite their causal latent slot, which is kept clean."""
    transformer_options = {} if transformer_options is None else transformer_options
    b, _, f, _, _ = x.shape
    grid = _check_grid(wan, x)
    slots = [causal_latent_slot(fr, conditions.stride) for fr in conditions.frames]
    x_rep, t_rep = replace_latent_slots(x, timestep, conditions.latents, slots)
    positions = plan_in_context(f, grid, [], conditions.stride).positions()
    freqs = rope_table(positions, wan.rope_embedder.axes_dim, wan.rope_embedder.theta, device=x.device)
    out = wan.forward_orig(x_rep, t_rep, context, clip_fea=clip_fea, freqs=freqs,
                           transformer_options=transformer_options, **kwargs)
    sigma = torch.as_tensor(timestep).reshape(b, -1).float().amax(dim=1) / 1000.0
    return clamp_replaced_velocity(out, x, sigma, conditions.latents, slots)
