"""Strength: what it means (one sentence, vc_core.paradigms.in_context.STRENGTH_DEFINITION), that it is a
function of the sampler's seed, the condition and the step only (never of ComfyUI's batching), that
it changes the result monotonically on the trained toy model, and that latent replacement, which
cannot honour it, refuses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import Spy, vcn
from hostkit.setup import comfy_dir
from vc_core.paradigms.in_context import STRENGTH_DEFINITION, condition_noise, noise_conditions

W, H, LENGTH = 32, 32, 9  # tiny checkpoints: 3 latent frames of 4x4 latents


# --------------------------------------------------------------------------- the definition


def test_strength_is_defined_in_one_sentence_shown_as_the_tooltip(pack):
    assert STRENGTH_DEFINITION.count(". ") == 0 and STRENGTH_DEFINITION.endswith(".")
    tooltip = pack.vc_nodes.types.strength_input().tooltip
    assert tooltip.startswith(STRENGTH_DEFINITION)
    assert "revise" not in tooltip  # the model's output for a condition is discarded
    assert "latent replacement" in tooltip.lower()


def test_noise_depends_on_seed_condition_and_step_only():
    a = condition_noise(7, 0, 800.0, (16, 4, 4))
    assert torch.equal(a, condition_noise(7, 0, 800.0, (16, 4, 4)))
    for other in (condition_noise(8, 0, 800.0, (16, 4, 4)),   # seed
                  condition_noise(7, 1, 800.0, (16, 4, 4)),   # condition index
                  condition_noise(7, 0, 750.0, (16, 4, 4))):  # step
        assert not torch.equal(a, other)
    # seeds as large as ComfyUI's (up to 2**64 - 1) are accepted
    assert condition_noise(2**64 - 1, 0, 1.0, (2,)).shape == (2,)


def test_every_batch_row_of_a_step_gets_the_same_noise_for_condition_k():
    g = torch.Generator().manual_seed(0)
    cond = torch.randn(1, 16, 2, 4, 4, generator=g)
    sigmas = torch.tensor([[0.4, 0.0]])  # strength 0.5 at sigma 0.8, strength 1
    alone = noise_conditions(cond, sigmas, seed=3, steps=torch.tensor([800.0]))
    batched = noise_conditions(cond.expand(2, -1, -1, -1, -1), sigmas.expand(2, -1), seed=3,
                               steps=torch.tensor([800.0, 800.0]))
    assert torch.equal(batched[0], alone[0]) and torch.equal(batched[1], alone[0])
    eps = condition_noise(3, 0, 800.0, (16, 4, 4))
    assert torch.equal(alone[0, :, 0], 0.6 * cond[0, :, 0] + 0.4 * eps)
    assert torch.equal(alone[0, :, 1], cond[0, :, 1])  # strength 1: untouched
    assert noise_conditions(cond, torch.zeros(1, 2), 3, torch.tensor([800.0])) is cond


# ------------------------------------------------------------ through ComfyUI's own sampling


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def sample(model, positive, negative, cfg, seed=0, steps=3, batch=1):
    import comfy.sample

    start = randn(batch, 16, 3, H // 8, W // 8, seed=0)
    return comfy.sample.sample(model, start, steps, cfg, "euler", "simple", positive, negative,
                               torch.zeros_like(start), seed=seed, disable_pbar=True)


def separately(args):
    """ComfyUI's own hook for the cond/uncond forward: run each one alone (as ComfyUI does when
    memory does not allow batching them), through its own calc_cond_batch."""
    import comfy.samplers

    return [comfy.samplers.calc_cond_batch(args["model"], [c], args["input"], args["sigma"],
                                           args["model_options"])[0] for c in args["conds"]]


def prompt_of(seed):
    return [[randn(1, 4, 4096, seed=seed), {}]]


def conditioned(mp, seed, strength):
    latents = randn(1, 16, 2, H // 8, W // 8, seed=1)
    prompt = prompt_of(seed)
    return vcn("conditions").attach_conditions(prompt, latents, [0, 5], [strength, 1.0], 4)


def test_cfg_result_is_the_same_whether_comfyui_batches_cond_and_uncond_or_not(mp, t2v):
    patched = mp.patch_model(t2v)
    positive, negative = conditioned(mp, 0, 0.5), conditioned(mp, 1, 0.5)
    batched = Spy(patched)
    out_batched = sample(batched.model, positive, negative, cfg=4.0)
    apart = Spy(patched)
    apart.model.set_model_sampler_calc_cond_batch_function(separately)
    out_apart = sample(apart.model, positive, negative, cfg=4.0)
    # the two layouts really differ: 3 steps of one [2, ...] call vs 3 steps of two [1, ...] calls
    assert [c["img"].shape[0] for c in batched.calls] == [2] * 3
    assert [c["img"].shape[0] for c in apart.calls] == [1] * 6
    tokens = 4  # per latent frame; frames 3 and 4 of the sequence are the two conditions
    for step in range(3):
        cond_row, uncond_row = batched.calls[step]["img"][:, 3 * tokens:]
        # the same condition tokens for cond and uncond, and the same as when they run apart
        torch.testing.assert_close(cond_row, uncond_row, atol=0, rtol=0)
        for alone in apart.calls[2 * step:2 * step + 2]:
            torch.testing.assert_close(alone["img"][0, 3 * tokens:], cond_row, atol=1e-5, rtol=1e-5)
    # Only float rounding separates the layouts (a batch-2 and a batch-1 matmul may accumulate in
    # another order, ~1e-7 per op); a condition noised differently would move the result by > 1e-2.
    torch.testing.assert_close(out_apart, out_batched, atol=1e-4, rtol=1e-4)


def test_two_videos_per_run_with_cfg_batch_cond_and_uncond_chunks_like_one(mp, t2v):
    """batch_size 2 with cfg > 1: ComfyUI runs cond and uncond as two chunks of 2 rows in one
    [4, ...] forward, with the sigmas of one chunk in transformer_options; the result equals the
    chunks run apart, and each video equals its run alone (the same seed gives row 0 the same noise)."""
    patched = mp.patch_model(t2v)
    positive, negative = conditioned(mp, 0, 0.5), conditioned(mp, 1, 0.5)
    batched = Spy(patched)
    out_batched = sample(batched.model, positive, negative, cfg=4.0, batch=2)
    assert [c["img"].shape[0] for c in batched.calls] == [4] * 3
    apart = patched.clone()
    apart.set_model_sampler_calc_cond_batch_function(separately)
    torch.testing.assert_close(sample(apart, positive, negative, cfg=4.0, batch=2), out_batched,
                               atol=1e-4, rtol=1e-4)


def test_strength_noise_is_fixed_by_the_seed_and_changes_with_the_step(mp, t2v):
    patched = mp.patch_model(t2v)
    runs = {}
    for seed in (0, 0, 1):
        spy = Spy(patched)
        out = sample(spy.model, conditioned(mp, 0, 0.5), conditioned(mp, 1, 0.5), cfg=1.0, seed=seed)
        runs.setdefault(seed, []).append((out, [c["img"][:, 12:16] for c in spy.calls]))
    (out0, tok0), (out0b, tok0b) = runs[0]
    out1, tok1 = runs[1][0]
    assert torch.equal(out0, out0b) and all(torch.equal(a, b) for a, b in zip(tok0, tok0b, strict=True))
    assert not torch.equal(tok0[0], tok1[0])  # another sampler seed, other noise
    assert not torch.equal(tok0[0], tok0[1])  # a new draw at every step (sigma 1 -> 0.67)
    clean = Spy(patched)
    sample(clean.model, conditioned(mp, 0, 1.0), conditioned(mp, 1, 1.0), cfg=1.0)
    assert torch.equal(clean.calls[0]["img"][:, 12:16], clean.calls[1]["img"][:, 12:16])  # strength 1: clean


# ------------------------------------------------------------------- the trained toy model


def toy_prompt(strength, seed, paradigm="in_context", steps=10, videos=1):
    from templates.recipes import TOY_UNET, TOY_VAE

    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": TOY_UNET, "weight_dtype": "default"}},
        "2": {"class_type": "VAELoader", "inputs": {"vae_name": TOY_VAE}},
        "3": {"class_type": "VideoCanvasRoPEInterpolator",
              "inputs": {"model": ["1", 0], "position_policy": "interpolate", "paradigm": paradigm}},
        "4": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "5": {"class_type": "LoadImage", "inputs": {"image": KEY_FILE}},
        "6": {"class_type": "VideoCanvasPatchPlacer",
              "inputs": {"image": ["5", 0], "x": 0.0, "y": 0.0, "width": 1.0, "height": 1.0,
                         "unit": "fraction", "fit": "cover", "feather": 0.0}},
        "7": {"class_type": "VideoCanvasTimestampConditioner",
              "inputs": {"patch": ["6", 0], "frames": str(KEY_AT), "unit": "frames",
                         "canvas": ["11", 0], "strength": strength}},
        "8": {"class_type": "VideoCanvasSampler",
              "inputs": {"model": ["3", 0], "positive": ["4", 0], "negative": ["4", 0], "vae": ["2", 0],
                         "canvas": ["11", 0], "batch_size": videos, "seed": seed,
                         "steps": steps, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                         "denoise": 1.0, "conditions": ["7", 0]}},
        "9": {"class_type": "VideoCanvasDecode",
              "inputs": {"vae": ["2", 0], "latent": ["8", 0], "tile_size": 0, "paste_back": False,
                         "feather": 4.0, "conditions": ["7", 0]}},
        "10": {"class_type": "PreviewImage", "inputs": {"images": ["9", 0]}},
        "11": {"class_type": "VideoCanvasCanvas",
               "inputs": {"width": 64, "height": 64, "length": 17, "fps": 16.0}},
    }


KEY_FILE, KEY_AT = "videocanvas_strength_key.png", 8


@pytest.fixture(scope="module")
def keyframe(comfy):
    from PIL import Image

    from benchmarks.demo import bundled_models_present, keyframe_image

    assert bundled_models_present(), "the bundled toy model is missing from models/"
    key = (keyframe_image(64).numpy() * 255).round().astype("uint8")
    (comfy_dir() / "input").mkdir(exist_ok=True)
    Image.fromarray(key).save(comfy_dir() / "input" / KEY_FILE)
    return torch.from_numpy(key).float() / 255.0


def keyframe_psnrs(comfy, keyframe, strength, videos) -> list[float]:
    """PSNR of frame KEY_AT vs the keyframe in each of `videos` videos sampled in one run (one
    batch: ComfyUI draws each video's starting noise separately from the seed)."""
    import folder_paths
    from PIL import Image

    from benchmarks.evaluate import psnr

    images = comfy.run(toy_prompt(strength, 0, videos=videos))["10"]["images"]
    assert len(images) == 17 * videos  # video-major: frame t of video b is image b * 17 + t
    out = []
    for b in range(videos):
        item = images[b * 17 + KEY_AT]
        path = f"{folder_paths.get_temp_directory()}/{item['subfolder']}/{item['filename']}"
        frame = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).float() / 255.0
        out.append(psnr(frame, keyframe))
    return out


