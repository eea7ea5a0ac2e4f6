"""ComfyUI's Cancel (/interrupt) inside one long call: a VAE pass over a large canvas or video, or a
sampling step over many tokens, runs for seconds to minutes without returning to ComfyUI, which only
checks for an interrupt between nodes and steps."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def interruptible(*modules):
    """While inside: every submodule of these modules checks ComfyUI's interrupt flag before it runs
    (a forward pre-hook; the maths is unchanged), so Cancel stops the call within one layer's time.
    The hooks are removed on the way out."""
    import comfy.model_management as mm

    def check(_module, _args):
        mm.throw_exception_if_processing_interrupted()

    handles = []
    try:
        for module in modules:
            if module is not None:
                handles += [m.register_forward_pre_hook(check) for m in module.modules()]
        yield
    finally:
        for handle in handles:
            handle.remove()
