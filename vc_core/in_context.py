"""In-context conditioning (ICC): condition latents appended to the noisy video along the sequence.

Every condition is a full-size canvas encoded on its own as a single image, so it is exactly one
latent frame of the video's spatial size. Appending it as an extra frame therefore appends
h*w/(patch area) tokens that share the video's patch embedding and spatial RoPE grid. The condition
frames get timestep 0 (clean) and a temporal RoPE position chosen by the position policy; after the
forward pass they are dropped, so only video tokens are denoised.

Also here: latent replacement, the paper's baseline paradigm, for ablations.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .rope import apply_rope_options, grid_positions
from .timing import condition_time_position, video_time_positions

PARADIGMS = ("in_context", "latent_replacement")

# What strength means, in one sentence (the node's tooltip and the README say the same).
STRENGTH_DEFINITION = (
    "Strength s: at every sampling step the condition enters the model noised to (1 - s) times the "
    "video's current noise level, with noise fixed by the sampler's seed, the condition's index and "
    "the step (the same for every batch row, cond or uncond), so 1 is the paper's clean condition and "
    "lower values loosen how closely the video follows it.")


class InContextError(ValueError):
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


def require_full_strength(paradigm: str, strengths: Sequence[float], frames: Sequence[int],
                          origins: Sequence[str] = ()) -> None:
    """Paradigms that cannot honour strength refuse any other value than 1, naming the condition
    (its origin in the graph where known: 'condition #1 from "Title" (node 12)')."""
    for i, (s, f) in enumerate(zip(strengths, frames, strict=True)):
        if float(s) != 1.0:
            where = origins[i] if i < len(origins) else f"condition frame #{i + 1}"
            raise InContextError(
                f"strength of {where} (at frame {f}): the {paradigm} paradigm cannot honour strength "
                f"{float(s):g}: it overwrites the video's latent slot with the clean condition, so "
                f"there is nothing to weaken. Set strength to 1, or use the in_context paradigm in "
                f"'VideoCanvas RoPE Interpolator'")


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


# --- Latent replacement (the paper's baseline, Table 2) ---------------------------------------

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
            raise InContextError(f"latent slot {slot} is outside the video's {f} latent frames")
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
