"""The VideoCanvas plan: from what the user asked for (patches, when, how strongly) to what the model
consumes (one zero-padded full-size canvas per condition, its pixel frame and its strength).

Patches are placed lazily: a condition set says where a patch goes (a box, or a camera path), and
the plan renders it once the output size is known, so width/height/length have one source of truth
(the sampler's inputs) and every error can name the input it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .canvas import Box, CanvasError, camera_path, place_patch, warp_onto_canvas
from .timing import WAN_TEMPORAL_STRIDE, TimingError, check_length, latent_length, parse_frames

SPATIAL_MULTIPLE = 16  # Wan: VAE stride 8 x patch 2


class PlanError(ValueError):
    """An input the plan cannot honour; the message names the input and what is allowed."""


@dataclass(frozen=True)
class Placement:
    """A box on the output canvas (None = whole canvas) and how the patch fits into it."""

    box: Box | None = None
    fit: str = "stretch"
    feather: float = 0.0


@dataclass(frozen=True)
class CameraMove:
    """The patch seen through a moving camera: (cx, cy, zoom) from start to end over its frames."""

    start: tuple[float, float, float] = (0.5, 0.5, 1.0)
    end: tuple[float, float, float] = (0.5, 0.5, 1.0)
    easing: str = "linear"
    feather: float = 0.0


def move_times(frames: Sequence[int]) -> torch.Tensor:
    """Where each output frame sits along a move spanning frames[0] .. frames[-1], in [0, 1]."""
    f = torch.tensor(list(frames), dtype=torch.float64)
    span = f[-1] - f[0]
    return (f - f[0]) / span if span > 0 else torch.zeros_like(f)


@dataclass(frozen=True, eq=False)
class Patch:
    """Pixels (one image or a clip, [F, H, W, C] in [0, 1]), an optional mask, and a placement."""

    image: torch.Tensor
    mask: torch.Tensor | None = None
    placement: Placement | CameraMove = field(default_factory=Placement)

    @property
    def num_frames(self) -> int:
        return 1 if self.image.ndim == 3 else int(self.image.shape[0])

    def clip_rows(self, frames: Sequence[int], rows: Sequence[int]):
        """(image, mask) for the output frames frames[r], r in rows: a clip's own frames (one per
        output frame), one image as it is."""
        if self.num_frames == 1:
            return self.image, self.mask
        per_frame = self.mask is not None and self.mask.dim() == 3 and self.mask.shape[0] > 1
        return self.image[rows], self.mask[rows] if per_frame else self.mask

    def render(self, canvas_hw: tuple[int, int], frames: Sequence[int], rows: Sequence[int] | None = None):
        """PlacedPatch with one frame per output frame in `frames` (one image is repeated, or moved
        by the camera: along the move in proportion to the frames' times, so uneven gaps between
        condition frames keep the camera's speed). rows: only the output frames frames[r], r in rows
        (the same pixels as those rows of the whole render), so a long video draws one window's."""
        rows = list(range(len(frames))) if rows is None else list(rows)
        image, mask = self.clip_rows(frames, rows)
        p = self.placement
        if isinstance(p, CameraMove):
            matrices = camera_path(len(frames), tuple(self.image.shape[-3:-1]), canvas_hw, p.start,
                                   p.end, p.easing, times=move_times(frames))[rows]
            return warp_onto_canvas(image, matrices, canvas_hw, mask=mask, feather=p.feather)
        placed = place_patch(image, mask, canvas_hw, p.box, p.fit, p.feather)
        if placed.num_frames == 1 and len(rows) > 1:
            placed.pixels = placed.pixels.expand(len(rows), -1, -1, -1)
            placed.mask = placed.mask.expand(len(rows), -1, -1)
        return placed


@dataclass(frozen=True)
class FrameRange:
    """Frames start, start+step, ... up to end (inclusive, and always included), resolved once the
    video length is known; negative ends count from the end (-1 = last frame)."""

    start: int = 0
    end: int = -1
    step: int = 1

    def resolve(self, length: int, name: str) -> list[int]:
        # parsed one at a time: a range may start and end on the same frame
        first, last = (parse_frames([f], length, name=name)[0] for f in (self.start, self.end))
        if self.step < 1:
            raise PlanError(f"{name}: step must be >= 1; got {self.step}")
        if last < first:
            raise PlanError(f"{name}: the range starts at frame {first} after its end {last}")
        frames = list(range(first, last + 1, self.step))
        return frames if frames[-1] == last else frames + [last]


def check_patch(image: torch.Tensor, mask: torch.Tensor | None, image_name: str = "image",
                mask_name: str = "mask") -> None:
    """Refuse a patch whose mask cannot pair with its image, or that keeps nothing, before anything is
    rendered or encoded. The mask is [H, W] or [F, H, W] at the image's own size, with 1 frame (for
    every image frame) or one per image frame; an RGBA image's alpha is a mask too (see place_patch)."""
    frames = 1 if image.ndim == 3 else int(image.shape[0])
    keep = image[..., 3] if image.shape[-1] == 4 else None
    if mask is not None:
        if mask.ndim not in (2, 3):
            raise PlanError(f"{mask_name} must be a MASK [H, W] or [frames, H, W]; got shape "
                            f"{tuple(mask.shape)}")
        m = mask if mask.ndim == 3 else mask[None]
        if tuple(m.shape[-2:]) != tuple(image.shape[-3:-1]):
            raise PlanError(f"{mask_name} size {tuple(m.shape[-2:])} (HxW) differs from {image_name} "
                            f"size {tuple(image.shape[-3:-1])}; the mask must be in the image's own "
                            f"pixel frame")
        if m.shape[0] not in (1, frames):
            raise PlanError(f"{mask_name} has {m.shape[0]} frames but {image_name} has {frames}; give "
                            f"one mask for every frame (1) or one per image frame ({frames}), or as "
                            f"many image frames as masks (e.g. RepeatImageBatch)")
        keep = m.clamp(0, 1) if keep is None else keep * m.clamp(0, 1)
    if keep is not None and not bool((keep > 0).any()):
        what = mask_name if mask is not None else f"the alpha channel of {image_name} (RGBA)"
        if mask is not None and image.shape[-1] == 4:
            what = f"{mask_name} x the alpha channel of {image_name} (RGBA)"
        raise PlanError(f"{what} is zero everywhere, so no pixel of {image_name} would be kept (1 = "
                        f"keep the pixel, 0 = leave it to the model); give a mask with some "
                        f"non-zero pixels, or no mask")


class _Reference:
    """One object, also through copies and pickling (a node output may be copied)."""

    def __repr__(self) -> str:
        return "REFERENCE"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return "REFERENCE"


# The frames of a condition without a time (VideoCanvas Reference Image): it goes to the model's
# reference slot (Wan VACE), not to a frame of the video. An object of its own, so that no frame
# spec a user types can mean it.
REFERENCE = _Reference()


@dataclass(frozen=True, eq=False)
class ConditionSource:
    """A patch and when it holds: `frames` is a frame spec as the user wrote it ("0, 40, -1",
    an int, a list; seconds at `fps` with unit "seconds") or a FrameRange. A clip patch with one frame given
    starts there and runs on; with as many frames given as it has, they pair up.

    `node` names where it came from in a graph (e.g. '"Hold it" (node 12)'), for errors raised once
    the plan is built. `fits` is called with the output length before anything is rendered, for
    rules that need it (a transition's two ends must not overlap); it raises PlanError."""

    patch: Patch
    frames: object = 0
    unit: str = "frames"
    fps: float | None = None
    strength: float = 1.0
    label: str = ""
    node: str = ""
    fits: Callable[[int], None] | None = None


ConditionSet = tuple[ConditionSource, ...]


@dataclass
class VideoCanvasPlan:
    width: int
    height: int
    length: int
    stride: int
    canvases: torch.Tensor  # [K, H, W, 3] in [0, 1], VAE_ZERO where nothing is given
    masks: torch.Tensor     # [K, H, W], 1 where the condition's pixels are given
    frames: list[int]
    strengths: list[float]
    labels: list[str]
    origins: list[str] = field(default_factory=list)  # per frame: 'condition #1 from "Title" (node 12)'
    # conditions without a time (REFERENCE), [R, H, W, 3] on their canvases, for a reference slot
    references: torch.Tensor | None = None
    reference_origins: list[str] = field(default_factory=list)

    @property
    def num_conditions(self) -> int:
        return len(self.frames)

    @property
    def num_references(self) -> int:
        return 0 if self.references is None else len(self.references)

    @property
    def latent_frames(self) -> int:
        return latent_length(self.length, self.stride)

    def render(self, rows: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The canvases and masks of the rows asked for (all by default), as TimedConditions.render."""
        if rows is None:
            return self.canvases, self.masks
        rows = [int(r) for r in rows]
        return self.canvases[rows], self.masks[rows]


def check_size(width: int, height: int, multiple: int = SPATIAL_MULTIPLE,
               why: str = "the VAE's spatial stride x the patch size 2") -> None:
    """Latent size must split into whole patches: pixels a multiple of VAE stride x patch size (Wan:
    8 x 2; LTX-Video: 32 x 1)."""
    for name, value in (("width", width), ("height", height)):
        if value < multiple or value % multiple:
            lo = max(multiple, value // multiple * multiple)
            raise PlanError(f"{name} must be a positive multiple of {multiple} ({why}); got {value}, "
                            f"nearest {lo} or {lo + multiple}")


def source_frames(src: ConditionSource, length: int, name: str = "frames") -> list[int]:
    """The output frames one condition source holds in a `length`-frame video (what build_plan
    resolves), or a TimingError / PlanError naming `name`: lets the node where the frames are typed
    check them against the canvas before any sampler runs."""
    n = src.patch.num_frames
    try:
        if isinstance(src.frames, FrameRange):
            frames = src.frames.resolve(length, name)
        else:
            frames = parse_frames(src.frames, length, fps=src.fps, unit=src.unit, name=name)
    except TimingError as err:
        if n == 1:
            raise
        raise PlanError(f"{err} -- the {n}-frame clip does not fit the {length}-frame video: its "
                        f"frames land past the last frame (start_frame + clip frames must be <= "
                        f"length); trim the clip (e.g. ImageFromBatch) or raise length") from None
    if n == 1 or len(frames) == n:
        return frames
    if len(frames) == 1:
        start = frames[0]
        if start + n > length:
            raise PlanError(f"{name}: a {n}-frame clip starting at frame {start} runs past the last "
                            f"frame {length - 1}; start at most at {length - n}")
        return list(range(start, start + n))
    raise PlanError(f"{name}: {len(frames)} frames given for a {n}-frame clip; give one start "
                    f"frame or exactly {n} frames")


def _where(i: int, src: ConditionSource) -> str:
    return (f"condition #{i + 1}" + (f" ({src.label})" if src.label else "")
            + (f" from {src.node}" if src.node else ""))


@dataclass
class TimedConditions:
    """The conditions of a video placed in time but not yet drawn: what build_plan knows before it
    renders a canvas (frames, strengths, labels, origins, one row per condition frame, in plan
    order). render(rows) draws only the rows asked for, so a long video holds one window's canvases,
    never the whole timeline's."""

    width: int
    height: int
    length: int
    stride: int
    frames: list[int]
    strengths: list[float]
    labels: list[str]
    origins: list[str]
    # per timed source: (where, its patch, the output frames it holds, its first row)
    spans: list[tuple[str, Patch, list[int], int]] = field(default_factory=list)

    @property
    def num_conditions(self) -> int:
        return len(self.frames)

    def check_placements(self) -> None:
        """Draw each condition's first frame, so that a placement the canvas cannot take (a box off
        the canvas, ...) is refused before any of it is used, at the cost of one canvas per source."""
        self.render([first for *_, first in self.spans])

    def render(self, rows: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Canvases [len(rows), H, W, 3] and masks [len(rows), H, W] of the rows asked for (all by
        default), in the order asked."""
        rows = list(range(self.num_conditions)) if rows is None else [int(r) for r in rows]
        canvases, masks, order = [], [], []
        for where, patch, at, first in self.spans:
            mine = [r for r in rows if first <= r < first + len(at)]
            if not mine:
                continue
            try:
                placed = patch.render((self.height, self.width), at, [r - first for r in mine])
            except CanvasError as err:
                raise PlanError(f"{where}: {err}") from None
            canvases.append(placed.pixels[..., :3].float())
            masks.append(placed.mask.float())
            order += mine
        if not canvases:
            return torch.zeros(0, self.height, self.width, 3), torch.zeros(0, self.height, self.width)
        pixels, mask = torch.cat(canvases), torch.cat(masks)
        if order != rows:  # rows asked out of plan order (or repeated)
            index = torch.tensor([order.index(r) for r in rows])
            pixels, mask = pixels[index], mask[index]
        return pixels, mask


def time_conditions(sources: Sequence[ConditionSource], width: int, height: int, length: int,
                    stride: int = WAN_TEMPORAL_STRIDE,
                    check_count: Callable[[int], None] | None = None) -> TimedConditions:
    """Validate sizes, lengths, frames, strengths and masks and place every timed condition in time,
    drawing nothing. References (frames REFERENCE) are checked and left out: build_plan renders
    them. `check_count(K)` runs once the number of condition frames (references included) is known."""
    check_size(width, height)
    try:
        check_length(length, stride)
    except TimingError as err:
        raise PlanError(str(err)) from None
    when, references = [], 0
    for i, src in enumerate(sources):
        if not 0.0 <= src.strength <= 1.0:
            raise PlanError(f"strength of {_where(i, src)} must be in [0, 1]; got {src.strength}")
        if src.frames is REFERENCE:
            _check_reference(i, src)
            references += 1
            continue
        try:
            check_patch(src.patch.image, src.patch.mask, "its image", "its mask")
            if src.fits is not None:
                src.fits(length)
        except PlanError as err:
            raise PlanError(f"{_where(i, src)}: {err}") from None
        try:
            when.append((i, src, source_frames(src, length, f"frames of {_where(i, src)}")))
        except TimingError as err:
            raise PlanError(str(err)) from None
    if check_count is not None:
        check_count(sum(len(at) for _, _, at in when) + references)
    timed = TimedConditions(width, height, length, stride, [], [], [], [])
    for i, src, at in when:
        timed.spans.append((_where(i, src), src.patch, at, len(timed.frames)))
        timed.frames += at
        timed.strengths += [float(src.strength)] * len(at)
        timed.labels += [src.label or f"#{i + 1}"] * len(at)
        timed.origins += [_where(i, src)] * len(at)
    return timed


def build_plan(sources: Sequence[ConditionSource], width: int, height: int, length: int,
               stride: int = WAN_TEMPORAL_STRIDE,
               check_count: Callable[[int], None] | None = None) -> VideoCanvasPlan:
    """Render every condition onto its own canvas; validate sizes, lengths, frames and boxes.

    `check_count(K)` runs once the number of condition frames is known and before any canvas is
    rendered, so a caller can refuse an absurd request (e.g. by its memory estimate) cheaply.
    """
    timed = time_conditions(sources, width, height, length, stride, check_count)
    pixels, mask = timed.render()
    rendered, reference_origins = [], []
    for i, src in enumerate(sources):
        if src.frames is not REFERENCE:
            continue
        try:
            placed = src.patch.render((height, width), [0])
        except CanvasError as err:
            raise PlanError(f"{_where(i, src)}: {err}") from None
        if placed.mask.min() < 1:  # VACE's reference slot has no mask: uncovered pixels would be read
            raise PlanError(f"{_where(i, src)}: a reference is read whole, with no mask: its patch "
                            f"must cover the canvas (x 0, y 0, width 1, height 1, fit cover; no mask, no "
                            f"alpha, no feather)")
        rendered.append(placed.pixels[..., :3].float())
        reference_origins.append(_where(i, src))
    return VideoCanvasPlan(width, height, length, stride, pixels, mask, timed.frames, timed.strengths,
                           timed.labels, timed.origins, torch.cat(rendered) if rendered else None,
                           reference_origins)


def _check_reference(i: int, src: ConditionSource) -> None:
    """A reference is one image at full strength: the slot has neither a time nor a strength."""
    try:
        check_patch(src.patch.image, src.patch.mask, "its image", "its mask")
    except PlanError as err:
        raise PlanError(f"{_where(i, src)}: {err}") from None
    if src.patch.num_frames != 1:
        raise PlanError(f"{_where(i, src)}: a reference is one image; got a {src.patch.num_frames}-frame "
                        f"clip (pick one frame, e.g. ImageFromBatch)")
    if src.strength != 1.0:
        raise PlanError(f"strength of {_where(i, src)}: a reference has no strength on the model (VACE "
                        f"reads it whole); give 1, got {src.strength}")


def paste_back(video: torch.Tensor, plan: VideoCanvasPlan, feather: float = 0.0) -> torch.Tensor:
    """The decoded video [T, H, W, C] with each condition's exact pixels composited over its frame
    through its (optionally further feathered) mask; later conditions on the same frame win."""
    from .canvas import feather_mask

    if video.shape[0] != plan.length or tuple(video.shape[1:3]) != (plan.height, plan.width):
        raise PlanError(f"video is {tuple(video.shape[:3])} (frames, height, width) but the "
                        f"conditions were planned for ({plan.length}, {plan.height}, {plan.width})")
    out = video.clone()
    masks = feather_mask(plan.masks.to(video), feather)
    for k, frame in enumerate(plan.frames):
        m = masks[k].unsqueeze(-1)
        out[frame, ..., :3] = m * plan.canvases[k].to(video) + (1 - m) * out[frame, ..., :3]
    return out
