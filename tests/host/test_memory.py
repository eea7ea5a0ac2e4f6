"""Memory: absurd requests are refused fast by ComfyUI's own estimates on every path, ComfyUI's per-step
cond/uncond batching counts the condition tokens, and the layout strip is bounded.

Server tests go through a real ComfyUI (POST /prompt, websocket): a refusal is an execution_error that
names the node, and the server then runs the next good prompt. "Fast" is the /prompt round trip with
the loaders already cached (a warm-up prompt runs first), so it is the refusing node's own time.
In-process tests drive ComfyUI's real samplers (comfy.sample.sample -> CFGGuider -> calc_cond_batch)
on real model objects built from tiny checkpoints; free memory is set by monkeypatching
comfy.model_management.get_free_memory, the one value those decisions read.
"""

from __future__ import annotations

import itertools
import time

import pytest
import torch

from helpers import timestamp_conditions, vcn
from hostkit.server import PromptFailed
from hostkit.setup import comfy_dir
from hostkit.tiny_models import TEST_SUBDIR, TinyWan, save

_seeds = itertools.count(5000)
# seconds: an absurd request is refused within this (node time, loaders cached). Unrefused, these
# requests would sample for hours; ~0.1 s on an idle machine, up to ~4 s seen on a loaded 2-core one.
FAST = 5.0


# --- graphs -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wide_checkpoint(checkpoints) -> str:
    """A small Wan (1 block, 88 MB) with dim 1024: ComfyUI's memory_usage_factor is dim / 2222, so its
    estimates are 8x the 128-dim test model's, and an absurd request needs only a small latent."""
    name = "wan21_t2v_wide_tiny.safetensors"
    path = comfy_dir() / "models" / "diffusion_models" / TEST_SUBDIR / name
    if not path.exists():
        save(TinyWan(dim=1024, num_layers=1).build(seed=5), path)
    return f"{TEST_SUBDIR}/{name}"


def base(checkpoints, unet: str) -> dict:
    return {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "rope": {"class_type": "VideoCanvasRoPEInterpolator", "inputs": {
            "model": ["unet", 0], "position_policy": "interpolate", "paradigm": "in_context"}},
        "img": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                       "color": 0xC04020}},
    }


def camera_move_conditions(p: dict) -> list:
    """A video-task node: the image through a zoom, a condition on every output frame."""
    p["move"] = {"class_type": "VideoCanvasCameraMove", "inputs": {
        "image": ["img", 0], "canvas": ["canvas", 0], "start_x": 0.5, "start_y": 0.5, "start_zoom": 1.0,
        "end_x": 0.5,
        "end_y": 0.5, "end_zoom": 1.5, "easing": "linear", "every_nth": 1, "feather": 0.0,
        "strength": 1.0}}
    return ["move", 0]


def canvas(p: dict, width: int, height: int, length: int) -> list:
    """The graph's VideoCanvas Canvas, which the conditions (linked to ["canvas", 0]) share."""
    p["canvas"] = {"class_type": "VideoCanvasCanvas", "inputs": {"width": width, "height": height,
                                                                 "length": length, "fps": 16.0}}
    return ["canvas", 0]


