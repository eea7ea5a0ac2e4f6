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
from pathlib import Path

import comfy.patcher_extension as pe

from ..vc_core import memory_estimates as est
from ..vc_core.paradigms import PARADIGMS
from .patch_state import condition_options_of, paradigm_of
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


def tokens_per_sample(latent_frames: int, latent_h: int, latent_w: int, conditions: int,
                      patch_tokens: int = _PATCH_TOKENS) -> int:
    return (latent_frames + conditions) * latent_h * latent_w // patch_tokens


# Kept free under a hard limit (an rlimit or cgroup kills or fails the process past it): what the
# estimates leave out (Python objects, allocator slack, other threads).
MARGIN = 256 * 2 ** 20


def _status_bytes(field: str) -> int | None:
    """A 'kB' field of /proc/self/status (VmSize, VmData, VmRSS) in bytes; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit (v2 memory.max, v1 limit_in_bytes)."""
    try:
        entries = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for entry in entries:
        _, controllers, path = entry.split(":", 2)
        if controllers == "":
            files = ("memory.max", "memory.current")
            root = Path("/sys/fs/cgroup")
        elif "memory" in controllers.split(","):
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
            root = Path("/sys/fs/cgroup/memory")
        else:
            continue
        try:
            limit, used = ((root / path.lstrip("/") / f).read_text().strip() for f in files)
            if limit != "max" and int(limit) < 2 ** 60:  # v1 spells "no limit" as ~2^63
                return int(limit) - int(used)
        except (OSError, ValueError):
            continue
    return None


def process_room() -> tuple[int, str]:
    """(bytes this process may still allocate, what sets that): the least of the RAM ComfyUI sees
    free, the room under its cgroup's memory limit and under its RLIMIT_AS / RLIMIT_DATA; hard
    limits less MARGIN."""
    import comfy.model_management as mm
    import torch

    rooms = [(mm.get_free_memory(torch.device("cpu")), "free on cpu")]
    cgroup = _cgroup_room()
    if cgroup is not None:
        rooms.append((cgroup - MARGIN, "left under this process's cgroup memory limit"))
    try:
        import resource
    except ImportError:  # Windows: no rlimits
        resource = None
    if resource is not None:
        for name, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
            soft = resource.getrlimit(getattr(resource, name))[0]
            now = _status_bytes(used)
            if soft != resource.RLIM_INFINITY and now is not None:
                rooms.append((soft - now - MARGIN, f"left under this process's {name}"))
    have, why = min(rooms, key=lambda r: r[0])
    return max(0, int(have)), why


def memory_room(device) -> tuple[int, str]:
    """(bytes, what sets that) that ComfyUI can make free on `device` for inference: on the CPU
    what this process may still use (process_room); elsewhere its free memory plus the weights of
    the models loaded there, which ComfyUI offloads when it needs the room."""
    import comfy.model_management as mm

    if getattr(device, "type", str(device)) in ("cpu", "mps"):
        return process_room()  # weights in RAM stay in RAM: nothing more to free
    free = mm.get_free_memory(device)
    for loaded in list(mm.current_loaded_models):
        if loaded.model is not None and loaded.device == device:
            free += loaded.model_loaded_memory()
    return free, f"free on {device}"


def available_memory(device) -> int:
    return memory_room(device)[0]


def adds_tokens(model) -> bool:
    """Whether conditions add latent frames of tokens on this model: in context (the VideoCanvas
    paradigm, also what VideoCanvas Sampler patches an unpatched model with); latent replacement
    overwrites video slots instead."""
    return PARADIGMS[paradigm_of(model) or "in_context"].adds_tokens


def _frames_text(f: int, conditions: int) -> str:
    plural = "s" if conditions != 1 else ""
    return f"{f} video latent frames" + (f" + {conditions} condition frame{plural}" if conditions else "")


