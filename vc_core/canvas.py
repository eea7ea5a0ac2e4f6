"""Canvas composition: put a patch (image, crop, masked object, clip) onto a full-size frame.

Every VideoCanvas condition is a full-size frame x = m*p with the VAE's zero elsewhere (paper, step 1).
This module builds those frames in ComfyUI's layout (pixels [F, H, W, C] in [0, 1], masks [F, H, W],
1 = keep) by placement in a box (`place_patch`) or by per-frame affine warps (`warp_onto_canvas`,
`camera_path`). All resampling goes through kornia; masked images are resampled premultiplied, so
colours under mask 0 never bleed into the kept region. An RGBA image's alpha is a mask: alone it is
the mask, with a mask given the two multiply (alpha is never dropped silently).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from einops import rearrange
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import resize, warp_affine
from torch import Tensor

# The canvas fill. The Wan VAE maps ComfyUI pixels [0, 1] to its input range [-1, 1] by 2x - 1, so
# its zero is 0.5 here: "zero-padded canvas" means grey 0.5, not black. Training builds canvases
# with this same constant; change it only together with the training data.
VAE_ZERO = 0.5

FIT_MODES = ("stretch", "contain", "cover", "none")
BOX_UNITS = ("px", "fraction")
EASINGS = ("linear", "ease_in_out")


class CanvasError(ValueError):
    """Invalid canvas input; the message names the input, what is allowed and what was given."""


@dataclass(frozen=True)
class Box:
    """Where a patch goes on the canvas: top-left (x, y) and size (w, h), in pixels or canvas fractions."""

    x: float
    y: float
    w: float
    h: float
    unit: str = "px"

    @classmethod
    def full(cls) -> Box:
        """The whole canvas, whatever its size."""
        return cls(0.0, 0.0, 1.0, 1.0, "fraction")

    def resolve(self, canvas_h: int, canvas_w: int) -> tuple[int, int, int, int]:
        """Integer (x0, y0, w, h) on a canvas_h x canvas_w canvas.

        Edges are rounded (not sizes), so boxes that tile the canvas in fractions tile it in pixels.
        """
        canvas_h, canvas_w = _size_pair((canvas_h, canvas_w))
        if self.unit not in BOX_UNITS:
            raise CanvasError(f"box unit must be one of {BOX_UNITS}, got {self.unit!r}")
        values = (self.x, self.y, self.w, self.h)
        if not all(isinstance(v, Real) and math.isfinite(v) for v in values):
            raise CanvasError(f"box needs finite numbers x, y, w, h, got {self}")
        if self.w <= 0 or self.h <= 0:
            raise CanvasError(
                f"box width and height must be > 0, got w={self.w}, h={self.h} ({self.unit}) "
                f"on canvas size {canvas_h}x{canvas_w} (HxW)"
            )
        sx, sy = (canvas_w, canvas_h) if self.unit == "fraction" else (1, 1)
        x0, x1 = round(self.x * sx), round((self.x + self.w) * sx)
        y0, y1 = round(self.y * sy), round((self.y + self.h) * sy)
        if x1 <= x0 or y1 <= y0:
            raise CanvasError(
                f"box {self} is smaller than one pixel on canvas size {canvas_h}x{canvas_w} (HxW)"
            )
        if x0 < 0 or y0 < 0 or x1 > canvas_w or y1 > canvas_h:
            raise CanvasError(
                f"box {self} covers x {x0}..{x1}, y {y0}..{y1} px, outside canvas size "
                f"{canvas_h}x{canvas_w} (HxW); it must lie within x 0..{canvas_w}, y 0..{canvas_h}"
            )
        return x0, y0, x1 - x0, y1 - y0


@dataclass
class PlacedPatch:
    """One condition per frame, ready to encode: pixels = mask*patch + (1-mask)*VAE_ZERO."""

    pixels: Tensor  # [F, H, W, C] on the canvas, VAE_ZERO where mask is 0
    mask: Tensor  # [F, H, W] in [0, 1], 1 = pixel given by the patch

    @property
    def num_frames(self) -> int:
        return int(self.pixels.shape[0])


# ---------------------------------------------------------------------------------------- validation


def _size_pair(size: Sequence[int], name: str = "canvas size") -> tuple[int, int]:
    ok = (
        isinstance(size, Sequence)
        and len(size) == 2
        and all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in size)
    )
    if not ok:
        raise CanvasError(f"{name} must be (height, width) as two integers >= 1, got {size!r}")
    return int(size[0]), int(size[1])


def _image_frames(image: Tensor) -> Tensor:
    """[H, W, C] or [F, H, W, C] float image -> [F, C, H, W] float32 (channels first for kornia)."""
    if not isinstance(image, Tensor) or image.dim() not in (3, 4) or not image.is_floating_point():
        desc = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, Tensor) else type(image)
        raise CanvasError(f"image must be a float tensor [H, W, C] or [F, H, W, C], got {desc}")
    frames = image if image.dim() == 4 else image[None]
    if min(frames.shape) < 1:
        raise CanvasError(f"image must not be empty, got shape {tuple(image.shape)}")
    return rearrange(frames.to(torch.float32), "f h w c -> f c h w")


def _split_alpha(frames: Tensor) -> tuple[Tensor, Tensor | None]:
    """[F, C, H, W] -> (colour [F, 3, H, W], alpha [F, 1, H, W] in [0, 1]) for RGBA; (frames, None)
    otherwise. The rule for RGBA patches: alpha is a mask (1 = pixel given), multiplied with any mask
    given as well, so a cut-out PNG needs no separate mask and transparent pixels never become
    condition pixels."""
    if frames.shape[1] != 4:
        return frames, None
    return frames[:, :3], frames[:, 3:].clamp(0.0, 1.0)


def _with_alpha(cover: Tensor | None, alpha: Tensor | None, image_frames: int) -> Tensor | None:
    """Coverage [F or 1, 1, H, W] x alpha (either may be None), frame counts checked first."""
    if alpha is None or cover is None:
        return alpha if cover is None else cover
    _frame_count(image=image_frames, mask=cover.shape[0])
    return cover * alpha


def _mask_frames(mask: Tensor, image_hw: tuple[int, int], device: torch.device) -> Tensor:
    """[H, W] or [F, H, W] mask in the image's pixel frame -> [F, 1, H, W] float32 in [0, 1]."""
    if not isinstance(mask, Tensor) or mask.dim() not in (2, 3):
        desc = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask)
        raise CanvasError(f"mask must be a tensor [H, W] or [F, H, W], got {desc}")
    frames = mask if mask.dim() == 3 else mask[None]
    if tuple(frames.shape[-2:]) != image_hw:
        raise CanvasError(
            f"mask size {tuple(frames.shape[-2:])} (HxW) differs from image size {image_hw}; "
            "the mask must be in the image's own pixel frame"
        )
    return frames.to(device=device, dtype=torch.float32).clamp(0.0, 1.0)[:, None]


