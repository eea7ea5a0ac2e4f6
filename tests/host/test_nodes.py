"""The core nodes' behaviour inside a real (in-process) ComfyUI: conditions are encoded one by one
in image mode in one call, the sampler and its conditioning-style twin agree exactly, decode can
paste the conditions back, progress and interrupt behave as in ComfyUI's own samplers."""

import pytest
import torch

W, H, LENGTH = 32, 32, 9


@pytest.fixture(scope="module")
def models(comfy, checkpoints):
    import comfy.sd
    import comfy.utils
    import folder_paths

    unet = comfy.sd.load_diffusion_model(
        folder_paths.get_full_path_or_raise("diffusion_models", checkpoints["wan21_t2v_tiny"]))
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(
        folder_paths.get_full_path_or_raise("vae", checkpoints["wan21_vae_tiny"])))
    return unet, vae


def solid(rgb, h=H, w=W):
    return torch.tensor(rgb, dtype=torch.float32).expand(1, h, w, 3).clone()


def canvas(n, width=W, height=H, length=LENGTH, fps=16.0):
    return n.canvas.VideoCanvasCanvas.execute(width, height, length, fps)[0]


def conditions(n, *specs, length=LENGTH):
    """specs: (rgb, frames, box) -> a chained condition set built with the real nodes."""
    out = None
    for rgb, frames, box in specs:
        patch = n.patches.VideoCanvasPatchPlacer.execute(solid(rgb), *box, "fraction", "stretch", 0.0)[0]
        out = n.patches.VideoCanvasTimestampConditioner.execute(
            patch, frames, "frames", canvas(n, length=length), 1.0, out)[0]
    return out


def null(n):
    return n.sampling.VideoCanvasNullPrompt.execute()[0]


def test_null_prompt_is_one_zero_token_of_wan_width_with_its_attention_mask(n):
    """LTX-Video's forward requires an attention mask (ComfyUI's T5 encoder gives one); Wan reads none."""
    (tensor, extras), = null(n)
    assert tensor.shape == (1, 1, 4096) and not tensor.any() and extras.keys() == {"attention_mask"}
    mask = extras["attention_mask"]
    assert mask.dtype == torch.long and mask.tolist() == [[1]]


