"""The bundled toy model (models/, trained by training/): ComfyUI's loaders list it, and through a
real server, its shipped template (unedited) does what VideoCanvas is for: a keyframe given at
frame 8 shows up at frame 8.

The numbers are those of the committed weights (models/MODEL_CARD.md: per-frame PSNR against the
keyframe 13.5 dB at frame 0, 17.2 dB at frame 8); a retrained model must still peak at its frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.evaluate import psnr
from hostkit.demo import DEMO_SEEDS, LENGTH, SIZE, TOY_UNET, TOY_VAE, read_video
from hostkit.workflows import load_api

TEMPLATE = "01 Image to video at any frame (Toy model)"
KEYFRAME_AT = 8  # the template holds its keyframe at the middle frame of 17


def test_loaders_list_the_bundled_model_but_not_the_ablation_weights(object_info):
    unets = object_info["UNETLoader"]["input"]["required"]["unet_name"][0]
    vaes = object_info["VAELoader"]["input"]["required"]["vae_name"][0]
    assert TOY_UNET in unets and TOY_VAE in vaes
    assert not [n for n in unets if "nearest" in n or "replace" in n]


def test_a_keyframe_at_frame_8_appears_at_frame_8(server):
    prompt = load_api(TEMPLATE)
    (when,) = [n["inputs"] for n in prompt.values() if n["class_type"] == "VideoCanvasTimestampConditioner"]
    assert when["frames"] == str(KEYFRAME_AT)
    entry = server.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (save_id,) = [i for i, n in prompt.items() if n["class_type"] == "SaveVideo"]
    (saved,) = entry["outputs"][save_id]["images"]
    video = torch.from_numpy(read_video(Path(server.output_dir) / saved["subfolder"] / saved["filename"]))

    from training.procedural import ClipSpec, generate_clip

    # the shipped keyframe (hostkit/example_inputs.py) as rendered at the video's size
    clip = generate_clip(DEMO_SEEDS["videocanvas_keyframe.png"], ClipSpec(LENGTH, SIZE, SIZE))
    key = (clip[LENGTH // 2] * 255).round()
    curve = [psnr(frame / 255.0, key / 255.0) for frame in video]
    assert len(curve) == LENGTH
    assert int(np.argmax(curve)) == KEYFRAME_AT, [round(c, 2) for c in curve]
    assert curve[KEYFRAME_AT] - max(curve[0], curve[-1]) > 2.0, [round(c, 2) for c in curve]