def _frame_count(**counts: int) -> int:
    """Common frame count; each input may have 1 frame (shared) or that count."""
    total = max(counts.values())
    if any(n not in (1, total) for n in counts.values()):
        listed = ", ".join(f"{name} has {n}" for name, n in counts.items())
        raise CanvasError(f"frame counts disagree: {listed}; each must be 1 or {total}")
    return total


def _feather_px(feather: float) -> float:
    if not isinstance(feather, Real) or not math.isfinite(feather) or feather < 0:
        raise CanvasError(f"feather must be a finite number of pixels >= 0, got {feather!r}")
    return float(feather)


# -------------------------------------------------------------------------------------- composition


def _feather_ramp(cover: Tensor, feather: float) -> Tensor:
    """Multiplier in [0, 1] that fades the mask from its edge inwards over ~`feather` pixels.

    2*blur - 1 is 0 on a straight edge and 1 where the Gaussian kernel (sigma feather/2, truncated at
    radius ceil(feather)) sees no uncovered pixel, so cover*ramp <= cover and stays 1 deep inside
    (snapped: the float32 kernel sums to 1 only up to rounding). Replicate padding: the canvas border
    is not an edge, a full-frame patch stays 1 there.
    """
    radius = max(1, math.ceil(feather))
    sigma = feather / 2.0
    blurred = gaussian_blur2d(cover, 2 * radius + 1, (sigma, sigma), border_type="replicate")
    ramp = (2.0 * blurred - 1.0).clamp(0.0, 1.0)
    return torch.where(ramp > 1.0 - 1e-5, 1.0, ramp)


