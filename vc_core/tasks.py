"""Video-level VideoCanvas tasks: a clip (or two, or an image) turned into many conditions.

Each function returns a list of ConditionSource (vc_core.plan) that build_plan renders once the
output size and length are known. Which clip frame lands on which output frame, and which pixels of
it are kept, is decided here; the ComfyUI nodes (vc_nodes/video_tasks.py) only call these.

Conventions (ComfyUI's): clips are [F, H, W, C] floats in [0, 1] (one image [H, W, C] is a 1-frame
clip), masks [F, H, W] or [H, W]. Output frames are pixel frames of the generated video.

Dense tasks (inpaint, outpaint, camera move) take `every_nth`: clip frames 0, n, 2n, ... become
conditions, and the clip's last frame always does too, so both ends of the clip are held.

Pure torch: never imports ComfyUI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import torch

from .canvas import EASINGS, FIT_MODES, Box
from .plan import CameraMove, ConditionSource, FrameRange, Patch, Placement, PlanError, move_times

__all__ = [
    "DIRECTIONS",
    "TaskError",
    "CameraClipPatch",
    "as_clip",
    "kept_frames",
    "clip_frame_at",
    "inpaint_sources",
    "outpaint_sources",
    "extend_sources",
    "transition_sources",
    "loop_sources",
    "loop_append_frames",
    "camera_move_sources",
]

DIRECTIONS = ("forward", "backward")


class TaskError(PlanError):
    """A task input that cannot be honoured; the message names the input and what is allowed."""


# ---------------------------------------------------------------------------------------- validation


def as_clip(video, name: str = "video") -> torch.Tensor:
    """A float clip [F, H, W, C] (an image [H, W, C] becomes one frame) with at least one frame."""
    if not isinstance(video, torch.Tensor) or video.dim() not in (3, 4) or not video.is_floating_point():
        desc = (f"{video.dtype} {tuple(video.shape)}" if isinstance(video, torch.Tensor)
                else type(video).__name__)
        raise TaskError(f"{name} must be an IMAGE: a float tensor [frames, height, width, channels]; "
                        f"got {desc}")
    clip = video if video.dim() == 4 else video[None]
    if min(clip.shape) < 1:
        raise TaskError(f"{name} must hold at least one frame of at least 1x1 pixels; got shape "
                        f"{tuple(clip.shape)}")
    return clip


def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise TaskError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _count(value, name: str, clip_frames: int, clip_name: str) -> int:
    """A number of clip frames: 1 .. the clip's length."""
    n = _int(value, name, 1)
    if n > clip_frames:
        raise TaskError(f"{name} is {n} but {clip_name} has only {clip_frames} frame"
                        f"{'s' if clip_frames != 1 else ''}; allowed 1..{clip_frames}")
    return n


