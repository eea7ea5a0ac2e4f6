"""Pixel-frame <-> latent-frame bookkeeping and temporal RoPE positions for VideoCanvas.

Wan's causal video VAE has temporal stride N = 4: latent 0 holds pixel frame 0 alone and latent
k >= 1 holds pixel frames 4k-3 .. 4k, so a video of T = 4k+1 pixel frames has (T-1)/4 + 1 latents.
VideoCanvas conditions on single pixel frames tau, encoded on their own, and places them on the time
axis with a RoPE position; the policies below are the paper's method and its two ablations.

Pure Python/torch: never imports ComfyUI.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from typing import Any

import torch

__all__ = [
    "WAN_TEMPORAL_STRIDE",
    "POSITION_POLICIES",
    "FRAME_WORDS",
    "TimingError",
    "check_length",
    "latent_length",
    "pixel_length",
    "causal_latent_slot",
    "latent_slot_frames",
    "condition_time_position",
    "video_time_positions",
    "parse_frames",
    "describe_timing",
]

WAN_TEMPORAL_STRIDE = 4

# "interpolate": condition at tau/N, video latent k at k (the paper's method, fractional positions).
# "nearest":     condition at ceil(tau/N), the causal latent slot holding tau; video latent k at k.
# "extrapolate": integer pixel-frame units: condition at tau, video latent k at k*N (0..76 for 77).
POSITION_POLICIES = ("interpolate", "nearest", "extrapolate")

# Words accepted by parse_frames, resolved against the video length.
FRAME_WORDS = ("first", "middle", "last")

_UNITS = ("frames", "seconds")


class TimingError(ValueError):
    """A timing input is invalid; the message names the input, what is allowed and the value given."""


# --------------------------------------------------------------------------- validation helpers


def _as_int(value: Any, name: str, minimum: int | None = None) -> int:
    """An exact integer (numpy/torch integer scalars too); bools and floats are refused, not truncated."""
    if isinstance(value, bool):
        raise TimingError(f"{name} must be an integer; got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise TimingError(f"{name} must be an integer; got {value!r} ({type(value).__name__})") from None
    if minimum is not None and out < minimum:
        raise TimingError(f"{name} must be an integer >= {minimum}; got {out}")
    return out


def _check_stride(stride: Any) -> int:
    return _as_int(stride, "stride", minimum=1)


def _check_policy(policy: Any) -> str:
    if policy not in POSITION_POLICIES:
        allowed = ", ".join(repr(p) for p in POSITION_POLICIES)
        raise TimingError(f"policy must be one of {allowed}; got {policy!r}")
    return policy


# --------------------------------------------------------------------------- lengths


def check_length(length: Any, stride: int = WAN_TEMPORAL_STRIDE) -> int:
    """Return `length` if a causal VAE with this stride can encode it (length = stride*k + 1, k >= 0).

    Any other length would leave a partial last latent window, so it is refused with the nearest valid
    lengths suggested rather than silently trimmed or padded.
    """
    stride = _check_stride(stride)
    length = _as_int(length, "length")
    if length >= 1 and (length - 1) % stride == 0:
        return length
    if length < 1:
        examples = f"1, {1 + stride}, …"
    else:
        below = length - (length - 1) % stride
        examples = ("…, " if below > 1 else "") + f"{below}, {below + stride}, …"
    raise TimingError(f"length must be {stride}k+1 ({examples}); got {length}")


def latent_length(length: Any, stride: int = WAN_TEMPORAL_STRIDE) -> int:
    """Number of latent frames for `length` pixel frames: (length-1)/stride + 1 (77 -> 20, 81 -> 21)."""
    stride = _check_stride(stride)
    return (check_length(length, stride) - 1) // stride + 1


def pixel_length(latent_frames: Any, stride: int = WAN_TEMPORAL_STRIDE) -> int:
    """Inverse of latent_length: (latent_frames-1)*stride + 1 pixel frames (20 -> 77)."""
    stride = _check_stride(stride)
    latent_frames = _as_int(latent_frames, "latent_frames", minimum=1)
    return (latent_frames - 1) * stride + 1


# --------------------------------------------------------------------------- latent slots


def causal_latent_slot(tau: Any, stride: int = WAN_TEMPORAL_STRIDE) -> int:
    """The latent frame whose causal window holds pixel frame tau: ceil(tau/stride) (0->0, 1..4->1)."""
    stride = _check_stride(stride)
    tau = _as_int(tau, "tau (pixel frame)", minimum=0)
    return -(-tau // stride)


def latent_slot_frames(k: Any, stride: int = WAN_TEMPORAL_STRIDE) -> range:
    """Pixel frames held by latent k: frame 0 alone for k = 0, else stride*(k-1)+1 .. stride*k."""
    stride = _check_stride(stride)
    k = _as_int(k, "k (latent frame)", minimum=0)
    if k == 0:
        return range(0, 1)
    return range(stride * (k - 1) + 1, stride * k + 1)


# --------------------------------------------------------------------------- RoPE time positions


def condition_time_position(
    tau: Any, stride: int = WAN_TEMPORAL_STRIDE, policy: str = "interpolate"
) -> float:
    """Temporal RoPE position of a condition taken from pixel frame tau, on the same axis as
    video_time_positions(..., policy). "interpolate" gives tau/stride with no causal offset, so frame 41
    sits at 10.25, between latents 10 and 11, as the paper prescribes."""
    policy = _check_policy(policy)
    stride = _check_stride(stride)
    tau = _as_int(tau, "tau (pixel frame)", minimum=0)
    if policy == "interpolate":
        return tau / stride
    if policy == "nearest":
        return float(causal_latent_slot(tau, stride))
    return float(tau)  # extrapolate: pixel-frame units


def video_time_positions(
    latent_frames: Any, stride: int = WAN_TEMPORAL_STRIDE, policy: str = "interpolate"
) -> torch.Tensor:
    """Temporal RoPE positions of the F video latents, float64 [F]: k, or k*stride for "extrapolate".

    float64 so fractional condition positions built alongside stay exact; cast where the angles are
    made, float32 or better: bf16 keeps 8 significant bits, so quarter positions from 64 on round
    (76.25 -> 76.0) and the angles k'*theta lose far more.
    """
    policy = _check_policy(policy)
    stride = _check_stride(stride)
    latent_frames = _as_int(latent_frames, "latent_frames", minimum=1)
    positions = torch.arange(latent_frames, dtype=torch.float64)
    return positions * stride if policy == "extrapolate" else positions


# --------------------------------------------------------------------------- frame lists


def _tokens(spec: Any, name: str) -> list[Any]:
    """Split a frame spec into raw entries, keeping the order given."""
    if isinstance(spec, str):
        return [t for t in re.split(r"[\s,]+", spec.strip()) if t]
    if isinstance(spec, (list, tuple)):
        return list(spec)
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return [spec]
    raise TimingError(
        f"{name} must be an int, a list of numbers or a string like '0, 40, -1'; "
        f"got {spec!r} ({type(spec).__name__})"
    )


def _entry_value(entry: Any, length: int, name: str) -> int | float:
    """A raw entry as a number; words already resolved to a frame index (they ignore the unit)."""
    if isinstance(entry, str):
        text = entry.strip()
        word = text.lower()
        if word in FRAME_WORDS:
            return {"first": 0, "middle": (length - 1) // 2, "last": length - 1}[word]
        try:
            value: int | float = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
        if not math.isfinite(value):
            words = ", ".join(repr(w) for w in FRAME_WORDS)
            raise TimingError(f"{name}: cannot parse {entry!r}; use numbers or the words {words}")
        return value
    if isinstance(entry, numbers.Integral) and not isinstance(entry, bool):
        return int(entry)
    if isinstance(entry, numbers.Real) and not isinstance(entry, bool):
        value = float(entry)
        if not math.isfinite(value):
            raise TimingError(f"{name}: cannot use {entry!r}; entries must be finite numbers")
        return value
    raise TimingError(f"{name}: cannot parse {entry!r} ({type(entry).__name__}); use numbers or words")


def parse_frames(
    spec: Any,
    length: Any,
    fps: float | None = None,
    unit: str = "frames",
    *,
    name: str = "frames",
) -> list[int]:
    """Resolve a user frame list to pixel-frame indices in [0, length-1], in the order given.

    spec: an int, a list of numbers/words, or a string such as "0, 40, -1" or "first middle last".
    Negative values count from the end (-1 = last frame), as in Python indexing. With unit "seconds"
    each number is converted to round(s*fps) frames first (Python round, half to even), so negative
    seconds count from the end too (-1/fps s is the last frame). Words are frames in either unit.
    The order is kept because callers pair each frame with a patch; a frame given twice is an error,
    since two conditions at one frame are almost always a typo. `name` is the input named in errors.
    """
    length = _as_int(length, "length", minimum=1)
    unit_key = unit.strip().lower() if isinstance(unit, str) else unit
    if unit_key not in _UNITS:
        raise TimingError(f"unit must be one of {', '.join(repr(u) for u in _UNITS)}; got {unit!r}")
    seconds = unit_key == "seconds"
    if seconds:
        if fps is None or isinstance(fps, bool) or not isinstance(fps, numbers.Real):
            raise TimingError(f"fps must be a number > 0 when {name} are in seconds; got {fps!r}")
        if not (math.isfinite(float(fps)) and fps > 0):
            raise TimingError(f"fps must be a number > 0 when {name} are in seconds; got {fps!r}")

    entries = _tokens(spec, name)
    if not entries:
        raise TimingError(f"{name} must name at least one frame; got {spec!r}")

    out: list[int] = []
    seen: dict[int, Any] = {}
    for entry in entries:
        label = repr(entry.strip() if isinstance(entry, str) else entry)
        value = _entry_value(entry, length, name)
        is_word = isinstance(entry, str) and entry.strip().lower() in FRAME_WORDS
        if seconds and not is_word:
            index = round(value * float(fps))
            where = f"{label} ({value:g} s at {float(fps):g} fps = frame {index})"
        else:
            if value != int(value):
                raise TimingError(
                    f"{name} must be whole frame numbers in unit 'frames'; got {label} "
                    f"(use unit 'seconds' for times)"
                )
            index = int(value)
            where = label
        if not -length <= index < length:
            raise TimingError(
                f"{name} entry {where} is out of range: allowed [{-length}, {length - 1}] for length {length}"
            )
        index %= length
        if index in seen:
            raise TimingError(f"{name} entries {seen[index]} and {label} both resolve to frame {index}")
        seen[index] = label
        out.append(index)
    return out


# --------------------------------------------------------------------------- docs


def describe_timing(length: Any, stride: int = WAN_TEMPORAL_STRIDE) -> list[dict[str, int | float]]:
    """One row per pixel frame: its causal latent slot and its condition position under each policy.

    Keys: "frame", "latent_slot", and one per name in POSITION_POLICIES, so row[policy] works.
    """
    stride = _check_stride(stride)
    length = check_length(length, stride)
    rows: list[dict[str, int | float]] = []
    for tau in range(length):
        row: dict[str, int | float] = {"frame": tau, "latent_slot": causal_latent_slot(tau, stride)}
        for policy in POSITION_POLICIES:
            row[policy] = condition_time_position(tau, stride, policy)
        rows.append(row)
    return rows