def _compose(premult: Tensor, cover: Tensor, feather: float) -> PlacedPatch:
    """Canvas-size premultiplied colour [F, C, H, W] and coverage [F or 1, 1, H, W] -> PlacedPatch.

    With the colour p = premult/cover and the final mask m = cover*ramp, m*p = premult*ramp: no division.
    """
    if feather > 0:
        ramp = _feather_ramp(cover, feather)
        premult, cover = premult * ramp, cover * ramp
    pixels = premult + (1.0 - cover) * VAE_ZERO
    return PlacedPatch(
        pixels=rearrange(pixels, "f c h w -> f h w c").contiguous(),
        mask=cover[:, 0].expand(pixels.shape[0], -1, -1).contiguous(),
    )


def feather_mask(mask: Tensor, feather: float) -> Tensor:
    """A mask [F, H, W] faded inwards from its edges over ~`feather` pixels (never above the mask)."""
    feather = _feather_px(feather)
    if feather == 0:
        return mask
    cover = mask.unsqueeze(1).float()
    return (cover * _feather_ramp(cover, feather))[:, 0]


@dataclass(frozen=True)
class _Fit:
    """Integer geometry of one fit: resize to `size`, crop `out` at `crop`, paste at `offset` in the box."""

    size: tuple[int, int]
    crop: tuple[int, int]
    out: tuple[int, int]
    offset: tuple[int, int]


