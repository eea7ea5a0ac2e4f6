"""Rotary position tables for Wan-style 3-axis RoPE (time, height, width) at fractional positions.

VideoCanvas puts a condition from pixel frame tau at temporal position tau / N. The rotation for a
position p and frequency theta_j is p * theta_j exactly as for integer p, so the table is ComfyUI's
`EmbedND` / `rope` maths, fed with positions that are never rounded: positions are built and kept in
float64 here and the angles are formed in float64 before the table is cast to float32 (ComfyUI's
`WanModel._forward` builds its grid in the activations' dtype: bf16 keeps 8 significant bits, so
quarter positions round from 64 up, e.g. 76.25 -> 76.0, and fp16 from 512 up).

ComfyUI's ScaleROPE node (`transformer_options["rope_options"]`) maps grid index i on each axis to
shift + i * scale (`WanModel.rope_encode`); `apply_rope_options` does the same to any position, so
fractional condition positions move with the video's.

Tables are cached (`ROPE_TABLES`): a sampling run asks for the same table at every step and for
cond and uncond, and it only depends on the plan, so it is built once, on the model's device.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence

import torch

# ScaleROPE's keys, per axis of the (t, h, w) positions: (scale key, shift key).
ROPE_OPTION_AXES = (("scale_t", "shift_t"), ("scale_y", "shift_y"), ("scale_x", "shift_x"))
_ROPE_OPTION_KEYS = frozenset(k for pair in ROPE_OPTION_AXES for k in pair)


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


def rope_options_key(rope_options: Mapping | None) -> tuple[tuple[float, float], ...] | None:
    """ScaleROPE's options as ((scale_t, shift_t), (scale_y, shift_y), (scale_x, shift_x)), with
    ComfyUI's defaults (scale 1, shift 0) for missing keys; None when there are none. Keys this
    module does not know are refused by name: a newer ScaleROPE would otherwise be silently ignored.
    """
    if rope_options is None:
        return None
    unknown = sorted(str(k) for k in rope_options if k not in _ROPE_OPTION_KEYS)
    if unknown:
        raise ValueError(f"rope_options (ScaleROPE): VideoCanvas honours {sorted(_ROPE_OPTION_KEYS)} "
                         f"but got {unknown}; remove that model patch or the VideoCanvas conditions")
    return tuple((float(rope_options.get(scale, 1.0)), float(rope_options.get(shift, 0.0)))
                 for scale, shift in ROPE_OPTION_AXES)


def apply_rope_options(positions: torch.Tensor, rope_options: Mapping | None) -> torch.Tensor:
    """Positions [L, 3] (t, h, w) mapped p -> shift + p * scale per axis, as ComfyUI's rope_encode
    maps integer grid indices; unchanged without options."""
    key = rope_options_key(rope_options)
    if key is None:
        return positions
    scale = torch.tensor([s for s, _ in key], dtype=positions.dtype, device=positions.device)
    shift = torch.tensor([b for _, b in key], dtype=positions.dtype, device=positions.device)
    return shift + positions * scale


def axis_frequencies(axis_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """theta_j = theta^(-2j/axis_dim), j = 0 .. axis_dim/2 - 1, in float64 (ComfyUI's `rope`)."""
    if axis_dim % 2:
        raise ValueError(f"rotary axis dimension must be even; got {axis_dim}")
    scale = torch.linspace(0, (axis_dim - 2) / axis_dim, steps=axis_dim // 2, dtype=torch.float64)
    return 1.0 / (theta ** scale)


def _float64_device(device: torch.device) -> torch.device:
    # CPU and CUDA compute float64 cos/sin; others (MPS has no float64) build on the CPU and copy once.
    return device if device.type in ("cpu", "cuda") else torch.device("cpu")


def rope_table(positions: torch.Tensor, axes_dim: Sequence[int], theta: float = 10000.0,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Rotation matrices for every token, laid out as Wan's `rope_encode` returns them:
    [1, L, 1, sum(axes_dim)/2, 2, 2], float32, entries [[cos, -sin], [sin, cos]] of p * theta_j.
    Angles are formed in float64 on `device` where it has float64 (else on the CPU).
    """
    target = torch.device("cpu") if device is None else torch.device(device)
    work = _float64_device(target)
    positions = torch.as_tensor(positions, dtype=torch.float64).to(work)
    if positions.ndim != 2 or positions.shape[1] != len(axes_dim):
        raise ValueError(f"positions must be [L, {len(axes_dim)}]; got {tuple(positions.shape)}")
    angles = torch.cat([positions[:, i:i + 1] * axis_frequencies(d, theta).to(work).reshape(1, -1)
                        for i, d in enumerate(axes_dim)], dim=1)
    cos, sin = torch.cos(angles), torch.sin(angles)
    table = torch.stack([cos, -sin, sin, cos], dim=-1).reshape(1, positions.shape[0], 1, -1, 2, 2)
    return table.to(device=target, dtype=torch.float32)


class RopeTableCache:
    """A small LRU of rope tables keyed by everything they depend on (the caller's plan key).

    Bounded by entries and by bytes: one table is L x 1 KiB (head_dim 128), ~33 MiB for 81 frames
    at 832x480, and it lives on the model's device outside ComfyUI's memory accounting.
    """

    def __init__(self, max_entries: int = 4, max_bytes: int = 256 * 2**20):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._tables: OrderedDict[Hashable, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tables)

    def clear(self) -> None:
        self._tables.clear()

    def get(self, key: Hashable, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        table = self._tables.get(key)
        if table is not None:
            self._tables.move_to_end(key)
            return table
        # Built outside inference mode (ComfyUI samples inside it): an inference tensor could not
        # later be used by a forward that records autograd (training calls the same forward).
        with torch.inference_mode(False), torch.no_grad():
            table = build()
        self._tables[key] = table
        while len(self._tables) > 1 and (
                len(self._tables) > self.max_entries or self._bytes() > self.max_bytes):
            self._tables.popitem(last=False)
        return table

    def _bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._tables.values())


ROPE_TABLES = RopeTableCache()
