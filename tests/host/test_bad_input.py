"""Bad inputs through a real ComfyUI server's POST /prompt: each is refused with a message that names
the input and says what is allowed (HTTP 400 node_errors from validation, or the execution_error's
exception_message), and the server then serves the next, good prompt.

The graphs are small (tiny random Wan checkpoints, 48x32, 9 frames, 1 step) and built from core nodes
(EmptyImage, SolidMask) plus the pack's, so nothing but the checkpoints is read from disk.
"""

from __future__ import annotations

import time

import pytest

from helpers import GRAPH_H, GRAPH_LENGTH, GRAPH_W, graph, refusal, serves_next_good_prompt
from hostkit.server import PromptFailed

W, H, LENGTH = GRAPH_W, GRAPH_H, GRAPH_LENGTH

# (id, graph keyword arguments, node blamed, fragments the message must contain)
CASES = [
    ("box_outside_canvas", dict(box=(0.8, 0.0, 0.5, 1.0)), "VideoCanvasSampler",
     ["box", "outside canvas", "must lie within x 0..48"]),
    ("box_outside_canvas_px", dict(box=(40.0, 8.0, 16.0, 16.0), unit="px"), "VideoCanvasSampler",
     ["box", "outside canvas", "must lie within x 0..48"]),
    # the placer linked to the canvas checks its box itself
    ("box_outside_linked_canvas_px", dict(box=(40.0, 8.0, 16.0, 16.0), unit="px", place_on_canvas=True),
     "VideoCanvasPatchPlacer",
     ['node place: x, y, width, height: box', "outside canvas size 32x48",
      "must lie within x 0..48"]),
    # frames are refused where they are typed, naming that node (title and id) and `frames`
    ("frame_past_the_end", dict(frames="0, 9"), "VideoCanvasTimestampConditioner",
     ['node when: frames entry \'9\' is out of range: allowed '
      '[-9, 8] for length 9']),
    ("frame_40_with_length_17", dict(frames="40", length=17), "VideoCanvasTimestampConditioner",
     ['node when: frames entry \'40\' is out of range: '
      'allowed [-17, 16] for length 17']),
    ("frame_before_the_start", dict(frames="-10"), "VideoCanvasTimestampConditioner",
     ["frames", "'-10'", "out of range", "allowed [-9, 8]"]),
    # the sampler checks again: conditions planned on another canvas
    ("conditions_from_a_longer_canvas", dict(frames="12", length=17, sampler_length=9),
     "VideoCanvasSampler",
     ['frames of condition #1 from node when entry \'12\' is '
      'out of range: allowed [-9, 8] for length 9']),
    ("length_not_4k_plus_1", dict(length=10), "VideoCanvasCanvas",
     ["VideoCanvas Canvas: length must be 4k+1", "got 10"]),
    ("width_not_multiple_of_16", dict(width=40), "VideoCanvasCanvas",
     ['node canvas: width must be a positive multiple of 16', "got 40",
      "nearest 32 or 48"]),
    ("height_not_multiple_of_16", dict(height=24), "VideoCanvasCanvas",
     ["height must be a positive multiple of 16", "got 24"]),
    ("mask_size_differs_from_image", dict(mask=(16, 16)), "VideoCanvasPatchPlacer",
     ["mask size (16, 16)", "differs from image size (32, 48)"]),
    ("vae_channels_differ_from_model", dict(unet="wan22_ti2v_tiny"), "VideoCanvasSampler",
     ["vae", "16-channel latents", "denoises 48"]),
    ("frames_syntax", dict(frames="0, soon"), "VideoCanvasTimestampConditioner",
     ["frames", "cannot parse 'soon'", "'first'"]),
    ("width_below_min", dict(width=8), "VideoCanvasCanvas", ["width", "smaller than min of 16"]),
]


