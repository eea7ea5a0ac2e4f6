"""Sparse condition tokens: a condition token is kept iff its canvas footprint (one 2x2 latent patch,
16x16 px with Wan 2.1's VAE) holds a pixel of the patch; the tokens kept keep their own (t, h, w)
RoPE positions. The reference is ComfyUI's own Wan forward on every token with the dropped ones
masked out of attention (tests/masked_wan.py)."""

import pytest
import torch

from helpers import allowed_mask, masked_forward
from vc_core.condition_tokens import Footprint, select_tokens, token_keep
from vc_core.paradigms.in_context import assemble, in_context_forward, plan_in_context
from vc_core.rope import rope_table
from vc_core.wan_forward import ConditionLatents

# Float32 through 2 blocks of dim 256, summed in another order (SDPA vs ComfyUI's kernel, one
# sequence vs two): outputs of size ~5 agree to ~1e-5; a single token dropped or misplaced moves
# them by > 1e-2.
TOL = {"atol": 1e-4, "rtol": 1e-4}


def test_footprint_marks_each_latent_pixel_whose_8x8_area_holds_a_patch_pixel():
    masks = torch.zeros(2, 32, 48)
    masks[0, 9, 17] = 0.25            # one feathered pixel -> latent pixel (1, 2)
    masks[1, :16, 40:] = 1.0          # a 16x8 block -> latent rows 0-1, column 5
    fp = Footprint.from_masks(masks, (4, 6))
    expected = torch.zeros(2, 4, 6, dtype=torch.bool)
    expected[0, 1, 2] = True
    expected[1, 0:2, 5] = True
    assert fp.shape == (2, 4, 6) and torch.equal(fp.tensor(), expected)
    assert fp == Footprint.from_masks(masks.clone(), (4, 6)) and hash(fp) == hash(
        Footprint.from_masks(masks.clone(), (4, 6)))  # compared by value, as CONDConstant needs


def test_a_token_is_kept_when_any_latent_pixel_of_its_2x2_patch_holds_a_patch_pixel():
    fp = torch.zeros(2, 4, 6, dtype=torch.bool)
    fp[0, 1, 2] = True   # token (0, 1)
    fp[1, 3, 5] = True   # token (1, 2)
    keep = token_keep(fp, (2, 2))
    assert keep.shape == (2, 2, 3)
    assert keep[0].nonzero().tolist() == [[0, 1]] and keep[1].nonzero().tolist() == [[1, 2]]
    sel = select_tokens(keep, 2, 6)
    assert sel.index.tolist() == [1, 6 + 5] and sel.counts == (1, 1)
    assert select_tokens(None, 2, 6).index.tolist() == list(range(12))


def test_masks_that_do_not_tile_the_latent_are_refused():
    with pytest.raises(ValueError, match="do not tile a 4x5 latent"):
        Footprint.from_masks(torch.ones(1, 32, 48), (4, 5))


def inputs(k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 16, 3, 4, 6, generator=g)
    latents = torch.randn(1, 16, k, 4, 6, generator=g)
    context = torch.randn(2, 5, 4096, generator=g)
    return x, latents, context


def test_sparse_with_every_token_kept_is_the_full_forward(wan):
    x, latents, context = inputs()
    fp = Footprint.from_masks(torch.ones(2, 32, 48), (4, 6))
    t = torch.tensor([700.0, 300.0])
    with torch.no_grad():
        full = in_context_forward(wan, x, t, context, ConditionLatents(latents, (2, 9)))
        sparse = in_context_forward(wan, x, t, context, ConditionLatents(latents, (2, 9), footprint=fp),
                                    condition_tokens="sparse")
    torch.testing.assert_close(sparse, full, **TOL)