def _strength(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise TaskError(f"strength must be a number in [0, 1]; got {value!r}")
    return float(value)


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise TaskError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _feather(value) -> float:
    if _finite(value, "feather") < 0:
        raise TaskError(f"feather must be a number of pixels >= 0; got {value!r}")
    return float(value)


def kept_frames(num_frames: int, every_nth: int = 1) -> list[int]:
    """Clip frames that become conditions: 0, n, 2n, ... and always the last one.

    kept_frames(9, 4) == [0, 4, 8]; kept_frames(8, 4) == [0, 4, 7]; kept_frames(5, 1) == [0..4].
    """
    num_frames = _int(num_frames, "number of frames", 1)
    every_nth = _int(every_nth, "every_nth", 1)
    frames = list(range(0, num_frames, every_nth))
    return frames if frames[-1] == num_frames - 1 else frames + [num_frames - 1]


def _clip_source(clip: torch.Tensor, idx: list[int], start_frame: int, placement, strength: float,
                 label: str, mask: torch.Tensor | None = None) -> ConditionSource:
    """Clip frames idx at output frames start_frame + idx (explicit list: they pair up one to one)."""
    patch = Patch(clip[idx], None if mask is None else mask[idx], placement)
    return ConditionSource(patch, [start_frame + i for i in idx], strength=strength, label=label)


# --------------------------------------------------------------------------------------- inpainting


def inpaint_sources(video, mask, start_frame: int = 0, every_nth: int = 1,
                    strength: float = 1.0) -> list[ConditionSource]:
    """Video inpainting: clip frame i -> output frame start_frame + i, holding what the mask leaves.

    `mask` is 1 on the hole to generate (ComfyUI MASK), one [H, W] / [1, H, W] for all frames or
    [F, H, W] one per frame, at the video's own H, W. Each kept frame is stretched to the canvas with
    keep = 1 - mask as its condition mask. Frames whose mask covers the whole frame hold nothing and
    are skipped (the model generates them freely: temporal inpainting).
    """
    clip = as_clip(video, "video")
    start_frame = _int(start_frame, "start_frame", 0)
    strength = _strength(strength)
    f, h, w = clip.shape[:3]
    if not isinstance(mask, torch.Tensor) or mask.dim() not in (2, 3):
        desc = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TaskError(f"mask must be a MASK [H, W] or [frames, H, W]; got {desc}")
    hole = (mask if mask.dim() == 3 else mask[None]).to(torch.float32)
    if tuple(hole.shape[-2:]) != (h, w):
        raise TaskError(f"mask is {hole.shape[-2]}x{hole.shape[-1]} (HxW) but the video frames are "
                        f"{h}x{w}; the mask must have the video's size")
    if hole.shape[0] not in (1, f):
        raise TaskError(f"mask has {hole.shape[0]} frames but the video has {f}; give one mask for all "
                        f"frames or one per frame")
    keep = (1.0 - hole.clamp(0.0, 1.0)).expand(f, h, w).to(clip.device)
    if clip.shape[-1] == 4:  # RGBA: transparent pixels are not kept either (alpha x (1 - mask))
        keep, clip = keep * clip[..., 3].clamp(0.0, 1.0), clip[..., :3]
    idx = [i for i in kept_frames(f, every_nth) if keep[i].any()]
    if not idx:
        raise TaskError("mask covers every pixel of every kept frame: nothing of the video is kept "
                        "(1 = the hole to generate, 0 = keep; an RGBA video's transparent pixels are "
                        "not kept either)")
    return [_clip_source(clip, idx, start_frame, Placement(None, "stretch", 0.0), strength, "inpaint",
                         mask=keep)]


# -------------------------------------------------------------------------------------- outpainting


def _fraction_box(x, y, width, height) -> Box:
    x, y = _finite(x, "x"), _finite(y, "y")
    width, height = _finite(width, "width"), _finite(height, "height")
    if x < 0 or y < 0:
        raise TaskError(f"x and y must be >= 0 (fractions of the canvas); got x={x}, y={y}")
    if width <= 0 or height <= 0:
        raise TaskError(f"width and height must be > 0 (fractions of the canvas); got width={width}, "
                        f"height={height}")
    for a, b, va, vb in (("x", "width", x, width), ("y", "height", y, height)):
        if va + vb > 1.0 + 1e-6:
            raise TaskError(f"{a} + {b} must be <= 1 (the box must lie on the canvas); got {a}={va} + "
                            f"{b}={vb} = {va + vb:g}")
    return Box(x, y, min(width, 1.0 - x), min(height, 1.0 - y), "fraction")


def outpaint_sources(video, x: float = 0.2, y: float = 0.2, width: float = 0.6, height: float = 0.6,
                     fit: str = "contain", feather: float = 0.0, start_frame: int = 0,
                     every_nth: int = 1, strength: float = 1.0) -> list[ConditionSource]:
    """Video outpainting: clip frame i -> output frame start_frame + i, placed in the box (fractions of
    the output canvas) with `fit`; the model completes everything around it."""
    clip = as_clip(video, "video")
    box = _fraction_box(x, y, width, height)
    if fit not in FIT_MODES:
        raise TaskError(f"fit must be one of {FIT_MODES}; got {fit!r}")
    placement = Placement(box, fit, _feather(feather))
    idx = kept_frames(clip.shape[0], every_nth)
    return [_clip_source(clip, idx, _int(start_frame, "start_frame", 0), placement, _strength(strength),
                         "outpaint")]


# ------------------------------------------------------------------------- extension, transition, loop


def _full_frame(clip: torch.Tensor) -> Patch:
    return Patch(clip, None, Placement(None, "stretch", 0.0))


def extend_sources(video, context_frames: int = 5, direction: str = "forward",
                   strength: float = 1.0) -> list[ConditionSource]:
    """Extension from the clip's edge.

    forward: the clip's last N frames become output frames 0..N-1; the new video continues the clip
    (the whole is clip[:-N] followed by the output). backward: the clip's first N frames become the
    output's last N frames (frames spec -N: start = length - N); the output leads into the clip (the
    whole is the output followed by clip[N:]).
    """
    clip = as_clip(video, "video")
    n = _count(context_frames, "context_frames", clip.shape[0], "the video")
    strength = _strength(strength)

    def fits(length: int) -> None:  # as _ends_apart for one end: some frame must be left to generate
        if n < length:
            return
        raise TaskError(f"context_frames = {n} but the output has {length} frames: the clip's {n} "
                        f"frames would cover all of them, leaving none to generate; allowed: "
                        f"context_frames <= length - 1 = {length - 1} (lower context_frames, or raise "
                        f"length)")

    if direction == "forward":
        return [ConditionSource(_full_frame(clip[-n:]), 0, strength=strength, label="extend forward",
                                fits=fits)]
    if direction == "backward":
        return [ConditionSource(_full_frame(clip[:n]), -n, strength=strength, label="extend backward",
                                fits=fits)]
    raise TaskError(f"direction must be one of {DIRECTIONS}; got {direction!r}")


def transition_sources(clip_a, clip_b, frames_a: int = 5, frames_b: int = 5,
                       strength: float = 1.0) -> list[ConditionSource]:
    """Scene transition: clip A's last frames_a frames at output frames 0.., clip B's first frames_b
    frames at the output's last frames_b frames; the model generates the change in between."""
    a, b = as_clip(clip_a, "clip_a"), as_clip(clip_b, "clip_b")
    na = _count(frames_a, "frames_a", a.shape[0], "clip_a")
    nb = _count(frames_b, "frames_b", b.shape[0], "clip_b")
    strength = _strength(strength)
    fits = _ends_apart("frames_a", na, "frames_b", nb, "clip A's end", "clip B's start")
    return [ConditionSource(_full_frame(a[-na:]), 0, strength=strength, label="transition A",
                            fits=fits),
            ConditionSource(_full_frame(b[:nb]), -nb, strength=strength, label="transition B")]


def _span(first: int, last: int) -> str:
    return f"{first}..{last}" if last > first else f"{first}"


def _ends_apart(name_a: str, na: int, name_b: str, nb: int, what_a: str, what_b: str):
    """The rule for conditions at both ends of the output (transition, loop), checked once the length
    is known: the two ends must leave at least one frame between them to generate. If they overlap,
    two different frames would condition the same output frames; if they touch, nothing is generated."""

    def fits(length: int) -> None:
        if na + nb < length:
            return
        total = f"{name_a} + {name_b}" if name_a != name_b else f"2 x {name_a}"
        both = (f"{total} = {na} + {nb} = {na + nb}" if name_a != name_b
                else f"{total} = 2 x {na} = {na + nb}")
        clash = (f"{what_a} (frames {_span(0, na - 1)}) and {what_b} (frames "
                 f"{_span(length - nb, length - 1)}) would both condition frames "
                 f"{_span(length - nb, na - 1)}" if na + nb > length
                 else f"{what_a} and {what_b} would fill all {length} frames, leaving none to generate")
        raise TaskError(f"{both} but the output has {length} frames: {clash}; allowed: {total} "
                        f"<= length - 1 = {length - 1} (lower {name_a}"
                        f"{'' if name_a == name_b else ' or ' + name_b}, or raise length)")

    return fits


def loop_sources(video, context_frames: int = 5, strength: float = 1.0) -> list[ConditionSource]:
    """The bridge that closes a seamless loop: the clip's last N frames at output frames 0..N-1 and its
    first N frames at the output's last N frames. clip + output[N:length-N] then loops (see
    loop_append_frames)."""
    clip = as_clip(video, "video")
    n = _count(context_frames, "context_frames", clip.shape[0], "the video")
    strength = _strength(strength)
    fits = _ends_apart("context_frames", n, "context_frames", n, "the clip's end", "the clip's start")
    return [ConditionSource(_full_frame(clip[-n:]), 0, strength=strength, label="loop: clip end",
                            fits=fits),
            ConditionSource(_full_frame(clip[:n]), -n, strength=strength, label="loop: clip start")]


def loop_append_frames(length: int, context_frames: int) -> range:
    """Output frames of a loop bridge to append after the clip: N .. length-N-1 (output[N:-N]).

    Output frames 0..N-1 repeat the clip's end and length-N.. its start, so they are left out."""
    length, n = _int(length, "length", 1), _int(context_frames, "context_frames", 1)
    if 2 * n >= length:
        raise TaskError(f"length must exceed 2 x context_frames so the bridge adds new frames; got "
                        f"length {length}, context_frames {n}")
    return range(n, length - n)


# ------------------------------------------------------------------------------------------ camera


def clip_frame_at(time: float, clip_frames: int) -> int:
    """Clip frame shown at `time` (0..1) along a camera move: the clip is stretched over the whole
    move (first frame at the start, last at the end, the nearest frame between, halves rounded up),
    as the camera path itself is. So a clip as long as the output plays in real time: the condition
    at output frame t shows clip frame t."""
    return int(math.floor(float(time) * (clip_frames - 1) + 0.5))


@dataclass(frozen=True, eq=False)
class CameraClipPatch(Patch):
    """A clip seen through a camera move over a frame range whose length is known only to build_plan:
    it stands for any number of condition frames (num_frames 1) and picks its clip frames
    (clip_frame_at) when it is rendered for the frames build_plan resolved."""

    @property
    def num_frames(self) -> int:
        return 1

    def clip_rows(self, frames, rows):
        f = int(self.image.shape[0])
        times = move_times(frames)
        idx = [clip_frame_at(times[r], f) for r in rows]
        per_frame = self.mask is not None and self.mask.dim() == 3 and self.mask.shape[0] == f > 1
        return self.image[idx], self.mask[idx] if per_frame else self.mask


def camera_move_sources(image, start: tuple[float, float, float] = (0.5, 0.5, 1.0),
                        end: tuple[float, float, float] = (0.5, 0.5, 1.5), easing: str = "linear",
                        every_nth: int = 4, feather: float = 0.0,
                        strength: float = 1.0) -> list[ConditionSource]:
    """Camera control: the image seen through a pan/zoom that spans the whole output.

    start/end = (cx, cy, zoom): the image centre as fractions of the canvas and its scale relative to
    "contain in the canvas". Conditions on output frames 0, n, 2n, ... and the last (FrameRange(0, -1,
    every_nth)); the model fills what the moving window uncovers. A clip is stretched over the move
    (CameraClipPatch): its first frame at output frame 0, its last at the last frame.
    """
    clip = as_clip(image, "image")
    for which, point in (("start", start), ("end", end)):
        for axis, value in zip(("x", "y", "zoom"), point, strict=True):
            _finite(value, f"{which}_{axis}")
        if point[2] <= 0:
            raise TaskError(f"{which}_zoom must be > 0 (1 = contain in the canvas); got {point[2]}")
    if easing not in EASINGS:
        raise TaskError(f"easing must be one of {EASINGS}; got {easing!r}")
    move = CameraMove(tuple(map(float, start)), tuple(map(float, end)), easing, _feather(feather))
    step = _int(every_nth, "every_nth", 1)
    patch = Patch(clip[0], None, move) if clip.shape[0] == 1 else CameraClipPatch(clip, None, move)
    return [ConditionSource(patch, FrameRange(0, -1, step), strength=_strength(strength),
                            label="camera move")]
