"""Thin ComfyUI V3 nodes: schema, validation, and a call into vc_core or ComfyUI's own machinery."""

from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from .decode import VideoCanvasDecode, VideoCanvasLayoutPreview
from .patches import VideoCanvasPatchPlacer, VideoCanvasTimestampConditioner
from .rope_interpolator import VideoCanvasRoPEInterpolator
from .sampling import VideoCanvasConditioning, VideoCanvasNullPrompt, VideoCanvasSampler

NODES: list[type[io.ComfyNode]] = [
    VideoCanvasPatchPlacer,
    VideoCanvasTimestampConditioner,
    VideoCanvasRoPEInterpolator,
    VideoCanvasSampler,
    VideoCanvasConditioning,
    VideoCanvasNullPrompt,
    VideoCanvasDecode,
    VideoCanvasLayoutPreview,
]


class VideoCanvasExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> VideoCanvasExtension:
    return VideoCanvasExtension()