def test_lower_strength_follows_the_keyframe_less_on_the_trained_toy_model(comfy, keyframe):
    # Measured (10 steps, 3 videos): PSNR of frame 8 vs the keyframe [17.2, 17.8, 18.6] /
    # [15.1, 15.2, 16.0] / [13.1, 13.5, 13.5] dB at strength 1 / 0.5 / 0 (0.75: 15.5, 0.25: 14.9 mean).
    strengths = (1.0, 0.5, 0.0)
    table = np.array([keyframe_psnrs(comfy, keyframe, s, videos=3) for s in strengths])
    means = table.mean(axis=1)
    assert means[0] - means[1] > 1.0 and means[1] - means[2] > 1.0, table.round(2).tolist()
    assert (np.diff(table, axis=0) < 0).all(), table.round(2).tolist()


def test_latent_replacement_refuses_strength_below_one_by_name(comfy, keyframe):
    from hostkit.inprocess import ExecutionFailed

    with pytest.raises(ExecutionFailed) as err:
        comfy.run(toy_prompt(0.5, 0, paradigm="latent_replacement", steps=1))
    message = err.value.data["exception_message"]
    assert "strength" in message and "latent_replacement paradigm cannot honour strength 0.5" in message
    assert "Set strength to 1, or use the in_context paradigm" in message
    assert len(comfy.run(toy_prompt(1.0, 0, paradigm="latent_replacement", steps=1))["10"]["images"]) == 17


