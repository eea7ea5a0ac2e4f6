"""Video-level task nodes: a clip (two clips, or an image) turned into many VideoCanvas conditions.

The logic (which clip frames, which output frames, which mask) is in vc_core.tasks; these nodes are
the schema and one call each.
"""

from comfy_api.latest import io

from ..vc_core.canvas import EASINGS, FIT_MODES
from ..vc_core.tasks import (
    DIRECTIONS,
    camera_move_sources,
    extend_sources,
    inpaint_sources,
    loop_sources,
    outpaint_sources,
    transition_sources,
)
from .patches import NODE_HIDDEN, check_on_canvas, from_node
from .types import CATEGORY, VCConditions, canvas_input, chain, conditions_input, strength_input

_MAX_FRAMES = 4096


def _video_input(name="video", tooltip="The source clip (IMAGE batch: one image per frame)."):
    return io.Image.Input(name, tooltip=tooltip + " RGBA: transparent pixels are not kept (alpha is "
                          "a mask, times any mask given).")


def _start_frame_input():
    return io.Int.Input("start_frame", default=0, min=0, max=_MAX_FRAMES,
                        tooltip="Output frame where the clip's first frame goes; clip frame i lands on "
                        "output frame start_frame + i (the clip must fit in the output's length).")


def _every_nth_input(default=1, what="clip frame"):
    return io.Int.Input("every_nth", default=default, min=1, max=_MAX_FRAMES,
                        tooltip=f"Condition every n-th {what} (the last one always included). Each "
                        "condition adds a full frame of tokens, so n > 1 makes long videos much cheaper.")


def _context_input(name="context_frames", tooltip="How many frames of the clip to continue from."):
    return io.Int.Input(name, default=5, min=1, max=_MAX_FRAMES, tooltip=tooltip)


def _feather_input():
    return io.Float.Input("feather", default=0.0, min=0.0, max=256.0, step=0.5,
                          tooltip="Soften the clip's edge inwards over this many output pixels.")


def _outputs():
    return [VCConditions.Output(display_name="conditions")]


def _checked(cls, sources, canvas, conditions, name: str) -> io.NodeOutput:
    """The node's conditions after the earlier ones, once their frames fit the canvas (refused here,
    naming this node and `name`, the input the frames follow from)."""
    check_on_canvas(cls, sources, canvas, name)
    return io.NodeOutput(chain(conditions, *from_node(cls, sources)))


