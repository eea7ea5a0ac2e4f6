"""VideoCanvas sampler, its conditioning-style twin for ComfyUI's own samplers, and a null prompt."""

import functools

import comfy.model_management
import comfy.samplers
import node_helpers
import nodes
import torch
from comfy_api.latest import io

from ..vc_core.paradigms import LTX_IN_PLACE, PARADIGMS, ParadigmError
from ..vc_core.plan import PlanError, build_plan, check_size
from ..vc_core.preview import layout_strip
from .conditions import attach_conditions
from .encode import DeferredEncoding, encode_plan, video_vae_geometry
from .interrupt import interruptible
from .ltx import add_guides, cropped, is_ltx_vae, token_patch
from .memory import check_condition_memory, check_render_memory, check_token_cap
from .model_kinds import describe_model, is_ltx_model, model_paradigm
from .model_patch import patch_model
from .patch_state import is_patched, paradigm_of
from .types import CATEGORY, REFERENCE_FRAMES, VCConditions, canvas_input

MAX_CONDITIONS_PER_FRAME = 4  # beyond this a request is a mistake, whatever the memory


def check_count(k: int, length: int, frame_tokens: int | None = None) -> None:
    """At most MAX_CONDITIONS_PER_FRAME condition frames per video frame; frame_tokens: tokens per
    latent frame, to say what the request costs (None where the VAE is not known)."""
    if k > MAX_CONDITIONS_PER_FRAME * length:
        cost = f": {k * frame_tokens} tokens here" if frame_tokens else ""
        raise PlanError(f"conditions: {k} condition frames for a {length}-frame video; at most "
                        f"{MAX_CONDITIONS_PER_FRAME * length} (each adds a full latent frame of "
                        f"tokens{cost})")


def _size_inputs():
    return [
        canvas_input(tooltip="From VideoCanvas Canvas: the output's width, height and length (set "
                     "once for the whole graph)."),
        io.Int.Input("batch_size", default=1, min=1, max=64, tooltip="Videos per run."),
    ]


def sampler_inputs(*, seed: str, steps: str, cfg: str) -> list:
    """seed, steps, cfg, sampler_name, scheduler: the inputs of ComfyUI's KSampler, with the same
    defaults and ranges, shared by the VideoCanvas Sampler and Long Video; each node words the
    tooltips of the first three for what they mean there."""
    return [
        io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                     tooltip=seed),
        io.Int.Input("steps", default=30, min=1, max=10000, tooltip=steps),
        io.Float.Input("cfg", default=5.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip=cfg),
        io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                       tooltip="ComfyUI sampler."),
        io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                       tooltip="ComfyUI scheduler."),
    ]


def _clip_vision_inputs():
    return [
        io.ClipVisionOutput.Input(
            "clip_vision_output", optional=True,
            tooltip="For Wan 2.1 image-to-video models (480p/720p, FLF2V, Fun-InP): CLIP Vision Encode "
            "(clip_vision_h) of the start image, set on both prompts as ComfyUI's WanImageToVideo sets "
            "it. Models without an image embedding (text-to-video, Wan 2.2 A14B I2V) do not read it."),
        io.ClipVisionOutput.Input(
            "clip_vision_end_output", optional=True,
            tooltip="For first + last frame on a Wan 2.1 image-to-video model (FLF2V): CLIP Vision "
            "Encode of the end image. With clip_vision_output both are given to the model together, "
            "as ComfyUI's WanFirstLastFrameToVideo gives its start and end images'."),
    ]


def combined_clip_vision(start, end):
    """One CLIP vision output from the start and end images' (either may be None), exactly as
    WanFirstLastFrameToVideo combines them: the end image's tokens after the start image's."""
    if start is None or end is None:
        return start if end is None else end
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out.penultimate_hidden_states = torch.cat([start.penultimate_hidden_states,
                                               end.penultimate_hidden_states], dim=-2)
    return out


def with_clip_vision(conditioning, clip_vision_output):
    if clip_vision_output is None:
        return conditioning
    return node_helpers.conditioning_set_values(conditioning, {"clip_vision_output": clip_vision_output})


def check_clip_vision(model, clip_vision_output, name: str = "clip_vision_output") -> None:
    """Refuse CLIP vision for a model that would ignore it (no image embedding)."""
    if clip_vision_output is not None and getattr(model.get_model_object("diffusion_model"), "img_emb",
                                                  None) is None:
        raise ValueError(f"{name}: this model ({describe_model(model)}) has no image "
                         f"embedding and would ignore it; only Wan 2.1 image-to-video models read "
                         f"CLIP vision. Disconnect {name}")