def test_sparse_output_is_wans_own_forward_with_the_dropped_tokens_masked_out(wan):
    x, latents, context = inputs()
    masks = torch.zeros(2, 32, 48)
    masks[0, 4:20, 20:30] = 1.0   # tokens rows 0-1, columns 1-1 -> 2 of 6 kept
    masks[1, 30:, :] = 1.0        # the bottom row of tokens -> 3 of 6 kept
    fp = Footprint.from_masks(masks, (4, 6))
    keep = token_keep(fp.tensor(), (2, 2))
    assert keep.sum().item() == 5
    t = torch.tensor([700.0, 700.0])
    with torch.no_grad():
        out = in_context_forward(wan, x, t, context, ConditionLatents(latents, (2, 9), footprint=fp),
                                 condition_tokens="sparse")
    plan = plan_in_context(3, (2, 3), [2, 9], 4)
    freqs = rope_table(plan.positions(), wan.rope_embedder.axes_dim, wan.rope_embedder.theta)
    x_cat, t_cat = assemble(x, wan_latents(latents), t, 0.0)
    dropped = (~keep.reshape(-1)).nonzero().reshape(-1)
    ref, _ = masked_forward(wan, x_cat, t_cat, context, freqs, allowed_mask(18, 12, dropped))
    torch.testing.assert_close(out, ref[:, :, :3], **TOL)
    # dropping them matters: the full forward differs by far more than the tolerance
    with torch.no_grad():
        full = in_context_forward(wan, x, t, context, ConditionLatents(latents, (2, 9)))
    assert (full - out).abs().max() > 1e-2


def wan_latents(latents):
    return latents  # the forward receives latents already in the model's latent space


def test_sparse_keeps_exactly_the_tokens_under_the_patch_in_a_comfyui_sampling_run(pack, checkpoints):
    """Through the pack's own plan, encode and attach (sampling.prepare/with_plan) and ComfyUI's
    sampler: the self-attention ComfyUI runs sees the video tokens plus one condition token."""
    import comfy.sample
    import comfy.sd
    import comfy.utils
    import folder_paths

    from vc_core.canvas import Box
    from vc_core.plan import ConditionSource, Patch, Placement

    sampling, mp = pack.vc_nodes.sampling, pack.vc_nodes.model_patch
    model = comfy.sd.load_diffusion_model(folder_paths.get_full_path_or_raise(
        "diffusion_models", checkpoints["wan21_t2v_tiny"]))
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(folder_paths.get_full_path_or_raise(
        "vae", checkpoints["wan21_vae_tiny"])))
    patch = Patch(torch.rand(8, 8, 3), placement=Placement(Box(16, 0, 16, 16)))  # token (0, 1)
    plan, latents, latent = sampling.prepare(vae, (ConditionSource(patch, 4),), 48, 32, 9, 1, model)
    keys = []

    def spy(func, *args, **kwargs):
        if args[1].shape[1] != 5:  # not the 5-token text
            keys.append(args[1].shape[1])
        return func(*args, **kwargs)

    null = [[torch.zeros(1, 5, 4096), {}]]
    pos = sampling.with_plan(null, plan, latents)
    for tokens, expected in (("sparse", 3 * 6 + 1), ("full", 3 * 6 + 6)):
        keys.clear()
        patched = mp.patch_model(model, condition_tokens=tokens)
        patched.model_options.setdefault("transformer_options", {})[
            "optimized_attention_override"] = spy
        noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            comfy.sample.sample(patched, noise, 2, 1.0, "euler", "simple", pos, pos,
                                torch.zeros_like(noise), seed=0, disable_pbar=True)
        assert keys and set(keys) == {expected}, (tokens, keys)


def test_the_condition_token_forward_tells_attention_which_block_runs_as_wans_own_forward_does(wan):
    """Attention overrides and patches read transformer_options' block_index / total_blocks /
    block_type; the condition-token forward sets them for every block, as forward_orig does."""
    from vc_core.condition_tokens import sdpa_attention

    x, latents, context = inputs()
    fp = Footprint.from_masks(torch.ones(2, 32, 48), (4, 6))
    seen = []

    def attention(q, k, v, heads, transformer_options=None):
        o = transformer_options
        seen.append((o["block_index"], o["total_blocks"], o["block_type"]))
        return sdpa_attention(q, k, v, heads, transformer_options)

    with torch.no_grad():
        in_context_forward(wan, x, torch.tensor([700.0, 300.0]), context,
                           ConditionLatents(latents, (2, 9), footprint=fp), condition_tokens="sparse",
                           attention=attention, transformer_options={})
    assert seen == [(0, 2, "double"), (1, 2, "double")]
