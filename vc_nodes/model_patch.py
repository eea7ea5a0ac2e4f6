"""The VideoCanvas model patch (the engine of the RoPE Interpolator node): pick the paradigm this
model family reads (vc_core/paradigms/), refuse what it cannot honour, and install its ComfyUI
wrappers (wrappers.py) on a clone of the ModelPatcher. No maths here.

The files of the patch, one job each:
  model_kinds.py  which model this is (refusals by name), what the pack's own models were trained with
  conditions.py   conditions as the CONDITIONING carries them (pending until a patched model accepts)
  wrappers.py     what runs during sampling: accept, the paradigm's forward, the bypass check
  memory.py       the memory checks and ComfyUI's estimate of the condition tokens
  patch_state.py  what a patched model carries (read by all of the above)
"""

from __future__ import annotations

import comfy.patcher_extension as pe

from ..vc_core.condition_tokens import ConditionTokenError, check_options, check_trained_attention
from ..vc_core.paradigms import (
    LTX_GUIDES,
    LTX_IN_PLACE,
    PARADIGMS,
    TOKEN_PARADIGMS,
    ParadigmError,
    PatchOptions,
)
from ..vc_core.timing import POSITION_POLICIES
from .memory import MEMORY_WRAPPERS, apply_memory_patches
from .model_kinds import FAMILY_OF_PARADIGM, describe_model, model_paradigm, trained_attention
from .patch_state import WRAPPER_KEY
from .wrappers import VideoCanvasForward, accept_conditions, require_conditions_consumed

# Every wrapper kind the patch may install, so that re-patching removes all of an earlier patch's.
_WRAPPER_KINDS = (pe.WrappersMP.DIFFUSION_MODEL, pe.WrappersMP.OUTER_SAMPLE,
                  pe.WrappersMP.CALC_COND_BATCH, *(k for k, _ in MEMORY_WRAPPERS))


def patch_model(model, policy: str = "interpolate", paradigm: str = "in_context",
                condition_tokens: str = "full", condition_attention: str = "two-way",
                check_training: bool = True):
    """A clone of `model` that consumes VideoCanvas conditions. Re-patching replaces the settings.
    check_training=False skips the refusal of a known model run with the other condition attention
    (for the benchmark that measures what that costs)."""
    if policy not in POSITION_POLICIES:
        raise ValueError(f"position_policy must be one of {POSITION_POLICIES}; got {policy!r}")
    if paradigm not in TOKEN_PARADIGMS:
        raise ValueError(f"paradigm must be one of {TOKEN_PARADIGMS}; got {paradigm!r}")
    options = PatchOptions(policy, paradigm, condition_tokens, condition_attention)
    try:
        check_options(condition_tokens, condition_attention)
        what = describe_model(model)
        # Some families decide where they read conditions (an image-to-video model: its channels).
        decided = model_paradigm(model)
        if decided == LTX_GUIDES and paradigm == "latent_replacement":  # LTXVImgToVideo's way
            decided = LTX_IN_PLACE
        chosen = PARADIGMS[decided or paradigm]
        if decided is not None:  # "a Wan VACE model (Wan VACE (16-ch, 1 control block))"
            what = f"a {FAMILY_OF_PARADIGM[decided]} model ({what})"
        chosen.check_options(options, what)
        if check_training and chosen.name == "in_context":
            check_trained_attention(trained_attention(model), condition_attention)
    except (ParadigmError, ConditionTokenError) as err:
        raise ValueError(str(err)) from None
    patched = model.clone()
    options = PatchOptions(policy, chosen.name, condition_tokens, condition_attention)
    wrappers = [(pe.WrappersMP.DIFFUSION_MODEL,
                 VideoCanvasForward(options, patched.get_model_object("latent_format"))),
                (pe.WrappersMP.OUTER_SAMPLE, accept_conditions)]
    if chosen.forward is not None:  # conditions that stay conditions until the forward
        wrappers += [(pe.WrappersMP.CALC_COND_BATCH, require_conditions_consumed), *MEMORY_WRAPPERS]
    for kind in _WRAPPER_KINDS:
        patched.remove_wrappers_with_key(kind, WRAPPER_KEY)
    for kind, fn in wrappers:
        patched.add_wrapper_with_key(kind, WRAPPER_KEY, fn)
    apply_memory_patches(patched, chosen.name)
    return patched