def _conditions_input():
    return VCConditions.Input("conditions", optional=True,
                              tooltip="From the Timestamp Conditioner or a video-task node. Empty: "
                              "plain text-to-video.")


def prepare(vae, conditions, width, height, length, batch_size, model=None, defer=False):
    """Validate, render and encode the conditions; returns (plan, condition latents, empty LATENT).
    defer: return a DeferredEncoding instead, which the patched model encodes after its memory
    check (for the Conditioning node, which has no model to check against)."""
    channels, spatial, temporal = video_vae_geometry(vae)
    # LTX-Video's VAE: the conditions become guides appended to the latent (ltx.add_guides), laid out
    # here, with that VAE, and read by the model as it is (no deferred encoding, no patch).
    guides = is_ltx_vae(vae)
    # The paradigm the model runs (VideoCanvas Sampler patches an unpatched token model in context).
    # One that reads a pixel video (a Wan image-to-video model's channels: no tokens) has the patched
    # model encode them as one video when sampling starts (wrappers.to_channels).
    paradigm = None if model is None else paradigm_of(model) or model_paradigm(model) or "in_context"
    one_video = paradigm is not None and PARADIGMS[paradigm].encoding == "pixel_video"
    defer = (defer or one_video) and not guides
    if model is not None:
        check_vae_fits_model(vae, model, channels)
    patch = token_patch(vae)
    try:
        check_size(width, height, multiple=patch * spatial,
                   why=f"the VAE's spatial stride {spatial} x the model's patch size {patch}")
        shape = [batch_size, channels, (length - 1) // temporal + 1, height // spatial, width // spatial]

        def refuse_absurd(k):
            # Runs once the count is known, before any canvas is rendered or encoded: cheap.
            check_count(k, length, shape[3] * shape[4] // patch ** 2)
            if not one_video:  # one video adds no tokens; nor do conditions written in place
                adds = paradigm is None or PARADIGMS[paradigm].adds_tokens
                check_token_cap(shape, k if adds else 0, patch ** 2)
            if model is not None and not one_video:
                check_condition_memory(model, shape, k)
            # the canvases, then (one image each) encoding them one canvas per VAE pass
            check_render_memory(k, width, height, shape, vae=None if one_video else vae)

        plan = build_plan(conditions or (), width, height, length, temporal, check_count=refuse_absurd)
    except PlanError as err:
        raise ValueError(str(err)) from None
    if paradigm is not None:  # before any encoding
        PARADIGMS[paradigm].check_strengths(plan.strengths, plan.frames, plan.origins)
        try:
            PARADIGMS[paradigm].check_references(plan.reference_origins,
                                                 lambda: f"a {describe_model(model)} model")
        except ParadigmError as err:
            raise ValueError(str(err)) from None
    if guides or (not plan.num_conditions and not plan.num_references):
        latents = None  # guides are encoded by ltx.add_guides
    else:
        latents = (DeferredEncoding(vae, plan, functools.partial(build_plan, conditions or (), width, height,
                                                                 length, temporal))
                   if defer else encode_plan(vae, plan))
    device = comfy.model_management.intermediate_device()
    if not plan.num_references:
        return plan, latents, {"samples": torch.zeros(shape, device=device)}
    # a reference is a latent frame ahead of the video, trimmed off after sampling; the LATENT says how
    # many, so that VideoCanvas Decode refuses one that was not trimmed
    video_frames = shape[2]
    shape[2] += plan.num_references
    empty = torch.zeros(shape, device=device)
    return plan, latents, {"samples": empty, REFERENCE_FRAMES: (plan.num_references, video_frames)}


def check_vae_fits_model(vae, model, channels: int) -> None:
    """The VAE must be the model family's: LTX-Video's with an LTX-Video model, a Wan VAE of the
    model's channels with a Wan model; refused by name before anything is encoded."""
    what = describe_model(model)
    if is_ltx_model(model) != is_ltx_vae(vae):
        if is_ltx_vae(vae):
            raise ValueError(f"vae: this is LTX-Video's VAE (128-channel latents, 32x spatial, 8x "
                             f"temporal), but the model is {what}: use the model's Wan VAE")
        raise ValueError(f"vae: this VAE makes {channels}-channel latents (a Wan VAE), but the model is "
                         f"{what}, which denoises LTX-Video VAE latents (128 channels, 32x spatial, 8x "
                         f"temporal): use the VAE of the LTX-Video checkpoint")
    want = model.get_model_object("latent_format").latent_channels
    if want != channels:
        raise ValueError(f"vae: this VAE makes {channels}-channel latents but the model denoises "
                         f"{want} (Wan 2.1 T2V: Wan 2.1 VAE, 16; Wan 2.2 TI2V-5B: Wan 2.2 VAE, 48)")


def trimmed(latent: dict, plan) -> dict:
    """The sampled LATENT without the reference frames ahead of the video (TrimVideoLatent's cut)."""
    if not plan.num_references:
        return latent
    out = {k: v for k, v in latent.items() if k != REFERENCE_FRAMES}
    out["samples"] = latent["samples"][:, :, plan.num_references:]
    return out


def with_plan(conditioning, plan, latents):
    if latents is None:
        return conditioning
    return attach_conditions(conditioning, latents, plan.frames, plan.strengths, plan.stride,
                             plan.length, plan.origins, masks=plan.masks, references=plan.reference_origins)


class VideoCanvasSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasSampler",
            display_name="VideoCanvas Sampler",
            category=CATEGORY,
            description=(
                "Generates a video that holds the given patches at their places and times. Each "
                "condition canvas is VAE-encoded on its own as a single image (one batched call) and "
                "joins the video as clean in-context tokens at its fractional frame position. The "
                "model is patched with the paper's settings unless a RoPE Interpolator already did. "
                "On a Wan image-to-video model (36 channels: Wan 2.1 I2V, FLF2V, Fun-InP, Wan 2.2 A14B I2V) "
                "the conditions instead fill the model's own mask and image channels (one grey pixel video "
                "encoded in video mode, a mask per pixel frame): a full first frame, or first and last "
                "frames, give exactly what WanImageToVideo / WanFirstLastFrameToVideo give; other frames "
                "and partial patches are zero-shot on the public weights. On an LTX-Video model (its own "
                "VAE) each condition is one of LTX's guides, appended after the video's latent frames "
                "at its exact frame (a full image: exactly LTXVAddGuide's) and cropped off after "
                "sampling."),
            inputs=[
                io.Model.Input("model", tooltip="A Wan T2V / TI2V-5B model, or a Wan image-to-video "
                               "(36-channel) or Wan VACE model (patched or not), or an LTX-Video model."),
                io.Conditioning.Input("positive", tooltip="Text prompt (CLIPTextEncode), or VideoCanvas "
                                      "Null Prompt for a model trained without text."),
                io.Conditioning.Input("negative", tooltip="Negative prompt, used when cfg > 1."),
                io.Vae.Input("vae", tooltip="The model's video VAE (Wan 2.1 VAE for 16-ch models, Wan "
                             "2.2 VAE for TI2V-5B)."),
                *_size_inputs(),
                *sampler_inputs(seed="Noise seed.", steps="Denoising steps (paper: 50).",
                                cfg="Classifier-free guidance scale (paper: 7.5; 1 = no negative pass)."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 = generate from noise."),
                _conditions_input(),
                *_clip_vision_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="latent"),
                     io.Image.Output(display_name="layout", tooltip="Timeline strip of the conditions.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, vae, canvas, batch_size, seed, steps,
                cfg, sampler_name, scheduler, denoise, conditions=None,
                clip_vision_output=None, clip_vision_end_output=None) -> io.NodeOutput:
        plan, latents, latent = prepare(vae, conditions, canvas.width, canvas.height, canvas.length,
                                        batch_size, model)
        check_clip_vision(model, clip_vision_output, "clip_vision_output")
        check_clip_vision(model, clip_vision_end_output, "clip_vision_end_output")
        clip_vision_output = combined_clip_vision(clip_vision_output, clip_vision_end_output)
        positive, negative = (with_clip_vision(c, clip_vision_output) for c in (positive, negative))
        if is_ltx_vae(vae):  # guides in the latent, read by LTXVModel as it is: no patch
            in_place = paradigm_of(model) == LTX_IN_PLACE  # the RoPE Interpolator's latent_replacement
            positive, negative, latent = add_guides(vae, plan, positive, negative, latent, in_place,
                                                    fps=canvas.fps)
            with interruptible(model.get_model_object("diffusion_model")):  # Cancel inside a step too
                out = nodes.common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive,
                                            negative, latent, denoise=denoise)[0]
            return io.NodeOutput(cropped(out), layout_strip(plan))
        if not is_patched(model):
            model = patch_model(model)
        # the patched model's OUTER_SAMPLE wrapper makes every step interruptible (wrappers.py)
        out = nodes.common_ksampler(model, seed, steps, cfg, sampler_name, scheduler,
                                    with_plan(positive, plan, latents),
                                    with_plan(negative, plan, latents), latent, denoise=denoise)[0]
        return io.NodeOutput(trimmed(out, plan), layout_strip(plan))


class VideoCanvasConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasConditioning",
            display_name="VideoCanvas Conditioning",
            category=CATEGORY,
            description=(
                "The same conditions for ComfyUI's own samplers (KSampler, KSamplerAdvanced, "
                "SamplerCustomAdvanced): attaches them to both prompts and makes the empty video "
                "latent. Each condition is encoded on its own as a single image when the sampler "
                "starts, after the model's memory check (so an oversize request is refused before "
                "any encoding). The model must go through VideoCanvas RoPE Interpolator (both "
                "experts for Wan 2.2 A14B); a sampler whose model was not patched stops with an error. "
                "On a Wan image-to-video model (36 channels: Wan 2.1 I2V, FLF2V, Fun-InP, Wan 2.2 A14B I2V) "
                "the conditions instead fill the model's own mask and image channels (one grey pixel video "
                "encoded in video mode, a mask per pixel frame): a full first frame, or first and last "
                "frames, give exactly what WanImageToVideo / WanFirstLastFrameToVideo give; other frames "
                "and partial patches are zero-shot on the public weights. With an LTX-Video VAE the "
                "conditions become LTX's guides here: appended after the video's frames of the latent "
                "this node outputs, their frames on both prompts, exactly as chained LTXVAddGuide nodes "
                "for full images (no RoPE Interpolator needed); VideoCanvas Decode crops them off."),
            inputs=[
                io.Conditioning.Input("positive", tooltip="Text prompt conditioning."),
                io.Conditioning.Input("negative", tooltip="Negative prompt conditioning."),
                io.Vae.Input("vae", tooltip="The model's video VAE."),
                *_size_inputs(),
                _conditions_input(),
                *_clip_vision_inputs(),
            ],
            outputs=[io.Conditioning.Output(display_name="positive"),
                     io.Conditioning.Output(display_name="negative"),
                     io.Latent.Output(display_name="latent"),
                     io.Image.Output(display_name="layout", tooltip="Timeline strip of the conditions."),
                     io.Int.Output(display_name="trim_latent", tooltip=(
                         "Latent frames to cut from the front of the sampled latent (Trim Video "
                         "Latent) before decoding: one per VideoCanvas Reference Image, which a Wan "
                         "VACE model reads as a frame ahead of the video, as WanVaceToVideo's "
                         "trim_latent; 0 without references."))],
        )

    @classmethod
    def execute(cls, positive, negative, vae, canvas, batch_size, conditions=None,
                clip_vision_output=None, clip_vision_end_output=None) -> io.NodeOutput:
        plan, latents, latent = prepare(vae, conditions, canvas.width, canvas.height, canvas.length,
                                        batch_size, defer=True)
        strip = layout_strip(plan)  # before the canvases go with the deferred encoding
        if is_ltx_vae(vae):
            for name, given in (("clip_vision_output", clip_vision_output),
                                ("clip_vision_end_output", clip_vision_end_output)):
                if given is not None:
                    raise ValueError(f"{name}: LTX-Video has no image embedding and would ignore it; "
                                     f"only Wan 2.1 image-to-video models read CLIP vision. Disconnect "
                                     f"{name}")
            positive, negative, latent = add_guides(vae, plan, positive, negative, latent, fps=canvas.fps)
            return io.NodeOutput(positive, negative, latent, strip, 0)
        clip_vision_output = combined_clip_vision(clip_vision_output, clip_vision_end_output)
        positive, negative = (with_clip_vision(c, clip_vision_output) for c in (positive, negative))
        return io.NodeOutput(with_plan(positive, plan, latents), with_plan(negative, plan, latents),
                             latent, strip, plan.num_references)


class VideoCanvasNullPrompt(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasNullPrompt",
            display_name="VideoCanvas Null Prompt",
            category=CATEGORY,
            description=(
                "Conditioning without a text encoder: one all-zero text token of Wan's and LTX-Video's "
                "width (4096), with its attention mask (LTX-Video's model requires one; Wan ignores it). "
                "It is what the pack's bundled toy model was trained with, and lets any Wan or LTX-Video "
                "model run with no text encoder loaded (the patches alone steer the video)."),
            inputs=[],
            outputs=[io.Conditioning.Output(display_name="conditioning")],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        mask = torch.ones(1, 1, dtype=torch.long)
        return io.NodeOutput([[torch.zeros(1, 1, 4096), {"attention_mask": mask}]])
