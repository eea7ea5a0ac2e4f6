"""LTX-Video driven by VideoCanvas conditions (vc_core.paradigms.ltx_guides, vc_nodes/ltx.py), inside a
real (in-process) ComfyUI on the tiny random LTX-Video checkpoints in ComfyUI's own format.

The specification: full images at frames, through VideoCanvas Conditioning, give exactly what a chain
of native LTXVAddGuide nodes gives (the latent with the guides appended, its noise mask, both prompts
with their keyframe_idxs and, on ComfyUI 0.33, guide_attention_entries); through KSampler every model
call and the sampled latent are native's bit for bit, and so are VideoCanvas Sampler's; cropping the
guides (VideoCanvas Sampler, VideoCanvas Decode) is LTXVCropGuides'. Beyond native: a patch on its
zero canvas, the frames of a clip one guide each at any start frame, several conditions at one frame.
What cannot be honoured is refused by name before sampling.
"""

from __future__ import annotations

import pytest
import torch

from helpers import Recorder, assert_same_calls, recorded_ksampler

W = H = 64  # 2x2 latent cells of 32 pixels
LENGTH = 17  # 3 latent frames (1 + 8 + 8)
SEED, STEPS, CFG = 5, 2, 3.0  # cfg > 1: the negative prompt runs too
FRAMES, STRENGTHS = (0, 5, 16), (1.0, 0.7, 1.0)


