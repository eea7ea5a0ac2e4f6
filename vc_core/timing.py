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
    "check_frame_spec",
    "check_frame_syntax",
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


def check_length(length: Any, stride: int = WAN_TEMPORAL_STRIDE, *, name: str = "length") -> int:
    """Return `length` if a causal VAE with this stride can encode it (length = stride*k + 1, k >= 0).

    Any other length would leave a partial last latent window, so it is refused with the nearest valid
    lengths suggested rather than silently trimmed or padded. `name` is the input named in errors.
    """
    stride = _check_stride(stride)
    length = _as_int(length, name)
    if length >= 1 and (length - 1) % stride == 0:
        return length
    if length < 1:
        examples = f"1, {1 + stride}, …"
    else:
        below = length - (length - 1) % stride
        examples = ("…, " if below > 1 else "") + f"{below}, {below + stride}, …"
    raise TimingError(f"{name} must be {stride}k+1 ({examples}); got {length}")


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


def _quoted(entry: Any, limit: int = 40) -> str:
    """repr of an entry for messages, shortened when absurdly long (a 310-digit number)."""
    text = repr(entry.strip() if isinstance(entry, str) else entry)
    if len(text) <= limit:
        return text
    quote = text[-1] if text[-1] in "'\"" else ""
    return f"{text[:limit - 12]}...{quote} ({len(text)} characters)"


