"""VideoCanvas forward passes over a Wan DiT (ComfyUI's `comfy.ldm.wan.model.WanModel` layout).

Duck-typed on the model's own parts (`patch_size`, `rope_embedder`, `forward_orig`) so this module
needs no ComfyUI import: the node pack calls it from a diffusion-model wrapper, and the training
code calls it on the very same model class. It replaces what `WanModel._forward` does (pad, RoPE
grid, crop) with the in-context version: appended condition frames, their own timesteps, and
fractional temporal positions kept in float64 until the table is built.

ComfyUI's ScaleROPE (`transformer_options["rope_options"]`) is honoured as `rope_encode` honours
it (p -> shift + p * scale per axis), for condition positions too. The rope table is cached per plan
(vc_core.rope.ROPE_TABLES) and built on the model's device: every step and every cond/uncond call
of a run asks for the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .condition_tokens import (
    ConditionKVCache,
    Footprint,
    check_options,
    condition_token_forward,
    token_keep,
)
from .in_context import (
    assemble,
    clamp_replaced_velocity,
    condition_noise_levels,
    drop_conditions,
    noise_conditions,
    per_frame_timesteps,
    plan_in_context,
    replace_latent_slots,
    require_full_strength,
)
from .rope import ROPE_TABLES, rope_options_key, rope_table
from .timing import causal_latent_slot


@dataclass(frozen=True)
class ConditionLatents:
    """Encoded conditions as the model consumes them.

    latents: [1 or B, C, K, h, w] in the model's latent space (latent format already applied);
    frames: the pixel frame of each condition; strengths: see in_context.STRENGTH_DEFINITION
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


def _check_grid(wan, x: torch.Tensor) -> tuple[int, int]:
    pt, ph, pw = wan.patch_size
    _, _, _, h, w = x.shape
    if pt != 1 or h % ph or w % pw:
        raise ValueError(f"latent size {h}x{w} must be a multiple of the patch size {ph}x{pw} "
                         f"(pixel width/height a multiple of 16 for Wan)")
    return h // ph, w // pw


def plan_rope_table(wan, video_frames: int, grid: tuple[int, int], condition_frames, stride: int,
                    policy: str, rope_options, device) -> torch.Tensor:
    """The rope table of a plan, from ROPE_TABLES: the same object for the same plan, built once on
    `device` (angles in float64, table float32) the first time it is asked for."""
    axes = tuple(int(d) for d in wan.rope_embedder.axes_dim)
    theta = float(wan.rope_embedder.theta)
    options = rope_options_key(rope_options)
    device = torch.device(device)
    key = (int(video_frames), tuple(grid), tuple(int(f) for f in condition_frames), int(stride), policy,
           options, axes, theta, str(device))

    def build():
        plan = plan_in_context(video_frames, grid, list(condition_frames), stride, policy)
        return rope_table(plan.positions(rope_options), axes, theta, device=device)

    return ROPE_TABLES.get(key, build)


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


def in_context_forward(wan, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                       conditions: ConditionLatents, policy: str = "interpolate",
                       clip_fea=None, transformer_options=None, condition_tokens: str = "full",
                       condition_attention: str = "two-way", attention=None,
                       kv_cache: ConditionKVCache | None = None, **kwargs) -> torch.Tensor:
    """One Wan forward with conditions appended as in-context tokens; returns the video's output.

    condition_tokens / condition_attention (vc_core.condition_tokens): full + two-way is the paper's
    forward (Wan's own forward_orig on the assembled sequence); the others run the condition-token
    forward, with `attention` as the kernel and `kv_cache` keeping cached keys/values for a run."""
    check_options(condition_tokens, condition_attention)
    transformer_options = {} if transformer_options is None else transformer_options
    b, _, f, _, _ = x.shape
    grid = _check_grid(wan, x)
    rows = conditions.row_frames or (conditions.frames,)
    if len(rows) > 1 and (kv_cache is not None or condition_tokens != "full"):
        raise ValueError("row_frames (a training batch) runs full condition tokens without a kv cache")
    # one table per row where rows differ: [B, L, ...] broadcasts in the attention like [1, L, ...]
    tables = [plan_rope_table(wan, f, grid, r, conditions.stride, policy,
                              transformer_options.get("rope_options"), x.device) for r in rows]
    freqs = tables[0] if len(tables) == 1 else torch.cat(tables)
    strengths = torch.tensor(conditions.strengths, dtype=torch.float32)
    t_video = torch.as_tensor(timestep).reshape(b, -1).float()
    t_cond = condition_noise_levels(t_video, strengths)
    cond = conditions.latents.expand(b, -1, -1, -1, -1)
    # The conditions' noise level in sigma units, as t_cond is in the model's timestep units. The
    # step's noise is keyed on each row's sigma (x 1000: Wan's timestep), which cond and uncond rows
    # of one step share, whatever the model sampling's multiplier.
    sigma = video_sigma(timestep, transformer_options, b).to(t_cond)
    sigma_cond = sigma.reshape(-1, 1) * (1.0 - strengths.to(t_cond).reshape(1, -1))
    cond = noise_conditions(cond, sigma_cond, conditions.seed, sigma * 1000.0)
    if (condition_tokens, condition_attention) != ("full", "two-way"):
        if clip_fea is not None:
            raise ValueError("clip_fea: the condition-token options run Wan text-to-video only")
        keep = None
        if condition_tokens == "sparse" and conditions.footprint is not None:
            keep = token_keep(conditions.footprint.tensor(), tuple(wan.patch_size[1:]))
        # id(wan): a run's cache must never serve another model's keys/values.
        key = (id(wan), f, grid, conditions.frames, conditions.stride, policy, condition_tokens,
               conditions.footprint if keep is not None else None,
               rope_options_key(transformer_options.get("rope_options")))
        return condition_token_forward(
            wan, x, per_frame_timesteps(t_video, b, f), cond, t_cond, context, freqs,
            condition_tokens, condition_attention, keep, attention, transformer_options, kv_cache, key)
    x_cat, t_cat = assemble(x, cond, t_video, t_cond)
    out = wan.forward_orig(x_cat, t_cat, context, clip_fea=clip_fea, freqs=freqs,
                           transformer_options=transformer_options, **kwargs)
    return drop_conditions(out, f)


def latent_replacement_forward(wan, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                               conditions: ConditionLatents, clip_fea=None, transformer_options=None,
                               **kwargs) -> torch.Tensor:
    """The baseline: conditions overwrite their causal latent slot, which is kept clean (so only
    strength 1 has a meaning here; other values are refused)."""
    transformer_options = {} if transformer_options is None else transformer_options
    require_full_strength("latent_replacement", conditions.strengths, conditions.frames)
    b, _, f, _, _ = x.shape
    grid = _check_grid(wan, x)
    slots = [causal_latent_slot(fr, conditions.stride) for fr in conditions.frames]
    x_rep, t_rep = replace_latent_slots(x, timestep, conditions.latents, slots)
    freqs = plan_rope_table(wan, f, grid, (), conditions.stride, "interpolate",
                            transformer_options.get("rope_options"), x.device)
    out = wan.forward_orig(x_rep, t_rep, context, clip_fea=clip_fea, freqs=freqs,
                           transformer_options=transformer_options, **kwargs)
    sigma = video_sigma(timestep, transformer_options, b)
    return clamp_replaced_velocity(out, x, sigma, conditions.latents, slots)
