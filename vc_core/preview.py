"""The layout preview: a timeline strip that shows each condition where and when it sits.

Bounded whatever the canvas or the count: the whole strip holds at most MAX_STRIP_PIXELS pixels
(thumbnails shrink to fit), at most `max_thumbs` conditions are drawn (evenly chosen, first and last
included) and a last cell says "+K MORE" for the rest. Thumbnails are area means computed row by
row from the canvas and its mask, so no full-size temporary is made per condition.
"""

from __future__ import annotations

import math

import torch

from .plan import VideoCanvasPlan

MAX_STRIP_PIXELS = 2 ** 21  # 2,097,152 pixels: 24 MiB as a float32 RGB IMAGE
MAX_THUMBS = 16
MIN_COLUMN = 40  # a column is at least this wide, so its timeline bar can show where the frame is
BAR, GAP = 10, 4

_TRACK = torch.tensor([0.18, 0.18, 0.2])
_TICK = torch.tensor([0.45, 0.45, 0.5])
_MARK = torch.tensor([1.0, 0.75, 0.1])
_BG = torch.tensor([0.08, 0.08, 0.09])
_TEXT = torch.tensor([0.85, 0.85, 0.85])

# 3x5 glyphs for the "+K MORE" marker (no font file needed).
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", "+": "000010111010000", " ": "000000000000000",
    "M": "101111111101101", "O": "111101101101111", "R": "110101110101101", "E": "111100110100111",
}


class StripGeometry:
    """Sizes of a strip: thumbnail (th x tw), column width, number of columns, whole (h x w)."""

    def __init__(self, th: int, tw: int, columns: int):
        self.th, self.tw, self.columns = th, tw, columns
        self.column = max(MIN_COLUMN, tw)
        self.h = th + BAR + 3 * GAP
        self.w = columns * (self.column + GAP) + GAP

    @property
    def pixels(self) -> int:
        return self.h * self.w


def strip_geometry(width: int, height: int, count: int, thumb_height: int = 96,
                   max_thumbs: int = MAX_THUMBS) -> StripGeometry:
    """Thumbnails of `thumb_height` (width by the canvas's aspect), shrunk until the strip fits
    MAX_STRIP_PIXELS. Columns: min(count, max_thumbs), plus one for the marker when some are left
    out."""
    columns = max(1, min(count, max_thumbs) + (count > max_thumbs))
    scale = thumb_height / height

    def at(s: float) -> StripGeometry:
        return StripGeometry(max(1, round(height * s)), max(1, round(width * s)), columns)

    geo = at(scale)
    while geo.pixels > MAX_STRIP_PIXELS:  # ends: 1x1 thumbnails in 17 columns are ~17k pixels
        scale *= min(0.99, math.sqrt(MAX_STRIP_PIXELS / geo.pixels))
        geo = at(scale)
    return geo


def _area_resize(image: torch.Tensor, th: int, tw: int) -> torch.Tensor:
    """[H, W, C] -> [th, tw, C]: each output pixel the mean of its input area, as adaptive_avg_pool2d
    (area resize) computes it, but one output row at a time: torch's pooling would first copy the
    whole channels-last canvas (768 MiB for one 8192x8192 canvas)."""
    h, w = image.shape[:2]
    left = torch.arange(tw) * w // tw
    right = -(-(torch.arange(tw) + 1) * w // tw)
    rows = []
    for i in range(th):
        band = image[i * h // th:-(-(i + 1) * h // th)].double().mean(dim=0)  # [W, C]
        sums = torch.cat([band.new_zeros(1, band.shape[1]), band.cumsum(0)])
        rows.append((sums[right] - sums[left]) / (right - left).unsqueeze(1))
    return torch.stack(rows).float()


def _draw_text(out: torch.Tensor, lines: list[str], x0: int, y0: int, w: int, h: int) -> None:
    """Draw the lines centred in the box (x0, y0, w, h) at the largest integer scale that fits."""
    widest = max(map(len, lines))
    scale = max(1, min((w - 2) // (4 * widest), (h - 2) // (6 * len(lines))))
    top = y0 + max(0, (h - (6 * len(lines) - 1) * scale) // 2)
    for row, text in enumerate(lines):
        x = x0 + max(0, (w - (4 * len(text) - 1) * scale) // 2)
        y = top + 6 * row * scale
        for i, ch in enumerate(text):
            bits = _GLYPHS[ch]
            for r in range(5):
                for c in range(3):
                    if bits[3 * r + c] == "1":
                        px = x + (4 * i + c) * scale
                        out[y + r * scale:y + (r + 1) * scale, px:px + scale] = _TEXT


def layout_strip(plan: VideoCanvasPlan, thumb_height: int = 96,
                 max_thumbs: int = MAX_THUMBS) -> torch.Tensor:
    """IMAGE [1, H, W, 3]: one thumbnail per condition (given pixels bright, the rest dimmed), in
    frame order, each above a timeline of the whole video with its frame marked, with ticks at the
    latent-frame boundaries (every `stride` pixel frames). See the module for the bounds."""
    order = sorted(range(plan.num_conditions), key=lambda k: plan.frames[k])
    if len(order) > max_thumbs:
        order = [order[round(i * (len(order) - 1) / (max_thumbs - 1))] for i in range(max_thumbs)]
    geo = strip_geometry(plan.width, plan.height, plan.num_conditions, thumb_height, max_thumbs)
    out = _BG.expand(geo.h, geo.w, 3).clone()
    ticks = range(0, plan.length, plan.stride)
    if len(ticks) > geo.column // 2:  # denser than every other pixel: one grey band says the same
        ticks = range(0)
    y0 = 2 * GAP + geo.th
    for col, k in enumerate(order):
        x0 = GAP + col * (geo.column + GAP)
        tx = x0 + (geo.column - geo.tw) // 2
        canvas = _area_resize(plan.canvases[k], geo.th, geo.tw)
        mask = _area_resize(plan.masks[k][..., None], geo.th, geo.tw)
        out[GAP:GAP + geo.th, tx:tx + geo.tw] = canvas * (0.25 + 0.75 * mask)
        out[y0:y0 + BAR, x0:x0 + geo.column] = _TRACK
        for f in ticks:
            x = x0 + round(f / max(1, plan.length - 1) * (geo.column - 1))
            out[y0 + BAR // 2:y0 + BAR, x] = _TICK
        x = x0 + round(plan.frames[k] / max(1, plan.length - 1) * (geo.column - 1))
        out[y0:y0 + BAR, max(x0, x - 1):min(x0 + geo.column, x + 2)] = _MARK
    hidden = plan.num_conditions - len(order)
    if hidden:
        x0 = GAP + len(order) * (geo.column + GAP)
        _draw_text(out, [f"+{hidden}", "MORE"], x0, GAP, geo.column, geo.h - 2 * GAP)
    return out.unsqueeze(0).clamp(0, 1)
