"""Rotary position tables for Wan-style 3-axis RoPE (time, height, width) at fractional positions.

VideoCanvas puts a condition from pixel frame tau at temporal position tau / N. The rotation for a
position p and frequency theta_j is p * theta_j exactly as for integer p, so the table is ComfyUI's
`EmbedND` / `rope` maths, fed with positions that are never rounded: positions are built and kept in
float64 here and the angles are formed in float64 before the table is cast to float32 (ComfyUI's
`WanModel._forward` builds its grid in the activations' dtype: bf16 keeps 8 significant bits, so
quarter positions round from 64 up, e.g. 76.25 -> 76.0, and fp16 from 512 up).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def wan_axes_dims(head_dim: int) -> tuple[int, int, int]:
    """Split of a head's rotary channels over (t, h, w), as Wan does: 44/42/42 for head_dim 128."""
    third = head_dim // 6
    return head_dim - 4 * third, 2 * third, 2 * third


def grid_positions(time_positions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Positions [T*height*width, 3] (t, h, w) of a token grid in the order tokens are flattened
    after patch embedding (frame-major, then rows, then columns). h and w are integer token rows
    and columns; t is whatever the caller gives per frame (integer for video, tau/N for conditions).
    """
    t = torch.as_tensor(time_positions, dtype=torch.float64).reshape(-1)
    tt = t.reshape(-1, 1, 1).expand(-1, height, width)
    hh = torch.arange(height, dtype=torch.float64).reshape(1, -1, 1).expand(t.numel(), -1, width)
    ww = torch.arange(width, dtype=torch.float64).reshape(1, 1, -1).expand(t.numel(), height, -1)
    return torch.stack([tt, hh, ww], dim=-1).reshape(-1, 3)


def axis_frequencies(axis_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """theta_j = theta^(-2j/axis_dim), j = 0 .. axis_dim/2 - 1, in float64 (ComfyUI's `rope`)."""
    if axis_dim % 2:
        raise ValueError(f"rotary axis dimension must be even; got {axis_dim}")
    scale = torch.linspace(0, (axis_dim - 2) / axis_dim, steps=axis_dim // 2, dtype=torch.float64)
    return 1.0 / (theta ** scale)


def rope_table(positions: torch.Tensor, axes_dim: Sequence[int], theta: float = 10000.0,
               device: torch.device | None = None) -> torch.Tensor:
    """Rotation matrices for every token, laid out as Wan's `rope_encode` returns them:
    [1, L, 1, sum(axes_dim)/2, 2, 2], float32, entries [[cos, -sin], [sin, cos]] of p * theta_j.
    """
    positions = torch.as_tensor(positions, dtype=torch.float64)
    if positions.ndim != 2 or positions.shape[1] != len(axes_dim):
        raise ValueError(f"positions must be [L, {len(axes_dim)}]; got {tuple(positions.shape)}")
    angles = torch.cat([positions[:, i:i + 1] * axis_frequencies(d, theta).reshape(1, -1)
                        for i, d in enumerate(axes_dim)], dim=1)
    cos, sin = torch.cos(angles), torch.sin(angles)
    table = torch.stack([cos, -sin, sin, cos], dim=-1).reshape(1, positions.shape[0], 1, -1, 2, 2)
    return table.to(device=device, dtype=torch.float32)
