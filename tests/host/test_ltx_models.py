"""LTX-Video 0.9.x in a real (in-process) ComfyUI, on the tiny random checkpoints hostkit.tiny_models
builds with ComfyUI's own classes: a diffusion-model-only LTXV file and an LTXV VAE, each with the
metadata config ComfyUI reads. The groundwork for LTX-Video support: what ComfyUI itself does with an
LTXV model on this host, before the pack touches one.

The specification: ComfyUI's loaders read the files as its LTXV model and LTXV video VAE (128 latent
channels, 32x spatial, 8x temporal), and its own LTXV nodes run end to end on them: empty latent,
a guide image at frame 0 (LTXVAddGuide, or LTXVImgToVideo), frame rate, KSampler, guide crop, decode.

One host difference: 0.33.0's VAELoader passes a file's metadata on to comfy.sd.VAE; 0.3.75's and
0.7.0's drop it and build the full-size default LTXV VAE, which the tiny weights do not fit. There the
tiny VAE loads through comfy.sd.VAE(sd=..., metadata=...), as the fixture below loads it on every host.
"""

from __future__ import annotations

import pytest
import torch

W = H = 64
LENGTH = 9  # 2 latent frames (1 + 8) of 2x2 latent cells
LATENT = (1, 128, 2, 2, 2)
TOKENS = 4  # text tokens of the hand-made prompt
SEED, STEPS, CFG = 3, 2, 1.0
VAE_LOADER_DROPS_METADATA = ("0.3.75", "0.7.0")


def host_version() -> str:
    import comfyui_version

    return comfyui_version.__version__