def _fix(conditions: int) -> str:
    return ("Use fewer conditions (e.g. every 4th frame), a shorter length or a smaller size"
            if conditions else "Use a shorter length or a smaller size")


def check_token_cap(shape, conditions: int, patch_tokens: int = _PATCH_TOKENS) -> None:
    """shape: the video latent [B, C, F, h, w]; patch_tokens: latent cells per token (Wan 4, LTX-Video
    1). Refuses more than TOKEN_CAP tokens per sample."""
    _, _, f, h, w = shape
    tokens = tokens_per_sample(f, h, w, conditions, patch_tokens)
    if tokens > TOKEN_CAP:
        per_frame = h * w // patch_tokens
        blamed = "conditions" if conditions else "length"
        raise ValueError(f"{blamed}: this request makes {tokens:,} tokens per sample "
                         f"({_frames_text(f, conditions)}, {per_frame:,} tokens each); VideoCanvas "
                         f"refuses more than {TOKEN_CAP:,}, which no real model can run (even Wan "
                         f"1.3B would need over {_SMALLEST_WAN_GIB_AT_CAP} GiB by ComfyUI's "
                         f"estimate). {_fix(conditions)}")


def _fits_text(width: int, height: int, need: int, have: int, power: float = 1.0) -> str:
    w, h = est.scaled_size(width, height, need, have, power=power)
    return f"at most about {w}x{h} fits" if w else "not even the smallest size fits"


def vae_pass_need(vae, pixels: int) -> int | None:
    """Estimated CPU peak of one pass of `vae` over `pixels` pixels (vc_core.memory_estimates), for a
    Wan 2.1-family VAE (its base width `dim` known) running on the CPU; None otherwise (on a GPU
    ComfyUI batches and tiles by its own estimate, and falls back to tiles when memory runs out)."""
    model = getattr(vae, "first_stage_model", None)
    device = getattr(vae, "device", None)
    if getattr(device, "type", str(device)) != "cpu" or not isinstance(getattr(model, "dim", None), int):
        return None
    return est.vae_pass_bytes(pixels, model.dim)


def check_render_memory(conditions: int, width: int, height: int, latent_shape=None,
                        vae=None) -> None:
    """Refuse before rendering when the conditions' canvases (with the placement's temporaries), the
    empty video latent, or (given the VAE) encoding them one canvas at a time cannot fit in what
    this process may use (process_room)."""
    have, why = process_room()
    latent = 0 if latent_shape is None else math.prod(latent_shape) * est.FLOAT32
    render = est.render_bytes(conditions, width, height)
    if render + latent > have:
        latent_part = f" and the empty latent {size_text(latent)}" if latent_shape is not None else ""
        fit = est.largest_count(have - latent, est.RENDER_PER_CONDITION_PIXEL * width * height,
                                est.RENDER_ONCE_PER_PIXEL * width * height)
        fits = (f"at most {fit} condition{'s' if fit != 1 else ''} fit at this size" if fit
                else _fits_text(width, height, render + latent, have))
        raise ValueError(f"conditions: rendering {conditions} condition canvas"
                         f"{'es' if conditions != 1 else ''} of {width}x{height} needs an estimated "
                         f"{size_text(render)}{latent_part}, more than the {size_text(have)} {why}; "
                         f"{fits}. Use fewer conditions or a smaller size")
    one = vae_pass_need(vae, width * height) if conditions and vae is not None else None
    if one is not None:
        held = est.held_canvas_bytes(conditions, width, height) + latent
        if held + one > have:
            raise ValueError(f"canvas: VAE-encoding one {width}x{height} condition canvas needs an "
                             f"estimated {size_text(one)} on the CPU (with the {conditions} rendered "
                             f"canvases {size_text(held)} held), more than the {size_text(have)} "
                             f"{why}; {_fits_text(width, height, held + one, have)}. Use a smaller "
                             f"size")


