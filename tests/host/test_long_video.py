"""VideoCanvas Long Video on the bundled toy model (64x64, 17-frame windows), inside a real ComfyUI:

- a 61-frame video is 5 windows of 17 frames overlapping by 5, under one progress bar;
- window 0 is exactly the VideoCanvas Sampler's 17-frame run (same seed, same conditions), and
  window 1 exactly its run on seed + 1 with window 0's last 5 frames as conditions at frames 0..4:
  the node adds no sampling of its own;
- a condition on the whole timeline lands in its window; Cancel stops inside the next window;
- bad input is refused naming the node and the input before any window runs;
- 'stream to file' writes the whole video (SaveVideo copies it) and keeps only the last window.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hostkit.inprocess import ExecutionFailed, PromptRejected
from templates.recipes import TOY_UNET, TOY_VAE

SIZE, WINDOW, OVERLAP, STEPS = 64, 17, 5, 2


def long_prompt(total=61, window=WINDOW, overlap=OVERLAP, frames="40", output="images", seed=3,
                conditions=True, save=False, conditioner_length=None, **inputs) -> dict:
    """Canvas -> red square (Patch Placer) at `frames` (Timestamp Conditioner) -> Long Video (titled
    "Long video") -> PreviewImage (+ SaveVideo of its VIDEO). conditioner_length: the conditions are
    timed on a second canvas of this length (made for another video). inputs: other Long Video
    inputs (cfg, sampler_name, ...)."""
    p = {
        "canvas": {"class_type": "VideoCanvasCanvas", "inputs": {"width": SIZE, "height": SIZE,
                                                                 "length": total, "fps": 16.0}},
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": TOY_UNET, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": TOY_VAE}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "img": {"class_type": "EmptyImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1,
                                                       "color": 0xE02020}},
        "place": {"class_type": "VideoCanvasPatchPlacer", "inputs": {
            "image": ["img", 0], "x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5, "unit": "fraction",
            "fit": "stretch", "feather": 0.0}},
        "when": {"class_type": "VideoCanvasTimestampConditioner", "inputs": {
            "patch": ["place", 0], "frames": frames, "unit": "frames", "canvas": ["canvas", 0],
            "strength": 1.0}},
        "long": {"class_type": "VideoCanvasLongVideo", "inputs": {
            "model": ["unet", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
            "canvas": ["canvas", 0], "window_length": window, "overlap": overlap, "seed": seed,
            "steps": STEPS, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
            "output": output, **inputs}, "_meta": {"title": "Long video"}},
        "show": {"class_type": "PreviewImage", "inputs": {"images": ["long", 0]}},
    }
    if conditions:
        p["long"]["inputs"]["conditions"] = ["when", 0]
    if conditioner_length:
        p["other"] = {"class_type": "VideoCanvasCanvas", "inputs": {
            "width": SIZE, "height": SIZE, "length": conditioner_length, "fps": 16.0}}
        p["when"]["inputs"]["canvas"] = ["other", 0]
    if save:
        p["save"] = {"class_type": "SaveVideo", "inputs": {
            "video": ["long", 1], "filename_prefix": "long/test", "format": "auto", "codec": "auto"}}
    return p


@pytest.fixture(scope="module")
def toy(pack):
    import comfy.sd
    import folder_paths

    model = comfy.sd.load_diffusion_model(folder_paths.get_full_path("diffusion_models", TOY_UNET))
    vae_sd = comfy.utils.load_torch_file(folder_paths.get_full_path("vae", TOY_VAE))
    return model, comfy.sd.VAE(sd=vae_sd)


def run_node(pack, toy, total, conditions, seed=3, output="images", joins="fade"):
    model, vae = toy
    node = pack.vc_nodes.long_video.VideoCanvasLongVideo
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, total, 16.0)
    return node.execute(model, null, null, vae, canvas, WINDOW, OVERLAP, seed, STEPS, 1.0, "euler",
                        "simple", output, conditions, joins).result


def sampler_window(pack, toy, conditions, seed) -> torch.Tensor:
    """The VideoCanvas Sampler's 17-frame run, decoded as ComfyUI's VAEDecode does, in 8 bits."""
    import nodes as comfy_nodes

    model, vae = toy
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, WINDOW, 16.0)
    latent = pack.vc_nodes.sampling.VideoCanvasSampler.execute(
        model, null, null, vae, canvas, 1, seed, STEPS, 1.0, "euler", "simple", 1.0, conditions).result[0]
    images = comfy_nodes.VAEDecode().decode(vae, latent)[0]
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)


def red_square(pack, frames):
    plan = pack.vc_core.plan
    image = torch.zeros(1, SIZE, SIZE, 3)
    image[..., 0] = 0.9
    box = pack.vc_core.canvas.Box(0.0, 0.0, 0.5, 0.5, "fraction")
    return (plan.ConditionSource(plan.Patch(image[0], placement=plan.Placement(box)), frames=frames),)


def test_windows_are_the_samplers_runs_chained_by_their_last_frames(pack, toy):
    """29 frames = windows at 0 and 12. Window 0: the sampler on frames 0..16 with the user's
    condition at 8 (seed 3). Window 1: the sampler on seed 4 with window 0's frames 12..16 held at
    frames 0..4 (full frame, strength 1) and the user's condition at 20 at frame 8 (joins as
    sampled)."""
    plan = pack.vc_core.plan
    user = red_square(pack, [8, 20])
    images, _ = run_node(pack, toy, 29, user, joins="as sampled")
    out = images.mul(255).round().to(torch.uint8)
    assert tuple(out.shape) == (29, SIZE, SIZE, 3)

    first = sampler_window(pack, toy, red_square(pack, 8), seed=3)
    assert torch.equal(out[:17], first)
    carried = first[12:17].float() / 255
    second_conditions = (plan.ConditionSource(plan.Patch(carried), frames=0),
                         *red_square(pack, 8))
    second = sampler_window(pack, toy, second_conditions, seed=4)
    # frames 12..16 come from window 0; window 1 adds 17..28
    assert torch.equal(out[17:29], second[5:17])
    # and window 1 did hold the carried frames (they come back close to what was carried)
    assert (second[:5].float() - first[12:17].float()).abs().mean() < 12


def test_61_frames_run_as_5_windows_under_one_progress_bar(comfy):
    comfy.progress.clear()
    outputs = comfy.run(long_prompt())
    (preview,) = outputs["show"]["images"][:1]
    assert preview["type"] == "temp"
    assert len(outputs["show"]["images"]) == 61
    bar = [(v, t) for v, t in comfy.progress if t == 5 * STEPS]
    assert [v for v, _ in bar] == list(range(1, 5 * STEPS + 1)), comfy.progress
    assert all(t == 5 * STEPS for _, t in comfy.progress), "a second progress bar ran"


def test_cancel_stops_inside_the_next_window(comfy):
    from comfy import model_management as mm
    from comfy import utils

    seen = []

    def hook(value, total, *args, **kwargs):
        seen.append(value)
        if value == STEPS + 1:  # the first step of window 1 is done: press Cancel
            mm.interrupt_current_processing(True)

    utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(ExecutionFailed):
            comfy.run(long_prompt())
    finally:
        utils.set_progress_bar_global_hook(lambda value, total, *a, **k:
                                           comfy.progress.append((value, total)))
        mm.interrupt_current_processing(False)
    assert max(seen) == STEPS + 1, seen  # window 1's second step and windows 2..4 never ran
    assert any(e == "execution_interrupted" for e, _ in comfy.executor.status_messages)


@pytest.mark.parametrize("kwargs,input_name,fragments", [
    (dict(window=16), "window_length", ["must be 4k+1"]),
    (dict(overlap=17), "overlap", ["overlap must be shorter than window_length", "allowed 1..16"]),
    (dict(total=16381, overlap=16), "canvas length",
     ["canvas length 16381 in 17-frame windows overlapping by 16 makes 16365 windows; at most 512"]),
    (dict(frames="70", total=61, conditioner_length=81), "frames of condition #1",
     ["'70' is out of range", "length 61"]),
    # issue 26: a window longer than the video sampled 1025 frames to keep 61
    (dict(window=1025), "window_length",
     ["window_length 1025 is longer than the canvas length 61: one window would sample 1025 frames to "
      "keep 61; allowed: window_length <= canvas length, 4k+1, i.e. at most 61"]),
    # values ComfyUI does not check for a V3 node: a combo outside its options, a NaN float
    (dict(output="imgs"), "output", ["output: 'imgs' is not one of the allowed values: 'images', "
                                     "'stream to file'"]),
    (dict(sampler_name="eulr"), "sampler_name", ["sampler_name: 'eulr' is not one of the allowed "
                                                 "values: 'euler', "]),
    (dict(scheduler="simpel"), "scheduler", ["scheduler: 'simpel' is not one of the allowed values"]),
    (dict(cfg=float("nan")), "cfg", ["cfg must be a finite number in [0, 100]; got nan"]),
], ids=["window_not_4k_plus_1", "overlap_not_shorter", "too_many_windows", "condition_beyond_end",
        "window_longer_than_canvas", "output_misspelled", "sampler_misspelled", "scheduler_misspelled",
        "cfg_nan"])
def test_bad_input_is_refused_naming_the_node_and_input_before_any_window(comfy, kwargs, input_name,
                                                                          fragments):
    comfy.progress.clear()
    with pytest.raises((ExecutionFailed, PromptRejected)) as err:
        comfy.run(long_prompt(**kwargs))
    message = str(err.value)
    assert input_name in message, message
    if isinstance(err.value, PromptRejected) and input_name in ("output", "sampler_name", "scheduler"):
        # Newer ComfyUIs (0.33.0) check V3 combo values themselves, at validation, naming the input
        (error,) = err.value.node_errors["long"]["errors"]
        assert error["type"] == "value_not_in_list" and error["extra_info"]["input_name"] == input_name
        assert error["extra_info"]["received_value"] == kwargs[input_name]
        return
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(err.value, ExecutionFailed), message
    assert message.startswith('VideoCanvasLongVideo: "Long video" (node long): '), message
    assert comfy.progress == [], "a window ran before the refusal"


def test_stream_to_file_saves_the_whole_video_and_outputs_the_last_window(comfy, tmp_path):
    import av
    import folder_paths

    outputs = comfy.run(long_prompt(total=41, output="stream to file", save=True))
    assert len(outputs["show"]["images"]) == 17  # windows at 0, 12, 24: the last covers 24..40
    (saved,) = outputs["save"]["images"]
    path = Path(folder_paths.get_output_directory()) / saved["subfolder"] / saved["filename"]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(video=0)]
        assert (stream.codec_context.name, len(frames)) == ("h264", 41)
        assert (frames[0].width, frames[0].height) == (SIZE, SIZE)


def test_an_overlap_over_half_the_window_carries_the_frames_the_output_kept(pack, toy, monkeypatch):
    """17 frames in 9-frame windows overlapping 6 (windows at 0, 3, 6, 9): window 2 carries frames 6-11,
    of which the output took 6-8 from window 0 and 9-11 from window 1; what each window carries is
    exactly those output frames, not the window before's own regenerated copies of its carried ones."""
    long_video = pack.vc_nodes.long_video
    carried = {}
    real = long_video.window_plan

    def spy(plan, win, frames=None):
        carried[win.index] = (win.carried_frames, None if frames is None else frames.clone())
        return real(plan, win, frames)

    monkeypatch.setattr(long_video, "window_plan", spy)
    model, vae = toy
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, 17, 16.0)
    images, _ = long_video.VideoCanvasLongVideo.execute(model, null, null, vae, canvas, 9, 6, 3, STEPS, 1.0,
                                                        "euler", "simple", "images").result
    assert sorted(carried) == [0, 1, 2, 3] and carried[0][1] is None
    for index in (1, 2, 3):
        where, frames = carried[index]
        assert list(where) == list(range(3 * index, 3 * index + 6))
        assert torch.equal(frames, images[where.start:where.stop])


