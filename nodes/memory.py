"""Memory: refuse an absurd request before anything heavy is done, by ComfyUI's own estimates, and
make ComfyUI's per-step cond/uncond batching count the condition tokens.

Every in-context condition adds one full latent frame of tokens to each forward. ComfyUI sizes
memory from the noise shape alone, so without this module it under-estimates dense requests (81
inpainting conditions on 21 latent frames: ~5x) in two places:
- `prepare_sampling` (how much to reserve when loading the model): the PREPARE_SAMPLING wrapper
  refuses a run whose minimum need exceeds the memory the device can free, and reserves with the
  condition frames included;
- `calc_cond_batch` (whether cond and uncond run in one forward): it calls
  `BaseModel.memory_required(shape, cond_shapes=...)`, which adds the shapes of the model_conds named
  in the model's `memory_usage_factor_conds`. `apply_memory_patches` puts the condition latents there
  with an object patch on the patched ModelPatcher (applied to the model when ComfyUI loads it), so
  ComfyUI's own decision counts them.
"""

from __future__ import annotations

import math

import comfy.patcher_extension as pe

from .types import COND_LATENTS

# A hard cap on tokens per sample (video + conditions) for requests checked without a model (the
# VideoCanvas Conditioning node). 2^23 tokens: ComfyUI's own estimate for the smallest Wan (1.3B,
# memory_usage_factor 1536/2222) with its leanest formula (flash attention, bf16: 0.01 MiB x 2 bytes
# x factor per latent pixel, 4 latent pixels per token) is 453 GiB for ONE sample, more than any
# single accelerator holds; and one forward would take hours. No real model can run it.
TOKEN_CAP = 2 ** 23
_SMALLEST_WAN_GIB_AT_CAP = 453
_FACTOR_CONDS = "memory_usage_factor_conds"
_PATCH_TOKENS = 4  # Wan's patch is 1x2x2 latent pixels


def size_text(n: float) -> str:
    return f"{n / 2 ** 30:.1f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"


def tokens_per_sample(latent_frames: int, latent_h: int, latent_w: int, conditions: int) -> int:
    return (latent_frames + conditions) * latent_h * latent_w // _PATCH_TOKENS


def available_memory(device) -> int:
    """What ComfyUI can make free on `device` for inference: its free memory now, plus (off the CPU)
    the weights of the models loaded there, which ComfyUI offloads when it needs the room."""
    import comfy.model_management as mm

    free = mm.get_free_memory(device)
    if getattr(device, "type", str(device)) in ("cpu", "mps"):
        return free  # weights in RAM stay in RAM: nothing more to free
    for loaded in list(mm.current_loaded_models):
        if loaded.model is not None and loaded.device == device:
            free += loaded.model_loaded_memory()
    return free


def adds_tokens(model) -> bool:
    """Whether conditions add latent frames of tokens on this model: in context (the VideoCanvas
    paradigm, also what VideoCanvas Sampler patches an unpatched model with); latent replacement
    overwrites video slots instead."""
    from .model_patch import paradigm_of  # model_patch imports this module

    return paradigm_of(model) in (None, "in_context")


def _frames_text(f: int, conditions: int) -> str:
    plural = "s" if conditions != 1 else ""
    return f"{f} video latent frames" + (f" + {conditions} condition frame{plural}" if conditions else "")


def _fix(conditions: int) -> str:
    return ("Use fewer conditions (e.g. every 4th frame), a shorter length or a smaller size"
            if conditions else "Use a shorter length or a smaller size")


def check_token_cap(shape, conditions: int) -> None:
    """shape: the video latent [B, C, F, h, w]. Refuses more than TOKEN_CAP tokens per sample."""
    _, _, f, h, w = shape
    tokens = tokens_per_sample(f, h, w, conditions)
    if tokens > TOKEN_CAP:
        per_frame = h * w // _PATCH_TOKENS
        blamed = "conditions" if conditions else "length"
        raise ValueError(f"{blamed}: this request makes {tokens:,} tokens per sample "
                         f"({_frames_text(f, conditions)}, {per_frame:,} tokens each); VideoCanvas "
                         f"refuses more than {TOKEN_CAP:,}, which no real model can run (even Wan "
                         f"1.3B would need over {_SMALLEST_WAN_GIB_AT_CAP} GiB by ComfyUI's "
                         f"estimate). {_fix(conditions)}")