# ------------------------------------------------- whatever the model sampling's multiplier


def test_strength_follows_sigma_not_the_timestep_units(mp, t2v):
    """ModelSamplingAuraFlow feeds the model timestep = sigma (multiplier 1), ModelSamplingSD3
    sigma x 1000, over the same sigmas (same shift): the conditions enter every step noised to the
    same level with the same noise, so their tokens agree (only the time embedding differs)."""
    from comfy_extras.nodes_model_advanced import ModelSamplingAuraFlow, ModelSamplingSD3

    latents = randn(1, 16, 1, H // 8, W // 8, seed=5)
    cond = vcn("conditions").attach_conditions(prompt_of(0), latents, [4], [0.5], 4, LENGTH)
    tokens = {}
    for name, model in (("sd3", ModelSamplingSD3().patch(mp.patch_model(t2v), 5.0)[0]),
                        ("aura", ModelSamplingAuraFlow().patch_aura(mp.patch_model(t2v), 5.0)[0])):
        spy = Spy(model)
        sample(spy.model, cond, cond, cfg=1.0, steps=3)
        tokens[name] = [call["img"][:, 3 * 4:] for call in spy.calls]
    assert len(tokens["aura"]) == 3
    for sd3, aura in zip(tokens["sd3"], tokens["aura"], strict=True):
        torch.testing.assert_close(aura, sd3, atol=1e-6, rtol=1e-6)  # one patch embedding, same input
    assert not torch.allclose(tokens["aura"][0], tokens["aura"][1])  # noised anew each step


def test_latent_replacement_holds_its_slot_under_auraflow_sampling(mp, t2v_float32):
    from comfy_extras.nodes_model_advanced import ModelSamplingAuraFlow

    t2v = t2v_float32
    latents = randn(1, 16, 1, H // 8, W // 8, seed=6)
    model = ModelSamplingAuraFlow().patch_aura(mp.patch_model(t2v, paradigm="latent_replacement"), 3.0)[0]
    out = sample(model, vcn("conditions").attach_conditions(prompt_of(0), latents, [4], [1.0], 4, LENGTH),
                 prompt_of(1), cfg=1.0, steps=3)
    # frame 4 lives in latent slot 1; the sampler output is in the model's latent space
    expected = t2v.model.latent_format.process_in(latents)[:, :, 0]
    torch.testing.assert_close(t2v.model.process_latent_in(out)[:, :, 1], expected, atol=1e-4, rtol=0)
