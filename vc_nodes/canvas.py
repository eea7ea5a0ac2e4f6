"""VideoCanvas Canvas: the output's width, height, length and fps, set once per graph."""

import nodes
from comfy_api.latest import io

from ..vc_core.plan import PlanError, check_size
from ..vc_core.timing import TimingError, check_length
from .patches import MAX_FPS, MAX_LENGTH, MIN_FPS, NODE_HIDDEN, node_origin
from .types import CATEGORY, Canvas, VCCanvas

DISPLAY_NAME = "VideoCanvas Canvas"


def length_problem(length) -> str | None:
    """Why `length` cannot be a canvas length (Wan's VAE: 4k+1 frames, at most MAX_LENGTH), or None."""
    try:
        check_length(length)
    except TimingError as err:
        return f"{err} (Wan's VAE packs 4 frames per latent after the first)"
    if length > MAX_LENGTH:
        return f"length must be at most {MAX_LENGTH}; got {length}"
    return None


class VideoCanvasCanvas(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasCanvas",
            display_name=DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "The output video, set once: width and height in pixels, length in frames and frames "
                "per second. Link its canvas to every VideoCanvas node that places or times a "
                "condition and to the sampler: frames and boxes are then checked where they are "
                "typed, and nothing goes stale when the size changes. width, height, length and fps "
                "also come out as numbers for core nodes (ImageScale, CreateVideo, ...)."),
            inputs=[
                io.Int.Input("width", default=832, min=16, max=nodes.MAX_RESOLUTION, step=16,
                             tooltip="Output width in pixels: a multiple of 16 (Wan 2.2 TI2V-5B and "
                             "LTX-Video: of 32)."),
                io.Int.Input("height", default=480, min=16, max=nodes.MAX_RESOLUTION, step=16,
                             tooltip="Output height in pixels: a multiple of 16 (Wan 2.2 TI2V-5B and "
                             "LTX-Video: of 32)."),
                io.Int.Input("length", default=81, min=1, max=MAX_LENGTH, step=4,
                             tooltip="Frames: 4k+1 (Wan's VAE packs 4 frames per latent after the first), "
                             "e.g. 49, 77, 81."),
                io.Float.Input("fps", default=16.0, min=MIN_FPS, max=MAX_FPS, step=0.1,
                               tooltip="Frames per second (Wan 2.1: 16, Wan 2.2 TI2V-5B: 24): turns "
                               "seconds into frames and sets the saved video's rate."),
            ],
            outputs=[
                VCCanvas.Output(display_name="canvas"),
                io.Int.Output(display_name="width"),
                io.Int.Output(display_name="height"),
                io.Int.Output(display_name="length"),
                io.Float.Output(display_name="fps"),
            ],
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def validate_inputs(cls, length) -> bool | str:
        # Only `length` is named, so ComfyUI keeps its own range checks of the others and blames only
        # `length`; a linked length (None here) is checked in execute().
        if length is None:
            return True
        problem = length_problem(length)
        return f"{DISPLAY_NAME}: {problem}" if problem else True

    @classmethod
    def execute(cls, width, height, length, fps) -> io.NodeOutput:
        where = node_origin(cls) or DISPLAY_NAME
        problem = length_problem(length)
        if problem is None and not MIN_FPS <= fps <= MAX_FPS:  # a linked fps arrives unchecked
            problem = f"fps must lie in [{MIN_FPS:g}, {MAX_FPS:g}]; got {fps:g}"
        if problem is None:
            try:
                check_size(width, height)
            except PlanError as err:
                problem = str(err)
        if problem:
            raise ValueError(f"{where}: {problem}")
        return io.NodeOutput(Canvas(width, height, length, float(fps)), width, height, length, float(fps))