def encode_batch(vae, conditions: int, width: int, height: int) -> int:
    """How many canvases to encode per VAE call so that one call fits what this process may use
    (all of them where the VAE's cost is not known: ComfyUI batches by its own estimate)."""
    one = vae_pass_need(vae, width * height)
    if one is None or not conditions:
        return max(1, conditions)
    return max(1, min(conditions, process_room()[0] // max(1, one)))


def check_decode_memory(vae, latent_shape, frames: int, width: int, height: int,
                        tile: int = 0) -> None:
    """Refuse a decode whose output (float32 frames) and, for a Wan 2.1-family VAE on the CPU, the
    decoder's own peak (whole frames, or one tile of `tile` px) cannot fit in what this process
    may use."""
    have, why = process_room()
    out = est.image_bytes(frames, width, height)
    pixels = frames * (min(tile, width) * min(tile, height) if tile else width * height)
    vae_need = vae_pass_need(vae, pixels) or 0
    need = out + vae_need
    if need > have:
        shape = "x".join(str(int(v)) for v in latent_shape)
        tiles = f" in {tile} px tiles" if tile else ""
        raise ValueError(f"latent: decoding this latent ({shape}) to {frames} frames of {width}x{height}"
                         f"{tiles} needs an estimated {size_text(need)} (the frames "
                         f"{size_text(out)}{f', the VAE {size_text(vae_need)}' if vae_need else ''}), "
                         f"more than the {size_text(have)} {why}; "
                         f"{_fits_text(width, height, need, have)} at this length. Decode fewer "
                         f"frames (a shorter length) or a smaller size")


def condition_cache_bytes(model, noise_shape, conditions: int) -> int:
    """What cached condition attention keeps for a run (vc_core.condition_tokens): keys and values
    of every condition token in every block, for each cond and uncond row; 0 for other options.
    Counts every condition token (sparse keeps at most these)."""
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
    minimum): ComfyUI's estimate for the model with the condition frames counted, scaled to the peak
    measured against it (vc_core.memory_estimates.SAMPLING_OVER_COMFY), plus with cached condition
    attention its keys/values, against what the model's load device can free (on the CPU: what this
    process may use). noise_shape: the video latent [B, C, F, h, w]."""
    if len(noise_shape) != 5:
        return
    b, c, f, h, w = noise_shape
    extra = conditions if adds_tokens(model) else 0
    cache = condition_cache_bytes(model, noise_shape, extra)
    comfy_need = model.model.memory_required([b, c, f + extra, h, w])
    need = est.sampling_bytes(comfy_need, cache)
    have, why = memory_room(model.load_device)
    if need > have:
        tokens = tokens_per_sample(f, h, w, extra)
        fit = int(tokens * have / need) if need else 0
        cached = f", {size_text(cache)} of cached condition keys/values" if cache else ""
        raise ValueError(f"{blamed if conditions else 'length'}: this request makes {tokens:,} "
                         f"tokens per sample ({_frames_text(f, extra)}); sampling it needs an "
                         f"estimated {size_text(need)} (ComfyUI estimates {size_text(comfy_need)} "
                         f"with cond and uncond one at a time, x {est.SAMPLING_OVER_COMFY} as "
                         f"measured{cached}), more than the {size_text(have)} {why}; about "
                         f"{fit:,} tokens per sample fit. {_fix(conditions)}")


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
    if len(noise_shape) == 5:  # with no conditions too: the video alone can be past what fits
        check_condition_memory(model, noise_shape, extra, blamed="VideoCanvas conditions")
    if extra and len(noise_shape) == 5:
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
    patched.add_object_patch(_FACTOR_CONDS, current + ((COND_LATENTS,) if PARADIGMS[paradigm].adds_tokens
                                                       else ()))


# (wrapper type, function) pairs the model patch registers under its key.
MEMORY_WRAPPERS = [(pe.WrappersMP.PREPARE_SAMPLING, _prepare_sampling_with_condition_memory)]
