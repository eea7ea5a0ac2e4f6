"""Latent decode (with optional exact paste-back of the conditions) and the layout preview."""

import nodes
import torch
from comfy_api.latest import io

from ..vc_core.plan import PlanError, build_plan
from ..vc_core.plan import paste_back as paste_conditions_back
from ..vc_core.preview import layout_strip
from .encode import video_vae_geometry
from .interrupt import interruptible
from .ltx import cropped
from .memory import check_decode_memory, check_render_memory
from .sampling import check_count
from .types import CATEGORY, REFERENCE_FRAMES, VCConditions, canvas_input


def _plan(conditions, width, height, length, stride=4):
    def refuse_absurd(k):
        # Before any canvas is rendered: the same count limit as the samplers, and the RAM that
        # rendering K full-size canvases takes (the preview itself is bounded by vc_core.preview).
        check_count(k, length)
        check_render_memory(k, width, height)

    try:
        return build_plan(conditions or (), width, height, length, stride, check_count=refuse_absurd)
    except PlanError as err:
        raise ValueError(str(err)) from None


class VideoCanvasDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasDecode",
            display_name="VideoCanvas Decode",
            category=CATEGORY,
            description=(
                "Decodes the VideoCanvas latent into frames. Condition tokens never enter the LATENT "
                "(they travel in the conditioning and are dropped inside the model after every step), "
                "so the latent is the video alone; LTX-Video guides that VideoCanvas Conditioning appended "
                "after the video are cropped off here, as LTXVCropGuides does. Optionally pastes the "
                "exact condition pixels back over the decoded frames through a feathered mask, e.g. to "
                "keep an inpainted video's untouched area bit-exact."),
            inputs=[
                io.Vae.Input("vae", tooltip="The VAE the model works with."),
                io.Latent.Input("latent", tooltip="From VideoCanvas Sampler or a KSampler."),
                io.Int.Input("tile_size", default=0, min=0, max=4096, step=32,
                             tooltip="0: decode whole (ComfyUI still falls back to tiles if memory runs "
                             "out). Otherwise decode in tiles of this many pixels (saves memory)."),
                io.Boolean.Input("paste_back", default=False,
                                 tooltip="Composite the conditions' exact pixels over their frames."),
                io.Float.Input("feather", default=4.0, min=0.0, max=256.0, step=0.5,
                               tooltip="Extra softening of the paste-back mask edge, in pixels."),
                VCConditions.Input("conditions", optional=True,
                                   tooltip="The conditions used for sampling (needed for paste_back)."),
            ],
            outputs=[io.Image.Output(display_name="images")],
        )

    @classmethod
    def execute(cls, vae, latent, tile_size, paste_back, feather, conditions=None) -> io.NodeOutput:
        shape = tuple(latent["samples"].shape)
        references, video_frames = latent.get(REFERENCE_FRAMES, (0, None))
        if references and len(shape) == 5 and shape[2] == references + video_frames:
            raise ValueError(f"VideoCanvas Decode: latent: its first {references} latent frame"
                             f"{'s are' if references != 1 else ' is a'} reference frame"
                             f"{'s' if references != 1 else ''} (VideoCanvas Reference Image), not video: "
                             f"cut {'them' if references != 1 else 'it'} off with Trim Video Latent "
                             f"(trim_amount {references}: VideoCanvas Conditioning's trim_latent) before "
                             f"decoding")
        latent = cropped(latent)  # LTX-Video guides after the video (LTXVCropGuides' cut)
        shape = tuple(latent["samples"].shape)
        if len(shape) == 5:  # a video latent: refuse what cannot fit before decoding any of it
            _, spatial, temporal = video_vae_geometry(vae)
            frames = shape[0] * ((shape[2] - 1) * temporal + 1)
            check_decode_memory(vae, shape, frames, shape[4] * spatial, shape[3] * spatial, tile_size)
        with interruptible(getattr(vae, "first_stage_model", None)):  # Cancel inside the decode
            if tile_size:
                images = nodes.VAEDecodeTiled().decode(vae, latent, tile_size)[0]
            else:
                images = nodes.VAEDecode().decode(vae, latent)[0]
        if paste_back and conditions:
            batch = latent["samples"].shape[0]
            length = images.shape[0] // batch
            plan = _plan(conditions, images.shape[2], images.shape[1], length)
            images = torch.cat([paste_conditions_back(clip, plan, feather)
                                for clip in images.split(length)])
        return io.NodeOutput(images)


class VideoCanvasLayoutPreview(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasLayoutPreview",
            display_name="VideoCanvas Layout Preview",
            category=CATEGORY,
            description=("A timeline strip of the conditions: each canvas (given pixels bright) above "
                         "a bar of the whole video with its frame marked, before any sampling."),
            inputs=[
                VCConditions.Input("conditions", tooltip="The conditions to show."),
                canvas_input(tooltip="From VideoCanvas Canvas: the output the conditions are placed "
                             "on."),
                io.Int.Input("thumb_height", default=96, min=16, max=512,
                             tooltip="Height of each thumbnail in the strip (smaller where the whole "
                             "strip would exceed 2 megapixels; at most 16 are shown, then '+K MORE')."),
            ],
            outputs=[io.Image.Output(display_name="layout")],
        )

    @classmethod
    def execute(cls, conditions, canvas, thumb_height) -> io.NodeOutput:
        plan = _plan(conditions, canvas.width, canvas.height, canvas.length)
        return io.NodeOutput(layout_strip(plan, thumb_height))