def _fit_geometry(src_hw: tuple[int, int], box_hw: tuple[int, int], fit: str) -> _Fit:
    (h, w), (bh, bw) = src_hw, box_hw
    if fit == "stretch":
        size = (bh, bw)
    elif fit == "contain":
        s = min(bh / h, bw / w)
        size = (min(bh, max(1, round(h * s))), min(bw, max(1, round(w * s))))
    elif fit == "cover":
        s = max(bh / h, bw / w)
        size = (max(bh, round(h * s)), max(bw, round(w * s)))
    elif fit == "none":
        size = (h, w)
    else:
        raise CanvasError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    out = (min(size[0], bh), min(size[1], bw))
    crop = ((size[0] - out[0]) // 2, (size[1] - out[1]) // 2)
    offset = ((bh - out[0]) // 2, (bw - out[1]) // 2)
    return _Fit(size=size, crop=crop, out=out, offset=offset)


def _apply_fit(t: Tensor, geom: _Fit) -> Tensor:
    """Resize (kornia, antialiased bilinear) then centre-crop a [F, C, h, w] tensor per `geom`."""
    if tuple(t.shape[-2:]) != geom.size:
        t = resize(t, geom.size, interpolation="bilinear", align_corners=False, antialias=True)
    (cy, cx), (oh, ow) = geom.crop, geom.out
    return t[..., cy : cy + oh, cx : cx + ow]


def place_patch(
    image: Tensor,
    mask: Tensor | None = None,
    canvas_size: Sequence[int] | None = None,
    box: Box | None = None,
    fit: str = "stretch",
    feather: float = 0.0,
) -> PlacedPatch:
    """Place an image (or each frame of a clip, identically) into `box` on a blank canvas.

    `canvas_size` (H, W) defaults to the image's own size; `box` to the whole canvas. `mask` ([H, W]
    or [F, H, W], same H, W as the image) marks which image pixels are kept; it is resampled with the
    image. An RGBA image's alpha is a mask as well: alone it is the mask, with `mask` given the two
    multiply. `fit` says how the image meets the box (see FIT_MODES); box pixels the image does not
    reach stay uncovered. `feather` (px) softens the mask edge inwards only.
    """
    src, alpha = _split_alpha(_image_frames(image))
    canvas_h, canvas_w = _size_pair(tuple(src.shape[-2:]) if canvas_size is None else canvas_size)
    feather = _feather_px(feather)
    x0, y0, bw, bh = (box if box is not None else Box.full()).resolve(canvas_h, canvas_w)
    h, w = src.shape[-2:]
    geom = _fit_geometry((h, w), (bh, bw), fit)

    given = None if mask is None else _mask_frames(mask, (h, w), src.device)
    src_cover = _with_alpha(given, alpha, src.shape[0])
    if src_cover is None:
        frames = src.shape[0]
        premult = _apply_fit(src, geom)
        cover = torch.ones(1, 1, *geom.out, device=src.device, dtype=torch.float32)
    else:
        frames = _frame_count(image=src.shape[0], mask=src_cover.shape[0])
        premult = _apply_fit(src * src_cover, geom)
        cover = _apply_fit(src_cover, geom).clamp(0.0, 1.0)

    py, px = y0 + geom.offset[0], x0 + geom.offset[1]
    (oh, ow), channels = geom.out, src.shape[1]
    canvas_premult = src.new_zeros(frames, channels, canvas_h, canvas_w)
    canvas_cover = src.new_zeros(cover.shape[0], 1, canvas_h, canvas_w)
    canvas_premult[..., py : py + oh, px : px + ow] = premult
    canvas_cover[..., py : py + oh, px : px + ow] = cover
    return _compose(canvas_premult, canvas_cover, feather)


# ----------------------------------------------------------------------------------------- warping


def _matrices(matrices: Tensor, device: torch.device) -> Tensor:
    if not isinstance(matrices, Tensor) or matrices.dim() not in (2, 3) or matrices.shape[-2:] != (2, 3):
        desc = tuple(matrices.shape) if isinstance(matrices, Tensor) else type(matrices)
        raise CanvasError(f"matrices must be a tensor [F, 2, 3] or [2, 3] of affine maps, got {desc}")
    m = (matrices if matrices.dim() == 3 else matrices[None]).to(device=device, dtype=torch.float32)
    if m.shape[0] < 1 or not torch.isfinite(m).all():
        raise CanvasError(f"matrices must be finite and hold at least one frame, got shape {tuple(m.shape)}")
    return m


def warp_onto_canvas(
    image: Tensor,
    matrices: Tensor,
    canvas_size: Sequence[int],
    mask: Tensor | None = None,
    feather: float = 0.0,
) -> PlacedPatch:
    """Warp an image (or clip, frame by frame) onto the canvas with per-frame 2x3 affine matrices.

    matrices[i] maps image pixel coordinates (x, y; pixel centres at integers) to canvas pixel
    coordinates. One image with F matrices gives F frames. Outside the warped image: mask 0,
    pixels VAE_ZERO. Coverage within float32 grid noise of 0 or 1 is snapped there exactly. An RGBA
    image's alpha is a mask as in place_patch.
    """
    src, alpha = _split_alpha(_image_frames(image))
    canvas_h, canvas_w = _size_pair(canvas_size)
    feather = _feather_px(feather)
    m = _matrices(matrices, src.device)
    h, w = src.shape[-2:]
    given = None if mask is None else _mask_frames(mask, (h, w), src.device)
    src_cover = _with_alpha(given, alpha, src.shape[0])
    counts = {"image": src.shape[0], "matrices": m.shape[0]}
    if src_cover is None:
        src_cover = src.new_ones(1, 1, h, w)
    else:
        counts["mask"] = src_cover.shape[0]
    frames = _frame_count(**counts)

    # colour (premultiplied) and coverage are warped together, as one tensor
    premult = src * src_cover
    stacked = torch.cat([premult, src_cover.expand(premult.shape[0], -1, -1, -1)], 1)
    warped = warp_affine(
        stacked.expand(frames, -1, -1, -1),
        m.expand(frames, -1, -1),
        (canvas_h, canvas_w),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )
    premult, cover = warped[:, :-1], warped[:, -1:].clamp(0.0, 1.0)

    # grid_sample works in normalised coordinates: float32 leaves ~1e-7 * size of stray coverage
    noise = 8 * torch.finfo(torch.float32).eps * max(canvas_h, canvas_w, h, w)
    cover = torch.where(cover < noise, 0.0, torch.where(cover > 1.0 - noise, 1.0, cover))
    premult = premult * (cover > 0)
    return _compose(premult, cover, feather)


def camera_path(
    num_frames: int,
    image_size: Sequence[int],
    canvas_size: Sequence[int],
    start: Sequence[float] = (0.5, 0.5, 1.0),
    end: Sequence[float] = (0.5, 0.5, 1.0),
    easing: str = "linear",
    times: Sequence[float] | Tensor | None = None,
) -> Tensor:
    """Affine matrices [F, 2, 3] (float32, CPU) for a pan/zoom of an image over the canvas.

    start/end = (cx, cy, zoom): the image centre as fractions of the canvas width/height, and its
    scale relative to "contain in the canvas" (zoom 1 = fits inside, touching two edges). Centres are
    interpolated linearly, zoom geometrically (constant zoom speed), both on the eased time.
    `times` (in [0, 1], one per frame) places frames along the move; default: evenly spaced.
    """
    if not isinstance(num_frames, Integral) or isinstance(num_frames, bool) or num_frames < 1:
        raise CanvasError(f"num_frames must be an integer >= 1, got {num_frames!r}")
    canvas_h, canvas_w = _size_pair(canvas_size)
    h, w = _size_pair(image_size, "image size")
    for name, point in (("start", start), ("end", end)):
        ok = len(point) == 3 and all(isinstance(v, Real) and math.isfinite(v) for v in point)
        if not ok or point[2] <= 0:
            raise CanvasError(f"{name} must be (cx, cy, zoom) finite numbers with zoom > 0, got {point!r}")
    if easing not in EASINGS:
        raise CanvasError(f"easing must be one of {EASINGS}, got {easing!r}")

    if times is None:
        t = torch.linspace(0.0, 1.0, int(num_frames), dtype=torch.float64)
    else:
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        if t.numel() != num_frames or bool(((t < 0) | (t > 1)).any()):
            raise CanvasError(f"times must be {num_frames} values in [0, 1], got {t.tolist()}")
    if easing == "ease_in_out":
        t = t * t * (3.0 - 2.0 * t)  # smoothstep: zero velocity at both ends
    cx = start[0] + (end[0] - start[0]) * t
    cy = start[1] + (end[1] - start[1]) * t
    zoom = start[2] * (end[2] / start[2]) ** t
    scale = min(canvas_h / h, canvas_w / w) * zoom

    # pixel areas: fraction c of the canvas is pixel coordinate c*W - 0.5; the image centre is (w-1)/2
    m = torch.zeros(int(num_frames), 2, 3, dtype=torch.float64)
    m[:, 0, 0] = scale
    m[:, 1, 1] = scale
    m[:, 0, 2] = cx * canvas_w - 0.5 - scale * (w - 1) / 2
    m[:, 1, 2] = cy * canvas_h - 0.5 - scale * (h - 1) / 2
    return m.to(torch.float32)