def test_conditions_are_encoded_each_on_its_own_as_a_single_image(n, models):
    from vc_core.plan import build_plan

    _, vae = models
    colours = [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 1.0, 0.0), (0.2, 0.6, 0.9)]
    boxes = [(0, 0, 1, 1), (0.5, 0, 0.5, 1), (0, 0.5, 1, 0.5), (0.25, 0.25, 0.5, 0.5), (0, 0, 0.5, 0.5)]
    specs = zip(colours, ("0", "2", "4", "6", "8"), boxes, strict=True)  # 5 frames: 2 clip latents
    conds = conditions(n, *specs)
    plan = build_plan(conds, W, H, LENGTH)
    latents = n.encode.encode_plan(vae, plan)
    assert latents.shape == (1, 16, 5, H // 8, W // 8)
    # One batched call against one call per image: float32 convolutions over other batch sizes
    # round differently (latents are O(1); 1e-5 is far below any content difference).
    for k in range(5):
        alone = vae.encode(plan.canvases[k:k + 1])  # one image = a one-frame clip
        torch.testing.assert_close(latents[:, :, k], alone[:, :, 0], atol=1e-5, rtol=1e-5)
    # What a naive IMAGE-batch encode does: the 5 canvases as one clip, 4 frames per latent after
    # the first. Only frame 0 is encoded alone; frames 1-4 are mixed into one latent that is none
    # of their own.
    as_one_clip = vae.encode(plan.canvases)
    assert as_one_clip.shape == (1, 16, 2, H // 8, W // 8)
    torch.testing.assert_close(as_one_clip[:, :, 0], latents[:, :, 0], atol=1e-5, rtol=1e-5)
    for k in range(1, 5):
        assert (as_one_clip[:, :, 1] - latents[:, :, k]).abs().max() > 0.5, k  # seen: >= 1.3


def test_canvas_zero_is_the_vae_zero(n):
    from vc_core.canvas import VAE_ZERO
    from vc_core.plan import build_plan

    plan = build_plan(conditions(n, ((1.0, 1.0, 1.0), "3", (0, 0, 0.5, 1))), W, H, LENGTH)
    assert VAE_ZERO == 0.5  # ComfyUI pixels 0..1 -> Wan VAE -1..1: 0.5 is the VAE's zero
    assert torch.equal(plan.canvases[0, :, W // 2:], torch.full((H, W // 2, 3), 0.5))
    assert torch.equal(plan.masks[0, :, :W // 2], torch.ones(H, W // 2))


def test_sampler_equals_conditioning_node_plus_native_ksampler(n, models):
    import nodes as comfy_nodes

    unet, vae = models
    conds = conditions(n, ((1.0, 0.5, 0.0), "0, -1", (0.25, 0.25, 0.5, 0.5)))
    latent, layout = n.sampling.VideoCanvasSampler.execute(
        unet, null(n), null(n), vae, canvas(n), 1, 7, 2, 1.0, "euler", "simple", 1.0, conds)
    pos, neg, empty, layout2, _ = n.sampling.VideoCanvasConditioning.execute(
        null(n), null(n), vae, canvas(n), 1, conds)
    patched = n.rope_interpolator.VideoCanvasRoPEInterpolator.execute(unet, "interpolate",
                                                                      "in_context")[0]
    native = comfy_nodes.KSampler().sample(patched, 7, 2, 1.0, "euler", "simple", pos, neg, empty)[0]
    assert latent["samples"].shape == (1, 16, 3, H // 8, W // 8)
    assert torch.equal(latent["samples"], native["samples"])
    assert torch.equal(layout, layout2) and layout.ndim == 4 and layout.shape[-1] == 3


def test_empty_condition_set_is_plain_text_to_video(n, models):
    import nodes as comfy_nodes

    unet, vae = models
    latent, _ = n.sampling.VideoCanvasSampler.execute(
        unet, null(n), null(n), vae, canvas(n), 1, 3, 2, 1.0, "euler", "simple", 1.0, None)
    empty = {"samples": torch.zeros(1, 16, 3, H // 8, W // 8)}
    plain = comfy_nodes.KSampler().sample(unet, 3, 2, 1.0, "euler", "simple", null(n), null(n), empty)[0]
    assert torch.equal(latent["samples"], plain["samples"])


def test_decode_pastes_the_exact_condition_pixels_back(n, models):
    unet, vae = models
    conds = conditions(n, ((0.9, 0.1, 0.2), "4", (0.5, 0.5, 0.5, 0.5)))
    latent, _ = n.sampling.VideoCanvasSampler.execute(
        unet, null(n), null(n), vae, canvas(n), 1, 0, 1, 1.0, "euler", "simple", 1.0, conds)
    with torch.inference_mode():  # as ComfyUI's executor runs every node (0.33.0's VAE needs it)
        raw = n.decode.VideoCanvasDecode.execute(vae, latent, 0, False, 0.0, conds)[0]
        pasted = n.decode.VideoCanvasDecode.execute(vae, latent, 0, True, 0.0, conds)[0]
        tiled = n.decode.VideoCanvasDecode.execute(vae, latent, 64, False, 0.0, None)[0]
    assert raw.shape == (LENGTH, H, W, 3)
    assert torch.allclose(pasted[4, H // 2:, W // 2:], torch.tensor([0.9, 0.1, 0.2]).expand(16, 16, 3))
    assert torch.equal(pasted[4, :H // 2], raw[4, :H // 2]) and torch.equal(pasted[3], raw[3])
    assert tiled.shape == raw.shape


def test_layout_preview_marks_each_condition(n):
    strip = n.decode.VideoCanvasLayoutPreview.execute(
        conditions(n, ((1.0, 0.0, 0.0), "0", (0, 0, 1, 1)), ((0.0, 1.0, 0.0), "-1", (0, 0, 1, 1))),
        canvas(n), 32)[0]
    assert strip.shape[0] == 1 and strip.shape[1] > 32 and strip.shape[2] >= 2 * 32
    assert strip[0, 4:36, 4:36].mean(dim=(0, 1)).argmax() == 0  # first thumbnail: the red frame 0


def test_frames_syntax_is_checked_when_the_prompt_is_validated(n):
    ok = n.patches.VideoCanvasTimestampConditioner.validate_inputs(frames="0, 40, -1, 2.5, last")
    bad = n.patches.VideoCanvasTimestampConditioner.validate_inputs(frames="0, forty")
    assert ok is True and "forty" in bad and "frames" in bad


def test_canvas_carries_its_four_values_and_passes_them_on_as_numbers(n):
    out = n.canvas.VideoCanvasCanvas.execute(64, 48, 17, 12.5)
    assert out[0] == n.types.Canvas(64, 48, 17, 12.5)
    assert tuple(out[1:]) == (64, 48, 17, 12.5)


@pytest.mark.parametrize("length,message", [
    (18, "VideoCanvas Canvas: length must be 4k+1 (…, 17, 21, …); got 18 (Wan's VAE packs 4 frames "
         "per latent after the first)"),
    (0, "VideoCanvas Canvas: length must be 4k+1 (1, 5, …); got 0 (Wan's VAE packs 4 frames per "
        "latent after the first)"),
    (16385, "VideoCanvas Canvas: length must be at most 16384; got 16385"),
])
def test_canvas_refuses_a_length_the_vae_cannot_encode_naming_itself(n, length, message):
    assert n.canvas.VideoCanvasCanvas.validate_inputs(length=length) == message
    with pytest.raises(ValueError) as err:  # a linked length reaches execute unchecked
        n.canvas.VideoCanvasCanvas.execute(W, H, length, 16.0)
    assert str(err.value) == message


def test_canvas_refuses_a_size_off_the_patch_grid(n):
    with pytest.raises(ValueError, match=r"^VideoCanvas Canvas: width must be a positive multiple of "
                       r"16 .*; got 40, nearest 32 or 48$"):
        n.canvas.VideoCanvasCanvas.execute(40, H, LENGTH, 16.0)


def test_conditioner_refuses_a_frame_past_the_canvas_length_naming_itself_and_frames(n):
    patch = n.patches.VideoCanvasPatchPlacer.execute(solid((1, 0, 0)), 0, 0, 1, 1, "fraction",
                                                     "stretch", 0.0)[0]
    with pytest.raises(ValueError) as err:
        n.patches.VideoCanvasTimestampConditioner.execute(patch, "0, 40", "frames",
                                                          canvas(n, length=17), 1.0)
    assert str(err.value) == ("VideoCanvas Timestamp Conditioner: frames entry '40' is out of range: "
                              "allowed [-17, 16] for length 17")


def test_conditioner_reads_seconds_at_the_canvas_fps(n):
    patch = n.patches.VideoCanvasPatchPlacer.execute(solid((1, 0, 0)), 0, 0, 1, 1, "fraction",
                                                     "stretch", 0.0)[0]
    (src,) = n.patches.VideoCanvasTimestampConditioner.execute(patch, "0.5", "seconds",
                                                               canvas(n, length=17, fps=24.0), 1.0)[0]
    assert (src.unit, src.fps) == ("seconds", 24.0)
    from vc_core.plan import source_frames

    assert source_frames(src, 17) == [12]
    with pytest.raises(ValueError, match=r"frames entry '1' \(1 s at 24 fps = frame 24\) is out of "
                       r"range: allowed \[-17, 16\] for length 17"):
        n.patches.VideoCanvasTimestampConditioner.execute(patch, "1", "seconds",
                                                          canvas(n, length=17, fps=24.0), 1.0)


def test_placer_checks_a_pixel_box_against_a_linked_canvas(n):
    place = n.patches.VideoCanvasPatchPlacer.execute
    assert place(solid((1, 0, 0)), 16, 0, 16, 32, "px", "stretch", 0.0, canvas=canvas(n))[0]
    with pytest.raises(ValueError) as err:
        place(solid((1, 0, 0)), 16, 0, 32, 32, "px", "stretch", 0.0, canvas=canvas(n))
    assert str(err.value).startswith("VideoCanvas Patch Placer: x, y, width, height: box ")
    assert "outside canvas size 32x32 (HxW); it must lie within x 0..32, y 0..32" in str(err.value)
    # unlinked, the same patch is left to the sampler's canvas
    assert place(solid((1, 0, 0)), 16, 0, 32, 32, "px", "stretch", 0.0)[0]


def graph(checkpoints, steps=3):
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                     "weight_dtype": "default"}},
        "2": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "3": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "4": {"class_type": "VideoCanvasSampler", "inputs": {
            "model": ["1", 0], "positive": ["3", 0], "negative": ["3", 0], "vae": ["2", 0],
            "canvas": ["7", 0], "batch_size": 1, "seed": 0, "steps": steps,
            "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0}},
        "5": {"class_type": "VideoCanvasDecode", "inputs": {"vae": ["2", 0], "latent": ["4", 0],
                                                            "tile_size": 0, "paste_back": False,
                                                            "feather": 0.0}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
        "7": {"class_type": "VideoCanvasCanvas", "inputs": {"width": W, "height": H, "length": LENGTH,
                                                            "fps": 16.0}},
    }


def test_sampler_reports_progress_per_step(comfy, checkpoints):
    comfy.progress.clear()
    comfy.run(graph(checkpoints, steps=3))
    assert [p for p in comfy.progress if p[1] == 3] == [(1, 3), (2, 3), (3, 3)]


def test_sampler_honours_interrupt(comfy, checkpoints):
    from comfy import model_management, utils

    from hostkit.inprocess import ExecutionFailed

    # interrupt as the UI's button does, once the first step has reported progress
    utils.set_progress_bar_global_hook(lambda *a, **k: model_management.interrupt_current_processing())
    try:
        with pytest.raises(ExecutionFailed):
            comfy.run(graph(checkpoints, steps=4))
        kinds = [e for e, _ in comfy.executor.status_messages]
        assert "execution_interrupted" in kinds and "execution_success" not in kinds
    finally:
        utils.set_progress_bar_global_hook(lambda v, t, *a, **k: comfy.progress.append((v, t)))
        model_management.interrupt_current_processing(False)