@pytest.mark.parametrize("case,kwargs,node,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(case, kwargs, node, fragments, server, checkpoints):
    prompt = graph(checkpoints, **kwargs)
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == node, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    serves_next_good_prompt(server, checkpoints)


def test_a_frame_past_the_canvas_is_refused_by_the_titled_conditioner(server, checkpoints):
    """The issue's case: length 17, frame 40. The error lands on the conditioner, under the title the
    graph gives it (as the frontend sends it in _meta), not on the sampler."""
    prompt = graph(checkpoints, frames="0, 40", length=17)
    prompt["when"]["_meta"] = {"title": "Hold it"}
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasTimestampConditioner", message
    assert message.rstrip("\n") == ('"Hold it" (node when): frames entry \'40\' is out of range: '
                                    'allowed [-17, 16] for length 17')
    serves_next_good_prompt(server, checkpoints)


def strength_above_one(checkpoints) -> dict:
    prompt = graph(checkpoints)
    prompt["when"]["inputs"]["strength"] = 1.5
    return prompt


def test_strength_above_one_is_refused(server, checkpoints):
    """Refused either way: at validation (HTTP 400, ComfyUI's max check) or, as now, by the sampler."""
    with pytest.raises(PromptFailed) as err:
        server.run(strength_above_one(checkpoints), timeout=120)
    blamed, message = refusal(err.value)
    if err.value.kind == "rejected":
        assert blamed == "VideoCanvasTimestampConditioner" and "bigger than max of 1.0" in message
    else:
        assert blamed == "VideoCanvasSampler", message
        assert "strength of condition #1 must be in [0, 1]; got 1.5" in message
    serves_next_good_prompt(server, checkpoints)


def test_conditioner_keeps_comfyui_range_checks(server, checkpoints):
    with pytest.raises(PromptFailed) as err:
        server.run(strength_above_one(checkpoints), timeout=120)
    assert err.value.kind == "rejected"
    (error,) = err.value.payload["node_errors"]["when"]["errors"]
    assert error["extra_info"]["input_name"] == "strength"



def test_frames_syntax_error_blames_only_frames(server, checkpoints):
    with pytest.raises(PromptFailed) as err:
        server.run(graph(checkpoints, frames="0, soon"), timeout=120)
    errors = err.value.payload["node_errors"]["when"]["errors"]
    assert [e["extra_info"]["input_name"] for e in errors] == ["frames"]


def test_image_to_video_model_with_in_context_options_is_refused(server, checkpoints):
    """A Wan image-to-video model takes conditions as channels (tests/host/test_i2v.py): the RoPE
    Interpolator's in-context options cannot apply to it, and are refused by name."""
    prompt = graph(checkpoints, unet="wan21_i2v_480p_tiny")
    prompt["rope"]["inputs"]["position_policy"] = "nearest"
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasRoPEInterpolator", message
    for fragment in ("position_policy='nearest'", "Wan image-to-video model", "36-ch",
                     "mask and image channels, not in context"):
        assert fragment in message
    serves_next_good_prompt(server, checkpoints)


def test_video_inpaint_mask_size_differs(server, checkpoints):
    prompt = graph(checkpoints)
    prompt["clip"] = {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 32, "batch_size": LENGTH,
                                                             "color": 0x2080C0}}
    prompt["hole"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 16}}
    prompt["when"] = {"class_type": "VideoCanvasInpaint", "inputs": {
        "video": ["clip", 0], "mask": ["hole", 0], "canvas": ["canvas", 0], "start_frame": 0,
        "every_nth": 1, "strength": 1.0}}
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasInpaint", message
    assert "mask is 16x16" in message and "video frames are 32x32" in message
    serves_next_good_prompt(server, checkpoints)


