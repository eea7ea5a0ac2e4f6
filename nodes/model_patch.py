"""The VideoCanvas model patch: ComfyUI wrappers on a cloned Wan ModelPatcher (the engine of the
RoPE interpolator node). No maths here: the forward passes live in vc_core.wan_forward.

How conditions travel: a conditioning entry carries two `model_conds` (ComfyUI's own per-prompt
channel to the diffusion model): the encoded condition latents (CONDRegular, so cond/uncond
batching concatenates them) and their timing (CONDConstant, so only equal timings batch together).
ComfyUI passes both as extra keyword arguments to `WanModel.forward`, where the wrapper takes them.
"""

from __future__ import annotations

from typing import NamedTuple

import comfy.conds
import comfy.ldm.wan.model as wan_model
import comfy.patcher_extension as pe

from ..vc_core.in_context import PARADIGMS
from ..vc_core.timing import POSITION_POLICIES
from ..vc_core.wan_forward import ConditionLatents, in_context_forward, latent_replacement_forward

WRAPPER_KEY = "videocanvas"
COND_LATENTS = "videocanvas_latents"
COND_TIMING = "videocanvas_timing"

# Wan variants whose forward differs from WanModel's: named so the refusal says what was given.
_OTHER_WAN_KINDS = {
    "VaceWanModel": "Wan VACE",
    "CameraWanModel": "Wan Fun camera",
    "WanModel_S2V": "Wan S2V (speech to video)",
    "HumoWanModel": "Wan HuMo",
    "AnimateWanModel": "Wan Animate",
}


class UnsupportedModel(ValueError):
    pass


class ConditionTiming(NamedTuple):
    """Hashable and comparable: CONDConstant batches cond/uncond only when timings are equal."""

    frames: tuple[int, ...]
    strengths: tuple[float, ...]
    stride: int


def describe_model(model) -> str:
    """'Wan 2.1 T2V (16-ch)' / 'Wan 2.2 TI2V-5B (48-ch)', or UnsupportedModel naming what it is."""
    diffusion = model.get_model_object("diffusion_model")
    cls = type(diffusion).__name__
    if not isinstance(diffusion, wan_model.WanModel):
        raise UnsupportedModel(f"model: VideoCanvas needs a Wan text-to-video model (Wan 2.1 T2V "
                               f"1.3B/14B, Wan 2.2 TI2V-5B or the A14B experts); got {cls} "
                               f"({type(model.model).__name__})")
    if type(diffusion) is not wan_model.WanModel:
        kind = _OTHER_WAN_KINDS.get(cls, cls)
        raise UnsupportedModel(f"model: {kind} models are not supported by VideoCanvas (their "
                               f"forward adds inputs of its own); use a Wan T2V or TI2V-5B model")
    in_dim = diffusion.patch_embedding.weight.shape[1]
    if diffusion.model_type == "i2v" or in_dim != diffusion.out_dim:
        raise UnsupportedModel(f"model: Wan image-to-video models ({in_dim} input channels = noise "
                               f"+ mask + image) are not supported: VideoCanvas conditions a T2V "
                               f"model in context; use Wan 2.1 T2V or Wan 2.2 TI2V-5B")
    if in_dim == 16:
        return "Wan 2.1/2.2 T2V (16-ch)"
    if in_dim == 48:
        return "Wan 2.2 TI2V-5B (48-ch)"
    raise UnsupportedModel(f"model: a Wan model with {in_dim} latent channels is not a known "
                           f"VideoCanvas target (16 = Wan 2.1 VAE, 48 = Wan 2.2 VAE)")


class _VideoCanvasForward:
    """DIFFUSION_MODEL wrapper. Without conditions it passes straight through (bit-identical).

    With conditions it runs the VideoCanvas forward on the WanModel in place of `_forward` (which
    can only build contiguous positions), so it must be the innermost diffusion-model wrapper.
    """

    def __init__(self, policy: str, paradigm: str, latent_format):
        self.policy, self.paradigm, self.latent_format = policy, paradigm, latent_format

    def __call__(self, executor, x, timestep, context, clip_fea=None, time_dim_concat=None,
                 transformer_options={}, **kwargs):
        latents = kwargs.pop(COND_LATENTS, None)
        timing: ConditionTiming | None = kwargs.pop(COND_TIMING, None)
        if latents is None or timing is None or not timing.frames:
            return executor(x, timestep, context, clip_fea, time_dim_concat, transformer_options,
                            **kwargs)
        if time_dim_concat is not None:
            raise ValueError("VideoCanvas conditions cannot be combined with time_dim_concat "
                             "latents in one sampling run")
        if latents.shape[1] != x.shape[1]:
            raise ValueError(f"vae: condition latents have {latents.shape[1]} channels but the "
                             f"model denoises {x.shape[1]}: encode conditions with the model's VAE")
        conditions = ConditionLatents(self.latent_format.process_in(latents), timing.frames,
                                      timing.strengths, timing.stride)
        wan = executor.class_obj
        if self.paradigm == "latent_replacement":
            return latent_replacement_forward(wan, x, timestep, context, conditions, clip_fea=clip_fea,
                                              transformer_options=transformer_options, **kwargs)
        return in_context_forward(wan, x, timestep, context, conditions, self.policy,
                                  clip_fea=clip_fea, transformer_options=transformer_options, **kwargs)


