"""The video-task nodes inside a real (in-process) ComfyUI: each one, fed by core nodes, drives the
VideoCanvas Sampler on a tiny Wan model to a 9-frame 32x32 video; bad inputs fail with ComfyUI's
error naming the input."""

import importlib

import pytest

W, H, LENGTH = 32, 32, 9
RED, BLUE = 0xFF0000, 0x0000FF


@pytest.fixture(scope="module")
def vt(pack):
    """The pack's video_tasks module as ComfyUI loaded it."""
    return importlib.import_module(pack.__name__ + ".vc_nodes.video_tasks")


def clip(frames, color=RED, size=W):
    return {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": frames,
                                                   "color": color}}


def hole(size=W):
    """A mask with a 16x16 hole (1) in the middle of a size x size frame, from core mask nodes."""
    return {
        "m0": {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": size, "height": size}},
        "m1": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 16}},
        "mask": {"class_type": "MaskComposite", "inputs": {"destination": ["m0", 0], "source": ["m1", 0],
                                                           "x": 8, "y": 8, "operation": "add"}},
    }


def graph(checkpoints, task, **sources):
    """sources (clip nodes) -> task node -> VideoCanvasSampler (tiny Wan) -> Decode -> PreviewImage,
    task and sampler on one VideoCanvas Canvas."""
    task = {**task, "inputs": {**task["inputs"], "canvas": ["canvas", 0]}}
    return {
        **sources,
        "canvas": {"class_type": "VideoCanvasCanvas", "inputs": {"width": W, "height": H,
                                                                 "length": LENGTH, "fps": 16.0}},
        "task": task,
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                        "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "sampler": {"class_type": "VideoCanvasSampler", "inputs": {
            "model": ["unet", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
            "canvas": ["canvas", 0], "batch_size": 1, "seed": 0, "steps": 1,
            "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0,
            "conditions": ["task", 0]}},
        "decode": {"class_type": "VideoCanvasDecode", "inputs": {
            "vae": ["vae", 0], "latent": ["sampler", 0], "tile_size": 0, "paste_back": True,
            "feather": 0.0, "conditions": ["task", 0]}},
        "preview": {"class_type": "PreviewImage", "inputs": {"images": ["decode", 0]}},
    }


def frames_of(output):
    """The images a PreviewImage wrote: (count, sizes)."""
    import folder_paths
    from PIL import Image

    images = output["preview"]["images"]
    sizes = set()
    for info in images:
        folder = folder_paths.get_directory_by_type(info["type"])
        with Image.open(f"{folder}/{info['subfolder']}/{info['filename']}") as im:
            sizes.add(im.size)
    return len(images), sizes


def run_task(comfy, checkpoints, class_type, inputs, **sources):
    out = comfy.run(graph(checkpoints, {"class_type": class_type, "inputs": inputs}, **sources))
    return frames_of(out)


TASKS = {
    "VideoCanvasInpaint": (
        {"video": ["clip", 0], "mask": ["mask", 0], "start_frame": 2, "every_nth": 2, "strength": 1.0},
        {"clip": clip(5), **hole()}),
    "VideoCanvasOutpaint": (
        {"video": ["clip", 0], "x": 0.25, "y": 0.25, "width": 0.5, "height": 0.5, "fit": "contain",
         "feather": 1.0, "start_frame": 0, "every_nth": 1, "strength": 1.0},
        {"clip": clip(3, size=16)}),
    "VideoCanvasExtend": (
        {"video": ["clip", 0], "context_frames": 3, "direction": "backward", "strength": 1.0},
        {"clip": clip(6)}),
    "VideoCanvasTransition": (
        {"clip_a": ["a", 0], "clip_b": ["b", 0], "frames_a": 2, "frames_b": 2, "strength": 0.9},
        {"a": clip(4, RED), "b": clip(3, BLUE)}),
    "VideoCanvasCameraMove": (
        {"image": ["clip", 0], "start_x": 0.4, "start_y": 0.5, "start_zoom": 1.0, "end_x": 0.6,
         "end_y": 0.5, "end_zoom": 0.7, "easing": "ease_in_out", "every_nth": 4, "feather": 0.0,
         "strength": 1.0},
        {"clip": clip(2, size=24)}),
    "VideoCanvasLoop": (
        {"video": ["clip", 0], "context_frames": 2, "strength": 1.0},
        {"clip": clip(7)}),
}


@pytest.mark.parametrize("class_type", list(TASKS))
def test_task_node_drives_the_sampler_to_a_video(comfy, checkpoints, vt, class_type):
    inputs, sources = TASKS[class_type]
    assert run_task(comfy, checkpoints, class_type, inputs, **sources) == (LENGTH, {(W, H)})


def test_every_task_node_is_a_documented_chainable_condition_source(vt):
    from comfy_api.latest import io

    for cls in vt.NODES:
        schema = cls.GET_SCHEMA()
        assert schema.category == "VideoCanvas" and schema.description
        assert all(i.tooltip for i in schema.inputs), schema.node_id
        last = schema.inputs[-1]
        assert last.id == "conditions" and last.optional and last.io_type == "VIDEOCANVAS_CONDITIONS"
        assert [o.io_type for o in schema.outputs] == ["VIDEOCANVAS_CONDITIONS"]
        assert issubclass(cls, io.ComfyNode)
        # their node id and title reach errors raised later, when the sampler builds the plan
        assert {io.Hidden.unique_id, io.Hidden.prompt} <= set(schema.hidden), schema.node_id


