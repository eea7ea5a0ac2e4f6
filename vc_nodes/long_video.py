"""VideoCanvas Long Video: a video of any length as overlapping windows, in one node.

The window plan (which frames each window carries from the one before, which user conditions it
gets, at which window-relative frames) is vc_core.windows; here each window runs the VideoCanvas
Sampler's path (sampling.prepare checks model and VAE, encode_plan encodes, with_plan attaches,
ComfyUI's own sampler samples), is decoded at once and kept as 8-bit pixels (or streamed into a
video file), so neither latents nor float frames pile up with the length.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction

import comfy.model_management
import comfy.sample
import comfy.utils
import folder_paths
import latent_preview
import nodes
import torch
from comfy_api.latest import InputImpl, Types, io

from ..vc_core.paradigms import LTX_IN_PLACE, PARADIGMS
from ..vc_core.plan import REFERENCE, PlanError, time_conditions
from ..vc_core.windows import MAX_WINDOWS, fade_join, plan_windows, window_plan, window_seed
from .encode import DeferredEncoding, encode_plan, video_vae_geometry
from .ltx import add_guides, check_prompts, cropped, is_ltx_vae, token_patch
from .memory import check_condition_memory, check_render_memory, check_token_cap
from .model_patch import patch_model
from .patch_state import is_patched, paradigm_of
from .patches import NODE_HIDDEN, node_origin
from .sampling import check_count, prepare, sampler_inputs, with_plan
from .types import CATEGORY, VCConditions, canvas_input

# How a window's new frames meet the frames before them (vc_core.windows.fade_join)
JOINS = ("fade", "as sampled")

DISPLAY_NAME = "VideoCanvas Long Video"
OUTPUT_MODES = ("images", "stream to file")


class _VideoFile:
    """Frames appended window by window to an H.264 MP4 in ComfyUI's temp folder (PyAV), so memory
    does not grow with the length; SaveVideo copies its stream without re-encoding."""

    def __init__(self, width: int, height: int, fps: float):
        import av

        os.makedirs(folder_paths.get_temp_directory(), exist_ok=True)
        self.path = os.path.join(folder_paths.get_temp_directory(),
                                 f"videocanvas_long_{uuid.uuid4().hex[:12]}.mp4")
        self._container = av.open(self.path, mode="w")
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.options = {"crf": "12"}  # near-lossless: the file is the output, not a preview
        self._av = av

    def write(self, frames: torch.Tensor) -> None:  # uint8 [F, H, W, 3]
        for frame in frames.numpy():
            self._container.mux(self._stream.encode(self._av.VideoFrame.from_ndarray(frame, format="rgb24")))

    def close(self) -> None:
        self._container.mux(self._stream.encode())
        self._container.close()


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    return images[..., :3].clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


class VideoCanvasLongVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasLongVideo",
            display_name=DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "A video of any length (the canvas's length, e.g. 1001 frames) in overlapping windows "
                "of window_length frames. Each window continues the one before: that window's last "
                "`overlap` frames enter it as in-context conditions at its first frames. Every "
                "condition (given on the whole video's timeline, as for the VideoCanvas Sampler) "
                "conditions the window that generates its frame, at the frame's place in that window. "
                "Each window is decoded at once and kept as 8-bit pixels (or streamed to a video file), "
                "so memory does not grow with the number of windows. One progress bar over all "
                "windows; Cancel stops between and inside windows."),
            inputs=[
                io.Model.Input("model", tooltip="A Wan T2V / TI2V-5B, Wan image-to-video or Wan VACE "
                               "model (patched or not), or an LTX-Video model (each window's conditions "
                               "its guides)."),
                io.Conditioning.Input("positive", tooltip="Text prompt (CLIPTextEncode), or VideoCanvas "
                                      "Null Prompt for a model trained without text. Every window gets it."),
                io.Conditioning.Input("negative", tooltip="Negative prompt, used when cfg > 1."),
                io.Vae.Input("vae", tooltip="The model's video VAE: it encodes the conditions and "
                             "decodes every window."),
                canvas_input(tooltip="From VideoCanvas Canvas: width, height, fps and the WHOLE video's "
                             "length (e.g. 1001); conditions are placed on this timeline."),
                io.Int.Input("window_length", default=81, min=5, max=1025, step=4,
                             tooltip="Frames of one window, one sampling run: 4k+1, what the model "
                             "samples well (Wan 2.1: 81; the bundled toy model: 17; LTX-Video: 8k+1, "
                             "e.g. 97)."),
                io.Int.Input("overlap", default=9, min=1, max=1024,
                             tooltip="How many of a window's last frames the next window continues "
                             "from (as in-context conditions; each costs a latent frame of tokens). "
                             "Shorter than window_length; each window adds window_length - overlap "
                             f"frames, at most {MAX_WINDOWS} windows."),
                *sampler_inputs(seed="Noise seed of the first window; window i uses seed + i.",
                                steps="Denoising steps per window.",
                                cfg="Classifier-free guidance scale (1 = no negative pass)."),
                io.Combo.Input("output", options=list(OUTPUT_MODES), default="images",
                               tooltip="images: the whole video as an IMAGE batch (kept as 8-bit while "
                               "windows run, 4 bytes per value once output) and as VIDEO. stream to "
                               "file: each window is written to an H.264 MP4 in ComfyUI's temp "
                               "folder as it is done (memory independent of the length); VIDEO is "
                               "that file (SaveVideo copies it), IMAGE is only the last window's frames."),
                io.Combo.Input("joins", options=list(JOINS), default=JOINS[0], optional=True,
                               tooltip="fade: each window regenerates the frames it carries a little "
                               "differently, and its new frames continue its own copies; the difference "
                               "at the last carried frame is added to its first new frame and faded out "
                               "over `overlap` frames, so the join steps as the window itself does. as "
                               "sampled: the new frames as the window made them (a visible jump at "
                               "each join)."),
                VCConditions.Input("conditions", optional=True,
                                   tooltip="From the Timestamp Conditioner or a video-task node, with "
                                   "frames on the whole video's timeline (0 .. canvas length - 1). "
                                   "Empty: text-to-video, each window continuing the one before."),
            ],
            outputs=[io.Image.Output(display_name="images", tooltip="The video (output 'images'), or its "
                                     "last window's frames (output 'stream to file')."),
                     io.Video.Output(display_name="video", tooltip="The whole video at the canvas's "
                                     "fps, for SaveVideo.")],
            hidden=NODE_HIDDEN,
        )

    @classmethod
    def execute(cls, model, positive, negative, vae, canvas, window_length, overlap, seed, steps, cfg,
                sampler_name, scheduler, output, conditions=None, joins=JOINS[0]) -> io.NodeOutput:
        where = node_origin(cls) or DISPLAY_NAME
        total, width, height = canvas.length, canvas.width, canvas.height
        # Everything is checked before the first window runs: the model and VAE against each other
        # and the window's size (prepare), the windows, the conditions on the whole timeline, and
        # the busiest window against the token cap and the model's memory.
        try:
            temporal = video_vae_geometry(vae)[2]
            names = {"total": "canvas length"}
            plan_windows(total, window_length, overlap, (), temporal, names=names)  # sizes, first
            _, _, latent = prepare(vae, None, width, height, window_length, 1, model)

            def refuse_absurd(k):  # before anything is drawn
                check_count(k, total)

            references = [s for s in conditions or () if s.frames is REFERENCE]
            if references:  # refused (never dropped), before any canvas is drawn
                s = "s" if len(references) != 1 else ""
                where = "".join(f" from {r.node}" for r in references[:1] if r.node)
                raise ValueError(f"conditions: {len(references)} reference{s} (VideoCanvas Reference "
                                 f"Image{where}), which Long Video does not carry into its windows yet; "
                                 f"give the image a frame (VideoCanvas Timestamp Conditioner), or use "
                                 f"VideoCanvas Sampler")
            # placed in time only: each window draws its own conditions' canvases when it runs, so
            # memory does not grow with the length even for a condition on every frame (inpainting)
            plan = time_conditions(conditions or (), width, height, total, temporal,
                                   check_count=refuse_absurd)
            plan.check_placements()
            windows = plan_windows(total, window_length, overlap, plan.frames, temporal, names=names)
            if not is_patched(model):
                model = patch_model(model)
            paradigm = PARADIGMS[paradigm_of(model)]
            # LTX-Video: each window's conditions (the carried frames too) are its guides, appended
            # to that window's latent as the Sampler appends them (ltx.add_guides)
            guides = is_ltx_vae(vae)
            patch_tokens = token_patch(vae) ** 2
            if guides:  # what every window's prompts must be, checked once here
                check_prompts(positive, negative, canvas.fps)
            if paradigm.name == LTX_IN_PLACE:  # before any window: carried frames share latent frames
                raise ValueError("model: patched for latent replacement (RoPE Interpolator paradigm "
                                 "latent_replacement), which holds one image per LTX latent frame, but "
                                 "each window carries its `overlap` frames in as conditions, several per "
                                 "latent frame: set the paradigm back to in_context (LTX's guides)")
            paradigm.check_strengths(plan.strengths, plan.frames, plan.origins)
            # a paradigm that reads one pixel video (image-to-video channels, VACE control) gets each
            # window's conditions as one: encoded when the window samples, after the patch's checks
            one_video = paradigm.encoding == "pixel_video"
            busiest = max(w.conditions for w in windows)
            check_render_memory(busiest, width, height)
            shape = tuple(latent["samples"].shape)
            check_count(busiest, window_length, shape[3] * shape[4] // patch_tokens)
            if not one_video:  # one video adds no tokens; nor do conditions written in place
                check_token_cap(shape, busiest if paradigm.adds_tokens else 0, patch_tokens)
                check_condition_memory(model, shape, busiest)
        except (PlanError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

        pbar = comfy.utils.ProgressBar(len(windows) * steps)
        previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)
        stream = _VideoFile(width, height, canvas.fps) if output == "stream to file" else None
        frames = None if stream else torch.empty(total, height, width, 3, dtype=torch.uint8)
        tail = None  # the last window's frames (uint8)
        # The output's last `overlap` frames: what the next window carries. Not the last window's own
        # last frames: with an overlap over half the window some of those are its regenerated copies
        # of carried frames, which the output did not keep.
        kept = None
        try:
            for win in windows:
                comfy.model_management.throw_exception_if_processing_interrupted()
                carried = None if not win.carried else kept[-win.carried:].float().div(255)
                wplan = window_plan(plan, win, carried)
                latents = None
                if wplan.num_conditions and not guides:
                    latents = DeferredEncoding(vae, wplan) if one_video else encode_plan(vae, wplan)
                done = win.index * steps

                def callback(step, x0, x, total_steps, done=done):
                    comfy.model_management.throw_exception_if_processing_interrupted()
                    preview = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
                    pbar.update_absolute(done + min(step + 1, steps), len(windows) * steps, preview)

                s = window_seed(seed, win.index)
                empty = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
                if guides:
                    wpos, wneg, guided = add_guides(vae, wplan, positive, negative, {"samples": empty},
                                                    fps=canvas.fps)
                else:
                    wpos, wneg = with_plan(positive, wplan, latents), with_plan(negative, wplan, latents)
                    guided = {"samples": empty}
                samples = comfy.sample.sample(
                    model, comfy.sample.prepare_noise(guided["samples"], s), steps, cfg, sampler_name,
                    scheduler, wpos, wneg, guided["samples"], noise_mask=guided.get("noise_mask"),
                    callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=s)
                samples = cropped({**guided, "samples": samples})["samples"]
                tail = _to_uint8(nodes.VAEDecode().decode(vae, {"samples": samples})[0])
                del samples, latents, guided
                new = tail[win.carried:win.carried + win.keep]
                if joins == "fade" and win.carried:
                    new = fade_join(new, tail[win.carried - 1], kept[-1], overlap)
                kept = (new if kept is None else torch.cat([kept, new]))[-overlap:]
                if stream:
                    stream.write(new)
                else:
                    frames[win.new_frames.start:win.new_frames.stop] = new
        finally:
            if stream:
                stream.close()
        fps = Fraction(canvas.fps).limit_denominator(1000)
        if stream:
            last = windows[-1]
            return io.NodeOutput(tail[:last.carried + last.keep].float().div(255),
                                 InputImpl.VideoFromFile(stream.path))
        images = frames.float().div_(255)
        del frames
        return io.NodeOutput(images, InputImpl.VideoFromComponents(
            Types.VideoComponents(images=images, audio=None, frame_rate=fps)))
