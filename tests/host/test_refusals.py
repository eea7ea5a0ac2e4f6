"""Inputs that used to be accepted silently, or refused late and vaguely, through a real ComfyUI server:
each is refused early with a message naming the node or input at fault, the numbers and what is
allowed (or, for RGBA, follows a documented rule, checked exactly), and the server serves the next
prompt. Graphs: tests/helpers.py's graph() (tiny Wan, 48x32, 9 frames, 1 step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import GRAPH_H as H
from helpers import GRAPH_W as W
from helpers import graph, refusal, serves_next_good_prompt
from hostkit.server import PromptFailed

HUGE_INT = "1" + "0" * 309  # 310 digits


def failed(server, prompt) -> PromptFailed:
    with pytest.raises(PromptFailed) as err:
        server.run(prompt, timeout=120)
    return err.value


def why(err: PromptFailed) -> tuple[str, str]:
    """(node type blamed, message without the newline ComfyUI appends to exception messages)."""
    blamed, message = refusal(err)
    return blamed, message.strip()


# ----------------------------------------------------------------- image and mask that cannot pair


def test_one_frame_image_with_a_three_frame_mask_is_refused_at_the_patch_placer(server, checkpoints):
    """Refused by the Patch Placer itself, so before the sampler renders or VAE-encodes anything."""
    prompt = graph(checkpoints)
    prompt["white"] = {"class_type": "EmptyImage", "inputs": {"width": W, "height": H, "batch_size": 3,
                                                              "color": 0xFFFFFF}}
    prompt["mask3"] = {"class_type": "ImageToMask", "inputs": {"image": ["white", 0], "channel": "red"}}
    prompt["place"]["inputs"]["mask"] = ["mask3", 0]
    err = failed(server, prompt)
    blamed, message = why(err)
    assert err.kind == "execution_error" and blamed == "VideoCanvasPatchPlacer", message
    assert message == ("mask has 3 frames but image has 1; give one mask for every frame (1) or one per "
                       "image frame (1), or as many image frames as masks (e.g. RepeatImageBatch)")
    assert err.payload["node_id"] == "place"
    serves_next_good_prompt(server, checkpoints)


def test_all_zero_patch_placer_mask_is_refused_naming_the_mask(server, checkpoints):
    prompt = graph(checkpoints, mask=(W, H))
    prompt["mask"]["inputs"]["value"] = 0.0
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasPatchPlacer", message
    assert message == ("mask is zero everywhere, so no pixel of image would be kept (1 = keep the pixel, "
                       "0 = leave it to the model); give a mask with some non-zero pixels, or no mask")
    serves_next_good_prompt(server, checkpoints)


# ----------------------------------------------------------------- absurd frame numbers


@pytest.mark.parametrize("frames", ["1e303", HUGE_INT, f"0, -{HUGE_INT}"], ids=["1e303", "310_digits",
                                                                              "negative_310_digits"])
def test_absurd_frames_typed_are_refused_at_validation_naming_frames(server, checkpoints, frames):
    err = failed(server, graph(checkpoints, frames=frames))
    assert err.kind == "rejected"
    errors = err.payload["node_errors"]["when"]["errors"]
    assert [e["extra_info"]["input_name"] for e in errors] == ["frames"]  # not `conditions`, not unit
    details = errors[0]["details"]
    assert "is out of range in any unit: a video has at most 16384 frames, so frames must lie in " \
           "[-16384, 16383] (-1 = the last frame)" in details, details
    assert "1e+06" not in details and len(details) < 400, details
    serves_next_good_prompt(server, checkpoints)


def linked_frames(checkpoints, frames: str, unit: str = "frames") -> dict:
    """frames typed into ComfyUI's own String primitive, linked into the conditioner."""
    prompt = graph(checkpoints)
    prompt["spec"] = {"class_type": "PrimitiveString", "inputs": {"value": frames}}
    prompt["when"]["inputs"].update(frames=["spec", 0], unit=unit)
    return prompt


@pytest.mark.parametrize("frames", ["1e303", HUGE_INT])
def test_absurd_frames_linked_fail_at_the_conditioner_speaking_of_frames(server, checkpoints, frames):
    err = failed(server, linked_frames(checkpoints, frames))
    blamed, message = why(err)
    assert err.kind == "execution_error" and blamed == "VideoCanvasTimestampConditioner", message
    assert message.startswith("node when: frames entry '1"), message
    assert message.endswith("is out of range: allowed [-9, 8] for length 9"), message
    assert "seconds" not in message and "fps" not in message and "Traceback" not in message
    serves_next_good_prompt(server, checkpoints)


def test_absurd_seconds_linked_fail_at_the_conditioner_speaking_of_seconds(server, checkpoints):
    _, message = why(failed(server, linked_frames(checkpoints, "1e303", unit="seconds")))
    assert message == ("node when: frames entry '1e303' (seconds: past any frame) is out of range: "
                       "allowed [-9, 8] for length 9")
    serves_next_good_prompt(server, checkpoints)