def prompt(seed):
    """A hand-made T5-width prompt with the attention mask LTXVModel requires."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 4, 4096, generator=g), {"attention_mask": torch.ones(1, 4, dtype=torch.long)}]]


def image(seed):
    return torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(seed))


def canvas(n, length=LENGTH, width=W, height=H):
    return n.canvas.VideoCanvasCanvas.execute(width, height, length, 25.0)[0]


def full_frames(n, frames=FRAMES, strengths=STRENGTHS):
    """One full image per frame, each from its own Timestamp Conditioner, at its strength."""
    out = None
    for k, (frame, strength) in enumerate(zip(frames, strengths, strict=True)):
        patch = n.patches.VideoCanvasPatchPlacer.execute(image(k), 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                         0.0)[0]
        out = n.patches.VideoCanvasTimestampConditioner.execute(patch, str(frame), "frames", canvas(n),
                                                                strength, out)[0]
    return out


def native_guides(ltxv_vae, frames=FRAMES, strengths=STRENGTHS):
    from comfy_extras.nodes_lt import EmptyLTXVLatentVideo, LTXVAddGuide

    pos, neg, latent = prompt(1), prompt(2), EmptyLTXVLatentVideo.execute(W, H, LENGTH, 1)[0]
    for k, (frame, strength) in enumerate(zip(frames, strengths, strict=True)):
        pos, neg, latent = LTXVAddGuide.execute(pos, neg, ltxv_vae, latent, image(k), frame, strength)
    return pos, neg, latent


def assert_same_prompt(ours, native):
    assert len(ours) == len(native) == 1
    (tensor, extras), (native_tensor, native_extras) = ours[0], native[0]
    assert torch.equal(tensor, native_tensor) and extras.keys() == native_extras.keys()
    for key, value in extras.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == native_extras[key].dtype and torch.equal(value, native_extras[key]), key
        else:
            assert value == native_extras[key], key


def test_an_ltx_video_checkpoint_is_recognised_and_reads_guides(n, ltxv):
    assert n.model_kinds.describe_model(ltxv) == "LTX-Video (128-ch)"
    assert n.model_kinds.model_paradigm(ltxv) == "ltx_guides"
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(ltxv, "interpolate", "in_context")[0]
    assert n.patch_state.paradigm_of(patched) == "ltx_guides"


def test_full_images_at_frames_are_native_ltxv_add_guide_through_ksampler(n, ltxv, ltxv_vae):
    """Frames 0, 5 (strength 0.7) and 16 of 17: VideoCanvas Conditioning's prompts and latent are a
    chain of three LTXVAddGuide nodes' bit for bit; every model call of KSampler on them, and the
    sampled latent, are native's; the crop is LTXVCropGuides'."""
    from comfy_extras.nodes_lt import LTXVCropGuides

    native_pos, native_neg, native_latent = native_guides(ltxv_vae)
    pos, neg, latent, _, trim = n.sampling.VideoCanvasConditioning.execute(
        prompt(1), prompt(2), ltxv_vae, canvas(n), 1, full_frames(n))
    assert trim == 0
    assert latent["samples"].shape == (1, 128, 3 + 3, 2, 2)
    assert torch.equal(latent["samples"], native_latent["samples"])
    assert torch.equal(latent["noise_mask"], native_latent["noise_mask"])
    assert latent["noise_mask"][0, 0, :, 0, 0].tolist() == pytest.approx([1, 1, 1, 0, 0.3, 0])
    assert_same_prompt(pos, native_pos)
    assert_same_prompt(neg, native_neg)

    native, native_calls = recorded_ksampler(ltxv, native_pos, native_neg, native_latent, SEED, STEPS, CFG)
    ours, calls = recorded_ksampler(ltxv, pos, neg, latent, SEED, STEPS, CFG)
    assert torch.equal(ours, native)
    assert_same_calls(calls, native_calls)
    assert calls[0]["keyframe_idxs"].shape[2] == 3 * 4  # 3 guides of 2x2 tokens

    sampled = {**latent, "samples": ours}  # what KSampler returns: the LATENT's dict with new samples
    _, _, native_cropped = LTXVCropGuides.execute(native_pos, native_neg,
                                                  {**native_latent, "samples": native})
    cropped = n.ltx.cropped(sampled)
    assert torch.equal(cropped["samples"], native_cropped["samples"])
    assert torch.equal(cropped["noise_mask"], native_cropped["noise_mask"])
    assert n.types.LTX_GUIDE_FRAMES not in cropped


def test_the_sampler_is_add_guide_then_ksampler_then_crop_guides(n, ltxv, ltxv_vae):
    from comfy_extras.nodes_lt import LTXVCropGuides

    native_pos, native_neg, native_latent = native_guides(ltxv_vae)
    native, native_calls = recorded_ksampler(ltxv, native_pos, native_neg, native_latent, SEED, STEPS, CFG)
    _, _, native_cropped = LTXVCropGuides.execute(native_pos, native_neg,
                                                  {**native_latent, "samples": native})

    rec = Recorder(ltxv)
    latent, _ = n.sampling.VideoCanvasSampler.execute(rec.model, prompt(1), prompt(2), ltxv_vae, canvas(n),
                                                      1, SEED, STEPS, CFG, "euler", "simple", 1.0,
                                                      full_frames(n))
    assert latent["samples"].shape == (1, 128, 3, 2, 2)
    assert torch.equal(latent["samples"], native_cropped["samples"])
    assert torch.equal(latent["noise_mask"], native_cropped["noise_mask"])
    assert_same_calls(rec.calls, native_calls)


def test_videocanvas_decode_crops_the_guides_as_ltxv_crop_guides(n, ltxv, ltxv_vae):
    """KSampler's latent straight into VideoCanvas Decode: the video's 17 frames, the decode of
    LTXVCropGuides' latent."""
    import nodes
    from comfy_extras.nodes_lt import LTXVCropGuides

    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(
        prompt(1), prompt(2), ltxv_vae, canvas(n), 1, full_frames(n))
    sampled = nodes.common_ksampler(ltxv, SEED, STEPS, CFG, "euler", "simple", pos, neg, latent)[0]
    frames = n.decode.VideoCanvasDecode.execute(ltxv_vae, sampled, 0, False, 4.0)[0]
    native = nodes.VAEDecode().decode(ltxv_vae, LTXVCropGuides.execute(pos, neg, sampled)[2])[0]
    assert frames.shape == (LENGTH, H, W, 3)
    assert torch.equal(frames, native)


