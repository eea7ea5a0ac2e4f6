"""Wan image-to-video models (36 input channels: 16 noise + 4 mask + 16 image latent) driven by
VideoCanvas conditions through their own mask and image channels (vc_core.paradigms.channel_concat), inside a
real (in-process) ComfyUI on tiny random checkpoints in ComfyUI's own format.

The specification: for a full first frame, and for full first + last frames, everything that reaches
the diffusion model at every step (its input x, which holds ComfyUI's c_concat channels after the
noise, the timestep, the text context, the CLIP-vision features) and the sampled latent are bit for
bit what ComfyUI's own WanImageToVideo / WanFirstLastFrameToVideo give. Middle frames and partial
patches use the same channels zero-shot: frame-precise through the per-pixel-frame mask channels,
partial through the mask's spatial extent, as known as their strength says.
"""

import pytest
import torch

from helpers import Recorder, assert_same_calls, load, recorded_ksampler
from hostkit.inprocess import windowed
from vc_core.paradigms.channel_concat import (
    CHANNEL_STRENGTH_DEFINITION,
    ChannelConcatError,
    concat_mask,
    latent_frame_slots,
    pixel_video,
)

W, H, LENGTH = 48, 32, 9  # 3 latent frames of 6x4 latent cells; not square (catches a swap)
F, h, w = 3, H // 8, W // 8
I2V_MODELS = ["wan21_i2v_480p_tiny", "wan22_a14b_i2v_tiny"]  # with / without the CLIP-vision embedding


# ------------------------------------------------------------------ the layout (pure maths)


def test_pixel_frames_map_to_mask_channels_as_first_last_frame_lays_them_out():
    # frame 0 fills latent frame 0's four channels (a causal VAE's first latent holds one frame);
    # frame p >= 1 is channel (p + 3) % 4 of latent frame (p + 3) // 4
    assert latent_frame_slots(9) == [[0, 0, 0, 0], [1, 2, 3, 4], [5, 6, 7, 8]]
    assert latent_frame_slots(81)[-1] == [77, 78, 79, 80] and len(latent_frame_slots(81)) == 21
    with pytest.raises(ChannelConcatError, match="length must be 4k\\+1; got 10"):
        latent_frame_slots(10)


def test_a_middle_frame_is_known_in_exactly_its_own_channel():
    known = torch.zeros(LENGTH, H, W)
    known[6] = 1.0
    mask = concat_mask(known, 8)
    assert mask.shape == (1, 4, F, h, w) and mask.dtype == torch.float32
    expected = torch.ones(1, 4, F, h, w)
    expected[0, 1, 2] = 0.0  # frame 6 = latent frame 2, channel 1 (0 = known, ComfyUI's convention)
    assert torch.equal(mask, expected)


def test_a_partial_patch_marks_the_cells_it_covers_by_the_share_it_covers():
    known = torch.zeros(LENGTH, H, W)
    known[0, 8:16, 12:24] = 1.0  # latent row 1: cell 1 half covered (x 12-15), cell 2 fully (16-23)
    mask = concat_mask(known, 8)
    assert mask[0, :, 0, 1, 1].tolist() == [0.5] * 4 and mask[0, :, 0, 1, 2].tolist() == [0.0] * 4
    assert int((mask < 1).sum()) == 8  # those two cells, in latent frame 0's four channels


def test_strength_on_i2v_models_is_one_sentence_in_the_strength_tooltip(pack):
    assert CHANNEL_STRENGTH_DEFINITION.count(". ") == 0 and CHANNEL_STRENGTH_DEFINITION.endswith(".")
    assert CHANNEL_STRENGTH_DEFINITION in pack.vc_nodes.types.strength_input().tooltip


