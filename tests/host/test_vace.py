"""Wan VACE models driven by VideoCanvas conditions through their control video and mask
(vc_core.paradigms.vace_control), inside a real (in-process) ComfyUI on a tiny random Wan 2.1 VACE
checkpoint in ComfyUI's own format (WAN21_Vace over VaceWanModel, one control block).

The specification: where native WanVaceToVideo is exact (an inpainting mask the same at every frame),
everything that reaches the diffusion model at every step (x, timestep, context, vace_context,
vace_strength) and the sampled latent are bit for bit the native node's with the equivalent control
video (the clip, grey in the hole) and mask, through KSampler and through VideoCanvas Sampler. Where
native is not exact (a single known frame at most pixel frames of 81), the control video is the same
and the mask marks the condition known in the latent frame that holds it, where native's marks it to
be generated.
"""

from __future__ import annotations

import pytest
import torch

from helpers import Recorder, assert_same_calls, load, recorded_ksampler
from vc_core.paradigms.vace_control import VACE_STRENGTH_DEFINITION, native_latent_mask

W, H, LENGTH = 48, 32, 9  # 3 latent frames of 6x4 latent cells
SEED, STEPS, CFG = 11, 2, 3.0  # cfg > 1: the negative prompt runs too


@pytest.fixture(scope="module")
def vace(checkpoints):
    return load(checkpoints["wan21_vace_tiny"], dtype=torch.float32)  # float32: exact comparisons


def prompt(seed):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 5, 4096, generator=g), {}]]


def canvas(n, length=LENGTH, width=W, height=H):
    return n.canvas.VideoCanvasCanvas.execute(width, height, length, 16.0)[0]


def clip_and_hole():
    g = torch.Generator().manual_seed(5)
    clip = torch.rand(LENGTH, H, W, 3, generator=g)
    hole = torch.zeros(1, H, W)
    hole[0, 8:24, 12:36] = 1.0  # 1 = generate, the same at every frame
    return clip, hole


def native_run(model, positive, negative, latent):
    return recorded_ksampler(model, positive, negative, latent, SEED, STEPS, CFG)


def test_a_vace_checkpoint_is_recognised_and_runs_vace_control(n, vace):
    assert n.model_kinds.describe_model(vace) == "Wan VACE (16-ch, 1 control block)"
    assert n.model_kinds.model_paradigm(vace) == "vace_control"
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    assert n.patch_state.paradigm_of(patched) == "vace_control"


@pytest.mark.parametrize("name, value", [("position_policy", "nearest"), ("paradigm", "latent_replacement"),
                                         ("condition_tokens", "sparse"), ("condition_attention", "cached")])
def test_in_context_options_on_a_vace_model_are_refused_by_name(mp, vace, name, value):
    options = {"policy" if name == "position_policy" else name: value}
    with pytest.raises(ValueError, match=f"{name}='{value}': this is a Wan VACE model \\(Wan VACE "
                                         f"\\(16-ch, 1 control block\\)\\), which takes VideoCanvas "
                                         f"conditions through its VACE control video and mask"):
        mp.patch_model(vace, **options)


def test_strength_on_vace_models_is_one_sentence_in_the_strength_tooltip(pack):
    assert VACE_STRENGTH_DEFINITION.count(". ") == 0 and VACE_STRENGTH_DEFINITION.endswith(".")
    assert VACE_STRENGTH_DEFINITION in pack.vc_nodes.types.strength_input().tooltip