def test_a_patch_is_a_guide_of_its_zero_canvas_at_its_frame(n, ltxv_vae):
    """Beyond native (one full frame per guide): the top-left quarter of frame 5 is the guide of the
    zero canvas holding it (zero in the VAE's [-1, 1] pixels: 0.5 grey), encoded as one image; its tokens
    sit at frame 5 over the whole canvas."""
    patch = n.patches.VideoCanvasPatchPlacer.execute(image(3)[:, :32, :32], 0.0, 0.0, 0.5, 0.5, "fraction",
                                                     "cover", 0.0)[0]
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, "5", "frames", canvas(n), 1.0)[0]
    pos, _, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae,
                                                                      canvas(n), 1, conds)
    zero_canvas = torch.full((1, H, W, 3), 0.5)
    zero_canvas[:, :32, :32] = image(3)[:, :32, :32]
    assert torch.equal(latent["samples"][:, :, 3:], ltxv_vae.encode(zero_canvas))
    starts = pos[0][1]["keyframe_idxs"]
    starts = starts[..., 0] if starts.ndim == 4 else starts
    assert starts[0].tolist() == [[5] * 4, [0, 0, 32, 32], [0, 32, 0, 32]]


def test_a_clip_is_one_guide_per_frame_from_any_start_frame(n, ltxv_vae):
    """Native snaps a multi-frame guide to frames 8n+1 and encodes it in video mode; here each of the
    clip's 3 frames from frame 3 is its own single-image guide at frames 3, 4, 5."""
    clip = torch.rand(3, H, W, 3, generator=torch.Generator().manual_seed(9))
    patch = n.patches.VideoCanvasPatchPlacer.execute(clip, 0.0, 0.0, 1.0, 1.0, "fraction", "cover", 0.0)[0]
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, "3", "frames", canvas(n), 1.0)[0]
    pos, _, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae,
                                                                      canvas(n), 1, conds)
    assert latent[n.types.LTX_GUIDE_FRAMES] == (3, 3)
    for k in range(3):
        assert torch.equal(latent["samples"][:, :, 3 + k], ltxv_vae.encode(clip[k:k + 1])[:, :, 0])
    starts = pos[0][1]["keyframe_idxs"]
    starts = starts[..., 0] if starts.ndim == 4 else starts
    assert starts[0, 0].tolist() == [3] * 4 + [4] * 4 + [5] * 4


def test_two_conditions_at_one_frame_are_both_cropped(n, ltxv, ltxv_vae):
    """Two guides at frame 8: 0.3.75's and 0.7.0's LTXVCropGuides count guides by their distinct start
    frames (one here) and would leave one in the video; the LATENT says how many follow it."""
    conds = full_frames(n, frames=(8, 8), strengths=(1.0, 1.0))
    latent, _ = n.sampling.VideoCanvasSampler.execute(ltxv, prompt(1), prompt(2), ltxv_vae, canvas(n), 1,
                                                      SEED, 1, 1.0, "euler", "simple", 1.0, conds)
    assert latent["samples"].shape == (1, 128, 3, 2, 2)


@pytest.mark.parametrize("width, height, length, message", [
    (80, 64, LENGTH, "width must be a positive multiple of 32 \\(the VAE's spatial stride 32 x the model's "
                     "patch size 1\\); got 80"),
    (64, 64, 13, "length"),
])
def test_sizes_that_break_ltx_rules_are_refused_by_name(n, ltxv, ltxv_vae, width, height, length, message):
    with pytest.raises(ValueError, match=message):
        n.sampling.VideoCanvasSampler.execute(ltxv, prompt(1), prompt(2), ltxv_vae,
                                              canvas(n, length, width, height), 1, SEED, 1, 1.0, "euler",
                                              "simple", 1.0, None)