def sampler_graph(p: dict, conditions: list, width: int, height: int, length: int) -> dict:
    p["sample"] = {"class_type": "VideoCanvasSampler", "inputs": {
        "model": ["rope", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
        "canvas": canvas(p, width, height, length), "batch_size": 1, "seed": next(_seeds),
        "steps": 1, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0,
        "conditions": conditions}}
    p["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["sample", 1]}}
    return p


def conditioning_graph(p: dict, conditions: list, width: int, height: int, length: int,
                       sampler: str = "KSampler") -> dict:
    """VideoCanvas Conditioning -> one of ComfyUI's samplers."""
    p["cond"] = {"class_type": "VideoCanvasConditioning", "inputs": {
        "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
        "canvas": canvas(p, width, height, length), "batch_size": 1, "conditions": conditions}}
    common = {"positive": ["cond", 0], "negative": ["cond", 1], "latent_image": ["cond", 2]}
    seed = next(_seeds)
    if sampler == "KSampler":
        p["sample"] = {"class_type": "KSampler", "inputs": {
            "model": ["rope", 0], "seed": seed, "steps": 1, "cfg": 1.0, "sampler_name": "euler",
            "scheduler": "simple", "denoise": 1.0, **common}}
    elif sampler == "KSamplerAdvanced":
        p["sample"] = {"class_type": "KSamplerAdvanced", "inputs": {
            "model": ["rope", 0], "add_noise": "enable", "noise_seed": seed, "steps": 1, "cfg": 1.0,
            "sampler_name": "euler", "scheduler": "simple", "start_at_step": 0,
            "end_at_step": 10000, "return_with_leftover_noise": "disable", **common}}
    else:
        p["noise"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}}
        p["guider"] = {"class_type": "CFGGuider", "inputs": {
            "model": ["rope", 0], "positive": ["cond", 0], "negative": ["cond", 1], "cfg": 1.0}}
        p["select"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
        p["sigmas"] = {"class_type": "BasicScheduler", "inputs": {
            "model": ["rope", 0], "scheduler": "simple", "steps": 1, "denoise": 1.0}}
        p["sample"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["select", 0],
            "sigmas": ["sigmas", 0], "latent_image": ["cond", 2]}}
    p["decode"] = {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["vae", 0]}}
    p["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["decode", 0]}}
    return p


def good_prompt(checkpoints, unet: str, sampler: str = "KSampler") -> dict:
    """A small run on the same loaders: warms ComfyUI's cache, and proves the server still works."""
    p = base(checkpoints, unet)
    return conditioning_graph(p, timestamp_conditions(p, "0, 8"), 48, 32, 9, sampler)


def runs(server, prompt) -> None:
    entry = server.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success"


def refused(server, prompt) -> tuple[str, str, float]:
    """(node type blamed, message, seconds from POST /prompt to the execution_error)."""
    start = time.monotonic()
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=300)
    elapsed = time.monotonic() - start
    assert err.value.kind == "execution_error", err.value
    assert not any(e["type"] == "progress" for e in server.events), "sampling had started"
    return err.value.payload["node_type"], err.value.payload["exception_message"], elapsed


def gib_in(message: str, before: str) -> float:
    """The number of GiB just before `before` in the message ('... 123.4 GiB to sample ...')."""
    head = message[:message.index(before)].split()
    assert head[-1] == "GiB", message
    return float(head[-2])


# --- the hard cap without a model (VideoCanvas Conditioning) --------------------------------------

@pytest.mark.parametrize("source", ["timestamp", "camera_move"])
def test_conditioning_node_refuses_the_token_cap_at_once(server, checkpoints, source):
    """The issue's request: 10,000 conditions at length 16381 (832x480, the nodes' default size) went
    through every check. Now: 4096 video + 10,000 condition latent frames x 1560 tokens = 21,989,760
    tokens per sample, over the 8,388,608 cap: refused before a canvas is rendered. The video-task
    path (a camera move with a condition on every one of the 16381 frames) likewise."""
    unet = checkpoints["wan21_t2v_tiny"]
    runs(server, good_prompt(checkpoints, unet))
    p = base(checkpoints, unet)
    if source == "timestamp":
        conditions = timestamp_conditions(p, ", ".join(map(str, range(10000))))
        conditions_made, tokens = 10000, 21_989_760
    else:
        conditions = camera_move_conditions(p)
        conditions_made, tokens = 16381, (4096 + 16381) * 1560
    node, message, elapsed = refused(server, conditioning_graph(p, conditions, 832, 480, 16381))
    assert node == "VideoCanvasConditioning", message
    for fragment in (f"{tokens:,} tokens per sample", "4096 video latent frames",
                     f"{conditions_made} condition frames", "1,560 tokens each",
                     "refuses more than 8,388,608", "Use fewer conditions"):
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert elapsed < FAST, f"took {elapsed:.2f}s to refuse"
    runs(server, good_prompt(checkpoints, unet))


# --- the model's estimate (VideoCanvas Sampler; PREPARE_SAMPLING on ComfyUI's samplers) ------------

# 1024x1024 (4096 tokens per latent frame), 217 frames (55 latent frames) + 1 condition: 229,376
# tokens per sample, under the cap; ComfyUI's estimate for the 1024-dim model is 61.9 GiB, well over
# this machine kind's 24 GiB (refused in ~0.1 s; the noise ComfyUI draws first is 57 MB).
BIG = dict(width=1024, height=1024, length=217)
BIG_TOKENS = (55 + 1) * 4096