def test_inpainting_equals_wan_vace_to_video_through_ksampler_and_the_sampler(n, vace, vae):
    from comfy_extras.nodes_wan import WanVaceToVideo

    clip, hole = clip_and_hole()
    control = clip * (1 - hole[0, ..., None]) + 0.5 * hole[0, ..., None]  # grey in the hole, as VACE
    # one mask per frame: native pads a shorter mask with 1 (generate) up to the length
    pos, neg, latent, trim = WanVaceToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1, 1.0,
                                                    control_video=control,
                                                    control_masks=hole.expand(LENGTH, H, W))
    assert trim == 0
    native, native_calls = native_run(vace, pos, neg, latent)
    assert native_calls[0]["vace_context"].shape == (2, 1, 32 + 64, 3, H // 8, W // 8)

    conds = n.video_tasks.VideoCanvasInpaint.execute(clip, hole, canvas(n), 0, 1, 1.0)[0]
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n),
                                                                     1, conds)
    ours, calls = native_run(patched, pos, neg, latent)
    assert torch.equal(ours, native)
    assert_same_calls(calls, native_calls)

    rec = Recorder(vace)
    latent, _ = n.sampling.VideoCanvasSampler.execute(rec.model, prompt(1), prompt(2), vae, canvas(n), 1,
                                                      SEED, STEPS, CFG, "euler", "simple", 1.0, conds)
    assert torch.equal(latent["samples"], native)
    assert_same_calls(rec.calls, native_calls)


@pytest.mark.parametrize("frame", [0, 42, 44])
def test_a_single_known_frame_reaches_the_model_in_the_latent_frame_that_holds_it(n, vace, vae, frame):
    """81 frames, one full frame known. Native WanVaceToVideo (its mask resampled nearest-exact, which
    vace_control.native_latent_mask reproduces) tells the model to generate the latent frame holding
    frames 0 or 42; the pack's mask marks it known; the control streams are the same."""
    from comfy_extras.nodes_wan import WanVaceToVideo

    size, length = 16, 81
    g = torch.Generator().manual_seed(frame)
    image = torch.rand(1, size, size, 3, generator=g)
    control = torch.full((length, size, size, 3), 0.5)
    control[frame] = image[0]
    generate = torch.ones(length, size, size)
    generate[frame] = 0.0
    pos, _, _, _ = WanVaceToVideo.execute(prompt(1), prompt(2), vae, size, size, length, 1, 1.0,
                                          control_video=control, control_masks=generate)
    native_frames, native_mask = pos[0][1]["vace_frames"][0], pos[0][1]["vace_mask"][0]
    assert torch.equal(native_mask, native_latent_mask(generate))

    patch = n.patches.VideoCanvasPatchPlacer.execute(image, 0.0, 0.0, 1.0, 1.0, "fraction", "cover", 0.0)[0]
    at = canvas(n, length, size, size)
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, str(frame), "frames", at, 1.0)[0]
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, at, 1,
                                                                         conds)
    _, calls = native_run(patched, pos, neg, latent)
    context = calls[0]["vace_context"][0, 0]  # one vace input: 32 control latent + 64 mask channels
    slot = 0 if frame == 0 else (frame - 1) // 4 + 1
    # the same control streams (the model scales each 16-channel stream by its latent format)
    native_in = torch.cat([vace.model.process_latent_in(native_frames[:, i:i + 16]) for i in (0, 16)], 1)
    assert torch.equal(context[:32], native_in[0].detach())
    assert context[32:, slot].eq(0).all()  # known where the frame is
    assert context[32:, [s for s in range(21) if s != slot]].eq(1).all()
    assert bool(native_mask[0, :, slot].eq(0).all()) == (frame == 44)  # native sees 44 only


def test_native_vace_conditioning_and_videocanvas_conditions_together_are_refused(n, vace, vae):
    import nodes as comfy_nodes
    from comfy_extras.nodes_wan import WanVaceToVideo

    clip, hole = clip_and_hole()
    pos, neg, _, _ = WanVaceToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1, 1.0,
                                            control_video=clip, control_masks=hole)
    conds = n.video_tasks.VideoCanvasInpaint.execute(clip, hole, canvas(n), 0, 1, 1.0)[0]
    pos, neg, latent, _, _ = n.sampling.VideoCanvasConditioning.execute(pos, neg, vae, canvas(n), 1, conds)
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    with pytest.raises(ValueError, match="already carries vace_frames \\(set by WanVaceToVideo\\): both "
                                         "would fill the Wan VACE model's control video"):
        comfy_nodes.common_ksampler(patched, 0, 1, 1.0, "euler", "simple", pos, neg, latent)


