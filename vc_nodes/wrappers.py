"""The ComfyUI wrappers a patched model runs, in the order a sampling run meets them:

  OUTER_SAMPLE     accept_conditions          check, encode if deferred, seed, accept (channel
                                              concatenation: the conditions become the model's
                                              own concat_latent_image / concat_mask here)
  PREPARE_SAMPLING memory.py                  refuse by ComfyUI's estimate; reserve for the tokens
  CALC_COND_BATCH  require_conditions_consumed
  DIFFUSION_MODEL  VideoCanvasForward         the paradigm's forward (vc_core/paradigms/); with
                                              sparse / cached condition tokens, its keys/values
                                              cache lives in the run's state (one per run)

Under ComfyUI's context windows, each window's conditions are cut out for it by the handler's
RESIZE_COND_ITEM callback, which accept_conditions installs (context_windows.py).

Forward compatibility: every wrapper takes `*args, **kwargs` and passes on what it does not know.
Inputs the VideoCanvas forward cannot honour are refused by name (see `_refuse_unhonoured`).
"""

from __future__ import annotations

import functools
import inspect

import comfy.conds
import comfy.patcher_extension as pe
import torch

from ..vc_core.condition_tokens import ConditionKVCache
from ..vc_core.paradigms import (
    CHANNEL_CONCAT,
    LTX_GUIDES,
    LTX_IN_PLACE,
    PARADIGMS,
    VACE_CONTROL,
    ParadigmError,
    PatchOptions,
)
from ..vc_core.wan_forward import ConditionLatents
from . import context_windows
from .conditions import check_latent_matches_plan, latent_geometry
from .encode import DeferredEncoding
from .hook_state import hooks_in_force
from .interrupt import interruptible
from .memory import check_condition_memory
from .model_kinds import describe_model
from .patch_state import paradigm_of
from .types import COND_LATENTS, COND_TIMING

# Named inputs of WanModel._forward that the VideoCanvas forward (which stands in for _forward)
# handles itself. Others that a newer _forward consumes are refused by name (_refuse_unhonoured).
_HANDLED_FORWARD_INPUTS = {"self", "x", "timestep", "context", "clip_fea", "time_dim_concat",
                           "transformer_options", "kwargs", "args"}
# Inputs newer WanModel._forward bodies consume through **kwargs (in-context references appended
# with their own RoPE): honouring them would need their layout, so they are refused by name.
_UNHONOURED_INPUTS = ("context_latents",)


class _RunState:
    """Per sampling run, in transformer_options: how many forwards the VideoCanvas forward made.
    Not a dict: ComfyUI copies nested dicts of transformer_options per call, objects it shares."""

    def __init__(self, patcher=None):
        self.forwards = 0
        # cached condition attention: keys/values of this run, keyed on the hooks in force too
        self.kv_cache = ConditionKVCache(weights=functools.partial(hooks_in_force, patcher))


RUN_STATE = "videocanvas_run"
_BYPASSED = ("VideoCanvas conditions did not reach the VideoCanvas forward in this step: something "
             "around the diffusion model (a model patch or wrapper of another node, or a ComfyUI "
             "this pack does not know) called Wan's own forward, which would ignore them. Remove "
             "that patch, or put it before 'VideoCanvas RoPE Interpolator'")


_UNHONOURED_BY_CLASS: dict[type, tuple[str, ...]] = {}  # a plain dict: torch.compile traces it


def _unhonoured_inputs(wan_class) -> tuple[str, ...]:
    """Named inputs of this WanModel class's _forward beyond those the VideoCanvas forward handles
    (a newer ComfyUI's, say), plus the ones known to be consumed through **kwargs."""
    if wan_class not in _UNHONOURED_BY_CLASS:
        named = set(inspect.signature(wan_class._forward).parameters) - _HANDLED_FORWARD_INPUTS
        _UNHONOURED_BY_CLASS[wan_class] = tuple(sorted(named.union(_UNHONOURED_INPUTS)))
    return _UNHONOURED_BY_CLASS[wan_class]


def _refuse_unhonoured(wan, kwargs: dict) -> None:
    """Inputs the native _forward would honour and the VideoCanvas forward cannot: refuse by name."""
    for name in _unhonoured_inputs(type(wan)):
        if kwargs.get(name) is not None:
            raise ValueError(f"VideoCanvas conditions cannot be combined with the diffusion-model "
                             f"input '{name}' in one sampling run (it is appended by another node; "
                             f"the VideoCanvas forward does not know its layout): remove that node or "
                             f"the VideoCanvas conditions")


