"""What ComfyUI's hooks (comfy/hooks.py: CreateHookLora, SetClipHooks, ConditioningSetProperties,
CreateHookKeyframe, ...) make of the diffusion model's weights at a forward, as a hashable value:
the cached condition attention keys its keys/values on it (vc_core.condition_tokens)."""

from __future__ import annotations

from collections.abc import Hashable


def hooks_in_force(patcher) -> Hashable:
    """The hooks applied to the model right now, in order, each with its current keyframe strength.

    ComfyUI patches a hook group's weights into the model just before the forward of the conds that
    carry it (calc_cond_batch: `model.current_patcher.apply_hooks(hooks)`), from the hooks' registered
    patches times each hook's strength, so equal values here mean equal weights; the patches fixed
    for the whole run (a LoraLoader's) are the same at every forward of a run. No hooks: ()."""
    current = getattr(getattr(patcher, "model", None), "current_patcher", None) or patcher
    group = getattr(current, "current_hooks", None)
    if group is None:
        return ()
    # hook_ref is shared by a hook's clones and identifies its registered patches
    return tuple((type(hook).__name__, hook.hook_ref, float(hook.strength)) for hook in group.hooks)