def _condition_frames(conds: dict) -> int:
    most = 0
    for entries in conds.values():
        for c in entries:
            lat = c.get("model_conds", {}).get(COND_LATENTS)
            if lat is not None:
                most = max(most, lat.cond.shape[2])
    return most


def check_condition_memory(model, noise_shape, conditions: int) -> None:
    """Refuse a sampling run whose in-context tokens cannot fit, by ComfyUI's own estimate (the
    one it reserves memory with: cond and uncond batched), before anything heavy is done."""
    import comfy.model_management as mm

    if not conditions or len(noise_shape) != 5:
        return
    b, c, f, h, w = noise_shape
    need = model.model.memory_required([2 * b, c, f + conditions, h, w])
    have = mm.get_total_memory(model.load_device)
    if need > have:
        tokens = (f + conditions) * h * w // 4
        raise ValueError(f"conditions: {conditions} condition frames make {tokens} tokens per sample "
                         f"({f} video latent frames + {conditions}); ComfyUI estimates "
                         f"{need / 2**30:.1f} GiB to sample that, more than the {have / 2**30:.1f} GiB "
                         f"of {model.load_device}. Use fewer conditions (e.g. every 4th frame) or a "
                         f"smaller size")


def _prepare_sampling_with_condition_memory(executor, model, noise_shape, conds, model_options=None):
    """PREPARE_SAMPLING wrapper: ComfyUI sizes its memory reservation from the noise shape; every
    in-context condition adds one latent frame of tokens, so estimate with those frames included."""
    extra = _condition_frames(conds)
    if extra and len(noise_shape) == 5:
        check_condition_memory(model, noise_shape, extra)
        noise_shape = [noise_shape[0], noise_shape[1], noise_shape[2] + extra, *noise_shape[3:]]
    return executor(model, noise_shape, conds, model_options=model_options)


def patch_model(model, policy: str = "interpolate", paradigm: str = "in_context"):
    """A clone of `model` that consumes VideoCanvas conditions. Re-patching replaces the settings."""
    if policy not in POSITION_POLICIES:
        raise ValueError(f"position_policy must be one of {POSITION_POLICIES}; got {policy!r}")
    if paradigm not in PARADIGMS:
        raise ValueError(f"paradigm must be one of {PARADIGMS}; got {paradigm!r}")
    describe_model(model)
    patched = model.clone()
    forward = _VideoCanvasForward(policy, paradigm, patched.get_model_object("latent_format"))
    for kind, fn in ((pe.WrappersMP.DIFFUSION_MODEL, forward),
                     (pe.WrappersMP.PREPARE_SAMPLING, _prepare_sampling_with_condition_memory)):
        patched.remove_wrappers_with_key(kind, WRAPPER_KEY)
        patched.add_wrapper_with_key(kind, WRAPPER_KEY, fn)
    return patched


def is_patched(model) -> bool:
    return bool(model.get_wrappers(pe.WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY))


def attach_conditions(conditioning: list, latents, frames, strengths, stride: int) -> list:
    """A copy of a CONDITIONING list whose entries carry the encoded conditions (raw VAE latents
    [1, C, K, h, w]; the patched model applies its latent format)."""
    timing = ConditionTiming(tuple(int(f) for f in frames), tuple(float(s) for s in strengths),
                             int(stride))
    out = []
    for tensor, extras in conditioning:
        extras = dict(extras)
        model_conds = dict(extras.get("model_conds", {}))
        model_conds[COND_LATENTS] = comfy.conds.CONDRegular(latents)
        model_conds[COND_TIMING] = comfy.conds.CONDConstant(timing)
        extras["model_conds"] = model_conds
        out.append([tensor, extras])
    return out
