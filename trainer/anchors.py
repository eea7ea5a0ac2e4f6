"""The paper's conditions for training, drawn anew for every sample at every iteration.

Per sample: k anchors (min_anchors..max_anchors, k <= the clip's frames), each at its own random
pixel frame (distinct frames), each a random box covering 20-100 % of its frame's area (aspect
ratio log-uniform in [1/3, 3]) placed on a zero canvas (VAE_ZERO grey, as inference renders it);
every canvas is later encoded on its own as one image and enters the model at timestep 0 with its
interpolated position (pixel frame / temporal stride).

All randomness of a sample comes from `sample_generator(seed, step, index)`: a function of the run's
seed, the optimiser step and the sample's index in the global batch only. So a resumed run draws
exactly what an uninterrupted one would, and N processes of a data-parallel run draw exactly what
one process does for the same global batch.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from ._pack import vc

MAX_ANCHORS = 20  # the paper's upper bound per iteration


@dataclass(frozen=True)
class Anchor:
    frame: int  # pixel frame of the clip
    top: int
    left: int
    height: int
    width: int


def sample_generator(seed: int, step: int, index: int, stream: str = "sample") -> torch.Generator:
    """A CPU generator for one sample of one step (seeded by a hash, so neighbouring steps and
    indices give unrelated streams)."""
    digest = hashlib.blake2b(f"videocanvas-train:{stream}:{int(seed)}:{int(step)}:{int(index)}".encode(),
                             digest_size=8).digest()
    return torch.Generator(device="cpu").manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


def draw_box(gen: torch.Generator, height: int, width: int, min_area: float = 0.2,
             max_area: float = 1.0) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a box covering min_area..max_area of a height x width frame; whole
    pixels, so the area can fall below min_area by the rounding (at most one row and column)."""
    area = min_area + (max_area - min_area) * float(torch.rand((), generator=gen))
    aspect = math.exp((float(torch.rand((), generator=gen)) - 0.5) * math.log(9.0))  # 1/3 .. 3
    h = max(1, min(height, round(height * math.sqrt(area / aspect))))
    w = max(1, min(width, round(width * math.sqrt(area * aspect))))
    top = int(torch.randint(0, height - h + 1, (), generator=gen))
    left = int(torch.randint(0, width - w + 1, (), generator=gen))
    return top, left, h, w


def draw_anchors(gen: torch.Generator, frames: int, height: int, width: int, max_anchors: int,
                 min_anchors: int = 1, min_area: float = 0.2, max_area: float = 1.0) -> list[Anchor]:
    """k anchors at k distinct pixel frames (sorted), k uniform in min_anchors..max_anchors."""
    if not 0 <= min_anchors <= max_anchors <= MAX_ANCHORS:
        raise ValueError(f"anchors: need 0 <= min_anchors <= max_anchors <= {MAX_ANCHORS}; got "
                         f"{min_anchors}..{max_anchors}")
    if not 0 < min_area <= max_area <= 1:
        raise ValueError(f"anchors: crop area fractions must satisfy 0 < min <= max <= 1; got "
                         f"{min_area}..{max_area}")
    hi = min(max_anchors, frames)
    k = int(torch.randint(min(min_anchors, hi), hi + 1, (), generator=gen))
    chosen = sorted(torch.randperm(frames, generator=gen)[:k].tolist())
    return [Anchor(f, *draw_box(gen, height, width, min_area, max_area)) for f in chosen]


def anchor_masks(anchors: list[Anchor], height: int, width: int) -> torch.Tensor:
    """[K, H, W] float: 1 inside each anchor's box (where its canvas holds the clip's pixels)."""
    masks = torch.zeros(len(anchors), height, width)
    for i, a in enumerate(anchors):
        masks[i, a.top:a.top + a.height, a.left:a.left + a.width] = 1
    return masks


def render_canvases(pixels: torch.Tensor, anchors: list[Anchor]) -> torch.Tensor:
    """[K, H, W, C] canvases in 0..1: each anchor's box of its frame on a VAE_ZERO canvas.
    pixels: the clip, [T, H, W, C] float in 0..1 or uint8."""
    zero = vc("canvas").VAE_ZERO
    if pixels.dtype == torch.uint8:
        pixels = pixels.float() / 255.0
    _, h, w, c = pixels.shape
    out = torch.full((len(anchors), h, w, c), zero, dtype=pixels.dtype)
    for i, a in enumerate(anchors):
        box = (slice(a.top, a.top + a.height), slice(a.left, a.left + a.width))
        out[i][box] = pixels[a.frame][box]
    return out