def test_fade_joins_add_the_joins_residual_to_each_windows_new_frames(pack, toy):
    """joins 'fade' (the default): window 1's new frames are its frames as sampled plus the difference
    between the last frame the output kept (16) and window 1's own copy of it (its frame 4), whole on
    frame 17 and faded out over `overlap` (5) frames; window 0 is untouched."""
    windows = pack.vc_core.windows
    user = red_square(pack, [8, 20])
    to8 = lambda x: x.mul(255).round().to(torch.uint8)  # noqa: E731
    plain = to8(run_node(pack, toy, 29, user, joins="as sampled")[0])
    faded = to8(run_node(pack, toy, 29, user)[0])
    assert torch.equal(faded[:17], plain[:17])
    plan = pack.vc_core.plan
    carried = plain[12:17].float() / 255
    second = sampler_window(pack, toy, (plan.ConditionSource(plan.Patch(carried), frames=0),
                                        *red_square(pack, 8)), seed=4)
    assert torch.equal(faded[17:29], windows.fade_join(second[5:17], second[4], plain[16], OVERLAP))
    # the join now steps as window 1 does from its copy of frame 16 (where nothing clips at 0 or 255)
    step = second[5].int() - second[4].int()
    unclipped = (plain[16].int() + step).clamp(0, 255) == plain[16].int() + step
    assert torch.equal((faded[17].int() - faded[16].int())[unclipped], step[unclipped])


def test_inpainting_draws_each_windows_canvases_only_when_it_runs(pack, toy, monkeypatch):
    """A condition on every frame (video inpainting, 41 frames as windows at 0, 12, 24): no canvas is
    drawn before the windows but one per source (the placement check), and each window draws exactly
    the user conditions on its new frames (17, 12 and 12 rows), never the whole timeline's 41."""
    plan_mod = pack.vc_core.plan
    drawn = []
    real = plan_mod.TimedConditions.render

    def spy(self, rows=None):
        drawn.append(len(self.frames) if rows is None else len(list(rows)))
        return real(self, rows)

    monkeypatch.setattr(plan_mod.TimedConditions, "render", spy)
    gen = torch.Generator().manual_seed(0)
    video = torch.rand(41, SIZE, SIZE, 3, generator=gen)
    hole = torch.zeros(SIZE, SIZE)
    hole[16:48, 16:48] = 1
    conditions = tuple(pack.vc_core.tasks.inpaint_sources(video, hole))
    images = run_node(pack, toy, 41, conditions)[0]
    assert images.shape == (41, SIZE, SIZE, 3)
    assert [n for n in drawn if n] == [1, 17, 12, 12]  # (the size check plans no conditions: 0 rows)
