"""Run the templates on other models: `adapt` turns a template's API prompt into one for the tiny
random checkpoints (tests) or the bundled toy model, smaller and shorter, with the text encoder
replaced by VideoCanvas Null Prompt. Host tooling: the shipped templates never need it.
"""
from __future__ import annotations

import copy
import re

from templates.recipes import canvas

# Inputs that count pixel frames of the output (or of a clip, in step with them): rescaled with the
# length. Each is (class_type, input) -> "spec" (a frame list string) or "count" (an int). Sizes and
# lengths elsewhere are linked from the graph's VideoCanvas Canvas, which adapt() resizes.
FRAME_INPUTS = {
    ("VideoCanvasTimestampConditioner", "frames"): "spec",
    ("VideoCanvasInpaint", "start_frame"): "count",
    ("VideoCanvasOutpaint", "start_frame"): "count",
    ("VideoCanvasExtend", "context_frames"): "count",
    ("VideoCanvasTransition", "frames_a"): "count",
    ("VideoCanvasTransition", "frames_b"): "count",
    ("VideoCanvasLoop", "context_frames"): "count",
    ("ImageFromBatch", "batch_index"): "count",
}
INPUT_FILES = {"LoadImage": "image", "LoadImageMask": "image", "LoadVideo": "file"}


def _scale_frames(value: int, old_length: int, new_length: int) -> int:
    """A frame index or count at old_length, at new_length: 0 stays 0, the last frame stays the last,
    anything else keeps its place in time (at least 1)."""
    if value == 0 or old_length == new_length:
        return value
    return max(1, round(value * (new_length - 1) / (old_length - 1)))


def _scale_spec(spec: str, old_length: int, new_length: int) -> str:
    def one(token: str) -> str:
        if re.fullmatch(r"\d+", token):
            return str(_scale_frames(int(token), old_length, new_length))
        return token
    return ", ".join(one(t) for t in re.split(r"[\s,]+", spec.strip()) if t)


def input_files(prompt: dict) -> dict[str, str]:
    """{file name: kind} of the files a prompt loads: 'image', 'rgba' (an image whose alpha MASK is
    used), 'mask' (LoadImageMask) or 'video'."""
    used_masks = {(ref[0], ref[1]) for node in prompt.values() for ref in node["inputs"].values()
                  if isinstance(ref, list)}
    out = {}
    for node_id, node in prompt.items():
        kind = node["class_type"]
        if kind not in INPUT_FILES:
            continue
        name = node["inputs"][INPUT_FILES[kind]]
        if kind == "LoadVideo":
            out[name] = "video"
        elif kind == "LoadImageMask":
            out[name] = "mask"
        else:
            out[name] = "rgba" if (node_id, 1) in used_masks else out.get(name, "image")
    return out


def adapt(api_prompt: dict, *, unet: str = "", vae: str = "", checkpoint: str = "",
          size: tuple[int, int] | None = None, length: int | None = None, steps: int | None = None,
          cfg: float | None = None,
          inputs: dict[str, str] | None = None, seed: int | None = None) -> dict:
    """A copy of an API-format workflow that runs on other (tiny or bundled) models, smaller.

    - every UNETLoader / VAELoader / CheckpointLoaderSimple loads `unet` / `vae` / `checkpoint`;
    - the text path (CLIPLoader -> CLIPTextEncode: umt5 or T5-XXL) is replaced by one VideoCanvas Null
      Prompt (no tiny text encoder can exist: CLIPLoader builds the full-size encoder of its type);
    - size=(w, h): the VideoCanvas Canvas's size (every node needing it is linked to the Canvas);
    - length: the Canvas's length, with every frame index/count of FRAME_INPUTS moved along in time
      (frame 40 of 81 -> 4 of 9; -1 stays the last frame);
    - the CLIP-vision path (CLIPVisionLoader -> CLIPVisionEncode) is dropped with the optional inputs
      it feeds (no tiny CLIP vision can exist: ComfyUI builds ViT-H from the layer count);
    - steps, cfg, seed: the samplers' settings;
    - inputs={old file name: new file name}: what LoadImage / LoadImageMask / LoadVideo load.
    """
    prompt = copy.deepcopy(api_prompt)
    old_length = canvas(prompt)[2]
    new_length = length or old_length
    vision_nodes = {i for i, n in prompt.items() if n["class_type"] in ("CLIPVisionLoader",
                                                                          "CLIPVisionEncode")}
    for i in vision_nodes:
        del prompt[i]
    for node in prompt.values():
        for name, value in list(node["inputs"].items()):
            if isinstance(value, list) and value and value[0] in vision_nodes:
                del node["inputs"][name]
    text_nodes = {i for i, n in prompt.items() if n["class_type"] in ("CLIPLoader", "CLIPTextEncode")}
    null_id = None
    if text_nodes:
        null_id = str(max(int(i) for i in prompt if i.isdigit()) + 1)
        for i in text_nodes:
            del prompt[i]
        prompt[null_id] = {"class_type": "VideoCanvasNullPrompt", "inputs": {},
                           "_meta": {"title": "Null prompt (replaces the text path)"}}
    for node in prompt.values():
        kind, values = node["class_type"], node["inputs"]
        for name, value in list(values.items()):
            if isinstance(value, list) and value and value[0] in text_nodes:
                values[name] = [null_id, 0]
        for loader, key, name, arg in (("UNETLoader", "unet_name", unet, "unet"),
                                       ("VAELoader", "vae_name", vae, "vae"),
                                       ("CheckpointLoaderSimple", "ckpt_name", checkpoint, "checkpoint")):
            if kind == loader:
                if not name:
                    raise ValueError(f"adapt: the prompt has a {loader}; give {arg}=")
                values[key] = name
        if kind in INPUT_FILES and inputs:
            key = INPUT_FILES[kind]
            values[key] = inputs.get(values[key], values[key])
        if kind == "VideoCanvasCanvas":
            if size:
                values["width"], values["height"] = size
            values["length"] = new_length
        for (k, name), how in FRAME_INPUTS.items():
            if k == kind and name in values and not isinstance(values[name], list):
                if how == "spec":
                    values[name] = _scale_spec(str(values[name]), old_length, new_length)
                else:
                    values[name] = _scale_frames(int(values[name]), old_length, new_length)
        if kind in ("VideoCanvasSampler", "KSampler", "KSamplerAdvanced"):
            for name, new in (("steps", steps), ("cfg", cfg), ("seed", seed), ("noise_seed", seed)):
                if new is not None and name in values:
                    values[name] = new
    return prompt
