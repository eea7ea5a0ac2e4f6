"""The pack's own socket types and shared schema pieces."""

from dataclasses import dataclass

from comfy_api.latest import io

from ..vc_core.paradigms import PARADIGMS

CATEGORY = "VideoCanvas"

# A patch placed on the (not yet sized) output canvas: vc_core.plan.Patch
VCPatch = io.Custom("VIDEOCANVAS_PATCH")
# The output video a graph works towards, set once (VideoCanvas Canvas): see Canvas
VCCanvas = io.Custom("VIDEOCANVAS_CANVAS")
# A chain of conditions, each a patch and when it holds: vc_core.plan.ConditionSet (a tuple)
VCConditions = io.Custom("VIDEOCANVAS_CONDITIONS")


@dataclass(frozen=True)
class Canvas:
    """Width and height in pixels, length in frames (4k+1) and frames per second of the output video,
    checked by the VideoCanvas Canvas node that made it. One per graph: the nodes where frames and
    boxes are typed check them against it, and the samplers size the video from it."""

    width: int
    height: int
    length: int
    fps: float


def canvas_input(optional: bool = False, tooltip: str = ""):
    return VCCanvas.Input("canvas", optional=optional, tooltip=tooltip or "From VideoCanvas Canvas: "
                          "the output's width, height, length and fps, set once for the whole graph.")


def conditions_input(optional: bool = True):
    return VCConditions.Input("conditions", optional=optional,
                              tooltip="Conditions collected so far; this node adds its own after them. "
                              "Leave empty to start a new set.")


def chain(conditions, *new) -> tuple:
    return tuple(conditions or ()) + tuple(new)


def strength_input():
    return io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.05,
                          tooltip=" ".join(p.strength_definition for p in PARADIGMS.values()))


# The two model_conds a conditioning entry carries to the patched diffusion model (conditions.py):
# the encoded condition latents, and their ConditionTiming.
COND_LATENTS = "videocanvas_latents"
COND_TIMING = "videocanvas_timing"
# In a LATENT whose first latent frames are reference frames (VideoCanvas Conditioning with a VideoCanvas
# Reference Image): (reference frames, video latent frames), kept by the samplers and Trim Video Latent
# as they copy the dict, so that VideoCanvas Decode can refuse a latent that still holds them.
REFERENCE_FRAMES = "videocanvas_reference_frames"
# In a LATENT with LTX-Video guides after the video's latent frames (VideoCanvas Conditioning on an
# LTX-Video VAE): (guides, video latent frames), kept by the samplers as they copy the dict, so that
# VideoCanvas Decode crops them (LTXVCropGuides' cut).
LTX_GUIDE_FRAMES = "videocanvas_ltx_guide_frames"
