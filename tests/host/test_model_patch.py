"""The VideoCanvas model patch on real ComfyUI Wan models, through ComfyUI's own loaders and
samplers (the code paths of KSampler, KSamplerAdvanced and SamplerCustomAdvanced)."""

import pytest
import torch

from helpers import (
    TINY_H,
    TINY_LENGTH,
    TINY_W,
    Spy,
    condition_latents,
    ksampler,
    load,
    noise,
    on_weights,
    prompt,
    vcn,
    with_conditions,
)
from hostkit.tiny_models import TinyWan, save

W, H, LENGTH = TINY_W, TINY_H, TINY_LENGTH


def test_describe_model_names_the_supported_kinds(mp, t2v_float32, checkpoints):
    describe = vcn("model_kinds").describe_model
    assert describe(t2v_float32) == "Wan 2.1/2.2 T2V (16-ch)"
    assert describe(load(checkpoints["wan22_ti2v_tiny"])) == "Wan 2.2 TI2V-5B (48-ch)"


def test_other_wan_channel_layouts_are_refused_by_name(mp, tmp_path):
    """36 input channels (noise + mask + image) is Wan image-to-video, driven through its channels
    (tests/host/test_i2v.py); any other layout for 16 latent channels is refused, naming the counts."""
    import comfy.sd

    path = save(TinyWan(in_dim=32, out_dim=16).build(seed=4), tmp_path / "wan_32ch.safetensors")
    other = comfy.sd.load_diffusion_model(str(path))
    with pytest.raises(vcn("model_kinds").UnsupportedModel,
                       match="a Wan model with 32 input channels for 16 latent channels is not one "
                             "VideoCanvas knows"):
        mp.patch_model(other)


def test_bad_settings_are_refused(mp, t2v_float32):
    with pytest.raises(ValueError, match="position_policy must be one of"):
        mp.patch_model(t2v_float32, policy="linear")
    with pytest.raises(ValueError, match="paradigm must be one of"):
        mp.patch_model(t2v_float32, paradigm="concat")


def test_without_conditions_the_patched_model_is_bit_identical(mp, t2v_float32):
    plain = ksampler(t2v_float32, prompt(0), prompt(1), cfg=3.0)
    patched = ksampler(mp.patch_model(t2v_float32), prompt(0), prompt(1), cfg=3.0)
    assert torch.equal(plain, patched)


# The patch embedding is a float32 convolution: run over the video and conditions together (inside
# the model) or over the conditions alone (here), its accumulation order may differ with the batch
# layout (seen: <= 5e-7 on AMD EPYC). Tokens are O(1); 1e-5 admits that rounding and nothing else
# (a condition noised at any sampler step moves its tokens by > 1e-2).
TOKEN_TOL = {"atol": 1e-5, "rtol": 1e-5}


def embedded(wan, latents):
    """Patch-embedded tokens [B, K*h*w, dim] of latents already in the model's latent space."""
    embed = wan.patch_embedding
    return embed(on_weights(embed, latents.float())).flatten(2).transpose(1, 2).detach()


def test_conditions_enter_every_step_clean_with_exactly_the_encoded_values(mp, t2v_float32):
    latents = condition_latents(k=2)
    spy = Spy(mp.patch_model(t2v_float32))
    cond = with_conditions(prompt(0), latents, [0, 41])
    ksampler(spy.model, cond, cond, cfg=1.0, steps=3)
    wan = t2v_float32.model.diffusion_model
    expected_tokens = embedded(wan, t2v_float32.model.latent_format.process_in(latents))
    import comfy.ldm.wan.model as wm

    e_clean = wan.time_projection(wan.time_embedding(wm.sinusoidal_embedding_1d(
        wan.freq_dim, on_weights(wan.time_embedding, torch.zeros(1))))).unflatten(1, (6, wan.dim))
    assert len(spy.calls) == 3
    for call in spy.calls:
        tokens_per_frame = 4
        assert call["img"].shape[1] == (3 + 2) * tokens_per_frame
        torch.testing.assert_close(call["img"][:, 3 * tokens_per_frame:], expected_tokens, **TOKEN_TOL)
        assert call["vec"].shape[1] == 3 + 2
        for k in (3, 4):
            # the same embedding of t = 0, computed for [B, N] timesteps there and [1] here
            torch.testing.assert_close(call["vec"][0, k], e_clean[0], atol=1e-6, rtol=1e-5)
        assert not torch.allclose(call["vec"][0, 0], e_clean[0], atol=1e-3)
        assert call["pe"].dtype == torch.float32


