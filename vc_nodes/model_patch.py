"""The VideoCanvas model patch: ComfyUI wrappers on a cloned Wan ModelPatcher (the engine of the
RoPE interpolator node). No maths here: the forward passes live in vc_core.wan_forward.

How conditions travel: a conditioning entry carries two `model_conds` (ComfyUI's own per-prompt
channel to the diffusion model): the encoded condition latents (CONDRegular, so cond/uncond
batching concatenates them) and their timing (CONDConstant, so only equal timings batch together).
ComfyUI passes both as extra keyword arguments to `WanModel.forward`, where the wrapper takes them.

Never silently wrong: the timing travels as a `PendingTiming`, which refuses to be used. Only the
patched model's OUTER_SAMPLE wrapper swaps it for a usable one (adding the sampler's seed and
checking the latent against the plan), so conditions that reach a model without the patch (say,
one A14B expert of two) stop the run with an error that says what to add, instead of being dropped.
Latents from VideoCanvas Conditioning arrive unencoded (`PendingLatents`): the same wrapper checks
memory first, then encodes. And a CALC_COND_BATCH wrapper stops a run whose conditions never
reached the VideoCanvas forward (another patch called Wan's own forward around it).

The wrappers, in the order a sampling run meets them:
  OUTER_SAMPLE     _accept_conditions         check, encode if deferred, seed, accept
  PREPARE_SAMPLING memory.py                  refuse by ComfyUI's estimate; reserve for the tokens
  CALC_COND_BATCH  _require_conditions_consumed
  DIFFUSION_MODEL  _VideoCanvasForward        the in-context forward (vc_core.wan_forward); with
                                              sparse / cached condition tokens, its keys/values
                                              cache lives in the run's state (one per run)

Forward compatibility: every wrapper takes `*args, **kwargs` and passes on what it does not know.
Inputs the VideoCanvas forward cannot honour are refused by name (see `_refuse_unhonoured`).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import NamedTuple

import comfy.conds
import comfy.ldm.wan.model as wan_model
import comfy.patcher_extension as pe
import torch

from ..vc_core.condition_tokens import (
    ConditionKVCache,
    ConditionTokenError,
    Footprint,
    check_options,
    check_trained_attention,
    weight_fingerprint,
)
from ..vc_core.in_context import PARADIGMS, require_full_strength
from ..vc_core.timing import POSITION_POLICIES
from ..vc_core.wan_forward import ConditionLatents, in_context_forward, latent_replacement_forward
from .encode import DeferredEncoding
from .hook_state import hooks_in_force
from .interrupt import interruptible
from .memory import MEMORY_WRAPPERS, apply_memory_patches, check_condition_memory
from .patch_state import WRAPPER_KEY, paradigm_of
from .types import COND_LATENTS, COND_TIMING

# Wan variants whose forward differs from WanModel's: named so the refusal says what was given.
_OTHER_WAN_KINDS = {
    "VaceWanModel": "Wan VACE",
    "CameraWanModel": "Wan Fun camera",
    "WanModel_S2V": "Wan S2V (speech to video)",
    "HumoWanModel": "Wan HuMo",
    "AnimateWanModel": "Wan Animate",
}


# ComfyUI model kinds (comfy.model_base classes) that sample a plain Wan T2V / TI2V-5B diffusion
# model with flow matching. Any other kind (WAN21_FlowRVS samples differently; future kinds may add
# inputs) is refused by name rather than conditioned wrongly.
_SUPPORTED_MODEL_KINDS = ("WAN21", "WAN22")

# Named inputs of WanModel._forward that the VideoCanvas forward (which stands in for _forward)
# handles itself. Others that a newer _forward consumes are refused by name (_refuse_unhonoured).
_HANDLED_FORWARD_INPUTS = {"self", "x", "timestep", "context", "clip_fea", "time_dim_concat",
                           "transformer_options", "kwargs", "args"}
# Inputs newer WanModel._forward bodies consume through **kwargs (in-context references appended
# with their own RoPE): honouring them would need their layout, so they are refused by name.
_UNHONOURED_INPUTS = ("context_latents",)


class UnsupportedModel(ValueError):
    pass


class NotPatched(ValueError):
    pass


class ConditionTiming(NamedTuple):
    """Hashable and comparable: CONDConstant batches cond/uncond only when timings are equal.

    length: the pixel length the conditions were planned for (None: not checked); seed: the
    sampler's seed, filled in when a patched model accepts the conditions (strength noise)."""

    frames: tuple[int, ...]
    strengths: tuple[float, ...]
    stride: int
    length: int | None = None
    seed: int | None = None
    origins: tuple[str, ...] = ()  # per condition frame, where it came from in the graph
    footprint: Footprint | None = None  # where the canvases hold patch pixels (sparse tokens)