def check_render_memory(conditions: int, width: int, height: int, latent_shape=None) -> None:
    """RAM for what the plan renders before encoding (one RGB canvas and one mask per condition,
    float32) and for the empty video latent, against the free memory of ComfyUI's intermediate
    device, where both live."""
    import comfy.model_management as mm

    canvases = conditions * width * height * 4 * 4
    latent = 0 if latent_shape is None else math.prod(latent_shape) * 4
    device = mm.intermediate_device()
    have = mm.get_free_memory(device)
    if canvases + latent > have:
        latent_part = f" and the empty latent {size_text(latent)}" if latent_shape is not None else ""
        raise ValueError(f"conditions: {conditions} condition canvases of {width}x{height} need "
                         f"{size_text(canvases)}{latent_part}, more than the {size_text(have)} free on "
                         f"{device}. Use fewer conditions or a smaller size")


def condition_cache_bytes(model, noise_shape, conditions: int) -> int:
    """What cached condition attention keeps for a run (vc_core.condition_tokens): keys and values
    of every condition token in every block, for each cond and uncond row; 0 for other options.
    Counts every condition token (sparse keeps at most these)."""
    from .model_patch import condition_options_of  # model_patch imports this module

    options = condition_options_of(model)
    if options is None or options[1] != "cached" or len(noise_shape) != 5 or not conditions:
        return 0
    import comfy.model_management as mm

    wan = model.get_model_object("diffusion_model")
    dtype = model.model.manual_cast_dtype or model.model.get_dtype()
    b, _, _, h, w = noise_shape
    tokens = conditions * h * w // _PATCH_TOKENS
    return 2 * len(wan.blocks) * tokens * wan.dim * (2 * b) * mm.dtype_size(dtype)


def check_condition_memory(model, noise_shape, conditions: int, blamed: str = "conditions") -> None:
    """Refuse a sampling run that cannot fit even with cond and uncond run one at a time (ComfyUI's
    minimum), by the model's own estimate with the condition frames counted (and, with cached
    condition attention, its keys/values cache), against the memory its load device can free.
    noise_shape: the video latent [B, C, F, h, w]."""
    if len(noise_shape) != 5:
        return
    b, c, f, h, w = noise_shape
    extra = conditions if adds_tokens(model) else 0
    cache = condition_cache_bytes(model, noise_shape, extra)
    need = model.model.memory_required([b, c, f + extra, h, w]) + cache
    have = available_memory(model.load_device)
    if need > have:
        tokens = tokens_per_sample(f, h, w, extra)
        cached = f" with {size_text(cache)} of cached condition keys/values" if cache else ""
        raise ValueError(f"{blamed if conditions else 'length'}: this request makes {tokens:,} "
                         f"tokens per sample ({_frames_text(f, extra)}); ComfyUI estimates "
                         f"{size_text(need)} to sample that (cond and uncond one at a time"
                         f"{cached}), more than the {size_text(have)} free on {model.load_device}. "
                         f"{_fix(conditions)}")


def _condition_frames(conds: dict) -> int:
    most = 0
    for entries in conds.values():
        for c in entries:
            lat = (c.get("model_conds") or {}).get(COND_LATENTS)
            if lat is not None:
                most = max(most, lat.cond.shape[2])
    return most


def _prepare_sampling_with_condition_memory(executor, model, noise_shape, conds, *args, **kwargs):
    """PREPARE_SAMPLING wrapper: refuse before the model is loaded if the run cannot fit, then let
    ComfyUI reserve memory for the condition frames too (it sizes from the noise shape)."""
    extra = _condition_frames(conds)
    if extra and len(noise_shape) == 5:
        check_condition_memory(model, noise_shape, extra, blamed="VideoCanvas conditions")
        if adds_tokens(model):
            cache = condition_cache_bytes(model, noise_shape, extra)
            if cache:  # ComfyUI reserves by shape: the cache as the latent frames it weighs as much as
                per_frame = model.model.memory_required([noise_shape[0], noise_shape[1], 1,
                                                         *noise_shape[3:]])
                extra += math.ceil(cache / per_frame)
            noise_shape = [noise_shape[0], noise_shape[1], noise_shape[2] + extra, *noise_shape[3:]]
    return executor(model, noise_shape, conds, *args, **kwargs)  # unknown arguments pass on


def apply_memory_patches(patched, paradigm: str) -> None:
    """Make ComfyUI's `BaseModel.memory_required(shape, cond_shapes)` count the condition latents
    (shape [B, C, K, h, w]: K latent frames of tokens, the same units as the noise) when the
    conditions join in context; an object patch, so only this patched clone's model counts them."""
    current = tuple(c for c in patched.get_model_object(_FACTOR_CONDS) if c != COND_LATENTS)
    patched.add_object_patch(_FACTOR_CONDS, current + ((COND_LATENTS,) if paradigm == "in_context"
                                                       else ()))


# (wrapper type, function) pairs the model patch registers under its key.
MEMORY_WRAPPERS = [(pe.WrappersMP.PREPARE_SAMPLING, _prepare_sampling_with_condition_memory)]
