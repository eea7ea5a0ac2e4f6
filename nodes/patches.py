"""Patch placer and timestamp conditioner: an image where, and when."""

from comfy_api.latest import io

from ..vc_core.canvas import BOX_UNITS, FIT_MODES, Box
from ..vc_core.plan import ConditionSource, Patch, Placement
from ..vc_core.timing import parse_frames
from .types import CATEGORY, VCConditions, VCPatch, chain, conditions_input, strength_input


class VideoCanvasPatchPlacer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasPatchPlacer",
            display_name="VideoCanvas Patch Placer",
            category=CATEGORY,
            description=(
                "Places an image (or a clip) on the output canvas: a box in pixels or fractions of "
                "the canvas, a fit mode, an optional mask (only its white part becomes the patch) "
                "and a feathered edge. The canvas size comes from the sampler, so one patch works at "
                "any output size; everything outside the patch is left for the model to complete."),
            inputs=[
                io.Image.Input("image", tooltip="The patch pixels: one image or a clip (IMAGE batch)."),
                io.Float.Input("x", default=0.0, min=0.0, max=16384.0, step=0.01,
                               tooltip="Left edge of the box (pixels or fraction of the width)."),
                io.Float.Input("y", default=0.0, min=0.0, max=16384.0, step=0.01,
                               tooltip="Top edge of the box (pixels or fraction of the height)."),
                io.Float.Input("width", default=1.0, min=0.0, max=16384.0, step=0.01,
                               tooltip="Box width (pixels or fraction of the canvas width)."),
                io.Float.Input("height", default=1.0, min=0.0, max=16384.0, step=0.01,
                               tooltip="Box height (pixels or fraction of the canvas height)."),
                io.Combo.Input("unit", options=list(BOX_UNITS), default="fraction",
                               tooltip="fraction: x, y, width, height are fractions of the canvas "
                               "(1 = whole). px: output pixels."),
                io.Combo.Input("fit", options=list(FIT_MODES), default="stretch",
                               tooltip="stretch: fill the box. contain: keep aspect, fit inside. "
                               "cover: keep aspect, fill and crop. none: no resizing, centred."),
                io.Float.Input("feather", default=0.0, min=0.0, max=256.0, step=0.5,
                               tooltip="Soften the patch edge inwards over this many pixels."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional mask in the image's own pixels: 1 keeps the pixel as "
                              "part of the patch (e.g. an object cut-out). Must match the image size."),
            ],
            outputs=[VCPatch.Output(display_name="patch")],
        )

    @classmethod
    def execute(cls, image, x, y, width, height, unit, fit, feather, mask=None) -> io.NodeOutput:
        box = Box(x, y, width, height, unit)
        return io.NodeOutput(Patch(image, mask, Placement(box, fit, feather)))


class VideoCanvasTimestampConditioner(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasTimestampConditioner",
            display_name="VideoCanvas Timestamp Conditioner",
            category=CATEGORY,
            description=(
                "Says when a patch holds: one or more pixel frames (any frame, not only multiples of "
                "4), negative indices from the end, 'first'/'middle'/'last', or seconds at an fps. "
                "Chain these nodes to collect any number of conditions. A clip patch given one frame "
                "starts there and runs on frame by frame."),
            inputs=[
                VCPatch.Input("patch", tooltip="From VideoCanvas Patch Placer."),
                io.String.Input("frames", default="0",
                                tooltip="Pixel frames, e.g. '0', '0, 40, -1', 'last'. With unit "
                                "'seconds': times like '0, 2.5, -0.1'. -1 is the last frame."),
                io.Combo.Input("unit", options=["frames", "seconds"], default="frames",
                               tooltip="How to read 'frames'."),
                io.Float.Input("fps", default=16.0, min=0.1, max=240.0, step=0.1,
                               tooltip="Frames per second, used when unit is 'seconds' (Wan: 16)."),
                strength_input(),
                conditions_input(),
            ],
            outputs=[VCConditions.Output(display_name="conditions")],
        )

    @classmethod
    def validate_inputs(cls, frames) -> bool | str:
        # Syntax only: ranges need the sampler's length, and whether 2.5 is allowed depends on the
        # unit, so read the spec permissively (as seconds at a fine fps); ComfyUI keeps its own
        # checks of every other input because only `frames` is named here. Linked values are None.
        if frames is None:
            return True
        try:
            parse_frames(frames, 10**12, fps=1e6, unit="seconds")
        except ValueError as err:
            return str(err)
        return True

    @classmethod
    def execute(cls, patch, frames, unit, fps, strength, conditions=None) -> io.NodeOutput:
        source = ConditionSource(patch, frames, unit, fps if unit == "seconds" else None, strength)
        return io.NodeOutput(chain(conditions, source))