_NOT_PATCHED = ("VideoCanvas conditions reached a model that was not patched for them, so they "
                "would be ignored. Put the model through 'VideoCanvas RoPE Interpolator' before this "
                "sampler (for Wan 2.2 A14B: both the high-noise and the low-noise expert), or use "
                "'VideoCanvas Sampler', which patches the model itself")


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


class PendingTiming(comfy.conds.CONDConstant):
    """The timing as the conditioning carries it: unusable until a patched model accepts it."""

    def process_cond(self, *args, **kwargs):
        raise NotPatched(_NOT_PATCHED)


class PendingLatents(comfy.conds.CONDRegular):
    """Condition latents not encoded yet (a DeferredEncoding from VideoCanvas Conditioning): the
    patched model encodes them after its memory check; any other use means no patch saw them."""

    def __init__(self, cond):
        self.cond = cond

    def process_cond(self, *args, **kwargs):
        raise NotPatched(_NOT_PATCHED)

    def size(self):  # ComfyUI's memory estimate asks before any step
        raise NotPatched(_NOT_PATCHED)


def describe_model(model) -> str:
    """'Wan 2.1/2.2 T2V (16-ch)' / 'Wan 2.2 TI2V-5B (48-ch)' / 'Wan image-to-video (36-ch: ...)', or
    UnsupportedModel naming what it is."""
    diffusion = model.get_model_object("diffusion_model")
    cls = type(diffusion).__name__
    if not isinstance(diffusion, wan_model.WanModel):
        raise UnsupportedModel(f"model: VideoCanvas needs a Wan model (Wan 2.1 T2V 1.3B/14B, Wan 2.2 "
                               f"TI2V-5B or the A14B experts, or a Wan image-to-video model); got {cls} "
                               f"({type(model.model).__name__})")
    kind_name = type(model.model).__name__
    if type(diffusion) is wan_model.WanModel and kind_name not in _SUPPORTED_MODEL_KINDS:
        raise UnsupportedModel(f"model: ComfyUI loaded this Wan model as {kind_name}, which samples "
                               f"differently from Wan T2V; VideoCanvas supports "
                               f"{' and '.join(_SUPPORTED_MODEL_KINDS)} (Wan 2.1 T2V, Wan 2.2 TI2V-5B, "
                               f"the A14B experts and Wan image-to-video models)")
    if type(diffusion) is not wan_model.WanModel:
        kind = _OTHER_WAN_KINDS.get(cls, cls)
        raise UnsupportedModel(f"model: {kind} models are not supported by VideoCanvas (their "
                               f"forward adds inputs of its own); use a Wan T2V, TI2V-5B or "
                               f"image-to-video model")
    in_dim, out_dim = diffusion.patch_embedding.weight.shape[1], diffusion.out_dim
    if is_channel_concat_model(model):
        return f"Wan image-to-video ({in_dim}-ch: {out_dim} noise + 4 mask + {out_dim} image)"
    if in_dim != out_dim:
        raise UnsupportedModel(f"model: a Wan model with {in_dim} input channels for {out_dim} latent "
                               f"channels is not one VideoCanvas knows (Fun control and similar "
                               f"variants); use a Wan T2V, TI2V-5B or image-to-video ({2 * out_dim + 4} "
                               f"channels: noise + mask + image) model")
    if in_dim == 16:
        return "Wan 2.1/2.2 T2V (16-ch)"
    if in_dim == 48:
        return "Wan 2.2 TI2V-5B (48-ch)"
    raise UnsupportedModel(f"model: a Wan model with {in_dim} latent channels is not a known "
                           f"VideoCanvas target (16 = Wan 2.1 VAE, 48 = Wan 2.2 VAE)")


def is_channel_concat_model(model) -> bool:
    """A Wan image-to-video model: noise + 4 mask + image-latent input channels (Wan 2.1 I2V
    480p/720p, FLF2V, Fun-InP, Wan 2.2 A14B I2V), which ComfyUI's WAN21.concat_cond feeds from the
    conditioning's concat_latent_image / concat_mask."""
    diffusion = model.get_model_object("diffusion_model")
    if type(diffusion) is not wan_model.WanModel or type(model.model).__name__ != "WAN21":
        return False
    return diffusion.patch_embedding.weight.shape[1] == 2 * diffusion.out_dim + 4


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