class VideoCanvasForward:
    """DIFFUSION_MODEL wrapper. Without conditions it passes straight through (bit-identical).

    With conditions it runs the rest of the wrapper chain (diffusion-model wrappers added after this
    one, e.g. EasyCache, still run) with the paradigm's forward in place of `_forward` as the
    innermost call, since `_forward` can only build contiguous positions. A paradigm without a
    forward of its own (channel concatenation) never gets conditions here: accept_conditions turned
    them into the model's own inputs before any step.
    """

    def __init__(self, options: PatchOptions, latent_format):
        self.options, self.latent_format = options, latent_format
        self.paradigm = options.paradigm  # what patch_state reads back
        self.condition_tokens = options.condition_tokens
        self.condition_attention = options.condition_attention

    def __call__(self, executor, *args, **kwargs):
        latents = kwargs.pop(COND_LATENTS, None)
        timing = kwargs.pop(COND_TIMING, None)
        if latents is None or timing is None or not timing.frames:
            return executor(*args, **kwargs)
        if PARADIGMS[self.paradigm].forward is None:
            raise RuntimeError("VideoCanvas: conditions reached an image-to-video model's forward "
                               "without becoming its mask and image channels (another wrapper around "
                               "the sampler skipped the pack's); remove that node")
        if not (hasattr(executor, "wrappers") and hasattr(executor, "idx")):
            raise RuntimeError("VideoCanvas: this ComfyUI's wrapper executor has no wrapper list and "
                               "position (comfy.patcher_extension.WrapperExecutor changed); the pack "
                               "cannot run the remaining diffusion-model wrappers around its forward")

        def videocanvas_forward(x, timestep, context, clip_fea=None, time_dim_concat=None,
                                transformer_options=None, *rest, **kw):
            state = (transformer_options or {}).get(RUN_STATE)
            if state is not None:
                state.forwards += 1
            return self.forward(executor.class_obj, x, timestep, context, latents, timing, clip_fea,
                                time_dim_concat, transformer_options or {}, *rest,
                                kv_cache=None if state is None else state.kv_cache, **kw)

        inner = pe.WrapperExecutor.new_class_executor(videocanvas_forward, executor.class_obj,
                                                      executor.wrappers, executor.idx + 1)
        return inner.execute(*args, **kwargs)

    def forward(self, wan, x, timestep, context, latents, timing, clip_fea, time_dim_concat,
                transformer_options, *rest, kv_cache=None, **kwargs):
        if rest:
            raise ValueError(f"VideoCanvas: the diffusion model was called with {len(rest)} "
                             f"positional inputs it does not know; cannot condition this call")
        if time_dim_concat is not None:
            raise ValueError("VideoCanvas conditions cannot be combined with time_dim_concat "
                             "latents in one sampling run")
        _refuse_unhonoured(wan, kwargs)
        # Channels, size and length were checked against the latent once per run, when the patched
        # model accepted the conditions (accept_conditions): only accepted timings get here.
        conditions = ConditionLatents(self.latent_format.process_in(latents), timing.frames,
                                      timing.strengths, timing.stride,
                                      seed=0 if timing.seed is None else timing.seed,
                                      footprint=timing.footprint)
        attention = None
        if (self.condition_tokens, self.condition_attention) != ("full", "two-way"):
            from comfy.ldm.modules.attention import optimized_attention  # the kernel ComfyUI chose

            attention = optimized_attention
        return PARADIGMS[self.paradigm].forward(wan, x, timestep, context, conditions, self.options,
                                                attention=attention, kv_cache=kv_cache,
                                                clip_fea=clip_fea,
                                                transformer_options=transformer_options, **kwargs)