def too_long_clip(checkpoints, clip_frames=13) -> dict:
    """An inpainting clip of 13 frames (a hole in the middle) into a 9-frame output."""
    prompt = graph(checkpoints)
    prompt["clip"] = {"class_type": "EmptyImage", "inputs": {"width": W, "height": H,
                                                             "batch_size": clip_frames, "color": 0x2080C0}}
    prompt["hole"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 16}}
    prompt["zero"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": W, "height": H}}
    prompt["mask"] = {"class_type": "MaskComposite", "inputs": {
        "destination": ["zero", 0], "source": ["hole", 0], "x": 8, "y": 8, "operation": "add"}}
    prompt["when"] = {"class_type": "VideoCanvasInpaint", "inputs": {
        "video": ["clip", 0], "mask": ["mask", 0], "canvas": ["canvas", 0], "start_frame": 0,
        "every_nth": 1, "strength": 1.0}}
    return prompt


def test_clip_longer_than_the_output_is_refused(server, checkpoints):
    with pytest.raises(PromptFailed) as err:
        server.run(too_long_clip(checkpoints), timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasInpaint", message  # where the clip and start_frame are given
    assert message.startswith('node when: start_frame entry 9 is out of '
                              'range: allowed [-9, 8] for length 9'), message
    serves_next_good_prompt(server, checkpoints)


def test_clip_longer_than_the_output_message_names_the_clip(server, checkpoints):
    with pytest.raises(PromptFailed) as err:
        server.run(too_long_clip(checkpoints), timeout=120)
    _, message = refusal(err.value)
    assert "13" in message and "start_frame" in message, message


def test_absurd_number_of_conditions_is_refused_fast(server, checkpoints):
    """1000 condition frames at 832x480x81: refused before any canvas is rendered or encoded, with the
    count, the limit and the token count (rendering them would take minutes and ~5 GB)."""
    prompt = graph(checkpoints, width=832, height=480, length=81, image=(64, 64))
    prompt["place"]["inputs"]["fit"] = "contain"
    everything = ", ".join(str(i) for i in range(81))
    previous = None
    for i in range(13):  # 12 x 81 + 28 = 1000 frames in 13 chained conditioners
        frames = everything if i < 12 else ", ".join(str(f) for f in range(28))
        inputs = {"patch": ["place", 0], "frames": frames, "unit": "frames", "canvas": ["canvas", 0],
                  "strength": 1.0}
        if previous:
            inputs["conditions"] = [previous, 0]
        prompt[f"when{i}"] = {"class_type": "VideoCanvasTimestampConditioner", "inputs": inputs}
        previous = f"when{i}"
    del prompt["when"]
    prompt["sample"]["inputs"]["conditions"] = [previous, 0]
    start = time.monotonic()
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    elapsed = time.monotonic() - start
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasSampler", message
    for fragment in ("conditions", "1000 condition frames", "81-frame video", "at most 324", "tokens"):
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert elapsed < 20, f"took {elapsed:.1f}s to refuse"
    serves_next_good_prompt(server, checkpoints)


@pytest.mark.parametrize("sampler", ["VideoCanvasSampler", "KSampler"])
def test_empty_condition_set_is_plain_text_to_video(server, checkpoints, sampler):
    entry = server.run(graph(checkpoints, conditions=False, sampler=sampler), timeout=120)
    assert entry["status"]["status_str"] == "success"
    (images,) = [out["images"] for out in entry["outputs"].values() if out.get("images")]
    assert len(images) == LENGTH  # PreviewImage: one file per frame


def test_vae_mismatch_on_the_ksampler_path(server, checkpoints):
    """VideoCanvas Conditioning + KSampler with a 48-channel model and a 16-channel VAE."""
    prompt = graph(checkpoints, unet="wan22_ti2v_tiny", sampler="KSampler")
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert "vae" in message and "16" in message and "48" in message, f"{blamed}: {message}"
    serves_next_good_prompt(server, checkpoints)


def set_input(prompt: dict, node: str, name: str, value) -> dict:
    prompt[node]["inputs"][name] = value
    return prompt


# Inputs ComfyUI does not check for V3 nodes (issue 26): a combo value outside its options, NaN in a
# float (every comparison with NaN is false, so it passes min/max). Each is refused by the node that
# takes it, naming the input and what is allowed. (node key, input, value, node blamed, fragments)
UNCHECKED = [
    ("sample", "sampler_name", "eulr", "VideoCanvasSampler",
     ["VideoCanvas Sampler: sampler_name: 'eulr' is not one of the allowed values: 'euler', "]),
    ("sample", "scheduler", "simpel", "VideoCanvasSampler",
     ["VideoCanvas Sampler: scheduler: 'simpel' is not one of the allowed values: ", "'simple'"]),
    ("sample", "cfg", float("nan"), "VideoCanvasSampler",
     ["VideoCanvas Sampler: cfg must be a finite number in [0, 100]; got nan"]),
    ("sample", "denoise", float("nan"), "VideoCanvasSampler",  # (inf is over ComfyUI's max)
     ["VideoCanvas Sampler: denoise must be a finite number in [0, 1]; got nan"]),
    ("place", "fit", "foo", "VideoCanvasPatchPlacer",
     ["node place: fit: 'foo' is not one of the allowed values: 'stretch', 'contain', 'cover', 'none'"]),
    ("place", "feather", float("nan"), "VideoCanvasPatchPlacer",
     ["node place: feather must be a finite number in [0, 256]; got nan"]),
    ("when", "strength", float("nan"), "VideoCanvasTimestampConditioner",
     ["node when: strength must be a finite number in [0, 1]; got nan"]),
]


@pytest.mark.parametrize("node,name,value,blamed,fragments", UNCHECKED,
                         ids=[f"{c[1]}_{c[2]}" for c in UNCHECKED])
def test_values_comfyui_does_not_check_are_refused_by_their_node(node, name, value, blamed, fragments,
                                                                 server, checkpoints):
    with pytest.raises(PromptFailed) as err:
        server.run(set_input(graph(checkpoints), node, name, value), timeout=120)
    if err.value.kind == "rejected":
        # Newer ComfyUIs (0.33.0) check V3 combo values themselves, at validation, naming the node
        # and input; the node's own check (test_every_combo_input_...) is then a second line.
        (error,) = err.value.payload["node_errors"][node]["errors"]
        assert isinstance(value, str) and error["type"] == "value_not_in_list", error
        assert error["extra_info"]["input_name"] == name and error["extra_info"]["received_value"] == value
    else:
        who, message = refusal(err.value)
        assert who == blamed, message
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in: {message}"
    serves_next_good_prompt(server, checkpoints)


@pytest.mark.parametrize("frames", ["1_0", "\uff18", "\u0663", "0, 1_0"])
def test_frames_are_ascii_numbers_only(frames, server, checkpoints):
    """Python's int() reads '1_0' as 10, fullwidth '８' as 8 and Arabic-Indic '٣' as 3: the help page
    promises numbers, and these are refused by name where they are typed."""
    with pytest.raises(PromptFailed) as err:
        server.run(graph(checkpoints, frames=frames), timeout=120)
    assert err.value.kind == "rejected"
    (error,) = err.value.payload["node_errors"]["when"]["errors"]
    assert error["extra_info"]["input_name"] == "frames"
    entry = frames.split(", ")[-1]
    assert f"frames: cannot parse {entry!r}; use numbers written with the digits 0-9" in error["details"], \
        error


def test_extend_refuses_context_frames_that_fill_the_canvas(server, checkpoints):
    """As Transition and Loop do: context_frames equal to the output length leaves nothing to
    generate."""
    prompt = graph(checkpoints)
    prompt["clip"] = {"class_type": "EmptyImage", "inputs": {"width": W, "height": H, "batch_size": LENGTH,
                                                             "color": 0x2080C0}}
    prompt["when"] = {"class_type": "VideoCanvasExtend", "inputs": {
        "video": ["clip", 0], "canvas": ["canvas", 0], "context_frames": LENGTH, "direction": "forward",
        "strength": 1.0}}
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    blamed, message = refusal(err.value)
    assert blamed == "VideoCanvasExtend", message
    assert message.startswith(
        "node when: context_frames = 9 but the output has 9 frames: the clip's 9 frames would cover all "
        "of them, leaving none to generate; allowed: context_frames <= length - 1 = 8"), message
    serves_next_good_prompt(server, checkpoints)
