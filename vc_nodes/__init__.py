"""Thin ComfyUI V3 nodes: schema, validation, and a call into vc_core or ComfyUI's own machinery."""

from pathlib import Path

import folder_paths
from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from .canvas import VideoCanvasCanvas
from .decode import VideoCanvasDecode, VideoCanvasLayoutPreview
from .example_inputs import copy_example_inputs
from .inputs import guard_inputs
from .long_video import VideoCanvasLongVideo
from .patches import VideoCanvasPatchPlacer, VideoCanvasReferenceImage, VideoCanvasTimestampConditioner
from .rope_interpolator import VideoCanvasRoPEInterpolator
from .sampling import VideoCanvasConditioning, VideoCanvasNullPrompt, VideoCanvasSampler
from .template_order import install as install_template_order
from .train_lora import VideoCanvasTrainLoRA
from .video_tasks import (
    VideoCanvasCameraMove,
    VideoCanvasExtend,
    VideoCanvasInpaint,
    VideoCanvasLoop,
    VideoCanvasOutpaint,
    VideoCanvasTransition,
)

NODES: list[type[io.ComfyNode]] = [
    VideoCanvasCanvas,
    VideoCanvasPatchPlacer,
    VideoCanvasTimestampConditioner,
    VideoCanvasReferenceImage,
    VideoCanvasInpaint,
    VideoCanvasOutpaint,
    VideoCanvasExtend,
    VideoCanvasTransition,
    VideoCanvasCameraMove,
    VideoCanvasLoop,
    VideoCanvasRoPEInterpolator,
    VideoCanvasSampler,
    VideoCanvasLongVideo,
    VideoCanvasConditioning,
    VideoCanvasNullPrompt,
    VideoCanvasDecode,
    VideoCanvasLayoutPreview,
    VideoCanvasTrainLoRA,
]

# Every float finite and every combo one of its options, checked before any node of the pack runs
# (ComfyUI checks neither for V3 nodes): see inputs.py.
for _node in NODES:
    guard_inputs(_node)


# The bundled toy model (trained by toy_models/, committed under models/) is listed by ComfyUI's own
# UNETLoader / VAELoader next to the user's models.
BUNDLED_MODELS = Path(__file__).resolve().parent.parent / "models"
for _kind in ("diffusion_models", "vae"):
    if (BUNDLED_MODELS / _kind).is_dir():
        folder_paths.add_model_folder_path(_kind, str(BUNDLED_MODELS / _kind))

# The templates (example_workflows/) load these by name: copied now, before any /object_info lists
# the input folder's files.
copy_example_inputs()
install_template_order()


class VideoCanvasExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> VideoCanvasExtension:
    return VideoCanvasExtension()