def accept_conditions(executor, *args, **kwargs):
    """OUTER_SAMPLE wrapper of a patched model: make the conditions usable for this run (with the
    sampler's seed), after checking them against the latent, against what cannot compose and (for
    conditions not encoded yet) against memory; then encode those."""
    guider = executor.class_obj
    paradigm = paradigm_of(guider.model_patcher)
    noise = kwargs["noise"] if "noise" in kwargs else args[0]
    seed = kwargs["seed"] if "seed" in kwargs else (args[7] if len(args) > 7 else None)
    shape = tuple(noise.shape)
    entries = [c for group in (getattr(guider, "conds", None) or {}).values() for c in group
               if (c.get("model_conds") or {}).get(COND_TIMING) is not None]
    handler = (guider.model_options or {}).get("context_handler")
    if entries and handler is not None:  # each window its own conditions, or refused by name
        context_windows.accept(handler, paradigm, entries)
    for c in entries:  # references (conditions without a time) only where the model has their slot
        try:
            PARADIGMS[paradigm].check_references(c["model_conds"][COND_TIMING].cond.references,
                                                 lambda: f"a {describe_model(guider.model_patcher)} model")
        except ParadigmError as err:
            raise ValueError(str(err)) from None
    guided = any(c.get("keyframe_idxs") is not None
                 for group in (getattr(guider, "conds", None) or {}).values() for c in group)
    if guided and paradigm not in (LTX_GUIDES, LTX_IN_PLACE):
        raise ValueError(f"vae: these prompts carry LTX-Video guides (VideoCanvas Conditioning with "
                         f"LTX-Video's VAE, or LTXVAddGuide), but the model is "
                         f"{describe_model(guider.model_patcher)}: give VideoCanvas Conditioning the "
                         f"model's own VAE")
    if paradigm == LTX_IN_PLACE and guided:
        raise ValueError("This LTX-Video model is patched for latent replacement (VideoCanvas RoPE "
                         "Interpolator, paradigm latent_replacement), which VideoCanvas Sampler lays out "
                         "in the video's own latent frames, but these prompts carry LTX guides "
                         "(VideoCanvas Conditioning or LTXVAddGuide lay them out). Use VideoCanvas Sampler, "
                         "or set the paradigm back to in_context")
    to_model_inputs = _MODEL_INPUTS.get(paradigm)
    if entries and to_model_inputs is not None:
        to_model_inputs(guider, entries, shape)
        return _sample_interruptibly(guider, executor, *args, **kwargs)
    # Every check first, for every entry, so that nothing is encoded for a run that is refused.
    for c in entries:
        timing, latents = c["model_conds"][COND_TIMING].cond, c["model_conds"][COND_LATENTS].cond
        PARADIGMS[paradigm].check_strengths(timing.strengths, timing.frames, timing.origins)
        channels, latent_hw, count = latent_geometry(latents)
        if len(shape) == 5 and channels != shape[1]:
            raise ValueError(f"vae: condition latents have {channels} channels but the model "
                             f"denoises {shape[1]}: encode conditions with the model's VAE")
        check_latent_matches_plan(timing, latent_hw, shape)
        if isinstance(latents, DeferredEncoding):
            check_condition_memory(guider.model_patcher, shape, count, blamed="VideoCanvas conditions")
    for c in entries:
        model_conds = c["model_conds"]
        timing, latents = model_conds[COND_TIMING].cond, model_conds[COND_LATENTS].cond
        if isinstance(latents, DeferredEncoding):
            latents = latents.latents()  # once per node output: positive and negative share it
        # A new dict: the entry's model_conds is shared with the node output (and its cache).
        c["model_conds"] = {**model_conds, COND_LATENTS: comfy.conds.CONDRegular(latents),
                            COND_TIMING: comfy.conds.CONDConstant(
                                timing._replace(seed=0 if seed is None else int(seed)))}
    if entries:  # this run's model_options are a clone: the state lives as long as the run
        state = _RunState(guider.model_patcher)
        guider.model_options.setdefault("transformer_options", {})[RUN_STATE] = state
    return _sample_interruptibly(guider, executor, *args, **kwargs)


def _sample_interruptibly(guider, executor, *args, **kwargs):
    """Cancel inside a step too (the Sampler's and any ComfyUI sampler's on a patched model): one
    step over many tokens runs for minutes between ComfyUI's own checks."""
    with interruptible(guider.model_patcher.get_model_object("diffusion_model")):
        return executor(*args, **kwargs)


def _active(c: dict, sigma: float) -> bool:
    """Whether ComfyUI runs this entry at this step (comfy.samplers.get_area_and_mult skips entries
    outside their ConditioningSetTimestepRange)."""
    return not (("timestep_start" in c and sigma > c["timestep_start"])
                or ("timestep_end" in c and sigma < c["timestep_end"]))


def require_conditions_consumed(executor, *args, **kwargs):
    """CALC_COND_BATCH wrapper: after ComfyUI's cond/uncond forwards of a step, conditions that ran
    in them must have gone through the VideoCanvas forward at least once in this run (step caches
    may skip later steps), or they were silently dropped: refuse."""
    out = executor(*args, **kwargs)
    conds = kwargs["conds"] if "conds" in kwargs else args[1]
    timestep = kwargs["timestep"] if "timestep" in kwargs else args[3]
    model_options = kwargs["model_options"] if "model_options" in kwargs else args[4]
    state = model_options.get("transformer_options", {}).get(RUN_STATE)
    if state is None or state.forwards:
        return out
    sigma = float(torch.as_tensor(timestep).reshape(-1)[0])
    if any(COND_TIMING in (c.get("model_conds") or {}) and _active(c, sigma)
           for group in conds if group for c in group):
        raise RuntimeError(_BYPASSED)
    return out