@pytest.mark.parametrize("fps", [0.001, 1e9])
def test_linked_fps_outside_its_range_is_refused_at_the_canvas(server, checkpoints, fps):
    """ComfyUI range-checks a typed fps, not a linked one."""
    prompt = linked_frames(checkpoints, "0", unit="seconds")
    prompt["rate"] = {"class_type": "PrimitiveFloat", "inputs": {"value": fps}}
    prompt["canvas"]["inputs"]["fps"] = ["rate", 0]
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasCanvas", message
    assert message == f"node canvas: fps must lie in [0.1, 240]; got {fps:g}"
    serves_next_good_prompt(server, checkpoints)


# ----------------------------------------------------------------- errors name the node at fault


def test_errors_found_by_the_sampler_name_the_conditioner_by_title_and_id(server, checkpoints):
    """Conditions planned on a 17-frame canvas reach a sampler on a 9-frame one: its backstop check
    still names the conditioner that typed the frame."""
    prompt = graph(checkpoints, frames="0, 9", length=17, sampler_length=9)
    prompt["12"] = prompt.pop("when")
    prompt["12"]["_meta"] = {"title": "Hold it at frame 40"}
    prompt["sample"]["inputs"]["conditions"] = ["12", 0]
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasSampler", message
    assert message == ('frames of condition #1 from "Hold it at frame 40" (node 12) entry \'9\' is out of '
                       'range: allowed [-9, 8] for length 9')
    serves_next_good_prompt(server, checkpoints)


def test_without_a_title_the_error_names_the_node_id(server, checkpoints):
    prompt = graph(checkpoints, frames="-10", length=17, sampler_length=9)
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasSampler", message
    assert message.startswith("frames of condition #1 from node when entry '-10' is out of range"), message


@pytest.mark.parametrize("sampler", ["VideoCanvasSampler", "KSampler"])
def test_latent_replacement_refuses_strength_below_one_naming_the_conditioner(server, checkpoints,
                                                                               sampler):
    """Refused before any encoding or step (no progress event), by the Sampler node itself or, on the
    Conditioning + KSampler path, by the patched model as the sampler starts."""
    prompt = graph(checkpoints, frames="4", sampler=sampler)
    prompt["rope"]["inputs"]["paradigm"] = "latent_replacement"
    prompt["12"] = prompt.pop("when")
    prompt["12"]["inputs"]["strength"] = 0.5
    prompt["12"]["_meta"] = {"title": "Soft keyframe"}
    prompt["cond" if sampler == "KSampler" else "sample"]["inputs"]["conditions"] = ["12", 0]
    blamed, message = why(failed(server, prompt))
    assert blamed == sampler, message
    assert message.startswith('strength of condition #1 from "Soft keyframe" (node 12) (at frame 4): '
                              "the latent_replacement paradigm cannot honour strength 0.5"), message
    assert not any(e["type"] == "progress" for e in server.events)
    serves_next_good_prompt(server, checkpoints)


# ----------------------------------------------------------------- transition and loop ends


def clip(frames: int, color: int) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": W, "height": H, "batch_size": frames,
                                                   "color": color}}


def test_transition_whose_ends_overlap_is_refused_with_the_numbers(server, checkpoints):
    prompt = graph(checkpoints)
    prompt.update(a=clip(6, 0xFF0000), b=clip(6, 0x0000FF))
    prompt["7"] = {"class_type": "VideoCanvasTransition", "_meta": {"title": "Scene cut"}, "inputs": {
        "clip_a": ["a", 0], "clip_b": ["b", 0], "canvas": ["canvas", 0], "frames_a": 5, "frames_b": 6,
        "strength": 1.0}}
    prompt["sample"]["inputs"]["conditions"] = ["7", 0]
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasTransition", message
    assert message == (
        '"Scene cut" (node 7): frames_a + frames_b = 5 + 6 = 11 but the '
        "output has 9 frames: clip A's end (frames 0..4) and clip B's start (frames 3..8) would both "
        "condition frames 3..4; allowed: frames_a + frames_b <= length - 1 = 8 (lower frames_a or "
        "frames_b, or raise length)")
    serves_next_good_prompt(server, checkpoints)


def test_loop_whose_context_overlaps_itself_is_refused(server, checkpoints):
    prompt = graph(checkpoints)
    prompt["clip"] = clip(7, 0x20A040)
    prompt["when"] = {"class_type": "VideoCanvasLoop", "inputs": {
        "video": ["clip", 0], "canvas": ["canvas", 0], "context_frames": 5, "strength": 1.0}}
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasLoop", message
    assert message.startswith("node when: 2 x context_frames = 2 x 5 = "
                              "10 but the output has 9 frames:"), message
    assert message.endswith("allowed: 2 x context_frames <= length - 1 = 8 (lower context_frames, or "
                            "raise length)"), message


# ----------------------------------------------------------------- RGBA: alpha is the mask


