"""Which VideoCanvas patch a model carries: the key the model patch (model_patch.py) registers its
ComfyUI wrappers under, and what its installed forward was set up with.

Its own module because the patch's other files all read it (model_patch.py installs the wrappers;
wrappers.py and memory.py ask which paradigm a model runs) and it imports none of them.
"""

from __future__ import annotations

import comfy.patcher_extension as pe

WRAPPER_KEY = "videocanvas"


def is_patched(model) -> bool:
    return paradigm_of(model) is not None


def condition_options_of(model) -> tuple[str, str] | None:
    """(condition_tokens, condition_attention) of a patched model (None: not patched)."""
    wrappers = model.get_wrappers(pe.WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY)
    return (wrappers[0].condition_tokens, wrappers[0].condition_attention) if wrappers else None


def paradigm_of(model) -> str | None:
    """The paradigm a patched model conditions with (None: not patched)."""
    wrappers = model.get_wrappers(pe.WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY)
    return wrappers[0].paradigm if wrappers else None
