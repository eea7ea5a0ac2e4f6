"""In-context conditioning (ICC): condition latents appended to the noisy video along the sequence.

Every condition is a full-size canvas encoded on its own as a single image, so it is exactly one
latent frame of the video's spatial size. Appending it as an extra frame therefore appends
h*w/(patch area) tokens that share the video's patch embedding and spatial RoPE grid. The condition
frames get timestep 0 (clean) and a temporal RoPE position chosen by the position policy; after the
forward pass they are dropped, so only video tokens are denoised.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..condition_tokens import ConditionKVCache, check_options, condition_token_forward, token_keep
from ..rope import ROPE_TABLES, apply_rope_options, grid_positions, rope_options_key, rope_table
from ..timing import condition_time_position, video_time_positions
from ..wan_forward import ConditionLatents, check_grid, video_sigma
from .base import Paradigm, ParadigmError, PatchOptions

# What strength means, in one sentence (the node's tooltip and the README say the same).
STRENGTH_DEFINITION = (
    "Strength s: at every sampling step the condition enters the model noised to (1 - s) times the "
    "video's current noise level, with noise fixed by the sampler's seed, the condition's index and "
    "the step (the same for every batch row, cond or uncond), so 1 is the paper's clean condition and "
    "lower values loosen how closely the video follows it.")


class InContextError(ParadigmError):
    """Inputs that cannot be assembled; the message names the input."""


@dataclass(frozen=True)
class InContextPlan:
    """Where every token of the assembled sequence sits in (t, h, w). All positions float64."""

    video_frames: int
    grid_hw: tuple[int, int]
    video_t: torch.Tensor      # [F] temporal positions of the video's latent frames
    condition_t: torch.Tensor  # [K] temporal positions of the condition frames

    @property
    def num_conditions(self) -> int:
        return int(self.condition_t.numel())

    def positions(self, rope_options: Mapping | None = None) -> torch.Tensor:
        """[(F+K)*h*w, 3]: video tokens first, then each condition's tokens, as assembled; with
        ScaleROPE's rope_options every position p becomes shift + p * scale on its axis."""
        t = torch.cat([self.video_t, self.condition_t])
        return apply_rope_options(grid_positions(t, *self.grid_hw), rope_options)


def plan_in_context(video_frames: int, grid_hw: tuple[int, int], condition_frames: list[int],
                    stride: int, policy: str = "interpolate") -> InContextPlan:
    """Positions for F video latent frames and conditions taken at the given pixel frames."""
    video_t = video_time_positions(video_frames, stride, policy)
    cond_t = torch.tensor([condition_time_position(int(f), stride, policy) for f in condition_frames],
                          dtype=torch.float64)
    return InContextPlan(video_frames, tuple(grid_hw), video_t, cond_t)