def prompt(seed):
    """A hand-made T5-width prompt: LTXVModel.forward takes attention_mask as a required argument,
    which ComfyUI's T5 text encoder always provides."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, TOKENS, 4096, generator=g),
             {"attention_mask": torch.ones(1, TOKENS, dtype=torch.long)}]]


def image(seed=7):
    return torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(seed))


def per_frame(noise_mask):
    """A noise mask [B, 1, F, 1 or h, 1 or w] as one value per latent frame (one value across each)."""
    flat = noise_mask[0, 0].flatten(1)
    assert torch.equal(flat, flat[:, :1].expand_as(flat))
    return flat[:, 0].tolist()


def test_the_tiny_transformer_loads_as_comfyui_s_ltxv_model(ltxv):
    """UNETLoader's path (comfy.sd.load_diffusion_model) detects LTXV from the key names: model class
    LTXV over LTXVModel, 2 blocks, head dim 2 (ComfyUI assumes 32 heads), cross-attention dim 64, and
    causal_temporal_positioning from the file's metadata config; flow matching with LTXV's shift 2.37."""
    config = dict(ltxv.model.model_config.unet_config)
    assert config.pop("dtype") == torch.float32  # the loader's, as the fixture asked
    assert config.pop("use_keyframes_abs_pos_embedding", False) is False  # 0.33.0 only: read from the keys
    assert config == {"image_model": "ltxv", "num_layers": 2, "attention_head_dim": 2,
                      "cross_attention_dim": 64, "causal_temporal_positioning": True}
    assert type(ltxv.model.model_config).__name__ == "LTXV"
    assert type(ltxv.model).__name__ == "LTXV"
    dm = ltxv.model.diffusion_model
    assert type(dm).__name__ == "LTXVModel"
    assert (dm.inner_dim, len(dm.transformer_blocks), dm.causal_temporal_positioning) == (64, 2, True)
    assert dm.caption_projection.linear_1.in_features == 4096
    assert ltxv.model.latent_format.latent_channels == 128
    assert ltxv.model.model_sampling.shift == pytest.approx(2.37)


def test_the_tiny_vae_loads_as_an_ltxv_video_vae(n, ltxv_vae):
    """ComfyUI's VideoVAE with LTXV's geometry, as the pack reads a video VAE's (video_vae_geometry):
    128 latent channels, 32x spatial and 8x temporal compression; 9 frames of 64x64 encode to 2 latent
    frames of 2x2 and decode back to 9 frames of 64x64; causal in time: latent frame 0 of a clip is
    the encoding of its frame 0 alone."""
    assert type(ltxv_vae.first_stage_model).__name__ == "VideoVAE"
    assert ltxv_vae.latent_dim == 3
    assert ltxv_vae.downscale_index_formula == ltxv_vae.upscale_index_formula == (8, 32, 32)
    assert n.encode.video_vae_geometry(ltxv_vae) == (128, 32, 8)

    clip = torch.rand(LENGTH, H, W, 3, generator=torch.Generator().manual_seed(1))
    latent = ltxv_vae.encode(clip)
    assert latent.shape == LATENT
    torch.testing.assert_close(latent[:, :, :1], ltxv_vae.encode(clip[:1]), rtol=0, atol=1e-5)
    decoded = ltxv_vae.decode(latent)
    assert decoded.reshape(-1, H, W, 3).shape == (LENGTH, H, W, 3)
    assert torch.isfinite(decoded).all()


def test_the_vae_loader_node_loads_the_tiny_vae_only_where_it_passes_the_metadata_on(comfy, checkpoints,
                                                                                    ltxv_vae):
    """0.33.0: VAELoader builds the tiny VAE from the file's metadata config (the same weights as the
    fixture's). 0.3.75 / 0.7.0: VAELoader drops the metadata, builds LTXV 0.9.0's default VAE (base
    channels 128, patch size 4) and refuses the tiny weights by their shapes."""
    import nodes

    name = checkpoints["ltxv_vae_tiny"]
    if host_version() in VAE_LOADER_DROPS_METADATA:
        with pytest.raises(RuntimeError, match="size mismatch for encoder.conv_in.conv.weight: copying a "
                                               "param with shape torch.Size\\(\\[128, 192, 3, 3, 3\\]\\)"):
            nodes.VAELoader().load_vae(name)
        return
    vae = nodes.VAELoader().load_vae(name)[0]
    ours, theirs = vae.first_stage_model.state_dict(), ltxv_vae.first_stage_model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_native_ltxv_nodes_run_end_to_end_with_a_guide_image_at_frame_0(ltxv, ltxv_vae):
    """EmptyLTXVLatentVideo (64x64, 9 frames) -> LTXVAddGuide (an image at frame 0, strength 1) ->
    LTXVConditioning (25 fps) -> KSampler (2 steps, cfg 1) -> LTXVCropGuides -> VAEDecode.

    AddGuide appends the image's latent as a third latent frame, masked 0 (kept), with its pixel
    coordinates (time 0; 32-pixel cells) as keyframe_idxs; KSampler keeps the guide frame and
    generates the 2 video frames; CropGuides removes the guide frame and its keyframe_idxs; the
    decode is 9 finite frames of 64x64 in [0, 1]."""
    import nodes
    from comfy_extras.nodes_lt import EmptyLTXVLatentVideo, LTXVAddGuide, LTXVConditioning, LTXVCropGuides

    empty = EmptyLTXVLatentVideo.execute(W, H, LENGTH, 1)[0]
    assert empty["samples"].shape == LATENT and not empty["samples"].any()

    pos, neg, guided = LTXVAddGuide.execute(prompt(1), prompt(2), ltxv_vae, empty, image(), 0, 1.0)
    guide = ltxv_vae.encode(image())
    assert guided["samples"].shape == (1, 128, 3, 2, 2)
    torch.testing.assert_close(guided["samples"][:, :, 2:], guide, rtol=0, atol=1e-5)
    assert per_frame(guided["noise_mask"]) == [1.0, 1.0, 0.0]
    for cond in (pos, neg):
        keyframes = cond[0][1]["keyframe_idxs"]  # [1, 3, 4] (start) or, 0.33.0, [1, 3, 4, 2] (start, end)
        starts = keyframes[..., 0] if keyframes.ndim == 4 else keyframes
        assert starts[0].tolist() == [[0, 0, 0, 0], [0, 0, 32, 32], [0, 32, 0, 32]]

    pos, neg = LTXVConditioning.execute(pos, neg, 25.0)
    assert pos[0][1]["frame_rate"] == neg[0][1]["frame_rate"] == 25.0

    sampled = nodes.common_ksampler(ltxv, SEED, STEPS, CFG, "euler", "simple", pos, neg, guided)[0]
    assert sampled["samples"].shape == (1, 128, 3, 2, 2)
    # kept, to float32 rounding: the sampler's last Euler step lands on the clean guide latent
    torch.testing.assert_close(sampled["samples"][:, :, 2:], guided["samples"][:, :, 2:], rtol=0, atol=1e-6)
    assert torch.isfinite(sampled["samples"]).all() and sampled["samples"][:, :, :2].abs().amin() > 0

    pos, neg, cropped = LTXVCropGuides.execute(pos, neg, sampled)
    assert torch.equal(cropped["samples"], sampled["samples"][:, :, :2])
    assert per_frame(cropped["noise_mask"]) == [1.0, 1.0]
    assert pos[0][1]["keyframe_idxs"] is None and neg[0][1]["keyframe_idxs"] is None

    frames = nodes.VAEDecode().decode(ltxv_vae, cropped)[0]
    assert frames.shape == (LENGTH, H, W, 3)
    assert torch.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1


def test_native_ltxv_img_to_video_runs_end_to_end(ltxv, ltxv_vae):
    """LTXVImgToVideo (64x64, 9 frames, strength 1) -> LTXVConditioning -> KSampler -> VAEDecode: the
    image's latent in place of latent frame 0, masked 0 (kept through sampling), frame 1 generated."""
    import nodes
    from comfy_extras.nodes_lt import LTXVConditioning, LTXVImgToVideo

    pos, neg, latent = LTXVImgToVideo.execute(prompt(1), prompt(2), image(), ltxv_vae, W, H, LENGTH, 1, 1.0)
    assert latent["samples"].shape == LATENT
    torch.testing.assert_close(latent["samples"][:, :, :1], ltxv_vae.encode(image()), rtol=0, atol=1e-5)
    assert not latent["samples"][:, :, 1:].any()
    assert latent["noise_mask"].shape == (1, 1, 2, 1, 1) and per_frame(latent["noise_mask"]) == [0.0, 1.0]

    pos, neg = LTXVConditioning.execute(pos, neg, 25.0)
    sampled = nodes.common_ksampler(ltxv, SEED, STEPS, CFG, "euler", "simple", pos, neg, latent)[0]
    torch.testing.assert_close(sampled["samples"][:, :, :1], latent["samples"][:, :, :1], rtol=0, atol=1e-6)
    assert torch.isfinite(sampled["samples"]).all() and sampled["samples"][:, :, 1:].abs().amin() > 0

    frames = nodes.VAEDecode().decode(ltxv_vae, sampled)[0]
    assert frames.shape == (LENGTH, H, W, 3) and torch.isfinite(frames).all()


