"""Peak memory of each phase of a VideoCanvas request, as pure functions of its sizes, so a request
that cannot fit is refused before anything is allocated (the node pack compares them with what the
process may still use: vc_nodes/memory.py).

The constants are CPU peaks (RSS growth, ru_maxrss) measured on this project's 2-core machines with
ComfyUI 0.3.75, rounded up; tests/host/test_memory_bounds.py measures them again.
"""

from __future__ import annotations

import math

# Rendering the plan (vc_core.plan.build_plan), per condition and canvas pixel: its RGB canvas and
# mask in float32 (16 B), held in a list and in the concatenated copy (x2), plus the placement's
# temporaries. Measured 36-47 B (1-8 conditions, 1024-4096 px squares).
RENDER_PER_CONDITION_PIXEL = 48
# Once per request (one placement's resize / feather temporaries alive at a time): measured ~24 B.
RENDER_ONCE_PER_PIXEL = 64

# One pass of a Wan 2.1-family VAE on the CPU, per pixel (encode: per canvas pixel; decode: per
# output pixel, all frames): a + b x the VAE's base width `dim`. Measured: encode 2728 / 4569 / 7646
# B at dim 8 / 16 / 32 (512x512), decode 2218-2727 (dim 8, 9-33 frames) and 4481 (dim 16). At the
# real VAE's dim 96 this gives 22,320 B per pixel, beside ComfyUI's own 24,000 for its encode.
VAE_PER_PIXEL = (1200, 220)

# ComfyUI's estimate for a Wan forward (BaseModel.memory_required) against the measured peak of one
# sampling step on the CPU: 1.25x at 4,096 tokens, 1.19x at 16,384, 1.11x at 65,536 (the tiny Wan).
SAMPLING_OVER_COMFY = 1.35

FLOAT32 = 4


def render_bytes(conditions: int, width: int, height: int) -> int:
    """Rendering `conditions` canvases of width x height (nothing for none)."""
    if not conditions:
        return 0
    return (conditions * RENDER_PER_CONDITION_PIXEL + RENDER_ONCE_PER_PIXEL) * width * height


def held_canvas_bytes(conditions: int, width: int, height: int) -> int:
    """The rendered canvases and masks a plan keeps (float32 RGB + mask)."""
    return conditions * width * height * 4 * FLOAT32


def vae_pass_bytes(pixels: int, dim: int) -> int:
    """One CPU pass of a Wan 2.1-family VAE of base width `dim` over `pixels` pixels."""
    a, b = VAE_PER_PIXEL
    return pixels * (a + b * dim)


def image_bytes(frames: int, width: int, height: int) -> int:
    """A float32 IMAGE of frames x height x width x 3 (what a decode returns)."""
    return frames * width * height * 3 * FLOAT32


def sampling_bytes(comfy_estimate: float, cache: int = 0) -> int:
    """One sampling step's peak from ComfyUI's estimate for the same tokens, plus what cached
    condition attention keeps (keys/values)."""
    return math.ceil(comfy_estimate * SAMPLING_OVER_COMFY) + cache


def largest_count(have: int, per_item: int, once: int = 0) -> int:
    """How many items of `per_item` bytes fit in `have` after `once` (0 when not even one)."""
    if per_item <= 0:
        return 0
    return max(0, (have - once) // per_item)


def scaled_size(width: int, height: int, need: int, have: int, multiple: int = 16,
                power: float = 1.0) -> tuple[int, int]:
    """The largest width x height (multiples of `multiple`, same aspect) whose cost fits `have`,
    for a cost growing as (pixels)^power: (0, 0) when not even the smallest does."""
    if need <= have:
        return width, height
    if have <= 0:
        return 0, 0
    s = (have / need) ** (0.5 / power)
    w, h = (int(v * s) // multiple * multiple for v in (width, height))
    return (w, h) if w >= multiple and h >= multiple else (0, 0)