def test_a_wan_vae_with_an_ltx_model_and_the_reverse_are_refused_by_name(n, ltxv, ltxv_vae, t2v, vae):
    with pytest.raises(ValueError, match="vae: this VAE makes 16-channel latents \\(a Wan VAE\\), but the "
                                         "model is LTX-Video \\(128-ch\\)"):
        n.sampling.VideoCanvasSampler.execute(ltxv, prompt(1), prompt(2), vae, canvas(n), 1, SEED, 1, 1.0,
                                              "euler", "simple", 1.0, full_frames(n))
    with pytest.raises(ValueError, match="vae: this is LTX-Video's VAE .* but the model is Wan 2.1/2.2 T2V"):
        n.sampling.VideoCanvasSampler.execute(t2v, prompt(1), prompt(2), ltxv_vae, canvas(n), 1, SEED, 1, 1.0,
                                              "euler", "simple", 1.0, full_frames(n))


def test_wan_vae_conditions_reaching_a_patched_ltx_model_are_refused_at_sampling(n, ltxv, vae):
    import nodes

    pos, neg, _, _, _ = n.sampling.VideoCanvasConditioning.execute(
        prompt(1), prompt(2), vae, canvas(n, 17, 64, 64), 1, full_frames(n))
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(ltxv, "interpolate", "in_context")[0]
    empty = {"samples": torch.zeros(1, 128, 3, 2, 2)}
    with pytest.raises(ValueError, match="vae: these VideoCanvas conditions were made with a 16-channel Wan "
                                         "VAE, but the model is LTX-Video"):
        nodes.common_ksampler(patched, SEED, 1, 1.0, "euler", "simple", pos, neg, empty)


def test_a_first_frame_in_place_is_ltxv_img_to_video_through_the_sampler(n, ltxv, ltxv_vae):
    """The RoPE Interpolator's latent_replacement on an LTX-Video model writes conditions into the video's
    own latent frames, LTXVImgToVideo's way: a full image at frame 0, strength 0.8, through VideoCanvas
    Sampler gives every model call and the sampled latent of LTXVImgToVideo + KSampler, bit for bit."""
    from comfy_extras.nodes_lt import LTXVImgToVideo

    pos, neg, latent = LTXVImgToVideo.execute(prompt(1), prompt(2), image(0), ltxv_vae, W, H, LENGTH, 1, 0.8)
    native, native_calls = recorded_ksampler(ltxv, pos, neg, latent, SEED, STEPS, CFG)
    assert native_calls[0]["keyframe_idxs"] is None  # in place: no guides

    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(ltxv, "interpolate",
                                                                      "latent_replacement")[0]
    assert n.patch_state.paradigm_of(patched) == "ltx_in_place"
    rec = Recorder(patched)
    ours, _ = n.sampling.VideoCanvasSampler.execute(rec.model, prompt(1), prompt(2), ltxv_vae, canvas(n), 1,
                                                    SEED, STEPS, CFG, "euler", "simple", 1.0,
                                                    full_frames(n, frames=(0,), strengths=(0.8,)))
    assert torch.equal(ours["samples"], native)
    assert torch.equal(ours["noise_mask"], latent["noise_mask"])
    assert_same_calls(rec.calls, native_calls)


def test_in_place_refuses_two_conditions_in_one_latent_frame_and_guides_from_the_conditioning_node(
        n, ltxv, ltxv_vae):
    import nodes

    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(ltxv, "interpolate",
                                                                      "latent_replacement")[0]
    with pytest.raises(ValueError, match=r"fall in the same latent frame 1 \(pixel frames 1 to 8\), which "
                                         "holds one image in place"):
        n.sampling.VideoCanvasSampler.execute(patched, prompt(1), prompt(2), ltxv_vae, canvas(n), 1, SEED, 1,
                                              1.0, "euler", "simple", 1.0,
                                              full_frames(n, frames=(3, 6), strengths=(1.0, 1.0)))
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae,
                                                                        canvas(n), 1, full_frames(n))
    with pytest.raises(ValueError, match="patched for latent replacement .* these prompts carry LTX guides"):
        nodes.common_ksampler(patched, SEED, 1, 1.0, "euler", "simple", pos, neg, latent)