def test_an_ltxv_prompt_without_an_attention_mask_is_refused_by_the_model(ltxv):
    """LTXVModel.forward takes attention_mask as a required argument on every host: a prompt without
    one (a hand-made one, not from ComfyUI's T5 encoder) fails at the first step."""
    import nodes

    bare = [[prompt(1)[0][0], {}]]
    empty = {"samples": torch.zeros(LATENT)}
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'attention_mask'"):
        nodes.common_ksampler(ltxv, SEED, 1, CFG, "euler", "simple", bare, bare, empty)


def test_the_pack_s_guide_layout_is_ltxv_add_guide_s_for_single_images(ltxv_vae):
    """vc_core.paradigms.ltx_guides against native LTXVAddGuide, chained for single images at pixel
    frames 0, 5 (strength 0.7) and 16 of 17 (3 latent frames): the same keyframe_idxs on both prompts,
    in this host's layout ((start, end) on 0.33.0, start only before), the same latent with the guides
    appended and the same noise mask (0, 0.3, 0 on the guides); cropping them is LTXVCropGuides'."""
    from comfy_extras.nodes_lt import EmptyLTXVLatentVideo, LTXVAddGuide, LTXVCropGuides

    from vc_core.paradigms.ltx_guides import append_guides, crop_guides, guide_coords

    frames, strengths = [0, 5, 16], [1.0, 0.7, 1.0]
    empty = EmptyLTXVLatentVideo.execute(W, H, 17, 1)[0]
    pos, neg, latent = prompt(1), prompt(2), empty
    for k, (frame, strength) in enumerate(zip(frames, strengths, strict=True)):
        pos, neg, latent = LTXVAddGuide.execute(pos, neg, ltxv_vae, latent, image(k), frame, strength)
    native = pos[0][1]["keyframe_idxs"]
    assert torch.equal(neg[0][1]["keyframe_idxs"], native)
    ours = guide_coords(frames, (2, 2), start_end=native.ndim == 4)
    assert ours.shape == native.shape and torch.equal(ours.double(), native.double())

    guides = latent["samples"][:, :, 3:]  # the encoded images, as native appended them
    samples, mask = append_guides(empty["samples"], None, guides, strengths)
    assert torch.equal(samples, latent["samples"])
    assert torch.equal(mask, latent["noise_mask"]) and per_frame(mask) == [1.0, 1.0, 1.0, 0.0,
                                                                           pytest.approx(0.3), 0.0]
    _, _, cropped = LTXVCropGuides.execute(pos, neg, latent)
    assert torch.equal(crop_guides(latent["samples"], len(frames)), cropped["samples"])