def test_node_ids_and_input_names_are_the_workflow_contract(vt):
    inputs = {cls.GET_SCHEMA().node_id: [i.id for i in cls.GET_SCHEMA().inputs] for cls in vt.NODES}
    assert inputs == {
        "VideoCanvasInpaint": ["video", "mask", "canvas", "start_frame", "every_nth", "strength",
                               "conditions"],
        "VideoCanvasOutpaint": ["video", "canvas", "x", "y", "width", "height", "fit", "feather",
                                "start_frame", "every_nth", "strength", "conditions"],
        "VideoCanvasExtend": ["video", "canvas", "context_frames", "direction", "strength", "conditions"],
        "VideoCanvasTransition": ["clip_a", "clip_b", "canvas", "frames_a", "frames_b", "strength",
                                  "conditions"],
        "VideoCanvasCameraMove": ["image", "canvas", "start_x", "start_y", "start_zoom", "end_x",
                                  "end_y", "end_zoom", "easing", "every_nth", "feather", "strength",
                                  "conditions"],
        "VideoCanvasLoop": ["video", "canvas", "context_frames", "strength", "conditions"],
    }
    for cls in vt.NODES:  # the canvas is required: frames are checked against it where typed
        (canvas,) = [i for i in cls.GET_SCHEMA().inputs if i.id == "canvas"]
        assert canvas.io_type == "VIDEOCANVAS_CANVAS" and not canvas.optional
    defaults = {i.id: i.default for i in vt.VideoCanvasCameraMove.GET_SCHEMA().inputs[2:10]}
    assert defaults == {"start_x": 0.5, "start_y": 0.5, "start_zoom": 1.0, "end_x": 0.5, "end_y": 0.5,
                        "end_zoom": 1.5, "easing": "linear", "every_nth": 4}


def test_task_nodes_append_to_the_conditions_they_are_given(vt, pack):
    import torch

    canvas = pack.vc_nodes.types.Canvas(16, 16, 9, 16.0)
    video = torch.rand(4, 16, 16, 3)
    earlier = vt.VideoCanvasLoop.execute(video, canvas, 1, 1.0)[0]
    assert [s.label for s in earlier] == ["loop: clip end", "loop: clip start"]
    chained = vt.VideoCanvasExtend.execute(video, canvas, 2, "forward", 0.5, conditions=earlier)[0]
    assert chained[:2] == earlier and len(chained) == 3
    assert chained[2].label == "extend forward" and chained[2].strength == 0.5


def test_mask_of_the_wrong_size_fails_naming_the_mask_and_both_sizes(comfy, checkpoints, vt):
    from hostkit.inprocess import ExecutionFailed

    inputs = {"video": ["clip", 0], "mask": ["m", 0], "start_frame": 0, "every_nth": 1, "strength": 1.0}
    with pytest.raises(ExecutionFailed) as failed:
        run_task(comfy, checkpoints, "VideoCanvasInpaint", inputs, clip=clip(3),
                 m={"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 24}})
    assert failed.value.data["node_type"] == "VideoCanvasInpaint"
    message = failed.value.data["exception_message"]
    assert "mask is 24x16 (HxW) but the video frames are 32x32" in message


def test_context_longer_than_the_clip_fails_naming_the_input(comfy, checkpoints, vt):
    from hostkit.inprocess import ExecutionFailed

    inputs = {"video": ["clip", 0], "context_frames": 5, "strength": 1.0}
    with pytest.raises(ExecutionFailed, match="context_frames is 5 but the video has only 3 frames"):
        run_task(comfy, checkpoints, "VideoCanvasLoop", inputs, clip=clip(3))


@pytest.mark.parametrize("class_type,inputs,sources,message", [
    ("VideoCanvasTransition",
     {"clip_a": ["a", 0], "clip_b": ["b", 0], "frames_a": 5, "frames_b": 4, "strength": 1.0},
     {"a": clip(5, RED), "b": clip(5, BLUE)},
     "node task: frames_a + frames_b = 5 + 4 = 9 but the output has 9 frames: clip A's end and clip "
     "B's start would fill all 9 frames, leaving none to generate; allowed: frames_a + frames_b <= "
     "length - 1 = 8 (lower frames_a or frames_b, or raise length)"),
    ("VideoCanvasInpaint",
     {"video": ["clip", 0], "mask": ["mask", 0], "start_frame": 6, "every_nth": 1, "strength": 1.0},
     {"clip": clip(5), **hole()},
     "node task: start_frame entry 9 is out of range: allowed [-9, 8] for length 9 -- the 5-frame "
     "clip does not fit the 9-frame video: its frames land past the last frame (start_frame + clip "
     "frames must be <= length); trim the clip (e.g. ImageFromBatch) or raise length"),
])
def test_frames_past_the_canvas_are_refused_by_the_task_node(comfy, checkpoints, class_type, inputs,
                                                             sources, message):
    """Refused where the clip and its frame counts are given, naming that node, before any sampling."""
    from hostkit.inprocess import ExecutionFailed

    with pytest.raises(ExecutionFailed) as failed:
        run_task(comfy, checkpoints, class_type, inputs, **sources)
    assert failed.value.data["node_type"] == class_type
    assert failed.value.data["exception_message"].rstrip("\n") == message
