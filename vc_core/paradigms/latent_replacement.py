"""Latent replacement, the paper's baseline paradigm (Table 2), for ablations: each condition
overwrites the video latent frame that holds its pixel frame (its causal slot), which is then kept
clean. No tokens are added and no positions are interpolated, so a condition can only land on a whole
latent frame and strength has no meaning: only 1 is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..timing import causal_latent_slot
from ..wan_forward import ConditionLatents, check_grid, video_sigma
from .base import Paradigm, ParadigmError, PatchOptions
from .in_context import per_frame_timesteps, plan_rope_table


def require_full_strength(paradigm: str, strengths: Sequence[float], frames: Sequence[int],
                          origins: Sequence[str] = ()) -> None:
    """Paradigms that cannot honour strength refuse any other value than 1, naming the condition
    (its origin in the graph where known: 'condition #1 from "Title" (node 12)')."""
    for i, (s, f) in enumerate(zip(strengths, frames, strict=True)):
        if float(s) != 1.0:
            where = origins[i] if i < len(origins) else f"condition frame #{i + 1}"
            raise ParadigmError(
                f"strength of {where} (at frame {f}): the {paradigm} paradigm cannot honour strength "
                f"{float(s):g}: it overwrites the video's latent slot with the clean condition, so "
                f"there is nothing to weaken. Set strength to 1, or use the in_context paradigm in "
                f"'VideoCanvas RoPE Interpolator'")


def replace_latent_slots(x: torch.Tensor, timestep: torch.Tensor, condition_latents: torch.Tensor,
                         slots: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Overwrite video latent frames with condition latents and mark them clean (timestep 0).

    Conditions that share a slot: the later one wins (the baseline has no way to hold both).
    """
    b, _, f, _, _ = x.shape
    out = x.clone()
    t = per_frame_timesteps(timestep, b, f).clone()
    cond = condition_latents.to(device=x.device, dtype=x.dtype).expand(b, -1, -1, -1, -1)
    for i, slot in enumerate(slots):
        if not 0 <= slot < f:
            raise ParadigmError(f"latent slot {slot} is outside the video's {f} latent frames")
        out[:, :, slot] = cond[:, :, i]
        t[:, slot] = 0
    return out, t


def clamp_replaced_velocity(output: torch.Tensor, x: torch.Tensor, sigma: torch.Tensor,
                            condition_latents: torch.Tensor, slots: list[int]) -> torch.Tensor:
    """Make a flow model's velocity at replaced slots denoise exactly to the condition.

    The sampler computes denoised = x - sigma * v; setting v = (x - c) / sigma at a slot keeps that
    frame equal to the condition through every step (the slot is 'kept clean').
    """
    out = output.clone()
    s = sigma.to(x).reshape(-1, 1, 1, 1).clamp_min(1e-6)
    cond = condition_latents.to(x).expand(x.shape[0], -1, -1, -1, -1)
    for i, slot in enumerate(slots):
        out[:, :, slot] = ((x[:, :, slot] - cond[:, :, i]) / s).to(out.dtype)
    return out


def latent_replacement_forward(wan, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                               conditions: ConditionLatents, options: PatchOptions | None = None, *,
                               attention=None, kv_cache=None, clip_fea=None, transformer_options=None,
                               **kwargs) -> torch.Tensor:
    """The baseline: conditions overwrite their causal latent slot, which is kept clean (so only
    strength 1 has a meaning here; other values are refused). No condition tokens, so the options'
    position policy, attention kernel and key/value cache have nothing to act on."""
    transformer_options = {} if transformer_options is None else transformer_options
    require_full_strength("latent_replacement", conditions.strengths, conditions.frames)
    b, _, f, _, _ = x.shape
    grid = check_grid(wan, x)
    slots = [causal_latent_slot(fr, conditions.stride) for fr in conditions.frames]
    x_rep, t_rep = replace_latent_slots(x, timestep, conditions.latents, slots)
    freqs = plan_rope_table(wan, f, grid, (), conditions.stride, "interpolate",
                            transformer_options.get("rope_options"), x.device)
    out = wan.forward_orig(x_rep, t_rep, context, clip_fea=clip_fea, freqs=freqs,
                           transformer_options=transformer_options, **kwargs)
    sigma = video_sigma(timestep, transformer_options, b)
    return clamp_replaced_velocity(out, x, sigma, conditions.latents, slots)


def _check_options(options: PatchOptions, model: str) -> None:
    if (options.condition_tokens, options.condition_attention) != ("full", "two-way"):
        raise ParadigmError(f"condition_tokens={options.condition_tokens!r}, condition_attention="
                            f"{options.condition_attention!r}: the latent_replacement paradigm has no "
                            f"condition tokens (conditions overwrite video latent slots), so only 'full' "
                            f"and 'two-way' go with it; use the in_context paradigm for sparse or cached")


def _check_strengths(strengths: Sequence[float], frames: Sequence[int], origins: Sequence[str] = ()) -> None:
    require_full_strength("latent_replacement", strengths, frames, origins)


PARADIGM = Paradigm(
    name="latent_replacement",
    condition_becomes="the video latent frame holding its pixel frame, overwritten and kept clean",
    strength_definition="Latent replacement accepts only 1.",
    adds_tokens=False,
    encoding="each",
    check_options=_check_options,
    check_strengths=_check_strengths,
    forward=latent_replacement_forward,
)
