"""The layout preview: a timeline strip that shows each condition where and when it sits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .plan import VideoCanvasPlan

_TRACK = torch.tensor([0.18, 0.18, 0.2])
_TICK = torch.tensor([0.45, 0.45, 0.5])
_MARK = torch.tensor([1.0, 0.75, 0.1])
_BG = torch.tensor([0.08, 0.08, 0.09])


def layout_strip(plan: VideoCanvasPlan, thumb_height: int = 96, max_thumbs: int = 16) -> torch.Tensor:
    """IMAGE [1, H, W, 3]: one thumbnail per condition (given pixels bright, the rest dimmed), in
    frame order, each above a timeline of the whole video with its frame marked, with ticks at the
    latent-frame boundaries (every `stride` pixel frames). At most `max_thumbs` (evenly chosen)."""
    scale = thumb_height / plan.height
    tw = max(8, round(plan.width * scale))
    order = sorted(range(plan.num_conditions), key=lambda k: plan.frames[k])
    if len(order) > max_thumbs:
        order = [order[round(i * (len(order) - 1) / (max_thumbs - 1))] for i in range(max_thumbs)]
    bar, gap = 10, 4
    cols = max(1, len(order))
    out = _BG.expand(thumb_height + bar + 3 * gap, cols * (tw + gap) + gap, 3).clone()
    for col, k in enumerate(order):
        x0 = gap + col * (tw + gap)
        canvas = plan.canvases[k].permute(2, 0, 1).unsqueeze(0)
        mask = plan.masks[k].unsqueeze(0).unsqueeze(0)
        shown = canvas * (0.25 + 0.75 * mask)
        thumb = F.interpolate(shown, size=(thumb_height, tw), mode="area")[0].permute(1, 2, 0)
        out[gap:gap + thumb_height, x0:x0 + tw] = thumb
        y0 = 2 * gap + thumb_height
        out[y0:y0 + bar, x0:x0 + tw] = _TRACK
        for f in range(0, plan.length, plan.stride):
            x = x0 + round(f / max(1, plan.length - 1) * (tw - 1))
            out[y0 + bar // 2:y0 + bar, x] = _TICK
        x = x0 + round(plan.frames[k] / max(1, plan.length - 1) * (tw - 1))
        out[y0:y0 + bar, max(x0, x - 1):min(x0 + tw, x + 2)] = _MARK
    return out.unsqueeze(0).clamp(0, 1)
