"""The bundled toy model (models/, trained by training/): ComfyUI's loaders list it, and through a
real server it does what VideoCanvas is for: a keyframe given at frame 8 shows up at frame 8.

The numbers are those of the committed weights (models/MODEL_CARD.md: per-frame PSNR against the
keyframe 13.5 dB at frame 0, 17.2 dB at frame 8); a retrained model must still peak at its frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.evaluate import psnr
from hostkit.demo import LENGTH, SIZE, TOY_UNET, TOY_VAE, read_video, write_inputs
from hostkit.setup import comfy_dir
from hostkit.workflows import adapt, load_api

KEYFRAME_AT = 8  # 01_i2v_any_frame holds its keyframe at frame 40 of 81: frame 8 of 17


def test_loaders_list_the_bundled_model_but_not_the_ablation_weights(object_info):
    unets = object_info["UNETLoader"]["input"]["required"]["unet_name"][0]
    vaes = object_info["VAELoader"]["input"]["required"]["vae_name"][0]
    assert TOY_UNET in unets and TOY_VAE in vaes
    assert not [n for n in unets if "nearest" in n or "replace" in n]


def test_a_keyframe_at_frame_8_appears_at_frame_8(server):
    api = load_api("01_i2v_any_frame")
    inputs = write_inputs(api, comfy_dir() / "input")
    prompt = adapt(api, unet=TOY_UNET, vae=TOY_VAE, size=(SIZE, SIZE), length=LENGTH, steps=20,
                   cfg=1.0, seed=0, inputs=inputs)
    entry = server.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (save_id,) = [i for i, n in prompt.items() if n["class_type"] == "SaveVideo"]
    (saved,) = entry["outputs"][save_id]["images"]
    video = torch.from_numpy(read_video(Path(server.output_dir) / saved["subfolder"] / saved["filename"]))

    from PIL import Image

    key = torch.from_numpy(np.array(Image.open(comfy_dir() / "input" / inputs["videocanvas_keyframe.png"])
                                      .convert("RGB")))
    curve = [psnr(frame / 255.0, key / 255.0) for frame in video]
    assert len(curve) == LENGTH
    assert int(np.argmax(curve)) == KEYFRAME_AT, [round(c, 2) for c in curve]
    assert curve[KEYFRAME_AT] - max(curve[0], curve[-1]) > 2.0, [round(c, 2) for c in curve]