def test_sampler_refuses_by_the_models_estimate_before_rendering(server, checkpoints, wide_checkpoint):
    runs(server, good_prompt(checkpoints, wide_checkpoint))
    p = base(checkpoints, wide_checkpoint)
    node, message, elapsed = refused(server, sampler_graph(p, timestamp_conditions(p, "0"), **BIG))
    assert node == "VideoCanvasSampler", message
    for fragment in ("conditions: this request makes", f"{BIG_TOKENS:,} tokens per sample",
                     "55 video latent frames + 1 condition frame)", "ComfyUI estimates",
                     "cond and uncond one at a time", "free on cpu"):
        assert fragment in message, f"{fragment!r} not in: {message}"
    ram_total = server.get("/system_stats")["system"]["ram_total"]
    assert gib_in(message, "(ComfyUI estimates") * 2 ** 30 > ram_total  # absurd on this machine
    assert elapsed < FAST, f"took {elapsed:.2f}s to refuse"
    runs(server, good_prompt(checkpoints, wide_checkpoint))


@pytest.mark.parametrize("sampler", ["KSampler", "KSamplerAdvanced", "SamplerCustomAdvanced"])
def test_comfyui_samplers_refuse_by_the_models_estimate_before_sampling(server, checkpoints,
                                                                      wide_checkpoint, sampler):
    """The Conditioning node cannot know the model, so it defers the encoding: the patched model
    checks ComfyUI's estimate before the sampler encodes anything, loads the model or runs a step.
    Timed on the first submission of this graph (nothing of it cached): the whole graph's time."""
    runs(server, good_prompt(checkpoints, wide_checkpoint, sampler))
    p = base(checkpoints, wide_checkpoint)
    prompt = conditioning_graph(p, timestamp_conditions(p, "0"), **BIG, sampler=sampler)
    node, message, elapsed = refused(server, prompt)
    assert node == sampler, message
    for fragment in ("VideoCanvas conditions: this request makes", f"{BIG_TOKENS:,} tokens per sample",
                     "55 video latent frames + 1 condition frame)",
                     "ComfyUI estimates", "free on cpu"):
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert elapsed < FAST, f"took {elapsed:.2f}s to refuse"
    runs(server, good_prompt(checkpoints, wide_checkpoint, sampler))


# --- in process: ComfyUI's own decisions with the conditions counted ------------------------------

W, H, LENGTH = 32, 32, 9  # 3 latent frames of 4x4 latents


@pytest.fixture(scope="module")
def memory(pack):
    return pack.vc_nodes.memory


def prompt(seed):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 4, 4096, generator=g), {}]]