class _VideoCanvasForward:
    """DIFFUSION_MODEL wrapper. Without conditions it passes straight through (bit-identical).

    With conditions it runs the rest of the wrapper chain (diffusion-model wrappers added after this
    one, e.g. EasyCache, still run) with the VideoCanvas forward in place of `_forward` as the
    innermost call, since `_forward` can only build contiguous positions.
    """

    def __init__(self, policy: str, paradigm: str, latent_format, condition_tokens: str = "full",
                 condition_attention: str = "two-way"):
        self.policy, self.paradigm, self.latent_format = policy, paradigm, latent_format
        self.condition_tokens, self.condition_attention = condition_tokens, condition_attention

    def __call__(self, executor, *args, **kwargs):
        latents = kwargs.pop(COND_LATENTS, None)
        timing = kwargs.pop(COND_TIMING, None)
        if latents is None or timing is None or not timing.frames:
            return executor(*args, **kwargs)
        if self.paradigm == CHANNEL_CONCAT:  # _to_channels turns them into channels before any step
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
        # model accepted the conditions (_accept_conditions): only accepted timings get here.
        conditions = ConditionLatents(self.latent_format.process_in(latents), timing.frames,
                                      timing.strengths, timing.stride,
                                      seed=0 if timing.seed is None else timing.seed,
                                      footprint=timing.footprint)
        if self.paradigm == "latent_replacement":
            return latent_replacement_forward(wan, x, timestep, context, conditions, clip_fea=clip_fea,
                                              transformer_options=transformer_options, **kwargs)
        options = {}
        if (self.condition_tokens, self.condition_attention) != ("full", "two-way"):
            from comfy.ldm.modules.attention import optimized_attention  # the kernel ComfyUI chose

            options = {"condition_tokens": self.condition_tokens,
                       "condition_attention": self.condition_attention,
                       "attention": optimized_attention, "kv_cache": kv_cache}
        return in_context_forward(wan, x, timestep, context, conditions, self.policy,
                                  clip_fea=clip_fea, transformer_options=transformer_options,
                                  **options, **kwargs)


def check_latent_matches_plan(timing: ConditionTiming, latent_hw, shape) -> None:
    """Conditions planned for one length or size, sampled on a latent of another: refuse, naming both."""
    if len(shape) != 5:
        return
    f, h, w = shape[2], shape[3], shape[4]
    ch, cw = latent_hw
    planned_f = None if timing.length is None else (timing.length - 1) // timing.stride + 1
    if (ch, cw) != (h, w) or (planned_f is not None and planned_f != f):
        planned = (f"{timing.length} frames ({planned_f} latent frames)" if timing.length is not None
                   else "its length")
        given = f"{(f - 1) * timing.stride + 1} frames ({f} latent frames)"
        raise ValueError(f"latent_image: the VideoCanvas conditions were planned for {planned} at a "
                         f"{cw}x{ch} latent, but the sampler was given a latent of {given} at "
                         f"{w}x{h}. Use the latent the VideoCanvas Conditioning node outputs, or set "
                         f"its width, height and length to the latent's")


def _latent_geometry(latents) -> tuple[int, tuple[int, int], int]:
    """(channels, latent h x w, number of conditions) of encoded latents [1, C, K, h, w] or of a
    DeferredEncoding (known without encoding)."""
    if isinstance(latents, DeferredEncoding):
        return latents.channels, latents.latent_hw, latents.num_conditions
    return int(latents.shape[1]), tuple(latents.shape[-2:]), int(latents.shape[2])


def _accept_conditions(executor, *args, **kwargs):
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
    if entries and (guider.model_options or {}).get("context_handler") is not None:
        raise ValueError("VideoCanvas conditions cannot be combined with context windows (the "
                         "Context Windows node): each window would need its own condition positions. "
                         "Remove the context windows, or sample the whole length at once")
    if entries and paradigm == CHANNEL_CONCAT:
        _to_channels(guider, entries, shape)
        return _sample_interruptibly(guider, executor, *args, **kwargs)
    # Every check first, for every entry, so that nothing is encoded for a run that is refused.
    for c in entries:
        timing, latents = c["model_conds"][COND_TIMING].cond, c["model_conds"][COND_LATENTS].cond
        if paradigm == "latent_replacement":
            require_full_strength(paradigm, timing.strengths, timing.frames, timing.origins)
        channels, latent_hw, count = _latent_geometry(latents)
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


def _require_conditions_consumed(executor, *args, **kwargs):
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