def test_strength_is_how_known_the_mask_marks_a_condition():
    """CHANNEL_STRENGTH_DEFINITION: a covered cell reads strength x covered share as known."""
    canvases = torch.full((2, H, W, 3), 0.5)
    canvases[0, :, : W // 2] = 0.9
    masks = torch.zeros(2, H, W)
    masks[0, :, : W // 2] = 1.0
    masks[1] = 1.0
    layout = pixel_video(canvases, masks, [4, 8], [0.6, 0.25], LENGTH)
    mask = concat_mask(layout.known, 8)
    assert torch.allclose(1 - mask[0, 3, 1, :, : w // 2], torch.tensor(0.6))  # frame 4: latent 1, ch 3
    assert torch.equal(mask[0, 3, 1, :, w // 2:], torch.ones(h, w // 2))
    assert torch.allclose(1 - mask[0, 3, 2], torch.tensor(0.25))  # frame 8: the last channel
    # the pixels go into the image channels whatever the strength
    assert torch.equal(layout.video[4, :, : W // 2], torch.full((H, W // 2, 3), 0.9))


def test_the_pixel_video_is_grey_except_where_conditions_put_pixels_and_later_ones_win():
    canvases = torch.full((2, H, W, 3), 0.5)
    canvases[0] = 0.2
    canvases[1, :, : W // 2] = 0.8
    masks = torch.zeros(2, H, W)
    masks[0] = 1.0
    masks[1, :, : W // 2] = 1.0
    layout = pixel_video(canvases, masks, [3, 3], [1.0, 0.5], LENGTH)
    assert torch.equal(layout.video[3, :, : W // 2], torch.full((H, W // 2, 3), 0.8))
    assert torch.equal(layout.video[3, :, W // 2:], torch.full((H, W // 2, 3), 0.2))
    assert torch.equal(layout.known[3, :, : W // 2], torch.full((H, W // 2), 0.5))
    assert torch.equal(layout.known[3, :, W // 2:], torch.ones(H, W // 2))
    others = [f for f in range(LENGTH) if f != 3]
    assert torch.equal(layout.video[others], torch.full((LENGTH - 1, H, W, 3), 0.5))
    assert not layout.known[others].any()


# --------------------------------------------------------------- through a real ComfyUI


@pytest.fixture(scope="module", params=I2V_MODELS)
def i2v(request, comfy, checkpoints):
    return load(checkpoints[request.param], dtype=torch.float32)  # float32: exact comparisons


def image(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, H, W, 3, generator=g)


def prompt(seed):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 5, 4096, generator=g), {}]]


def clip_vision(model, seed=7):
    """A CLIP Vision Encode output (what clip_vision_h gives: 257 tokens of 1280) for a model that
    reads one; None for the A14B layout, which has no image embedding."""
    import comfy.clip_vision

    if model.get_model_object("diffusion_model").img_emb is None:
        return None
    out = comfy.clip_vision.Output()
    out.penultimate_hidden_states = torch.randn(1, 257, 1280, generator=torch.Generator().manual_seed(seed))
    return out


def canvas(n, length=LENGTH):
    return n.canvas.VideoCanvasCanvas.execute(W, H, length, 16.0)[0]


def full_frame_conditions(n, frames_and_images):
    out = None
    for frames, img in frames_and_images:
        patch = n.patches.VideoCanvasPatchPlacer.execute(img, 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                         0.0)[0]
        out = n.patches.VideoCanvasTimestampConditioner.execute(patch, frames, "frames", canvas(n),
                                                                1.0, out)[0]
    return out


SEED, STEPS, CFG = 11, 2, 3.0  # cfg > 1: the negative prompt runs too


def native_run(model, positive, negative, latent):
    return recorded_ksampler(model, positive, negative, latent, SEED, STEPS, CFG)


def ours_with_ksampler(n, model, vae, conds, cvo, cvo_end=None):
    """VideoCanvas Conditioning -> ComfyUI's KSampler, the model through the RoPE Interpolator."""
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(model, "interpolate",
                                                                      "in_context")[0]
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n),
                                                                     1, conds, cvo, cvo_end)
    return native_run(patched, pos, neg, latent)


def ours_with_sampler(n, model, vae, conds, cvo, cvo_end=None):
    rec = Recorder(model)
    latent, _ = n.sampling.VideoCanvasSampler.execute(rec.model, prompt(1), prompt(2), vae, canvas(n), 1,
                                                      SEED, STEPS, CFG, "euler", "simple", 1.0, conds, cvo,
                                                      cvo_end)
    return latent["samples"], rec.calls


def assert_both_paths_equal_native(n, model, vae, conds, cvo, native, native_calls, cvo_end=None):
    """Through KSampler (VideoCanvas Conditioning) and through VideoCanvas Sampler, the sampled
    latent and every call's model inputs are bit for bit the native node's."""
    for ours in (ours_with_ksampler, ours_with_sampler):
        latent, calls = ours(n, model, vae, conds, cvo, cvo_end)
        assert torch.equal(latent, native), ours.__name__
        assert_same_calls(calls, native_calls)


def test_first_frame_equals_wan_image_to_video(n, i2v, vae):
    from comfy_extras.nodes_wan import WanImageToVideo

    start, cvo = image(3), clip_vision(i2v)
    pos, neg, latent = WanImageToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1,
                                               start_image=start, clip_vision_output=cvo)
    native, native_calls = native_run(i2v, pos, neg, latent)
    # every call: x = 16 noise channels + ComfyUI's c_concat (4 mask + 16 image latent)
    assert native_calls[0]["x"].shape == (2, 36, F, h, w)
    conds = full_frame_conditions(n, [("0", start)])

    assert_both_paths_equal_native(n, i2v, vae, conds, cvo, native, native_calls)
    # what the model reads (ComfyUI hands it 1 - concat_mask): frame 0 known, everything else not
    mask_channels = native_calls[0]["x"][:, 16:20]
    assert torch.equal(mask_channels[:, :, 0], torch.ones(2, 4, h, w))
    assert not mask_channels[:, :, 1:].any()


def test_first_and_last_frames_equal_wan_first_last_frame_to_video(n, i2v, vae):
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    first, last, cvo = image(4), image(5), clip_vision(i2v)
    pos, neg, latent = WanFirstLastFrameToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1,
                                                        start_image=first, end_image=last,
                                                        clip_vision_start_image=cvo)
    native, native_calls = native_run(i2v, pos, neg, latent)
    mask_channels = native_calls[0]["x"][:, 16:20]
    assert torch.equal(mask_channels[:, :, 0], torch.ones(2, 4, h, w))
    assert torch.equal(mask_channels[:, 3, 2], torch.ones(2, h, w))  # frame 8: latent 2, channel 3
    assert int(mask_channels.sum()) == 2 * 5 * h * w
    conds = full_frame_conditions(n, [("0", first), ("-1", last)])

    assert_both_paths_equal_native(n, i2v, vae, conds, cvo, native, native_calls)


def test_start_and_end_clip_vision_equal_wan_first_last_frame_to_video(n, i2v, vae):
    """FLF2V: the end image's CLIP vision goes to clip_vision_end_output; the model reads the start
    and end features together (257 + 257 tokens), as WanFirstLastFrameToVideo gives them."""
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    first, last = image(4), image(5)
    cvo, cvo_end = clip_vision(i2v), clip_vision(i2v, seed=8)
    if cvo is None:
        pytest.skip("this I2V layout (Wan 2.2 A14B) has no image embedding")
    pos, neg, latent = WanFirstLastFrameToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1,
                                                        start_image=first, end_image=last,
                                                        clip_vision_start_image=cvo,
                                                        clip_vision_end_image=cvo_end)
    native, native_calls = native_run(i2v, pos, neg, latent)
    assert native_calls[0]["clip_fea"].shape[-2] == 2 * 257
    conds = full_frame_conditions(n, [("0", first), ("-1", last)])

    assert_both_paths_equal_native(n, i2v, vae, conds, cvo, native, native_calls, cvo_end)


def test_the_conditioning_values_are_the_native_nodes_own(n, vae):
    """Before any sampling: the concat_latent_image and concat_mask the patched model sets are the
    very values WanFirstLastFrameToVideo puts on the conditioning."""
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    first, last = image(4), image(5)
    pos, _, _ = WanFirstLastFrameToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1,
                                                 start_image=first, end_image=last)
    conds = full_frame_conditions(n, [("0", first), ("-1", last)])
    ours, _, _, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1,
                                                               conds)
    deferred = ours[0][1]["model_conds"][n.types.COND_LATENTS].cond
    image_latent, mask = deferred.channels_for_i2v()
    assert torch.equal(image_latent, pos[0][1]["concat_latent_image"])
    assert mask.dtype == pos[0][1]["concat_mask"].dtype and torch.equal(mask, pos[0][1]["concat_mask"])


def zero_shot_run(n, model, vae, conds):
    latent, calls = ours_with_sampler(n, model, vae, conds, clip_vision(model))
    return latent, calls[0]["x"][:, 16:20]  # the mask channels the model reads (1 = known)


def test_a_middle_frame_is_frame_precise_and_its_strength_is_how_known_it_reads(n, i2v, vae):
    patch = n.patches.VideoCanvasPatchPlacer.execute(image(6), 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                     0.0)[0]
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, "6", "frames", canvas(n), 0.6)[0]
    _, mask = zero_shot_run(n, i2v, vae, conds)
    expected = torch.zeros(2, 4, F, h, w)
    expected[:, 1, 2] = 0.6  # frame 6: latent frame 2, channel 1, known by the strength
    assert torch.allclose(mask, expected, atol=1e-7, rtol=0)


def test_a_partial_patch_is_known_over_its_box_only(n, i2v, vae):
    # a 24x16 px box at (24, 16): the lower right quarter, 3x2 latent cells
    patch = n.patches.VideoCanvasPatchPlacer.execute(image(7), 24, 16, 24, 16, "px", "stretch", 0.0)[0]
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, "3", "frames", canvas(n), 1.0)[0]
    _, mask = zero_shot_run(n, i2v, vae, conds)
    expected = torch.zeros(2, 4, F, h, w)
    expected[:, 2, 1, 2:, 3:] = 1.0  # frame 3: latent frame 1, channel 2
    assert torch.equal(mask, expected)


# --------------------------------------------------------------------------- refusals


def test_in_context_options_are_refused_by_name_on_an_i2v_model(n, i2v):
    interp = n.rope_interpolator.VideoCanvasRoPEInterpolator
    for args, name in ((("nearest", "in_context"), "position_policy='nearest'"),
                       (("interpolate", "latent_replacement"), "paradigm='latent_replacement'"),
                       (("interpolate", "in_context", "sparse"), "condition_tokens='sparse'")):
        with pytest.raises(ValueError, match=f"{name}: this is a Wan image-to-video model .*mask and "
                           f"image channels, not in context"):
            interp.execute(i2v, *args)
    assert n.patch_state.paradigm_of(interp.execute(i2v, "interpolate", "in_context")[0]) == \
        "channel_concat"
    assert n.model_kinds.describe_model(i2v) == "Wan image-to-video (36-ch: 16 noise + 4 mask + 16 image)"


def test_native_start_image_and_videocanvas_conditions_together_are_refused(n, i2v, vae):
    import nodes as comfy_nodes
    from comfy_extras.nodes_wan import WanImageToVideo

    pos, neg, _ = WanImageToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1, start_image=image(3))
    conds = full_frame_conditions(n, [("-1", image(4))])
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(pos, neg, vae, canvas(n), 1, conds)
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(i2v, "interpolate", "in_context")[0]
    with pytest.raises(ValueError, match="already carries concat_latent_image .*WanImageToVideo"):
        comfy_nodes.common_ksampler(patched, 0, 1, 1.0, "euler", "simple", pos, neg, latent)


def test_clip_vision_on_a_model_without_an_image_embedding_is_refused(n, comfy, checkpoints, vae):
    t2v = load(checkpoints["wan21_t2v_tiny"], dtype=torch.float32)
    conds = full_frame_conditions(n, [("0", image(3))])
    i2v = load(checkpoints["wan21_i2v_480p_tiny"], dtype=torch.float32)
    with pytest.raises(ValueError, match="clip_vision_output: this model .* has no image embedding"):
        n.sampling.VideoCanvasSampler.execute(t2v, prompt(1), prompt(2), vae, canvas(n), 1, 0, 1, 1.0,
                                              "euler", "simple", 1.0, conds, clip_vision(i2v))


def test_long_video_runs_an_image_to_video_model_with_each_window_s_conditions_as_channels(n, i2v, vae):
    """Long Video on a Wan image-to-video model: 17 frames as 2 windows of 9 (overlap 1); window 1's
    carried frame reaches the model as known in its mask channels (x holds 16 noise + 4 mask + 16
    image channels; ComfyUI hands the model 1 = known)."""
    rec = Recorder(i2v)
    at = canvas(n, 17)
    conds = full_frame_conditions(n, [("0", image(4))])
    null = n.sampling.VideoCanvasNullPrompt.execute().result[0]
    images, _ = n.long_video.VideoCanvasLongVideo.execute(rec.model, null, null, vae, at, 9, 1, 3, 1, 1.0,
                                                          "euler", "simple", "images", conds).result
    assert images.shape == (17, H, W, 3)
    assert len(rec.calls) == 2  # one step, cfg 1: one call per window
    for call in rec.calls:  # frame 0 of each window is known: the first frame, then the carried one
        assert call["x"][0, 16:20, 0].eq(1).all() and call["x"][0, 16:20, 1:].eq(0).all()


def test_under_context_windows_first_and_last_frames_equal_native_first_last_frame_to_video(n, i2v, vae):
    """ComfyUI's context windows (ContextWindowsManual: 2 latent frames, overlap 1, on the 3 latent
    frames) on both paths: the pack's channels are the model's own by then and ComfyUI slices them per
    window, so every call and the sampled latent are WanFirstLastFrameToVideo's under the same windows
    (ComfyUI 0.7 on; 0.3.75 slices neither, and refuses by name)."""
    import comfy.context_windows as cw
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    first, last, cvo = image(4), image(5), clip_vision(i2v)
    conds = full_frame_conditions(n, [("0", first), ("-1", last)])
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(i2v, "interpolate", "in_context")[0]
    ours_pos, ours_neg, ours_latent, _, _ = n.sampling.VideoCanvasConditioning.execute(
        prompt(1), prompt(2), vae, canvas(n), 1, conds, cvo)
    if not hasattr(getattr(cw, "IndexListCallbacks", None), "RESIZE_COND_ITEM"):
        # 0.3.75 slices neither (natively its concat channels meet the window's latent and fail)
        with pytest.raises(ValueError, match=r"context windows .*ComfyUI 0\.7 or newer can"):
            native_run(windowed(patched, length=2, overlap=1), ours_pos, ours_neg, ours_latent)
        return
    pos, neg, latent = WanFirstLastFrameToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1,
                                                        start_image=first, end_image=last,
                                                        clip_vision_start_image=cvo)
    native, native_calls = native_run(windowed(i2v, length=2, overlap=1), pos, neg, latent)
    assert native_calls[0]["x"].shape[2] < F  # windows, not the whole latent
    latent, calls = native_run(windowed(patched, length=2, overlap=1), ours_pos, ours_neg, ours_latent)
    assert torch.equal(latent, native)
    assert_same_calls(calls, native_calls)