def test_long_video_runs_a_vace_model_with_each_window_s_conditions_as_one_control_video(n, vace, vae):
    """Long Video on a VACE model: 25 frames as 3 windows of 9 (overlap 1 carried), a keyframe at 12
    in window 1 and the carried frame in each later one; every window's vace_context holds its own
    control video, the keyframe known in the latent frame that holds it."""
    rec = Recorder(vace)
    g = torch.Generator().manual_seed(9)
    patch = n.patches.VideoCanvasPatchPlacer.execute(torch.rand(1, H, W, 3, generator=g), 0.0, 0.0, 1.0,
                                                     1.0, "fraction", "cover", 0.0)[0]
    at = canvas(n, 25)
    conds = n.patches.VideoCanvasTimestampConditioner.execute(patch, "12", "frames", at, 1.0)[0]
    null = n.sampling.VideoCanvasNullPrompt.execute().result[0]
    images, _ = n.long_video.VideoCanvasLongVideo.execute(rec.model, null, null, vae, at, 9, 1, 3, 1, 1.0,
                                                          "euler", "simple", "images", conds).result
    assert images.shape == (25, H, W, 3)
    masks = [call["vace_context"][0, 0, 32:] for call in rec.calls]  # one call per window (1 step, cfg 1)
    assert len(masks) == 3
    # window 0 (frames 0-8) has no condition: no vace input (the model's default, all generate)
    assert masks[0].eq(1).all()
    # window 1 starts at frame 8: it carries frame 8 (its frame 0) and holds the keyframe at its frame 4
    assert masks[1][:, 0].eq(0).all() and masks[1][:, 1].eq(0).all() and masks[1][:, 2].eq(1).all()
    # window 2 starts at frame 16: the carried frame only
    assert masks[2][:, 0].eq(0).all() and masks[2][:, 1:].eq(1).all()


def test_a_reference_image_equals_wan_vace_to_video_s_reference_image_and_is_trimmed(n, vace, vae):
    """Inpainting (where native is exact) and a reference image (VideoCanvas Reference Image: a
    condition without a time): the latent (one frame longer), trim_latent, everything that reaches
    the model at every step and the sampled latent are native WanVaceToVideo's with that control
    video, mask and reference_image, through KSampler; VideoCanvas Sampler returns that latent
    trimmed as TrimVideoLatent trims it."""
    from comfy_extras.nodes_wan import TrimVideoLatent, WanVaceToVideo

    clip, hole = clip_and_hole()
    subject = torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(21))
    control = clip * (1 - hole[0, ..., None]) + 0.5 * hole[0, ..., None]
    pos, neg, latent, trim = WanVaceToVideo.execute(prompt(1), prompt(2), vae, W, H, LENGTH, 1, 1.0,
                                                    control_video=control,
                                                    control_masks=hole.expand(LENGTH, H, W),
                                                    reference_image=subject)
    assert trim == 1 and latent["samples"].shape[2] == 3 + 1
    native, native_calls = native_run(vace, pos, neg, latent)

    conds = n.video_tasks.VideoCanvasInpaint.execute(clip, hole, canvas(n), 0, 1, 1.0)[0]
    ref = n.patches.VideoCanvasPatchPlacer.execute(subject, 0.0, 0.0, 1.0, 1.0, "fraction", "cover", 0.0)[0]
    conds = n.patches.VideoCanvasReferenceImage.execute(ref, conds)[0]
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    pos, neg, ours_latent, _, ours_trim = n.sampling.VideoCanvasConditioning.execute(
        prompt(1), prompt(2), vae, canvas(n), 1, conds)
    assert ours_trim == trim and ours_latent["samples"].shape == latent["samples"].shape
    ours, calls = native_run(patched, pos, neg, ours_latent)
    assert torch.equal(ours, native)
    assert_same_calls(calls, native_calls)

    latent, _ = n.sampling.VideoCanvasSampler.execute(vace, prompt(1), prompt(2), vae, canvas(n), 1,
                                                      SEED, STEPS, CFG, "euler", "simple", 1.0, conds)
    (cut,) = TrimVideoLatent.execute({"samples": native}, trim)
    assert torch.equal(latent["samples"], cut["samples"]) and latent["samples"].shape[2] == 3