def test_condition_positions_reach_attention(mp, t2v_float32):
    latents = condition_latents()
    out = {}
    for policy in ("interpolate", "nearest"):
        model = mp.patch_model(t2v_float32, policy=policy)
        for frame in (41, 44):
            # 41 and 44 share the causal latent slot 11 (frames 41..44) but not the position
            out[policy, frame] = ksampler(model, with_conditions(prompt(0), latents, [frame]),
                                          prompt(1))
    assert not torch.equal(out["interpolate", 41], out["interpolate", 44])
    assert torch.equal(out["nearest", 41], out["nearest", 44])
    assert torch.equal(out["nearest", 44], ksampler(mp.patch_model(t2v_float32, policy="nearest"),
                                                    with_conditions(prompt(0), latents, [44]),
                                                    prompt(1)))


def test_fractional_position_table_is_what_the_blocks_receive(mp, t2v_float32):
    from vc_core.rope import grid_positions, rope_table

    spy = Spy(mp.patch_model(t2v_float32))
    ksampler(spy.model, with_conditions(prompt(0), condition_latents(), [41]), prompt(1), steps=1)
    pos = grid_positions(torch.tensor([0.0, 1.0, 2.0, 10.25]), 2, 2)
    # Exact: the patch builds its table the same way (angles in float64, cast to float32), here on
    # the same device. Frame 41 at the nearest slot (11.0 instead of 10.25) would move entries by 0.7.
    pe = spy.calls[0]["pe"]
    assert torch.equal(pe, rope_table(pos, (44, 42, 42), device=pe.device))


def test_cfg_batches_cond_and_uncond_with_their_conditions_in_one_forward(mp, t2v_float32):
    wan = t2v_float32.model.diffusion_model
    model = mp.patch_model(t2v_float32)
    spy = Spy(model)
    # the same timing (so ComfyUI may batch the two), different condition latents per prompt
    latents = {"positive": condition_latents(seed=1), "negative": condition_latents(seed=2)}
    positive = with_conditions(prompt(0), latents["positive"], [8])
    negative = with_conditions(prompt(1), latents["negative"], [8])
    batched = ksampler(spy.model, positive, negative, cfg=4.0, steps=1)
    (call,) = spy.calls
    assert call["img"].shape[0] == 2 and sorted(call["cond_or_uncond"]) == [0, 1]
    # each row carries its own prompt's text and its own prompt's condition tokens
    for row, which in enumerate(call["cond_or_uncond"]):
        name, text = ("positive", prompt(0)) if which == 0 else ("negative", prompt(1))
        expected_text = wan.text_embedding(on_weights(wan.text_embedding, text[0][0]))[0].detach()
        torch.testing.assert_close(call["txt"][row], expected_text, **TOKEN_TOL)
        expected = embedded(wan, t2v_float32.model.latent_format.process_in(latents[name]))[0]
        torch.testing.assert_close(call["img"][row, 3 * 4:], expected, **TOKEN_TOL)
    # Unbatched: cfg 1 runs the positive (or the negative) alone, one row per forward. One euler
    # step to sigma 0 returns the denoised prediction, so CFG is negative + 4 (positive - negative).
    # Batch-of-2 against batch-of-1 matmuls round differently: float32 noise, amplified 4x by CFG
    # (seen: 2e-5 on outputs up to 22; swapping the two rows' conditions moves them by ~5).
    alone = {name: ksampler(model, cond, cond, cfg=1.0, steps=1)
             for name, cond in (("positive", positive), ("negative", negative))}
    expected = alone["negative"] + 4.0 * (alone["positive"] - alone["negative"])
    torch.testing.assert_close(batched, expected, atol=1e-4, rtol=1e-5)
    assert (alone["positive"] - alone["negative"]).abs().max() > 1e-2  # the rows do differ


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_weights_in_every_dtype_sample_with_float32_positions(mp, checkpoints, dtype):
    from vc_core.paradigms.in_context import plan_in_context
    from vc_core.rope import axis_frequencies

    # Frame 305 of a 309-frame video sits at 305 / 4 = 76.25, which bf16 (8 significant bits)
    # rounds to 76.0. A 16x16 video is a 2x2 latent: one token per frame, 78 video tokens.
    length, size, frame = 309, (16, 16), 305
    assert plan_in_context(78, (1, 1), [frame], 4).condition_t.tolist() == [76.25]
    assert torch.tensor(76.25, dtype=torch.bfloat16).item() == 76.0
    model = load(checkpoints["wan21_t2v_tiny"], dtype=dtype)
    spy = Spy(mp.patch_model(model))
    cond = with_conditions(prompt(0), condition_latents(size=size), [frame], length=length)
    out = ksampler(spy.model, cond, prompt(1), length=length, size=size)
    assert torch.isfinite(out).all()
    compute = model.model.manual_cast_dtype or model.model.get_dtype()  # CPU upcasts fp16 weights
    pe = spy.calls[0]["pe"].cpu()  # where the frequencies below are
    assert spy.calls[0]["img"].dtype == compute and pe.dtype == torch.float32
    assert pe.shape[1] == 78 + 1
    # Read each token's temporal position back from its rotations: entry j of the temporal axis
    # (the first 44 / 2) turns by p * theta_j, unambiguous while that angle is below pi. float32
    # sin/cos give p to ~1e-5 there; a bf16 position would read 76.0.
    theta = axis_frequencies(44)
    unwrapped = theta * 78 < 3.0
    assert unwrapped.sum() >= 10

    def position(token):
        rotation = pe[0, token, 0, :22].double()
        return torch.atan2(rotation[:, 1, 0], rotation[:, 0, 0])[unwrapped] / theta[unwrapped]

    for token, expected in ((78, 76.25), (77, 77.0), (76, 76.0)):  # the condition, then video
        torch.testing.assert_close(position(token), torch.full_like(position(token), expected),
                                   atol=1e-4, rtol=0)


