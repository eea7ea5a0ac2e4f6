"""Compatibility with the ComfyUI that runs the pack (0.3.75 and 0.7.0 here), and never silently wrong.

- Conditions that reach a model without the VideoCanvas patch stop the run, naming what to add.
- Conditions planned for one latent and sampled on another are refused, naming both.
- The pack's wrappers pass on arguments they do not know (newer ComfyUIs add some).
- ComfyUI's own diffusion-model patches compose with the VideoCanvas forward, or are refused by name.

End-to-end cases go through a real server (POST /prompt); the rest through ComfyUI's own loaders,
sampler and wrapper executor in-process.
"""

from __future__ import annotations

import pytest
import torch

from helpers import (
    condition_latents,
    graph,
    ksampler,
    load,
    prompt,
    refusal,
    serves_next_good_prompt,
    vcn,
    with_conditions,
)
from hostkit.server import PromptFailed

NOT_PATCHED = ("not patched", "VideoCanvas RoPE Interpolator", "both the high-noise and the low-noise "
               "expert")


# ------------------------------------------------------------------- through a real server


def test_conditions_on_an_unpatched_model_stop_the_run_naming_what_to_add(server, checkpoints):
    prompt_ = graph(checkpoints, sampler="KSampler")
    prompt_["sample"]["inputs"]["model"] = ["unet", 0]  # bypasses the RoPE Interpolator
    with pytest.raises(PromptFailed) as err:
        server.run(prompt_, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "KSampler", message
    for fragment in NOT_PATCHED:
        assert fragment in message, f"{fragment!r} not in: {message}"
    serves_next_good_prompt(server, checkpoints)


def two_experts(checkpoints, patched: tuple[bool, bool]) -> dict:
    """Wan 2.2 A14B style: KSamplerAdvanced steps 0-1 on a high-noise expert, 1-2 on a low-noise one."""
    p = graph(checkpoints, sampler="KSampler")
    p["unet_low"] = {"class_type": "UNETLoader", "inputs": {
        "unet_name": checkpoints["wan21_t2v_tiny"], "weight_dtype": "default"}}
    p["rope_low"] = {"class_type": "VideoCanvasRoPEInterpolator", "inputs": {
        "model": ["unet_low", 0], "position_policy": "interpolate", "paradigm": "in_context"}}
    common = {"add_noise": "enable", "noise_seed": 7, "steps": 2, "cfg": 1.0, "sampler_name": "euler",
              "scheduler": "simple", "positive": ["cond", 0], "negative": ["cond", 1]}
    p["sample"] = {"class_type": "KSamplerAdvanced", "inputs": {
        **common, "model": ["rope", 0] if patched[0] else ["unet", 0], "latent_image": ["cond", 2],
        "start_at_step": 0, "end_at_step": 1, "return_with_leftover_noise": "enable"}}
    p["sample_low"] = {"class_type": "KSamplerAdvanced", "inputs": {
        **common, "add_noise": "disable", "model": ["rope_low", 0] if patched[1] else ["unet_low", 0],
        "latent_image": ["sample", 0], "start_at_step": 1, "end_at_step": 10000,
        "return_with_leftover_noise": "disable"}}
    p["decode"]["inputs"]["latent"] = ["sample_low", 0]
    return p


@pytest.mark.parametrize("patched", [(True, False), (False, True)], ids=["low_unpatched", "high_unpatched"])
def test_a14b_with_one_expert_unpatched_stops_the_run(server, checkpoints, patched):
    with pytest.raises(PromptFailed) as err:
        server.run(two_experts(checkpoints, patched), timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "KSamplerAdvanced", message
    for fragment in NOT_PATCHED:
        assert fragment in message, f"{fragment!r} not in: {message}"
    entry = server.run(two_experts(checkpoints, (True, True)), timeout=120)
    assert entry["status"]["status_str"] == "success"


@pytest.mark.parametrize("latent,planned,given", [
    ((48, 32, 5), "9 frames (3 latent frames)", "5 frames (2 latent frames)"),
    ((48, 32, 13), "9 frames (3 latent frames)", "13 frames (4 latent frames)"),
    ((32, 32, 9), "at a 6x4 latent", "at 4x4"),
], ids=["shorter", "longer", "narrower"])
def test_conditions_planned_for_another_latent_are_refused_naming_both(server, checkpoints, latent,
                                                                         planned, given):
    p = graph(checkpoints, sampler="KSampler")  # conditions planned for 48x32, 9 frames
    w, h, length = latent
    p["latent"] = {"class_type": "EmptyHunyuanLatentVideo", "inputs": {
        "width": w, "height": h, "length": length, "batch_size": 1}}
    p["sample"]["inputs"]["latent_image"] = ["latent", 0]
    with pytest.raises(PromptFailed) as err:
        server.run(p, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "KSampler", message
    for fragment in ("latent_image", "planned for", planned, "given a latent of", given):
        assert fragment in message, f"{fragment!r} not in: {message}"
    serves_next_good_prompt(server, checkpoints)


def with_host_defaults(object_info: dict, class_type: str, inputs: dict) -> dict:
    """`inputs`, plus the host's defaults for the node's other widget inputs (core nodes gain
    inputs between ComfyUI releases: 0.33.0's ContextWindowsManual has four more than 0.3.75's)."""
    spec = object_info[class_type]["input"].get("required", {})
    extra = {name: s[1]["default"] for name, s in spec.items()
             if name not in inputs and len(s) > 1 and isinstance(s[1], dict) and "default" in s[1]}
    return {**extra, **inputs}


def test_context_windows_with_conditions_run_where_the_host_can_and_are_refused_by_name_elsewhere(
        server, checkpoints, object_info):
    """Through the HTTP API: ContextWindowsManual (static, overlap 1) between the RoPE Interpolator
    and KSampler. ComfyUI 0.7 on gives each window its conditions (test_context_windows.py); 0.3.75's
    context windows cannot, and the run is refused naming the sampler."""
    import comfy.context_windows as cw

    p = graph(checkpoints, sampler="KSampler")
    p["windows"] = {"class_type": "ContextWindowsManual", "inputs": with_host_defaults(
        object_info, "ContextWindowsManual", {
            "model": ["rope", 0], "context_length": 2, "context_overlap": 1,
            "context_schedule": "standard_static", "context_stride": 1, "closed_loop": False,
            "fuse_method": "pyramid", "dim": 2, "freenoise": False})}
    p["sample"]["inputs"]["model"] = ["windows", 0]
    if hasattr(getattr(cw, "IndexListCallbacks", None), "RESIZE_COND_ITEM"):
        assert server.run(p, timeout=120)["status"]["status_str"] == "success"
        return
    with pytest.raises(PromptFailed) as err:
        server.run(p, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "KSampler" and "ComfyUI 0.7 or newer can" in message, message
    serves_next_good_prompt(server, checkpoints)


# ---------------------------------------------------------------- wrappers pass arguments on


FUTURE = {"force_full_load": True, "force_offload": False, "some_future_argument": 3}


class Guider:
    """What OUTER_SAMPLE wrappers read from their class_obj (a CFGGuider)."""

    def __init__(self, model_patcher, conds):
        self.model_patcher, self.conds, self.model_options = model_patcher, conds, {}


def recorder(seen: list):
    def original(*args, **kwargs):
        seen.append((args, kwargs))
        return "result"

    return original


def test_every_wrapper_passes_unknown_arguments_through(mp, t2v):
    """ComfyUI >= 0.6 calls PREPARE_SAMPLING wrappers with force_full_load=, later ones add
    force_offload=; whatever a future ComfyUI adds reaches the wrapped function unchanged."""
    import comfy.patcher_extension as pe

    patched = mp.patch_model(t2v)
    x = torch.zeros(1, 16, 3, 4, 4)
    for kind, args in ((pe.WrappersMP.PREPARE_SAMPLING, (patched, list(x.shape), {"positive": []})),
                       (pe.WrappersMP.OUTER_SAMPLE, (x, x, "sampler", torch.ones(2))),
                       (pe.WrappersMP.CALC_COND_BATCH, (patched.model, [[], None], x, torch.ones(1), {})),
                       (pe.WrappersMP.DIFFUSION_MODEL, (x, torch.ones(1), torch.zeros(1, 1, 4096)))):
        (fn,) = patched.get_wrappers(kind, vcn("patch_state").WRAPPER_KEY)
        seen: list = []
        executor = pe.WrapperExecutor.new_class_executor(recorder(seen), Guider(patched, {}), [fn])
        assert executor.execute(*args, **FUTURE) == "result"
        (got_args, got_kwargs), = seen
        assert len(got_args) == len(args) and got_kwargs == FUTURE, kind
        assert all(a is b for a, b in zip(got_args, args, strict=True)), kind


def test_outer_sample_with_conditions_accepts_them_and_passes_arguments_through(mp, t2v):
    import comfy.patcher_extension as pe

    patched = mp.patch_model(t2v)
    (entry,) = (c[1] for c in with_conditions(prompt(0), condition_latents(), [4], length=9))
    conds = {"positive": [dict(entry)]}
    seen: list = []
    (fn,) = patched.get_wrappers(pe.WrappersMP.OUTER_SAMPLE, vcn("patch_state").WRAPPER_KEY)
    executor = pe.WrapperExecutor.new_class_executor(recorder(seen), Guider(patched, conds), [fn])
    x = torch.zeros(1, 16, 3, 4, 4)
    assert executor.execute(x, x, "sampler", torch.ones(2), None, None, False, 77, **FUTURE) == "result"
    (got_args, got_kwargs), = seen
    assert got_kwargs == FUTURE and got_args[7] == 77
    timing = conds["positive"][0]["model_conds"][vcn("types").COND_TIMING]
    assert type(timing).__name__ == "CONDConstant" and timing.cond.seed == 77  # accepted, seeded
    # the node's, untouched
    assert isinstance(entry["model_conds"][vcn("types").COND_TIMING], vcn("conditions").PendingTiming)


def test_diffusion_model_with_conditions_passes_unknown_arguments_to_the_blocks(mp, t2v, monkeypatch):
    """With conditions, the VideoCanvas forward stands in for WanModel._forward and hands what it
    does not know on to forward_orig, as _forward does."""
    patched = mp.patch_model(t2v)
    wan = patched.model.diffusion_model
    seen: list = []

    def forward_orig(x, t, context, **kwargs):
        seen.append((x.shape, kwargs))
        return torch.zeros_like(x)

    monkeypatch.setattr(wan, "forward_orig", forward_orig)
    timing = vcn("conditions").ConditionTiming((4,), (1.0,), 4, 9, seed=0)
    out = wan(torch.zeros(1, 16, 3, 4, 4), torch.ones(1), torch.zeros(1, 1, 4096),
              transformer_options={"wrappers": patched.wrappers},  # as ComfyUI's sampler passes them
              videocanvas_latents=condition_latents(), videocanvas_timing=timing,
              some_future_argument=3)
    (shape, kwargs), = seen
    assert shape[2] == 3 + 1 and out.shape[2] == 3  # the condition frame went in and came out
    assert kwargs["some_future_argument"] == 3
    assert vcn("types").COND_LATENTS not in kwargs and vcn("types").COND_TIMING not in kwargs


def test_conditions_that_a_foreign_patch_keeps_from_the_videocanvas_forward_stop_the_run(mp, t2v):
    """A diffusion-model wrapper of another node that calls Wan's own _forward (dropping the inputs it
    does not know) runs outside the VideoCanvas forward: the conditions would be ignored, so the
    first step refuses."""
    import comfy.patcher_extension as pe

    def bypass(executor, x, timestep, context, clip_fea=None, time_dim_concat=None,
               transformer_options={}, **kwargs):
        return executor.class_obj._forward(x, timestep, context, clip_fea, time_dim_concat,
                                           transformer_options)

    model = t2v.clone()
    model.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "another_node", bypass)
    cond = with_conditions(prompt(0), condition_latents(), [4], length=9)
    with pytest.raises(RuntimeError, match="did not reach the VideoCanvas forward in this step"):
        ksampler(mp.patch_model(model), cond, prompt(1))
    ksampler(mp.patch_model(model), prompt(0), prompt(1))  # without conditions: nothing to drop


# ------------------------------------------------------------- inputs that cannot be honoured


def test_a_newer_forward_input_the_videocanvas_forward_cannot_honour_is_refused_by_name(mp, t2v):
    """`context_latents` (newer ComfyUIs: in-context references appended by WanModel._forward)."""
    import inspect

    import comfy.model_base
    import node_helpers

    model = mp.patch_model(t2v)
    cond = with_conditions(prompt(0), condition_latents(), [4])
    if "context_latents" in inspect.getsource(comfy.model_base.WAN21.extra_conds):
        # a ComfyUI that has them (0.33.0): set as its own nodes set them, a list of latents
        cond = node_helpers.conditioning_set_values(cond, {"context_latents": [torch.zeros(1, 16, 1, 4, 4)]})
    else:
        cond[0][1]["model_conds"]["context_latents"] = __import__("comfy.conds").conds.CONDRegular(
            torch.zeros(1, 16, 1, 4, 4))
    with pytest.raises(ValueError, match="cannot be combined with the diffusion-model input "
                                         "'context_latents'"):
        ksampler(model, cond, prompt(1))


def test_a_wan_model_kind_that_samples_differently_is_refused_by_name(mp, checkpoints):
    """Newer ComfyUIs load some plain WanModels as other kinds (WAN21_FlowRVS: another sampling
    type). Stand-in: the same tiny model, loaded as a WAN21 subclass of that name."""
    model = load(checkpoints["wan21_t2v_tiny"])
    model.model.__class__ = type("WAN21_FlowRVS", (type(model.model),), {})
    unsupported = vcn("model_kinds").UnsupportedModel
    with pytest.raises(unsupported, match="as WAN21_FlowRVS, which samples differently"):
        mp.patch_model(model)


# ----------------------------------------------------------------- ComfyUI's own model patches


class ForwardCount:
    """Counts WanModel.forward_orig calls and the latent frames each one saw."""

    def __init__(self, model, monkeypatch):
        self.frames: list[int] = []
        wan = model.model.diffusion_model
        real = wan.forward_orig

        def counted(x, *args, **kwargs):
            self.frames.append(x.shape[2])
            return real(x, *args, **kwargs)

        monkeypatch.setattr(wan, "forward_orig", counted)


@pytest.mark.parametrize("node", ["EasyCacheNode", "LazyCacheNode"])
@pytest.mark.parametrize("order", ["cache_after_patch", "cache_before_patch"])
def test_step_caches_run_inside_the_videocanvas_forward(mp, checkpoints, monkeypatch, node, order):
    """ComfyUI's EasyCache / LazyCache (diffusion-model wrappers) skip steps whichever side of the
    patch they are added; the steps they compute carry the conditions (3 video + 1 condition
    latent frames)."""
    import comfy_extras.nodes_easycache as caches

    base = load(checkpoints["wan21_t2v_tiny"])
    counter = ForwardCount(base, monkeypatch)

    def easycache(m):
        return getattr(caches, node).execute(m, reuse_threshold=3.0, start_percent=0.0,
                                             end_percent=1.0, verbose=False)[0]

    model = (easycache(mp.patch_model(base)) if order == "cache_after_patch"
             else mp.patch_model(easycache(base)))
    cond = with_conditions(prompt(0), condition_latents(), [4])
    steps = 8
    cached = ksampler(model, cond, prompt(1), steps=steps)
    assert 0 < len(counter.frames) < steps, counter.frames  # EasyCache skipped some steps
    assert set(counter.frames) == {3 + 1}
    plain = ksampler(mp.patch_model(base), cond, prompt(1), steps=steps)
    assert torch.isfinite(cached).all() and not torch.equal(cached, plain)


def test_scale_rope_node_reaches_the_videocanvas_forward(mp, t2v):
    """ComfyUI's ScaleROPE changes the result of a conditioned run (its rope_options are honoured,
    not dropped)."""
    from comfy_extras.nodes_rope import ScaleROPE

    cond = with_conditions(prompt(0), condition_latents(), [5])
    plain = ksampler(mp.patch_model(t2v), cond, prompt(1))
    scaled_model = ScaleROPE.execute(mp.patch_model(t2v), scale_x=1.0, shift_x=0.0, scale_y=1.0,
                                     shift_y=0.0, scale_t=2.0, shift_t=0.0)[0]
    assert not torch.allclose(ksampler(scaled_model, cond, prompt(1)), plain, atol=1e-4)


def test_torch_compile_model_composes(mp, t2v):
    """TorchCompileModel (inductor, CPU) on the patched model gives the uncompiled result."""
    from comfy_extras.nodes_torch_compile import TorchCompileModel

    cond = with_conditions(prompt(0), condition_latents(), [5])
    eager = ksampler(mp.patch_model(t2v), cond, prompt(1))
    compiled = TorchCompileModel.execute(mp.patch_model(t2v), backend="inductor")[0]
    torch.testing.assert_close(ksampler(compiled, cond, prompt(1)), eager, atol=1e-4, rtol=1e-4)


def test_conditions_outside_their_timestep_range_are_not_taken_for_bypassed(mp, t2v):
    """ConditioningSetTimestepRange: the VideoCanvas entry runs only in the second half of the steps
    (a plain prompt in the first). Steps where it is inactive are no sign of a bypass."""

    from nodes import ConditioningCombine, ConditioningSetTimestepRange

    video_canvas = with_conditions(prompt(0), condition_latents(), [4], length=9)
    late = ConditioningSetTimestepRange().set_range(video_canvas, 0.5, 1.0)[0]
    early = ConditioningSetTimestepRange().set_range(prompt(2), 0.0, 0.5)[0]
    positive = ConditioningCombine().combine(late, early)[0]
    out = ksampler(mp.patch_model(t2v), positive, prompt(1), cfg=1.0, steps=4)
    assert torch.isfinite(out).all()
    assert not torch.equal(out, ksampler(mp.patch_model(t2v), ConditioningCombine().combine(
        ConditioningSetTimestepRange().set_range(prompt(0), 0.5, 1.0)[0], early)[0], prompt(1),
        cfg=1.0, steps=4))  # the conditions took effect in the late steps


# ------------------------------------------------------------- no state shared across runs


def test_no_run_state_outlives_its_run_or_is_shared_between_patched_clones(mp, t2v):
    """Newer ComfyUIs (0.33.0) copy model_options shallowly between clones and guiders: the pack's
    per-run state (forward count, condition keys/values) must be a new object in every run, and
    neither the patched models nor the model they came from may keep it afterwards."""
    import comfy.patcher_extension as pe

    seen = []

    def spy(executor, *args, **kwargs):
        options = kwargs.get("transformer_options", args[5] if len(args) > 5 else {})
        seen.append(options.get(vcn("wrappers").RUN_STATE))
        return executor(*args, **kwargs)

    spied = t2v.clone()
    spied.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test-spy", spy)
    first, second = mp.patch_model(spied), mp.patch_model(spied)
    cond = with_conditions(prompt(0), condition_latents(), [4])
    for model in (first, first, second):
        ksampler(model, cond, prompt(1))
    states = [s for s in seen if s is not None]
    assert len(states) == len(seen) == 6  # 2 steps x 3 runs, each forward saw a run state
    assert len({id(s) for s in states}) == 3 and states[0] is states[1] and states[2] is not states[0]
    for model in (t2v, spied, first, second):
        assert vcn("wrappers").RUN_STATE not in model.model_options.get("transformer_options", {})