def per_frame_timesteps(timestep: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
    """Timesteps as [B, F]: Wan takes either one per sample ([B]) or one per latent frame ([B, F])."""
    t = torch.as_tensor(timestep)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.ndim == 1:
        return t.reshape(-1, 1).expand(batch, frames)
    if t.ndim == 2 and t.shape[1] in (1, frames):
        return t.expand(batch, frames)
    raise InContextError(f"timestep must be [B] or [B, {frames}]; got {tuple(t.shape)}")


def condition_noise_levels(video_timestep: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """[B, K] timesteps of the condition frames: (1 - strength) x the video's current timestep.

    strength 1 is the paper's clean condition (timestep 0). The video's level per sample is its
    largest per-frame timestep (frames already clean through a denoise mask do not lower it).
    """
    t_video = video_timestep.reshape(video_timestep.shape[0], -1).amax(dim=1)
    return t_video.reshape(-1, 1) * (1.0 - strengths.to(t_video).reshape(1, -1))


def condition_noise(seed: int, index: int, step: float, shape: Sequence[int]) -> torch.Tensor:
    """Standard normal noise [C, H, W] for condition `index` at the step whose video timestep is
    `step`, from the sampler's `seed`: float32, drawn on the CPU so every device gets the same.

    The step is identified by its timestep (sigma x 1000): what every row of a step shares and
    every call of the model receives, whatever ComfyUI batches together.
    """
    step_bits = struct.unpack("<I", struct.pack("<f", float(step)))[0]  # its float32 value, exactly
    digest = hashlib.blake2b(f"videocanvas-strength:{int(seed)}:{int(index)}:{step_bits}".encode(),
                             digest_size=8).digest()
    gen = torch.Generator(device="cpu").manual_seed(int.from_bytes(digest, "little"))
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32)


def noise_conditions(latents: torch.Tensor, sigmas: torch.Tensor, seed: int,
                     steps: torch.Tensor) -> torch.Tensor:
    """Flow-matching noising z = (1 - s) c + s e of condition frames [B, C, K, H, W] at sigmas [B, K].

    Row b, condition k gets `condition_noise(seed, k, steps[b])`: a function of the sampler's seed,
    the condition and the step only, never of the batch row, so cond and uncond see the same
    condition whether ComfyUI runs them together or apart. Skipped where every sigma is 0 (the
    clean, paper case) so that case stays exact.
    """
    if not bool((sigmas > 0).any()):
        return latents
    b, c, k, h, w = latents.shape
    steps = torch.as_tensor(steps).reshape(-1).float().expand(b).tolist()
    per_step = {step: torch.stack([condition_noise(seed, i, step, (c, h, w)) for i in range(k)], dim=1)
                for step in set(steps)}  # cond and uncond rows of a step share it: draw once
    eps = torch.stack([per_step[step] for step in steps])
    s = sigmas.to(latents).reshape(b, 1, k, 1, 1)
    return (1.0 - s) * latents + s * eps.to(latents)


def assemble(x: torch.Tensor, condition_latents: torch.Tensor, timestep: torch.Tensor,
             condition_timestep: torch.Tensor | float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Append K condition frames to the video: x [B, C, F, H, W], conditions [1 or B, C, K, H, W].

    Returns (x_cat [B, C, F+K, H, W], t_cat [B, F+K]) with the video frames' timesteps first and
    the conditions' after them (0 unless a per-condition [B, K] timestep is given).
    """
    if x.ndim != 5 or condition_latents.ndim != 5:
        raise InContextError(f"latents must be [B, C, F, H, W]; got video {tuple(x.shape)} and "
                             f"conditions {tuple(condition_latents.shape)}")
    b, c, f, h, w = x.shape
    cb, cc, k, ch, cw = condition_latents.shape
    if (cc, ch, cw) != (c, h, w):
        raise InContextError(f"condition latents must match the video's channels and size "
                             f"(C={c}, H={h}, W={w}); got C={cc}, H={ch}, W={cw}")
    if cb not in (1, b):
        raise InContextError(f"condition latents batch must be 1 or {b}; got {cb}")
    cond = condition_latents.to(device=x.device, dtype=x.dtype).expand(b, -1, -1, -1, -1)
    t_video = per_frame_timesteps(timestep, b, f)
    t_cond = torch.as_tensor(condition_timestep, dtype=t_video.dtype, device=t_video.device)
    t_cond = t_cond.expand(b, k) if t_cond.ndim < 2 else t_cond
    return torch.cat([x, cond], dim=2), torch.cat([t_video, t_cond.to(t_video)], dim=1)


def drop_conditions(output: torch.Tensor, video_frames: int) -> torch.Tensor:
    """Inverse of `assemble` on the model output: keep the first F (video) latent frames."""
    return output[:, :, :video_frames]


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
    grid = check_grid(wan, x)
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


def forward(wan, x, timestep, context, conditions: ConditionLatents, options: PatchOptions, *,
            attention=None, kv_cache: ConditionKVCache | None = None, **kwargs) -> torch.Tensor:
    """The paradigm's forward (base.Paradigm): in_context_forward with the patch's options."""
    return in_context_forward(wan, x, timestep, context, conditions, options.position_policy,
                              condition_tokens=options.condition_tokens,
                              condition_attention=options.condition_attention,
                              attention=attention, kv_cache=kv_cache, **kwargs)


def _check_options(options: PatchOptions, model: str) -> None:
    check_options(options.condition_tokens, options.condition_attention)


PARADIGM = Paradigm(
    name="in_context",
    condition_becomes=("one latent frame of tokens appended to the video's, at timestep 0 and a "
                       "fractional temporal RoPE position (pixel frame / VAE stride)"),
    strength_definition=STRENGTH_DEFINITION,
    adds_tokens=True,
    encoding="each",
    check_options=_check_options,
    forward=forward,
)