def test_wan22_ti2v_per_frame_timesteps_get_condition_frames_appended(mp, checkpoints):
    model = load(checkpoints["wan22_ti2v_tiny"])
    spy = Spy(mp.patch_model(model))
    mask = torch.ones(1, 1, 3, H // 8, W // 8)
    mask[:, :, 0] = 0  # TI2V's own first-frame latent, made per-frame timesteps by ComfyUI
    out = ksampler(spy.model, with_conditions(prompt(0), condition_latents(channels=48), [20]),
                   prompt(1), noise_mask=mask)
    assert torch.isfinite(out).all() and spy.calls[0]["vec"].shape[1] == 3 + 1


def test_condition_latents_from_another_vae_are_refused_by_name(mp, t2v_float32):
    cond = with_conditions(prompt(0), condition_latents(channels=48), [0])
    with pytest.raises(ValueError, match="vae: condition latents have 48 channels"):
        ksampler(mp.patch_model(t2v_float32), cond, prompt(1))


def test_lora_patched_model(mp, t2v_float32):
    import comfy.sd

    g = torch.Generator().manual_seed(5)
    lora = {"diffusion_model.blocks.0.ffn.0.lora_up.weight": torch.randn(256, 4, generator=g),
            "diffusion_model.blocks.0.ffn.0.lora_down.weight": torch.randn(4, 128, generator=g)}
    lora_model, _ = comfy.sd.load_lora_for_models(t2v_float32, None, lora, 1.0, 0)
    cond = with_conditions(prompt(0), condition_latents(), [5])
    with_lora = ksampler(mp.patch_model(lora_model), cond, prompt(1))
    assert not torch.equal(with_lora, ksampler(mp.patch_model(t2v_float32), cond, prompt(1)))
    assert torch.equal(ksampler(mp.patch_model(lora_model), prompt(0), prompt(1)),
                       ksampler(lora_model, prompt(0), prompt(1)))


def test_ksampler_advanced_split_and_sampler_custom_advanced(mp, t2v_float32):
    import comfy.model_management
    import comfy.samplers

    model = mp.patch_model(t2v_float32)
    cond = with_conditions(prompt(0), condition_latents(), [12])
    full = ksampler(model, cond, prompt(1), steps=4)
    # KSamplerAdvanced: two halves on the same (A14B: on two patched experts) model
    first = ksampler(model, cond, prompt(1), steps=4, last_step=2, force_full_denoise=False)
    import comfy.sample

    second = comfy.sample.sample(model, torch.zeros_like(first), 4, 1.0, "euler", "simple", cond,
                                 prompt(1), first, start_step=2, disable_noise=True,
                                 disable_pbar=True, seed=0)
    assert torch.allclose(full, second, atol=1e-5)
    # SamplerCustomAdvanced: a guider, sampler and sigmas of ComfyUI's own
    guider = comfy.samplers.CFGGuider(model)
    guider.set_conds(cond, prompt(1))
    guider.set_cfg(1.0)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 4)
    custom = guider.sample(noise(), torch.zeros_like(noise()), comfy.samplers.sampler_object("euler"),
                           sigmas, disable_pbar=True, seed=0)
    # the guider returns the model device's tensor; SamplerCustomAdvanced moves it, as here
    custom = custom.to(comfy.model_management.intermediate_device())
    assert torch.allclose(custom, full, atol=1e-5)


