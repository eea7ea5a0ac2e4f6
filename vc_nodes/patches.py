"""Patch placer and timestamp conditioner: an image where, and when."""

import dataclasses

import nodes
from comfy_api.latest import io

from ..vc_core.canvas import BOX_UNITS, FIT_MODES, Box, CanvasError
from ..vc_core.plan import REFERENCE, ConditionSource, Patch, Placement, PlanError, check_patch, source_frames
from ..vc_core.timing import TimingError, check_frame_syntax
from .types import (
    CATEGORY,
    VCConditions,
    VCPatch,
    canvas_input,
    chain,
    conditions_input,
    strength_input,
)

# The longest video a VideoCanvas Canvas accepts (its `length` input's max), and the slowest fps:
# frame specs beyond them are refused before the canvas is known (validation sees one input at a time).
MAX_LENGTH = nodes.MAX_RESOLUTION
MIN_FPS = 0.1
MAX_FPS = 240.0

# Conditioner nodes ask ComfyUI for their node id and the prompt (whose _meta.title is the node's
# title in the graph), so errors raised later, when the sampler builds the plan, name the node.
NODE_HIDDEN = [io.Hidden.unique_id, io.Hidden.prompt]


def node_origin(cls) -> str:
    """'"<title>" (node <id>)' of the node running now, 'node <id>' without a title, "" when called
    outside ComfyUI's executor (no hidden inputs)."""
    hidden = getattr(cls, "hidden", None)
    node_id = getattr(hidden, "unique_id", None) if hidden is not None else None
    if node_id is None:
        return ""
    prompt = getattr(hidden, "prompt", None)
    node = prompt.get(str(node_id)) if isinstance(prompt, dict) else None
    meta = node.get("_meta") if isinstance(node, dict) else None
    title = meta.get("title") if isinstance(meta, dict) else None
    return f'"{title}" (node {node_id})' if isinstance(title, str) and title else f"node {node_id}"


def from_node(cls, sources) -> tuple:
    """The sources, each marked with the node that made them (see node_origin)."""
    origin = node_origin(cls)
    return tuple(dataclasses.replace(s, node=origin) if origin else s for s in sources)


def check_on_canvas(cls, sources, canvas, name: str) -> None:
    """Refuse, at the node where they are typed, conditions whose frames do not fit the canvas
    length (the samplers check again, as a backstop for conditions planned on another canvas).
    The message names the node and `name`, the input the frames come from."""
    for src in sources:
        try:
            if src.fits is not None:
                src.fits(canvas.length)
            source_frames(src, canvas.length, name)
        except (PlanError, TimingError) as err:
            where = node_origin(cls) or cls.define_schema().display_name
            raise ValueError(f"{where}: {err}") from None


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
                "any output size; everything outside the patch is left for the model to complete. "
                "An RGBA image's alpha is a mask: alone it is the mask, with a mask given the two "
                "multiply (transparent pixels are never part of the patch). The canvas is optional: "
                "linked, the box is checked against its size here (and a frontend editor can draw "
                "it); unlinked, the patch fits any canvas and the sampler checks the box."),
            inputs=[
                io.Image.Input("image", tooltip="The patch pixels: one image or a clip (IMAGE batch). "
                               "RGBA: alpha is the mask (times the mask input, if given)."),
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
                              "part of the patch (e.g. an object cut-out). Must match the image size, "
                              "with 1 frame (for every image frame) or one per image frame, and keep "
                              "some pixels. Multiplies an RGBA image's alpha."),
                canvas_input(optional=True, tooltip="Optional, from VideoCanvas Canvas: the box is "
                             "checked against its size here. Unlinked, the sampler's canvas is used."),
            ],
            outputs=[VCPatch.Output(display_name="patch")],
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, image, x, y, width, height, unit, fit, feather, mask=None,
                canvas=None) -> io.NodeOutput:
        # refused here, before the sampler renders or encodes anything, naming this node's inputs
        try:
            check_patch(image, mask)
        except PlanError as err:
            raise ValueError(str(err)) from None
        box = Box(x, y, width, height, unit)
        if canvas is not None:
            try:
                box.resolve(canvas.height, canvas.width)
            except CanvasError as err:
                where = node_origin(cls) or "VideoCanvas Patch Placer"
                raise ValueError(f"{where}: x, y, width, height: {err}") from None
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
                "4), negative indices from the end, 'first'/'middle'/'last', or seconds at the "
                "canvas's fps. The frames are checked here against the canvas length. Chain these "
                "nodes to collect any number of conditions. A clip patch given one frame starts "
                "there and runs on frame by frame."),
            inputs=[
                VCPatch.Input("patch", tooltip="From VideoCanvas Patch Placer."),
                io.String.Input("frames", default="0",
                                tooltip="Pixel frames, e.g. '0', '0, 40, -1', 'last'. With unit "
                                "'seconds': times like '0, 2.5, -0.1'. -1 is the last frame."),
                io.Combo.Input("unit", options=["frames", "seconds"], default="frames",
                               tooltip="How to read 'frames'. seconds: at the canvas's fps."),
                canvas_input(),
                strength_input(),
                conditions_input(),
            ],
            outputs=[VCConditions.Output(display_name="conditions")],
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def validate_inputs(cls, frames) -> bool | str:
        # Only `frames` is named, so ComfyUI keeps its own checks of every other input and blames
        # only `frames`; the unit is therefore unknown here: refuse what no unit allows (bad syntax,
        # numbers past the longest video). execute() checks again with the unit, and checks linked
        # values (None here).
        if frames is None:
            return True
        try:
            check_frame_syntax(frames, MAX_LENGTH, MIN_FPS)
        except TimingError as err:
            return str(err)
        return True

    @classmethod
    def execute(cls, patch, frames, unit, canvas, strength, conditions=None) -> io.NodeOutput:
        source = ConditionSource(patch, frames, unit, canvas.fps if unit == "seconds" else None, strength)
        check_on_canvas(cls, [source], canvas, "frames")
        return io.NodeOutput(chain(conditions, *from_node(cls, [source])))


class VideoCanvasReferenceImage(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasReferenceImage",
            display_name="VideoCanvas Reference Image",
            category=CATEGORY,
            description=(
                "A condition without a time: a subject or style the whole video should show, for a Wan "
                "VACE model's reference slot (what WanVaceToVideo's reference_image fills). The placed "
                "patch, on its full-size canvas, is encoded on its own as one image and read by the "
                "model as a latent frame ahead of the video, which the sampler trims off. Other models "
                "have no such slot: they refuse it by name rather than drop it."),
            inputs=[
                VCPatch.Input("patch", tooltip="From VideoCanvas Patch Placer: one image, placed on the "
                              "canvas (a full frame: x 0, y 0, width 1, height 1, fit cover)."),
                conditions_input(),
            ],
            outputs=[VCConditions.Output(display_name="conditions")],
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, patch, conditions=None) -> io.NodeOutput:
        if patch.num_frames != 1:
            where = node_origin(cls) or "VideoCanvas Reference Image"
            raise ValueError(f"{where}: patch: a reference is one image; got a {patch.num_frames}-frame "
                             f"clip (pick one frame, e.g. ImageFromBatch)")
        source = ConditionSource(patch, REFERENCE, label="reference")
        return io.NodeOutput(chain(conditions, *from_node(cls, [source])))