def test_a_reference_on_a_model_without_the_slot_is_refused_by_name(n, t2v, vae):
    """Never dropped: VideoCanvas Sampler refuses before encoding; through VideoCanvas Conditioning
    (which does not know the model) the patched model refuses when sampling starts; Long Video
    refuses before any window."""
    import nodes as comfy_nodes

    g = torch.Generator().manual_seed(3)
    ref = n.patches.VideoCanvasPatchPlacer.execute(torch.rand(1, H, W, 3, generator=g), 0.0, 0.0, 1.0, 1.0,
                                                   "fraction", "cover", 0.0)[0]
    conds = n.patches.VideoCanvasReferenceImage.execute(ref)[0]
    message = (r"conditions: condition #1 \(reference\): 1 reference \(VideoCanvas Reference Image: a "
               r"condition without a time\) needs a model with a reference slot \(a Wan VACE model\); "
               r"this is a Wan 2.1/2.2 T2V \(16-ch\) model")
    with pytest.raises(ValueError, match=message):
        n.sampling.VideoCanvasSampler.execute(t2v, prompt(1), prompt(2), vae, canvas(n), 1, SEED, 1, 1.0,
                                              "euler", "simple", 1.0, conds)
    pos, neg, latent, _, trim = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae,
                                                                           canvas(n), 1, conds)
    assert trim == 1
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(t2v, "interpolate", "in_context")[0]
    with pytest.raises(ValueError, match=message):
        comfy_nodes.common_ksampler(patched, 0, 1, 1.0, "euler", "simple", pos, neg, latent)
    null = n.sampling.VideoCanvasNullPrompt.execute().result[0]
    with pytest.raises(ValueError, match=r"conditions: 1 reference \(VideoCanvas Reference Image\), which "
                                         r"Long Video does not carry"):
        n.long_video.VideoCanvasLongVideo.execute(t2v, null, null, vae, canvas(n, 25), 9, 1, 3, 1, 1.0,
                                                  "euler", "simple", "images", conds)


def test_one_conditioning_output_serves_a_text_to_video_run_then_a_vace_run(n, vace, t2v, vae):
    """ComfyUI caches VideoCanvas Conditioning's output, so a later run on another model is handed
    the same object: after the text-to-video model encoded it as tokens (dropping its canvases), the
    VACE model's run still gets its control video, exactly as from a fresh node output."""
    import nodes as comfy_nodes

    clip, hole = clip_and_hole()
    conds = n.video_tasks.VideoCanvasInpaint.execute(clip, hole, canvas(n), 0, 1, 1.0)[0]
    shared = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1, conds)
    fresh = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1, conds)
    patch = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute
    comfy_nodes.common_ksampler(patch(t2v, "interpolate", "in_context")[0], 0, 1, 1.0, "euler", "simple",
                                shared[0], shared[1], shared[2])
    assert shared[0][0][1]["model_conds"][n.types.COND_LATENTS].cond._plan is None  # tokens: canvases dropped
    vace_model = patch(vace, "interpolate", "in_context")[0]
    after, calls = native_run(vace_model, shared[0], shared[1], shared[2])
    alone, alone_calls = native_run(vace_model, fresh[0], fresh[1], fresh[2])
    assert torch.equal(after, alone)
    assert_same_calls(calls, alone_calls)