# A number as the help page writes them: ASCII digits, an optional sign, point and exponent. int()
# and float() also take '1_0', fullwidth '８' and Arabic-Indic '٣', which nobody means as a frame.
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _entry_value(entry: Any, length: int, name: str) -> int | float:
    """A raw entry as a number; words already resolved to a frame index (they ignore the unit)."""
    if isinstance(entry, str):
        text = entry.strip()
        word = text.lower()
        if word in FRAME_WORDS:
            return {"first": 0, "middle": (length - 1) // 2, "last": length - 1}[word]
        value: float
        if not _ASCII_NUMBER.fullmatch(text):
            value = math.nan  # refused as unparsable below
        else:
            try:
                return int(text)  # exact, however many digits: the range check refuses it by name
            except ValueError:
                value = float(text)
        if math.isinf(value):  # only a literal beyond float range ("1e400") gets here, not 'inf'
            # valid syntax, refused as out of range
            return _PAST_ANY_LENGTH if value > 0 else -_PAST_ANY_LENGTH
        if not math.isfinite(value):
            words = ", ".join(repr(w) for w in FRAME_WORDS)
            raise TimingError(f"{name}: cannot parse {_quoted(entry)}; use numbers written with the "
                              f"digits 0-9 (e.g. 40, -1, 2.5) or the words {words}")
        return value
    if isinstance(entry, numbers.Integral) and not isinstance(entry, bool):
        return int(entry)
    if isinstance(entry, numbers.Real) and not isinstance(entry, bool):
        value = float(entry)
        if not math.isfinite(value):
            raise TimingError(f"{name}: cannot use {entry!r}; entries must be finite numbers")
        return value
    raise TimingError(f"{name}: cannot parse {entry!r} ({type(entry).__name__}); use numbers or words")



def _entry_index(entry: Any, length: int, fps: float | None, name: str) -> tuple[str, int, str]:
    """(label as quoted in messages, frame index before wrapping negatives, label with the seconds
    conversion shown). fps None: unit "frames". Never overflows: a time too large for a float is
    returned as an index past any length, so the caller's range check refuses it by name."""
    label = _quoted(entry)
    value = _entry_value(entry, length, name)
    is_word = isinstance(entry, str) and entry.strip().lower() in FRAME_WORDS
    if fps is None or is_word:
        if value != int(value):
            raise TimingError(
                f"{name} must be whole frame numbers in unit 'frames'; got {label} "
                f"(use unit 'seconds' for times)"
            )
        return label, int(value), label
    try:
        frame = float(value) * float(fps)
    except OverflowError:  # an integer too large for a float
        frame = math.inf
    if not abs(frame) < 2**53:  # inf too: no video is that long, and its frame number says nothing
        return label, (1 if value > 0 else -1) * _PAST_ANY_LENGTH, f"{label} (seconds: past any frame)"
    index = round(frame)
    return label, index, f"{label} ({value:g} s at {float(fps):g} fps = frame {index})"


# A stand-in index for a number no float holds: outside [-length, length) for any real length.
_PAST_ANY_LENGTH = 2**1024


def _unit_key(unit: Any) -> str:
    key = unit.strip().lower() if isinstance(unit, str) else unit
    if key not in _UNITS:
        raise TimingError(f"unit must be one of {', '.join(repr(u) for u in _UNITS)}; got {unit!r}")
    return key


def _check_fps(fps: Any, name: str) -> float:
    if fps is None or isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise TimingError(f"fps must be a number > 0 when {name} are in seconds; got {fps!r}")
    if not (math.isfinite(float(fps)) and fps > 0):
        raise TimingError(f"fps must be a number > 0 when {name} are in seconds; got {fps!r}")
    return float(fps)


def _spec_entries(spec: Any, name: str) -> list[Any]:
    entries = _tokens(spec, name)
    if not entries:
        raise TimingError(f"{name} must name at least one frame; got {spec!r}")
    return entries


def check_frame_spec(spec: Any, max_length: int, unit: str = "frames", fps: float | None = None, *,
                     name: str = "frames") -> None:
    """Refuse, before the video length is known, a frame spec that no video of at most `max_length`
    frames can take: unparsable entries, fractions in unit 'frames', entries outside
    [-max_length, max_length - 1] frames (seconds converted at fps). Whether a frame fits the actual
    length, and duplicates, are left to parse_frames."""
    max_length = _as_int(max_length, "max_length", minimum=1)
    seconds = _unit_key(unit) == "seconds"
    rate = _check_fps(fps, name) if seconds else None
    for entry in _spec_entries(spec, name):
        label, index, where = _entry_index(entry, max_length, rate, name)
        if -max_length <= index < max_length:
            continue
        if not seconds:
            raise TimingError(f"{name} entry {where} is out of range: a video has at most {max_length} "
                              f"frames, so frames must lie in [{-max_length}, {max_length - 1}] "
                              f"(-1 = the last frame)")
        raise TimingError(f"{name} entry {where} is out of range: a video has at most {max_length} "
                          f"frames ({max_length / rate:g} s at {rate:g} fps), so times must lie in "
                          f"[{-max_length / rate:g}, {(max_length - 1) / rate:g}] s")


def check_frame_syntax(spec: Any, max_length: int, slowest_fps: float, *, name: str = "frames") -> None:
    """check_frame_spec for when the unit is not known yet (ComfyUI validates one input at a time):
    refuses what no unit allows, i.e. entries that cannot be parsed and entries beyond max_length
    frames even as seconds at the slowest fps allowed."""
    max_length = _as_int(max_length, "max_length", minimum=1)
    slowest = _check_fps(slowest_fps, name)
    for entry in _spec_entries(spec, name):
        value = _entry_value(entry, max_length, name)
        if isinstance(entry, str) and entry.strip().lower() in FRAME_WORDS:
            continue
        if abs(value) <= max_length / slowest:
            continue
        raise TimingError(f"{name} entry {_quoted(entry)} is out of range in any unit: a video has at "
                          f"most {max_length} frames, so frames must lie in [{-max_length}, "
                          f"{max_length - 1}] (-1 = the last frame), and times in seconds within "
                          f"{max_length} frames at the fps given")


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
    seconds = _unit_key(unit) == "seconds"
    if seconds:
        _check_fps(fps, name)
    entries = _spec_entries(spec, name)

    out: list[int] = []
    seen: dict[int, Any] = {}
    for entry in entries:
        label, index, where = _entry_index(entry, length, fps if seconds else None, name)
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