def dense(mp, cond, k=3):
    """k conditions (one per latent frame for k = 3: dense, like inpainting every 4th frame)."""
    latents = torch.randn(1, 16, k, H // 8, W // 8, generator=torch.Generator().manual_seed(7))
    return vcn("conditions").attach_conditions(cond, latents, list(range(0, 4 * k, 4))[:k], [1.0] * k, 4,
                                length=LENGTH)


def forwards(model, positive, negative, cfg=2.0, steps=2, calls=None):
    """Sample through ComfyUI's KSampler path; returns (and appends to `calls`) the cond_or_uncond
    of every model call."""
    import comfy.sample

    calls = [] if calls is None else calls
    model = model.clone()

    def spy(apply_model, args):
        calls.append(list(args["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    model.set_model_unet_function_wrapper(spy)
    start = torch.randn(1, 16, 3, H // 8, W // 8, generator=torch.Generator().manual_seed(0))
    comfy.sample.sample(model, start, steps, cfg, "euler", "simple", positive, negative,
                        torch.zeros_like(start), seed=0, disable_pbar=True)
    return calls


def set_free_memory(monkeypatch, free: int) -> None:
    """comfy.model_management.get_free_memory(dev, torch_free_too=False) reports `free` bytes, and
    no model is loaded: off the CPU the pack counts loaded weights as memory ComfyUI can free, so
    on a GPU a model an earlier run left loaded would add to `free`."""
    import comfy.model_management as mm

    mm.unload_all_models()

    def get_free_memory(dev=None, torch_free_too=False):
        return (free, free) if torch_free_too else free

    monkeypatch.setattr(mm, "get_free_memory", get_free_memory)


def video_alone(model, batch=2) -> float:
    return model.model.memory_required([batch, 16, 3, H // 8, W // 8])


def test_object_patch_names_the_condition_latents_only_in_context(mp, memory, t2v):
    key = memory.COND_LATENTS
    assert t2v.get_model_object("memory_usage_factor_conds") == ()
    in_context = mp.patch_model(t2v)
    assert in_context.get_model_object("memory_usage_factor_conds") == (key,)
    replaced = mp.patch_model(in_context, paradigm="latent_replacement")  # re-patching replaces
    assert replaced.get_model_object("memory_usage_factor_conds") == ()
    assert mp.patch_model(replaced).get_model_object("memory_usage_factor_conds") == (key,)
    assert t2v.get_model_object("memory_usage_factor_conds") == ()


def test_the_token_cap_is_beyond_the_smallest_wan_by_comfyuis_estimate(memory, t2v, monkeypatch):
    """The cap's claim, checked with ComfyUI's own code: BaseModel.memory_required with Wan 1.3B's
    memory_usage_factor (supported_models.WAN21_T2V for dim 1536) and its leanest branch (flash
    attention, bf16) needs over 453 GiB for one sample of TOKEN_CAP tokens."""
    import comfy.model_management as mm
    import comfy.supported_models

    factor = comfy.supported_models.WAN21_T2V({"dim": 1536}).memory_usage_factor
    monkeypatch.setattr(mm, "pytorch_attention_flash_attention", lambda: True)
    monkeypatch.setattr(t2v.model, "memory_usage_factor", factor)
    monkeypatch.setattr(t2v.model, "manual_cast_dtype", torch.bfloat16)
    assert memory.TOKEN_CAP == 2 ** 23 == 2048 * (128 * 128) // 4  # 2048 frames of 128x128 latents
    need = t2v.model.memory_required([1, 16, 2048, 128, 128])
    assert 453 * 2 ** 30 < need < 454 * 2 ** 30


def test_cond_uncond_batching_counts_the_condition_tokens(mp, t2v, monkeypatch):
    """ComfyUI batches cond and uncond when memory_required(...) * 1.5 < free memory. Free memory set
    to 1.3 x what the video alone needs batched: enough for the video alone, not for video plus 3
    dense condition frames (twice the tokens). In context, cond and uncond now run in separate
    forwards; with the same free memory, no conditions (or latent replacement, which adds no tokens)
    run batched."""
    need = video_alone(t2v)
    free = int(1.5 * need * 1.3)
    set_free_memory(monkeypatch, free)
    patched = mp.patch_model(t2v)
    with_conditions = forwards(patched, dense(mp, prompt(0)), dense(mp, prompt(1)))
    assert with_conditions == [[1], [0]] * 2  # 2 steps: uncond alone, then cond alone
    assert forwards(patched, prompt(0), prompt(1)) == [[1, 0]] * 2
    replaced = mp.patch_model(t2v, paradigm="latent_replacement")
    assert forwards(replaced, dense(mp, prompt(0)), dense(mp, prompt(1))) == [[1, 0]] * 2
    set_free_memory(monkeypatch, int(1.5 * 2 * need * 1.01))
    assert forwards(patched, dense(mp, prompt(0)), dense(mp, prompt(1))) == [[1, 0]] * 2


def test_the_estimate_comfyui_batches_by_counts_exactly_the_condition_frames(mp, t2v):
    """memory_required with the conditions' shapes, as calc_cond_batch calls it, equals the estimate
    for the video with the condition frames appended (the same tokens)."""
    import comfy.model_management as mm
    import comfy.sampler_helpers as sh

    patched = mp.patch_model(t2v)
    mm.load_models_gpu([patched])  # applies the object patch, as prepare_sampling does
    try:
        model = patched.model
        shapes = {"videocanvas_latents": [[2, 16, 5, 4, 4]]}
        assert model.memory_required([2, 16, 3, 4, 4], cond_shapes=shapes) == pytest.approx(
            model.memory_required([2, 16, 3 + 5, 4, 4]), rel=1e-12)
    finally:
        sh.cleanup_models({}, [])
        mm.unload_all_models()


def test_prepare_sampling_refuses_by_free_memory_before_any_forward(mp, memory, t2v, monkeypatch):
    """Free memory enough for the video alone one sample at a time, not with 3 dense conditions:
    refused with ComfyUI's estimate and the free memory it was compared with, before any forward."""
    free = int(video_alone(t2v, batch=1) * 1.5)  # the video alone: 1x; with the conditions: 2x
    set_free_memory(monkeypatch, free)
    patched = mp.patch_model(t2v)
    calls = []
    with pytest.raises(ValueError, match=r"ComfyUI estimates .* with cond and uncond one at a time") as err:
        forwards(patched, dense(mp, prompt(0)), dense(mp, prompt(1)), calls=calls)
    assert calls == []
    message = str(err.value)
    assert ("VideoCanvas conditions: this request makes 24 tokens per sample (3 video latent "
            "frames + 3 condition frames)") in message
    comfy_need = video_alone(t2v, batch=1) * 2
    need = memory.est.sampling_bytes(comfy_need)
    assert (f"needs an estimated {memory.size_text(need)} (ComfyUI estimates "
            f"{memory.size_text(comfy_need)} with cond and uncond one at a time") in message
    assert f"more than the {memory.size_text(free)} free on {patched.load_device}" in message
    assert forwards(patched, prompt(0), prompt(1)) == [[1], [0]] * 2  # the video alone still runs


def test_conditioning_node_conditions_are_encoded_only_after_the_memory_check(
        pack, mp, t2v, checkpoints, monkeypatch):
    """VideoCanvas Conditioning defers the encoding to the patched model: refused by free memory,
    nothing is encoded; accepted, the conditions are encoded once (a second run reuses them) and
    are exactly what the Sampler node would have encoded."""
    import importlib

    import comfy.sd
    import comfy.utils

    plan_mod = importlib.import_module(pack.__name__ + ".vc_core.plan")
    encode = importlib.import_module(pack.__name__ + ".vc_nodes.encode")
    vae_path = comfy_dir() / "models" / "vae" / checkpoints["wan21_vae_tiny"]
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(str(vae_path)))
    sources = [plan_mod.ConditionSource(plan_mod.Patch(torch.rand(H, W, 3)), frames=f) for f in (0, 4, 8)]
    plan = plan_mod.build_plan(sources, W, H, LENGTH)
    deferred = encode.DeferredEncoding(vae, plan)
    encoded = []
    real = encode.encode_plan
    monkeypatch.setattr(encode, "encode_plan", lambda *a: encoded.append(1) or real(*a))
    expected = real(vae, plan)

    def conds(text):
        return vcn("conditions").attach_conditions(prompt(text), deferred, plan.frames, plan.strengths, 4,
                                                   LENGTH)

    patched = mp.patch_model(t2v)
    with monkeypatch.context() as tight:
        set_free_memory(tight, int(video_alone(t2v, batch=1) * 1.5))
        with pytest.raises(ValueError, match="VideoCanvas conditions: this request makes 24 tokens"):
            forwards(patched, conds(0), conds(1))
    assert encoded == []
    forwards(patched, conds(0), conds(1))
    forwards(patched, conds(0), conds(1))
    assert encoded == [1]
    torch.testing.assert_close(deferred.latents(), expected, rtol=0, atol=0)  # same call, same input


# --- the layout strip ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def preview(pack):
    import importlib

    return importlib.import_module(pack.__name__ + ".vc_core.preview")


def plan_of(width, height, k, length=81):
    from types import SimpleNamespace

    return SimpleNamespace(width=width, height=height, length=length, stride=4, num_conditions=k,
                           canvases=torch.rand(k, height, width, 3), masks=torch.ones(k, height, width),
                           frames=[i * length // max(1, k) for i in range(k)])


@pytest.mark.parametrize("width,height,k,thumb,shape", [
    (832, 480, 2, 96, (118, 2 * (166 + 4) + 4)),           # small: unchanged, 96 px thumbnails
    (832, 480, 16, 96, (118, 16 * (166 + 4) + 4)),
    (832, 480, 17, 96, (118, 17 * (166 + 4) + 4)),         # 16 shown + the "+1 MORE" cell
    (16384, 16, 1, 96, (35 + 22, 36352 + 8)),              # was 96 x 98304: shrunk to 35 px high
    (16, 16384, 1, 512, (512 + 22, 40 + 8)),               # a 1 px thumbnail in a 40 px column
    (16384, 16384, 16, 512, (349 + 22, 16 * (349 + 4) + 4)),  # 349 px thumbnails, not 512
    (16384, 16384, 10000, 512, (338 + 22, 17 * (338 + 4) + 4)),
    (16384, 16, 10000, 512, (4 + 22, 17 * (4606 + 4) + 4)),
])
def test_layout_strip_is_bounded_whatever_the_canvas(preview, width, height, k, thumb, shape):
    """Height = thumbnail + bar 10 + 3 gaps of 4; width = columns x (column + gap) + gap. Where that
    exceeds 2^21 pixels the scale shrinks (by at least 1% a step) until it fits."""
    geo = preview.strip_geometry(width, height, k, thumb)
    assert (geo.h, geo.w) == shape
    assert geo.pixels <= preview.MAX_STRIP_PIXELS == 2 ** 21


@pytest.mark.parametrize("width,height,k,thumb", [(16384, 16, 1, 96), (16, 16384, 1, 512),
                                                  (48, 32, 2, 96), (832, 480, 17, 96)])
def test_layout_strip_image_has_the_bounded_geometry(preview, width, height, k, thumb):
    strip = preview.layout_strip(plan_of(width, height, k), thumb)
    geo = preview.strip_geometry(width, height, k, thumb)
    assert tuple(strip.shape) == (1, geo.h, geo.w, 3)


def test_thumbnails_are_area_means_without_a_full_size_copy(preview):
    """The thumbnail resize is torch's area resize (adaptive average pooling), computed row by row."""
    import torch.nn.functional as F

    image = torch.rand(37, 53, 3, generator=torch.Generator().manual_seed(3))
    expected = F.adaptive_avg_pool2d(image.permute(2, 0, 1)[None], (11, 7))[0].permute(1, 2, 0)
    assert torch.allclose(preview._area_resize(image, 11, 7), expected, atol=1e-6)  # float rounding


def test_layout_strip_shows_sixteen_and_counts_the_rest(preview):
    """100 conditions: 16 thumbnails (64x48 at thumb_height 48: columns 64 wide) and a 17th cell with
    "+84" over "MORE" in 3x5 glyphs at scale 3 (the largest that fits 4 glyphs in 64 - 2 px): 33 rows
    (2 lines of 5, 1 between, x3) by 45 columns ("MORE": 4 glyphs of 3 + 3 gaps, x3)."""
    strip = preview.layout_strip(plan_of(64, 48, 100), 48)[0]
    assert tuple(strip.shape) == (70, 17 * (64 + 4) + 4, 3)
    cell = strip[:, 4 + 16 * (64 + 4):]
    text = (cell == preview._TEXT).all(dim=-1)
    rows, cols = text.any(dim=1).nonzero().flatten(), text.any(dim=0).nonzero().flatten()
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (33, 45)
    assert not (strip[:, :4 + 16 * (64 + 4)] == preview._TEXT).all(dim=-1).any()
    few = preview.layout_strip(plan_of(64, 48, 16), 48)[0]  # all shown: no marker cell
    assert tuple(few.shape) == (70, 16 * (64 + 4) + 4, 3)
    assert not (few == preview._TEXT).all(dim=-1).any()


def test_layout_preview_node_refuses_absurd_counts_before_rendering(server, checkpoints):
    """The Layout Preview renders every canvas: refused at the samplers' count limit (4 per frame),
    before rendering 405 canvases of 832x480."""
    p = base(checkpoints, checkpoints["wan21_t2v_tiny"])
    del p["rope"], p["unet"]
    previous = None
    timestamp_conditions(p, "0")
    for i in range(5):  # 5 x all 81 frames = 405 condition frames
        inputs = {"patch": ["place", 0], "frames": ", ".join(map(str, range(81))), "unit": "frames",
                  "canvas": ["canvas", 0], "strength": 1.0}
        if previous:
            inputs["conditions"] = [previous, 0]
        p[f"when{i}"] = {"class_type": "VideoCanvasTimestampConditioner", "inputs": inputs}
        previous = f"when{i}"
    del p["when"]
    p["preview"] = {"class_type": "VideoCanvasLayoutPreview", "inputs": {
        "conditions": [previous, 0], "canvas": canvas(p, 832, 480, 81), "thumb_height": 96}}
    p["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["preview", 0]}}
    node, message, elapsed = refused(server, p)
    assert node == "VideoCanvasLayoutPreview", message
    assert "405 condition frames for a 81-frame video; at most 324" in message, message
    assert elapsed < FAST, f"took {elapsed:.2f}s to refuse"