def test_references_alone_two_of_them_and_a_batch_of_two(n, vace, vae):
    """Two references and no timed condition, batch 2: VideoCanvas Conditioning's latent has 3 + 2
    latent frames per sample and trim_latent 2; both references reach the model ahead of an all-grey
    control video (known, mask 0; the video's frames all generate, mask 1); VideoCanvas Sampler returns
    3 latent frames per sample. Without references trim_latent is 0 and the latent carries no marker."""
    g = torch.Generator().manual_seed(4)
    placer = n.patches.VideoCanvasPatchPlacer.execute
    conds = None
    for _ in range(2):
        ref = placer(torch.rand(1, H, W, 3, generator=g), 0.0, 0.0, 1.0, 1.0, "fraction", "cover", 0.0)[0]
        conds = n.patches.VideoCanvasReferenceImage.execute(ref, conds)[0]
    pos, neg, latent, _, trim = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae,
                                                                           canvas(n), 2, conds)
    assert trim == 2 and latent["samples"].shape == (2, 16, 5, H // 8, W // 8)
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(vace, "interpolate", "in_context")[0]
    _, calls = recorded_ksampler(patched, pos, neg, latent, SEED, 1, 1.0)
    context = calls[0]["vace_context"]  # [2, 1, 96, 5, h, w]
    assert context.shape == (2, 1, 96, 5, H // 8, W // 8)
    assert context[:, 0, 32:, :2].eq(0).all() and context[:, 0, 32:, 2:].eq(1).all()
    sampled, _ = n.sampling.VideoCanvasSampler.execute(vace, prompt(1), prompt(2), vae, canvas(n), 2,
                                                       SEED, 1, 1.0, "euler", "simple", 1.0, conds)
    assert sampled["samples"].shape == (2, 16, 3, H // 8, W // 8)
    assert n.types.REFERENCE_FRAMES not in sampled

    clip, hole = clip_and_hole()
    plain = n.video_tasks.VideoCanvasInpaint.execute(clip, hole, canvas(n), 0, 1, 1.0)[0]
    *_, latent, _, trim = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1,
                                                                     plain)
    assert trim == 0 and set(latent) == {"samples"}


def test_a_latent_that_still_holds_its_reference_frames_is_refused_by_videocanvas_decode(n, vae):
    """VideoCanvas Conditioning + KSampler without Trim Video Latent: the sampled latent (its dict
    copied by the sampler) still starts with the reference frame, and VideoCanvas Decode says to cut
    it; after Trim Video Latent it decodes the 9 frames of the canvas."""
    from comfy_extras.nodes_wan import TrimVideoLatent

    ref = n.patches.VideoCanvasPatchPlacer.execute(torch.rand(1, H, W, 3), 0.0, 0.0, 1.0, 1.0, "fraction",
                                                   "cover", 0.0)[0]
    conds = n.patches.VideoCanvasReferenceImage.execute(ref)[0]
    *_, latent, _, trim = n.sampling.VideoCanvasConditioning.execute(prompt(1), prompt(2), vae, canvas(n), 1,
                                                                     conds)
    sampled = {**latent, "samples": torch.randn(latent["samples"].shape)}  # what KSampler's copy holds
    decode = n.decode.VideoCanvasDecode.execute
    with pytest.raises(ValueError, match=r"VideoCanvas Decode: latent: its first 1 latent frame is a "
                                         r"reference frame \(VideoCanvas Reference Image\), not video: cut "
                                         r"it off with Trim Video Latent \(trim_amount 1"):
        decode(vae, sampled, 0, False, 0.0)
    (cut,) = TrimVideoLatent.execute(sampled, trim)
    assert decode(vae, cut, 0, False, 0.0)[0].shape == (LENGTH, H, W, 3)