# The slot's velocity is formed in the dtype the blocks compute in. float32: exact up to float32
# rounding. float16 (a GPU's default; the CPU upcasts to float32): the sampler's x, the condition
# and the velocity each round to 2**-11 relative, on latents of magnitude < 3 here: < 1e-2 (2.5e-3
# with float16 compute forced on the CPU; that also gives test_strength's case its 2.0e-3 seen on an
# H200). A slot that is not held moves by O(1).
@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-4), (torch.float16, 1e-2)])
def test_latent_replacement_paradigm_keeps_the_slot_at_the_condition(mp, t2v_float32, checkpoints, dtype,
                                                                     atol):
    latents = condition_latents()
    weights = t2v_float32 if dtype == torch.float32 else load(checkpoints["wan21_t2v_tiny"], dtype=dtype)
    model = mp.patch_model(weights, paradigm="latent_replacement")
    out = ksampler(model, with_conditions(prompt(0), latents, [4]), prompt(1), steps=3)
    # frame 4 lives in latent slot 1; the sampler output is in the model's latent space
    expected = t2v_float32.model.latent_format.process_in(latents)[:, :, 0]
    torch.testing.assert_close(t2v_float32.model.process_latent_in(out)[:, :, 1], expected, atol=atol, rtol=0)


def test_memory_estimate_counts_one_latent_frame_per_condition(mp, t2v_float32, monkeypatch):
    import comfy.sampler_helpers as sh

    seen = []
    real = sh.estimate_memory
    monkeypatch.setattr(sh, "estimate_memory", lambda m, shape, conds: seen.append(list(shape))
                        or real(m, shape, conds))
    model = mp.patch_model(t2v_float32)
    ksampler(model, with_conditions(prompt(0), condition_latents(k=3), [0, 4, 8]), prompt(1),
             steps=1)
    ksampler(model, prompt(0), prompt(1), steps=1)
    assert seen == [[1, 16, 3 + 3, 4, 4], [1, 16, 3, 4, 4]]


def test_wan22_a14b_two_patched_experts_split_with_ksampler_advanced(mp, t2v_float32, tmp_path):
    """A14B: a high-noise and a low-noise expert, both patched; each half sees the conditions."""
    import comfy.sample
    import comfy.sd

    low_noise = comfy.sd.load_diffusion_model(
        str(save(TinyWan().build(seed=9), tmp_path / "low_noise_expert.safetensors")))
    spies = Spy(mp.patch_model(t2v_float32)), Spy(mp.patch_model(low_noise))
    cond = with_conditions(prompt(0), condition_latents(k=2), [0, 30])
    first = ksampler(spies[0].model, cond, prompt(1), steps=4, last_step=2, force_full_denoise=False)
    out = comfy.sample.sample(spies[1].model, torch.zeros_like(first), 4, 1.0, "euler", "simple", cond,
                              prompt(1), first, start_step=2, disable_noise=True, disable_pbar=True,
                              seed=0)
    assert [len(s.calls) for s in spies] == [2, 2]
    assert all(c["img"].shape[1] == (3 + 2) * 4 for s in spies for c in s.calls)
    assert not torch.equal(out, ksampler(mp.patch_model(t2v_float32), cond, prompt(1), steps=4))