def rgba_prompt(checkpoints, with_mask: bool) -> dict:
    """A red RGBA patch whose alpha is 0 on the left half and 1 on the right (ComfyUI's
    JoinImageWithAlpha: alpha = 1 - its mask input), optionally with a mask keeping the top half; the
    latent decoded twice, with and without paste_back, and both saved (8-bit PNG)."""
    prompt = graph(checkpoints)
    prompt["clear"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": W, "height": H}}
    prompt["half"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": W // 2, "height": H}}
    prompt["transparent_left"] = {"class_type": "MaskComposite", "inputs": {
        "destination": ["clear", 0], "source": ["half", 0], "x": 0, "y": 0, "operation": "add"}}
    prompt["rgba"] = {"class_type": "JoinImageWithAlpha", "inputs": {
        "image": ["img", 0], "alpha": ["transparent_left", 0]}}
    prompt["place"]["inputs"]["image"] = ["rgba", 0]
    if with_mask:
        prompt["top"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": W, "height": H // 2}}
        prompt["keep_top"] = {"class_type": "MaskComposite", "inputs": {
            "destination": ["clear", 0], "source": ["top", 0], "x": 0, "y": 0, "operation": "add"}}
        prompt["place"]["inputs"]["mask"] = ["keep_top", 0]
    prompt["decode"]["inputs"]["paste_back"] = True
    prompt["decode"]["inputs"]["conditions"] = ["when", 0]
    prompt["raw"] = {"class_type": "VideoCanvasDecode", "inputs": {
        "vae": ["vae", 0], "latent": ["sample", 0], "tile_size": 0, "paste_back": False, "feather": 0.0}}
    del prompt["show"]
    prompt["save_pasted"] = {"class_type": "SaveImage", "inputs": {"images": ["decode", 0],
                                                                   "filename_prefix": "rgba_pasted"}}
    prompt["save_raw"] = {"class_type": "SaveImage", "inputs": {"images": ["raw", 0],
                                                                "filename_prefix": "rgba_raw"}}
    return prompt


def first_frame(server, entry, node) -> np.ndarray:
    info = entry["outputs"][node]["images"][0]
    with Image.open(Path(server.output_dir) / info["subfolder"] / info["filename"]) as im:
        return np.asarray(im.convert("RGB")).astype(int)


@pytest.mark.parametrize("with_mask", [False, True], ids=["alpha_alone", "alpha_times_mask"])
def test_rgba_alpha_is_the_condition_mask(server, checkpoints, with_mask):
    """paste_back composites the condition over frame 0 through its mask, so frame 0 shows exactly the
    patch colour where the mask is 1 and exactly the generated pixels where it is 0."""
    entry = server.run(rgba_prompt(checkpoints, with_mask), timeout=120)
    pasted, raw = first_frame(server, entry, "save_pasted"), first_frame(server, entry, "save_raw")
    keep = np.zeros((H, W), bool)
    keep[:, W // 2:] = True  # alpha 1: the right half
    if with_mask:
        keep[H // 2:] = False  # mask 1: the top half only
    assert (pasted[keep] == [0xC0, 0x40, 0x20]).all()  # EmptyImage's colour, exact in 8 bits
    assert (pasted[~keep] == raw[~keep]).all()  # alpha (x mask) 0: untouched
    assert not (raw[keep] == [0xC0, 0x40, 0x20]).all()  # the raw frame alone is not the patch


def test_rgba_video_inpaint_keeps_alpha_times_the_kept_area(server, checkpoints):
    """Video Inpaint of an RGBA clip: what a frame's condition holds is alpha x (1 - hole), so with
    the left half transparent and the top half the hole, frame 0 pastes back exactly the bottom-right
    quarter and leaves the rest as generated."""
    prompt = rgba_prompt(checkpoints, with_mask=False)
    prompt["hole"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": W, "height": H // 2}}
    prompt["top_hole"] = {"class_type": "MaskComposite", "inputs": {
        "destination": ["clear", 0], "source": ["hole", 0], "x": 0, "y": 0, "operation": "add"}}
    prompt["when"] = {"class_type": "VideoCanvasInpaint", "inputs": {
        "video": ["rgba", 0], "mask": ["top_hole", 0], "canvas": ["canvas", 0], "start_frame": 0,
        "every_nth": 1, "strength": 1.0}}
    del prompt["place"]
    entry = server.run(prompt, timeout=120)
    pasted, raw = first_frame(server, entry, "save_pasted"), first_frame(server, entry, "save_raw")
    keep = np.zeros((H, W), bool)
    keep[H // 2:, W // 2:] = True  # opaque (right) and kept (bottom)
    assert (pasted[keep] == [0xC0, 0x40, 0x20]).all()
    assert (pasted[~keep] == raw[~keep]).all()
    assert not (raw[keep] == [0xC0, 0x40, 0x20]).all()


def test_rgba_patch_with_alpha_zero_everywhere_is_refused_naming_the_alpha(server, checkpoints):
    prompt = rgba_prompt(checkpoints, with_mask=False)
    prompt["half"]["inputs"]["width"] = W  # transparent everywhere
    blamed, message = why(failed(server, prompt))
    assert blamed == "VideoCanvasPatchPlacer", message
    assert message.startswith("the alpha channel of image (RGBA) is zero everywhere, so no pixel of image "
                              "would be kept"), message
    serves_next_good_prompt(server, checkpoints)
