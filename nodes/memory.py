"""Memory: refuse an in-context sampling run that cannot fit, by ComfyUI's own estimate, before
anything heavy is done (every condition adds one full latent frame of tokens)."""

from __future__ import annotations

import comfy.patcher_extension as pe

from .types import COND_LATENTS


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


def _prepare_sampling_with_condition_memory(executor, model, noise_shape, conds, *args, **kwargs):
    """PREPARE_SAMPLING wrapper: ComfyUI sizes its memory reservation from the noise shape; every
    in-context condition adds one latent frame of tokens, so estimate with those frames included."""
    extra = _condition_frames(conds)
    if extra and len(noise_shape) == 5:
        check_condition_memory(model, noise_shape, extra)
        noise_shape = [noise_shape[0], noise_shape[1], noise_shape[2] + extra, *noise_shape[3:]]
    return executor(model, noise_shape, conds, *args, **kwargs)  # unknown arguments pass on



# (wrapper type, function) pairs the model patch registers under its key.
MEMORY_WRAPPERS = [(pe.WrappersMP.PREPARE_SAMPLING, _prepare_sampling_with_condition_memory)]
