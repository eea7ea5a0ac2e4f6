"""Thin ComfyUI V3 nodes: schema, validation, and a call into vc_core or ComfyUI's own machinery."""

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .rope_interpolator import VideoCanvasRoPEInterpolator

NODES: list[type[io.ComfyNode]] = [
    VideoCanvasRoPEInterpolator,
]


class VideoCanvasExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> VideoCanvasExtension:
    return VideoCanvasExtension()