@pytest.mark.parametrize("name, value", [("position_policy", "nearest"), ("condition_tokens", "sparse"),
                                         ("condition_attention", "cached")])
def test_in_context_options_on_an_ltx_model_are_refused_by_name(mp, ltxv, name, value):
    options = {"policy" if name == "position_policy" else name: value}
    with pytest.raises(ValueError, match=f"{name}='{value}': this is a LTX-Video model \\(LTX-Video "
                                         f"\\(128-ch\\)\\), which takes VideoCanvas conditions through guide "
                                         f"latents appended to its latent"):
        mp.patch_model(ltxv, **options)


def test_native_guides_before_videocanvas_conditioning_are_refused(n, ltxv_vae):
    native_pos, native_neg, _ = native_guides(ltxv_vae, frames=(0,), strengths=(1.0,))
    with pytest.raises(ValueError,
                       match="positive: this prompt already carries keyframe_idxs \\(LTXVAddGuide"):
        n.sampling.VideoCanvasConditioning.execute(native_pos, native_neg, ltxv_vae, canvas(n), 1,
                                                   full_frames(n))


def test_a_reference_image_on_ltx_is_refused_by_name(n, ltxv, ltxv_vae):
    patch = n.patches.VideoCanvasPatchPlacer.execute(image(1), 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                     0.0)[0]
    conds = n.patches.VideoCanvasReferenceImage.execute(patch)[0]
    with pytest.raises(ValueError, match="1 reference .* this is an LTX-Video model"):
        n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae, canvas(n), 1, conds)


def test_clip_vision_on_an_ltx_model_is_refused_by_name(n, ltxv, ltxv_vae):
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out.penultimate_hidden_states = torch.zeros(1, 257, 1280)
    with pytest.raises(ValueError, match="clip_vision_output: this model \\(LTX-Video \\(128-ch\\)\\) has no "
                                         "image embedding"):
        n.sampling.VideoCanvasSampler.execute(ltxv, prompt(1), prompt(2), ltxv_vae, canvas(n), 1, SEED, 1,
                                              1.0, "euler", "simple", 1.0, full_frames(n), out)


def test_long_video_on_ltx_is_the_samplers_windows_chained_by_their_last_frames(n, ltxv, ltxv_vae):
    """25 frames in windows of 17 with an overlap of 9 (8k + 1 each): window 0 is VideoCanvas Sampler's
    run with the user's image at frame 5 (seed 3); window 1 (seed 4) holds window 0's last 9 frames as
    guides at its frames 0..8, one single-image guide each, and generates frames 17..24."""
    import nodes

    conds = full_frames(n, frames=(5,), strengths=(1.0,))
    whole = n.types.Canvas(W, H, 25, 25.0)
    images, _ = n.long_video.VideoCanvasLongVideo.execute(ltxv, prompt(1), prompt(2), ltxv_vae, whole, 17,
                                                          9, 3, STEPS, CFG, "euler", "simple", "images",
                                                          conds, "as sampled").result
    out = images.mul(255).round().to(torch.uint8)
    assert tuple(out.shape) == (25, H, W, 3)

    def window(conditions, seed):
        latent, _ = n.sampling.VideoCanvasSampler.execute(ltxv, prompt(1), prompt(2), ltxv_vae, canvas(n),
                                                          1, seed, STEPS, CFG, "euler", "simple", 1.0,
                                                          conditions)
        return nodes.VAEDecode().decode(ltxv_vae, latent)[0].clamp(0, 1).mul(255).round().to(torch.uint8)

    first = window(conds, 3)
    assert torch.equal(out[:17], first)
    carried = n.patches.VideoCanvasPatchPlacer.execute(first[8:17].float() / 255, 0.0, 0.0, 1.0, 1.0,
                                                       "fraction", "cover", 0.0)[0]
    held = n.patches.VideoCanvasTimestampConditioner.execute(carried, "0", "frames", canvas(n), 1.0)[0]
    second = window(held, 4)
    assert torch.equal(out[17:], second[9:])