def check_condition_options(paradigm: str, condition_tokens: str, condition_attention: str) -> None:
    """The condition-token options, and refusals where they cannot go with the paradigm."""
    check_options(condition_tokens, condition_attention)
    if paradigm == "latent_replacement" and (condition_tokens, condition_attention) != ("full",
                                                                                        "two-way"):
        raise ValueError(f"condition_tokens={condition_tokens!r}, condition_attention="
                         f"{condition_attention!r}: the latent_replacement paradigm has no condition "
                         f"tokens (conditions overwrite video latent slots), so only 'full' and "
                         f"'two-way' go with it; use the in_context paradigm for sparse or cached")


# The pack's own models whose condition attention in training is known (models/MODEL_CARD.md),
# relative to its models/ folder; files not there are skipped.
TRAINED_ATTENTION = {
    "diffusion_models/videocanvas_toy_t2v.safetensors": "two-way",
    "ablations/videocanvas_toy_t2v_nearest.safetensors": "two-way",
    "ablations/videocanvas_toy_t2v_cached.safetensors": "cached",
    "ablations/videocanvas_toy_t2v_sparse.safetensors": "two-way",  # trained with sparse tokens
}
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def known_models(root: Path = MODELS_DIR, table: dict | None = None) -> dict[str, tuple[str, str]]:
    """Fingerprints of the known models' patch embeddings (one tensor read from each file)."""
    from safetensors import safe_open

    known = {}
    for rel, mode in (TRAINED_ATTENTION if table is None else table).items():
        path = Path(root) / rel
        if path.is_file():
            with safe_open(str(path), framework="pt") as f:
                known[weight_fingerprint(f.get_tensor("patch_embedding.weight"))] = (path.name, mode)
    return known


@functools.cache
def _shipped_models() -> dict[str, tuple[str, str]]:
    return known_models()


def trained_attention(model, known: dict | None = None) -> tuple[str, str] | None:
    """(file name, condition attention it was trained with) of a known model, else None."""
    known = _shipped_models() if known is None else known
    weight = model.get_model_object("diffusion_model").patch_embedding.weight
    return known.get(weight_fingerprint(weight))


def patch_model(model, policy: str = "interpolate", paradigm: str = "in_context",
                condition_tokens: str = "full", condition_attention: str = "two-way",
                check_training: bool = True):
    """A clone of `model` that consumes VideoCanvas conditions. Re-patching replaces the settings.
    check_training=False skips the refusal of a known model run with the other condition attention
    (for the benchmark that measures what that costs)."""
    if policy not in POSITION_POLICIES:
        raise ValueError(f"position_policy must be one of {POSITION_POLICIES}; got {policy!r}")
    if paradigm not in PARADIGMS:
        raise ValueError(f"paradigm must be one of {PARADIGMS}; got {paradigm!r}")
    check_condition_options(paradigm, condition_tokens, condition_attention)
    describe_model(model)
    if is_channel_concat_model(model):
        return _patch_channel_concat(model, policy, paradigm, condition_tokens, condition_attention)
    if check_training and paradigm == "in_context":
        try:
            check_trained_attention(trained_attention(model), condition_attention)
        except ConditionTokenError as err:
            raise ValueError(str(err)) from None
    patched = model.clone()
    forward = _VideoCanvasForward(policy, paradigm, patched.get_model_object("latent_format"),
                                  condition_tokens, condition_attention)
    _install_wrappers(patched, ((pe.WrappersMP.DIFFUSION_MODEL, forward),
                                (pe.WrappersMP.OUTER_SAMPLE, _accept_conditions),
                                (pe.WrappersMP.CALC_COND_BATCH, _require_conditions_consumed),
                                *MEMORY_WRAPPERS))
    apply_memory_patches(patched, paradigm)
    return patched


def _install_wrappers(patched, wrappers) -> None:
    """The pack's wrappers on a clone: these (kind, function) pairs, and none left of an earlier
    patch's (re-patching replaces the settings, and a model re-patched for another paradigm keeps
    no wrapper of the old one)."""
    for kind in (pe.WrappersMP.DIFFUSION_MODEL, pe.WrappersMP.OUTER_SAMPLE,
                 pe.WrappersMP.CALC_COND_BATCH, *(k for k, _ in MEMORY_WRAPPERS)):
        patched.remove_wrappers_with_key(kind, WRAPPER_KEY)
    for kind, fn in wrappers:
        patched.add_wrapper_with_key(kind, WRAPPER_KEY, fn)


# The paradigm of Wan image-to-video models: conditions enter through the model's own mask and
# image channels (ComfyUI's concat_latent_image / concat_mask), built by vc_core.channel_concat.
CHANNEL_CONCAT = "channel_concat"
_IN_CONTEXT_DEFAULTS = {"position_policy": "interpolate", "paradigm": "in_context",
                        "condition_tokens": "full", "condition_attention": "two-way"}