class VideoCanvasInpaint(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasInpaint",
            display_name="VideoCanvas Video Inpaint",
            category=CATEGORY,
            description=(
                "Video inpainting: every kept frame of the clip becomes a condition at output frame "
                "start_frame + i holding what the mask leaves (1 - mask), stretched to the output "
                "canvas; the model generates the hole. Frames whose mask covers everything are left "
                "to the model entirely. Use the clip's size (or aspect) for the output; VideoCanvas "
                "Decode with paste_back then keeps the untouched area exact."),
            inputs=[
                _video_input(),
                io.Mask.Input("mask", tooltip="1 = the hole to generate, 0 = keep. One mask for all "
                              "frames or one per frame, at the video's own size."),
                canvas_input(),
                _start_frame_input(),
                _every_nth_input(),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, video, mask, canvas, start_frame, every_nth, strength,
                conditions=None) -> io.NodeOutput:
        sources = inpaint_sources(video, mask, start_frame, every_nth, strength)
        return _checked(cls, sources, canvas, conditions, "start_frame")


class VideoCanvasOutpaint(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasOutpaint",
            display_name="VideoCanvas Video Outpaint",
            category=CATEGORY,
            description=(
                "Video outpainting: every kept frame of the clip is placed in a box on the larger "
                "output canvas (at output frame start_frame + i); the model completes everything "
                "around it."),
            inputs=[
                _video_input(),
                canvas_input(),
                io.Float.Input("x", default=0.2, min=0.0, max=1.0, step=0.01,
                               tooltip="Left edge of the clip's box, as a fraction of the output width."),
                io.Float.Input("y", default=0.2, min=0.0, max=1.0, step=0.01,
                               tooltip="Top edge of the clip's box, as a fraction of the output height."),
                io.Float.Input("width", default=0.6, min=0.01, max=1.0, step=0.01,
                               tooltip="Box width as a fraction of the output width (x + width <= 1)."),
                io.Float.Input("height", default=0.6, min=0.01, max=1.0, step=0.01,
                               tooltip="Box height as a fraction of the output height (y + height <= 1)."),
                io.Combo.Input("fit", options=list(FIT_MODES), default="contain",
                               tooltip="How the clip meets the box. contain: keep aspect, fit inside. "
                               "stretch: fill the box. cover: keep aspect, fill and crop. none: no "
                               "resizing, centred."),
                _feather_input(),
                _start_frame_input(),
                _every_nth_input(),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, video, canvas, x, y, width, height, fit, feather, start_frame, every_nth, strength,
                conditions=None) -> io.NodeOutput:
        sources = outpaint_sources(video, x, y, width, height, fit, feather, start_frame, every_nth,
                                   strength)
        return _checked(cls, sources, canvas, conditions, "start_frame")


class VideoCanvasExtend(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasExtend",
            display_name="VideoCanvas Extend Video",
            category=CATEGORY,
            description=(
                "Continues a clip. forward: the clip's last N frames become the output's first N "
                "frames, so the output continues the clip: the whole video is the clip without its "
                "last N frames followed by the output. backward: the clip's first N frames become the "
                "output's last N, so the output leads into the clip: the whole video is the output "
                "followed by the clip without its first N frames. Frames are stretched to the output "
                "canvas: use the clip's size. Repeat for very long videos."),
            inputs=[
                _video_input(),
                canvas_input(),
                _context_input(tooltip="N: how many frames of the clip to continue from (at most the "
                               "clip's length; keep it well below the output length)."),
                io.Combo.Input("direction", options=list(DIRECTIONS), default="forward",
                               tooltip="forward: generate what comes after the clip. backward: "
                               "generate what comes before it."),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, video, canvas, context_frames, direction, strength,
                conditions=None) -> io.NodeOutput:
        sources = extend_sources(video, context_frames, direction, strength)
        return _checked(cls, sources, canvas, conditions, "context_frames")


class VideoCanvasTransition(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasTransition",
            display_name="VideoCanvas Scene Transition",
            category=CATEGORY,
            description=(
                "Scene transition: clip A's last frames_a frames open the output and clip B's first "
                "frames_b frames close it; the model generates the change between the two scenes. "
                "frames_a + frames_b must be below the output length (the sampler refuses "
                "overlapping or touching ends) and should stay well below it; frames are stretched "
                "to the output canvas."),
            inputs=[
                _video_input("clip_a", "The clip the transition starts from (its end is used)."),
                _video_input("clip_b", "The clip the transition leads into (its start is used)."),
                canvas_input(),
                _context_input("frames_a", "How many of clip A's last frames open the output."),
                _context_input("frames_b", "How many of clip B's first frames close the output."),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, clip_a, clip_b, canvas, frames_a, frames_b, strength,
                conditions=None) -> io.NodeOutput:
        sources = transition_sources(clip_a, clip_b, frames_a, frames_b, strength)
        return _checked(cls, sources, canvas, conditions, "frames_a, frames_b")


class VideoCanvasCameraMove(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        def coordinate(name, default, what):
            return io.Float.Input(name, default=default, min=-2.0, max=3.0, step=0.01,
                                  tooltip=f"Where the image centre sits {what}, as a fraction of the "
                                  "output canvas (0.5 = centred; outside 0..1 = partly off-canvas).")

        def zoom(name, default, when):
            return io.Float.Input(name, default=default, min=0.05, max=20.0, step=0.05,
                                  tooltip=f"Image scale {when}, relative to fitting inside the canvas "
                                  "(1 = contained, touching two edges; < 1 leaves borders to fill; > 1 "
                                  "crops).")

        return io.Schema(
            node_id="VideoCanvasCameraMove",
            display_name="VideoCanvas Camera Move",
            category=CATEGORY,
            description=(
                "Camera control: the image seen through a pan/zoom that spans the whole output, as "
                "conditions on every n-th output frame (the last always included); the model fills "
                "what the moving window uncovers (pan: move the centre; zoom out: zoom < 1). A clip "
                "is stretched over the move: its first frame at the start, its last at the end, the "
                "nearest frame between (a clip as long as the output plays in real time). Choose "
                "every_nth dividing length - 1 for an even camera speed."),
            inputs=[
                io.Image.Input("image", tooltip="One image, or a clip whose frames are used in turn."),
                canvas_input(),
                coordinate("start_x", 0.5, "horizontally at the start"),
                coordinate("start_y", 0.5, "vertically at the start"),
                zoom("start_zoom", 1.0, "at the start"),
                coordinate("end_x", 0.5, "horizontally at the end"),
                coordinate("end_y", 0.5, "vertically at the end"),
                zoom("end_zoom", 1.5, "at the end"),
                io.Combo.Input("easing", options=list(EASINGS), default="linear",
                               tooltip="linear: constant speed. ease_in_out: starts and stops gently."),
                _every_nth_input(default=4, what="output frame"),
                _feather_input(),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, image, canvas, start_x, start_y, start_zoom, end_x, end_y, end_zoom, easing,
                every_nth, feather, strength, conditions=None) -> io.NodeOutput:
        sources = camera_move_sources(image, (start_x, start_y, start_zoom), (end_x, end_y, end_zoom),
                                      easing, every_nth, feather, strength)
        return _checked(cls, sources, canvas, conditions, "every_nth")


class VideoCanvasLoop(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasLoop",
            display_name="VideoCanvas Seamless Loop",
            category=CATEGORY,
            description=(
                "Makes the bridge that closes a seamless loop: the clip's last N frames open the "
                "output and its first N frames close it. Append output frames N .. length-N-1 (drop "
                "the first N and the last N; e.g. ImageFromBatch with batch_index N and length "
                "length - 2N) after the clip: clip -> bridge -> clip then loops without a cut. Frames are "
                "stretched to the output canvas: use the clip's size."),
            inputs=[
                _video_input(tooltip="The clip to loop."),
                canvas_input(),
                _context_input(tooltip="N: how many frames of the clip's end and of its start the "
                               "bridge holds (at most the clip's length; 2N below the output length, "
                               "or the two ends would overlap: refused; best well below)."),
                strength_input(),
                conditions_input(),
            ],
            outputs=_outputs(),
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, video, canvas, context_frames, strength, conditions=None) -> io.NodeOutput:
        sources = loop_sources(video, context_frames, strength)
        return _checked(cls, sources, canvas, conditions, "context_frames")


NODES = [VideoCanvasInpaint, VideoCanvasOutpaint, VideoCanvasExtend, VideoCanvasTransition,
         VideoCanvasCameraMove, VideoCanvasLoop]