def test_a_canvas_fps_the_prompts_do_not_say_is_refused_by_name(n, ltxv, ltxv_vae):
    """LTX places frames in time by the prompts' frame_rate (25 where none is set): a 16 fps canvas with
    bare prompts, or prompts at another rate, would be sampled at the wrong time scale."""
    from comfy_extras.nodes_lt import LTXVConditioning

    at_16 = n.canvas.VideoCanvasCanvas.execute(W, H, LENGTH, 16.0)[0]
    with pytest.raises(ValueError, match="positive: LTX-Video reads the frame rate from the prompts "
                                         "\\(LTXVConditioning; 25 where none is set\\), here 25 fps, but the "
                                         "canvas is 16 fps"):
        n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae, at_16, 1, full_frames(n))
    pos, neg = LTXVConditioning.execute(prompt(1), prompt(2), 16.0)
    n.sampling.VideoCanvasConditioning.execute(pos, neg, ltxv_vae, at_16, 1, full_frames(n))  # agrees


def test_a_guided_latent_whose_length_changed_is_refused_by_decode(n, ltxv_vae):
    """Trim Video Latent after KSampler keeps the LATENT's keys: the guides could no longer be told from
    video frames, so VideoCanvas Decode refuses rather than decode them as video."""
    from comfy_extras.nodes_wan import TrimVideoLatent

    _, _, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae, canvas(n),
                                                                    1, full_frames(n))
    trimmed = TrimVideoLatent.execute(latent, 1)[0]
    with pytest.raises(ValueError, match="latent: made with 3 LTX-Video guide frames after 3 video latent "
                                         "frames, it now has 5"):
        n.decode.VideoCanvasDecode.execute(ltxv_vae, trimmed, 0, False, 4.0)


def test_ltx_guides_reaching_a_patched_wan_model_are_refused_by_name(n, ltxv_vae, t2v):
    import nodes

    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae,
                                                                        canvas(n), 1, full_frames(n))
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(t2v, "interpolate", "in_context")[0]
    with pytest.raises(ValueError, match="vae: these prompts carry LTX-Video guides .* but the model is Wan "
                                         "2.1/2.2 T2V"):
        nodes.common_ksampler(patched, SEED, 1, 1.0, "euler", "simple", pos, neg, latent)


def test_prompts_with_wan_videocanvas_conditions_are_refused_on_the_ltx_path(n, ltxv, ltxv_vae, vae):
    pos, neg, _, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1,
                                                                   full_frames(n))
    with pytest.raises(ValueError, match="positive: this prompt already carries VideoCanvas conditions from "
                                         "VideoCanvas Conditioning with a Wan VAE"):
        n.sampling.VideoCanvasSampler.execute(ltxv, pos, neg, ltxv_vae, canvas(n), 1, SEED, 1, 1.0, "euler",
                                              "simple", 1.0, full_frames(n))


def test_clip_vision_on_the_ltx_conditioning_node_is_refused_by_name(n, ltxv_vae):
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out.penultimate_hidden_states = torch.zeros(1, 257, 1280)
    with pytest.raises(ValueError, match="clip_vision_end_output: LTX-Video has no image embedding"):
        n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), ltxv_vae, canvas(n), 1,
                                                   full_frames(n), None, out)


def test_long_video_refuses_ltx_in_place_before_any_window(n, ltxv, ltxv_vae):
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(ltxv, "interpolate",
                                                                      "latent_replacement")[0]
    with pytest.raises(ValueError, match="patched for latent replacement .* each window carries its "
                                         "`overlap` frames"):
        n.long_video.VideoCanvasLongVideo.execute(patched, prompt(1), prompt(2), ltxv_vae,
                                                  n.types.Canvas(W, H, 25, 25.0), 17, 9, 3, 1, 1.0, "euler",
                                                  "simple", "images", full_frames(n, frames=(5,),
                                                                                  strengths=(1.0,)))