def _patch_channel_concat(model, policy, paradigm, condition_tokens, condition_attention):
    """The patch for a Wan image-to-video model. Options of in-context conditioning cannot apply to a
    model that reads conditions as channels: any one set away from its default is refused by name."""
    given = {"position_policy": policy, "paradigm": paradigm, "condition_tokens": condition_tokens,
             "condition_attention": condition_attention}
    for name, value in given.items():
        if value != _IN_CONTEXT_DEFAULTS[name]:
            raise ValueError(f"{name}={value!r}: this is a Wan image-to-video model ("
                             f"{describe_model(model)}), which takes VideoCanvas conditions through "
                             f"its own mask and image channels, not in context, so the RoPE "
                             f"Interpolator's {name} cannot apply to it. Leave position_policy, "
                             f"paradigm, condition_tokens and condition_attention at their defaults "
                             f"(interpolate, in_context, full, two-way), or use a Wan T2V model")
    patched = model.clone()
    forward = _VideoCanvasForward("interpolate", CHANNEL_CONCAT,
                                  patched.get_model_object("latent_format"))
    # no CALC_COND_BATCH or memory wrappers: the conditions become channels, no tokens to count
    _install_wrappers(patched, ((pe.WrappersMP.DIFFUSION_MODEL, forward),
                                (pe.WrappersMP.OUTER_SAMPLE, _accept_conditions)))
    apply_memory_patches(patched, CHANNEL_CONCAT)
    return patched


def _to_channels(guider, entries, shape) -> None:
    """Channel concatenation (OUTER_SAMPLE, before ComfyUI's process_conds): each entry's VideoCanvas
    conditions become ComfyUI's own concat_latent_image / concat_mask, as WanImageToVideo sets them,
    so ComfyUI's WAN21.concat_cond builds the model's mask and image channels; the VideoCanvas
    model_conds are removed, and the diffusion model runs unwrapped."""
    for c in entries:
        for key in ("concat_latent_image", "concat_mask"):
            if c.get(key) is not None:
                raise ValueError(f"VideoCanvas conditions cannot be combined with a conditioning that "
                                 f"already carries {key} (set by WanImageToVideo, "
                                 f"WanFirstLastFrameToVideo or a similar node): both would fill the "
                                 f"image-to-video model's mask and image channels. Give the start/end "
                                 f"frames as VideoCanvas conditions (frames 0 and -1) instead")
        timing, latents = c["model_conds"][COND_TIMING].cond, c["model_conds"][COND_LATENTS].cond
        if not isinstance(latents, DeferredEncoding):
            raise ValueError("VideoCanvas conditions already encoded as single images reached a Wan "
                             "image-to-video model, which needs them as one pixel video: use VideoCanvas "
                             "Sampler or VideoCanvas Conditioning to attach them")
        if len(shape) == 5 and latents.channels != shape[1]:
            raise ValueError(f"vae: this VAE makes {latents.channels}-channel latents but the model "
                             f"denoises {shape[1]}: encode conditions with the model's VAE")
        check_latent_matches_plan(timing, latents.latent_hw, shape)
    for c in entries:
        image, mask = c["model_conds"][COND_LATENTS].cond.channels_for_i2v()
        c["model_conds"] = {k: v for k, v in c["model_conds"].items()
                            if k not in (COND_LATENTS, COND_TIMING)}
        c["concat_latent_image"], c["concat_mask"] = image, mask


def attach_conditions(conditioning: list, latents, frames, strengths, stride: int,
                      length: int | None = None, origins=(), masks=None) -> list:
    """A copy of a CONDITIONING list whose entries carry the conditions, planned for `length`
    frames: raw VAE latents [1, C, K, h, w] (the patched model applies its latent format), or a
    DeferredEncoding that the patched model encodes before sampling. masks: the plan's pixel masks
    [K, H, W], what sparse condition tokens keep (without them, sparse keeps every token)."""
    footprint = None if masks is None else Footprint.from_masks(masks, _latent_geometry(latents)[1])
    timing = ConditionTiming(tuple(int(f) for f in frames), tuple(float(s) for s in strengths),
                             int(stride), None if length is None else int(length),
                             origins=tuple(origins), footprint=footprint)
    out = []
    for tensor, extras in conditioning:
        extras = dict(extras)
        model_conds = dict(extras.get("model_conds", {}))
        model_conds[COND_LATENTS] = (PendingLatents(latents) if isinstance(latents, DeferredEncoding)
                                     else comfy.conds.CONDRegular(latents))
        model_conds[COND_TIMING] = PendingTiming(timing)
        extras["model_conds"] = model_conds
        out.append([tensor, extras])
    return out
