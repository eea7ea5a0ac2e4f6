"""Pieces of API-format prompts that several test modules build (plain dicts, no ComfyUI import)."""

from __future__ import annotations


def timestamp_conditions(p: dict, frames: str) -> list:
    """A Patch Placer (p's "img" in the middle half, contained) and a Timestamp Conditioner at
    `frames` on p's "canvas"; returns the conditions' link."""
    p["place"] = {"class_type": "VideoCanvasPatchPlacer", "inputs": {
        "image": ["img", 0], "x": 0.25, "y": 0.25, "width": 0.5, "height": 0.5, "unit": "fraction",
        "fit": "contain", "feather": 0.0}}
    p["when"] = {"class_type": "VideoCanvasTimestampConditioner", "inputs": {
        "patch": ["place", 0], "frames": frames, "unit": "frames", "canvas": ["canvas", 0],
        "strength": 1.0}}
    return ["when", 0]