def _check_pixel_video_entries(entries, shape, native_keys, native_nodes: str, model: str, fills: str,
                               instead: str) -> None:
    """What a paradigm that reads one pixel video needs of every entry, checked before any encoding:
    no native input of the same kind beside it, conditions not encoded yet, the model's channels,
    the plan's size and length."""
    for c in entries:
        for key in native_keys:
            if c.get(key) is not None:
                raise ValueError(f"VideoCanvas conditions cannot be combined with a conditioning that "
                                 f"already carries {key} (set by {native_nodes}): both would fill the "
                                 f"{model}'s {fills}. {instead}")
        timing, latents = c["model_conds"][COND_TIMING].cond, c["model_conds"][COND_LATENTS].cond
        if not isinstance(latents, DeferredEncoding):
            raise ValueError(f"VideoCanvas conditions already encoded as single images reached a "
                             f"{model}, which needs them as one pixel video: use VideoCanvas Sampler or "
                             f"VideoCanvas Conditioning to attach them")
        if len(shape) == 5 and latents.channels != shape[1]:
            raise ValueError(f"vae: this VAE makes {latents.channels}-channel latents but the model "
                             f"denoises {shape[1]}: encode conditions with the model's VAE")
        check_latent_matches_plan(timing, latents.latent_hw, shape)


def _without_videocanvas_conds(c: dict) -> dict:
    return {k: v for k, v in c["model_conds"].items() if k not in (COND_LATENTS, COND_TIMING)}


def to_channels(guider, entries, shape) -> None:
    """Channel concatenation (OUTER_SAMPLE, before ComfyUI's process_conds): each entry's VideoCanvas
    conditions become ComfyUI's own concat_latent_image / concat_mask, as WanImageToVideo sets them,
    so ComfyUI's WAN21.concat_cond builds the model's mask and image channels; the VideoCanvas
    model_conds are removed, and the diffusion model runs unwrapped."""
    _check_pixel_video_entries(entries, shape, ("concat_latent_image", "concat_mask"),
                               "WanImageToVideo, WanFirstLastFrameToVideo or a similar node",
                               "Wan image-to-video model", "mask and image channels",
                               "Give the start/end frames as VideoCanvas conditions (frames 0 and -1) "
                               "instead")
    for c in entries:
        image, mask = c["model_conds"][COND_LATENTS].cond.channels_for_i2v()
        c["model_conds"] = _without_videocanvas_conds(c)
        c["concat_latent_image"], c["concat_mask"] = image, mask


def to_vace(guider, entries, shape) -> None:
    """VACE control (OUTER_SAMPLE, before ComfyUI's process_conds): each entry's VideoCanvas conditions
    become ComfyUI's own vace_frames / vace_mask / vace_strength, as WanVaceToVideo sets them, so
    ComfyUI's WAN21_Vace.extra_conds builds the model's vace_context; the VideoCanvas model_conds are
    removed, and the diffusion model runs unwrapped."""
    _check_pixel_video_entries(entries, shape, ("vace_frames", "vace_mask"), "WanVaceToVideo",
                               "Wan VACE model", "control video", "Give the control frames, clips and "
                               "masks as VideoCanvas conditions (Timestamp Conditioner, Inpaint, Extend, "
                               "...) instead")
    for c in entries:
        frames, mask = c["model_conds"][COND_LATENTS].cond.vace_inputs()
        c["model_conds"] = _without_videocanvas_conds(c)
        c["vace_frames"], c["vace_mask"], c["vace_strength"] = [frames], [mask], [1.0]


def refuse_on_ltx(guider, entries, shape) -> None:
    """An LTX-Video model reads VideoCanvas conditions only as guides that VideoCanvas Conditioning
    lays out with LTX-Video's VAE (no model_conds); conditions attached for a Wan model got here."""
    latents = entries[0]["model_conds"][COND_LATENTS].cond
    channels = latent_geometry(latents)[0]
    raise ValueError(f"vae: these VideoCanvas conditions were made with a {channels}-channel Wan VAE, but "
                     f"the model is LTX-Video, which reads them as guides laid out with its own VAE: give "
                     f"VideoCanvas Conditioning (or the Sampler) the VAE of the LTX-Video checkpoint")


# Paradigms whose model reads the conditions through inputs of its own (no forward of theirs): what
# turns an entry's VideoCanvas model_conds into those inputs, before ComfyUI's process_conds.
_MODEL_INPUTS = {CHANNEL_CONCAT: to_channels, VACE_CONTROL: to_vace, LTX_GUIDES: refuse_on_ltx,
                 LTX_IN_PLACE: refuse_on_ltx}
