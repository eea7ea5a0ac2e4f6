"""VideoCanvas Train LoRA: train a VideoCanvas LoRA inside ComfyUI on the model its loaders loaded.

Its outputs plug into ComfyUI's own training nodes: LORA_MODEL into SaveLoRA (writes it where
LoraLoaderModelOnly finds it once moved to models/loras) and LoraModelLoader, LOSS_MAP into
LossGraphNode. The training itself is the pack's trainer (trainer/), the command line's engine.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import comfy.sd
import comfy.utils
import folder_paths
from comfy_api.latest import io

from ..trainer.anchors import MAX_ANCHORS
from ..trainer.data import AllowedFolder, confine
from ..trainer.loop import TrainConfig
from ..trainer.lora import DEFAULT_TARGETS, check_targets

CATEGORY = "VideoCanvas/training"
DISPLAY_NAME = "VideoCanvas Train LoRA"
LoraModel = io.Custom("LORA_MODEL")  # the type of ComfyUI's TrainLoraNode / SaveLoRA / LoraModelLoader
LossMap = io.Custom("LOSS_MAP")

# Where the server owner allows training data beyond ComfyUI's input folder: absolute folders in
# this environment variable (os.pathsep-separated), or under this key of extra_model_paths.yaml.
TRAIN_FOLDERS_ENV = "VIDEOCANVAS_TRAIN_FOLDERS"
TRAIN_FOLDERS_KEY = "videocanvas_training"


def allowed_folders() -> list[AllowedFolder]:
    """ComfyUI's input folder first, then the folders the server owner configured. Read at each run,
    so a changed setting needs no restart; described to clients by where they were set, never by
    their paths."""
    roots = [AllowedFolder(Path(folder_paths.get_input_directory()), "ComfyUI's input folder")]
    entries = [e for e in os.environ.get(TRAIN_FOLDERS_ENV, "").split(os.pathsep) if e.strip()]
    for i, entry in enumerate(entries, 1):
        if os.path.isabs(entry):
            roots.append(AllowedFolder(Path(entry), f"{TRAIN_FOLDERS_ENV} entry {i}"))
        else:  # relative to what? the server's working folder is no one's choice: ignored, said so
            logging.warning("%s: entry %d (%s) is not an absolute path; ignored", TRAIN_FOLDERS_ENV, i, entry)
    if TRAIN_FOLDERS_KEY in folder_paths.folder_names_and_paths:
        for i, path in enumerate(folder_paths.get_folder_paths(TRAIN_FOLDERS_KEY), 1):
            roots.append(AllowedFolder(Path(path), f"extra_model_paths '{TRAIN_FOLDERS_KEY}' entry {i}"))
    return roots


class VideoCanvasTrainLoRA(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasTrainLoRA",
            display_name=DISPLAY_NAME,
            category=CATEGORY,
            is_experimental=True,
            description=(
                "Trains a VideoCanvas LoRA on a Wan T2V / TI2V-5B model from a folder of videos: every "
                "step draws new conditions per sample (1 to max_anchors crops of 20-100 % of random "
                "frames, each encoded on its own by the VAE, in context at timestep 0 with interpolated "
                "positions) and trains with flow matching at the model's shift through the same "
                "forward the RoPE Interpolator runs. For long runs use the command line (python -m "
                "trainer)."),
            inputs=[
                io.Model.Input("model", tooltip="The Wan model to train on (UNETLoader; fp8 weights work)."),
                io.Vae.Input("vae", tooltip="The model's VAE: encodes the clips and the conditions."),
                io.Conditioning.Input("positive", tooltip="The prompt every clip trains with (e.g. "
                                      "VideoCanvas Null Prompt, or CLIPTextEncode)."),
                io.String.Input("folder", default="videocanvas_training",
                                tooltip="Folder of videos inside ComfyUI's input folder (e.g. "
                                "'videocanvas_training' or 'clips/cats'; subfolders are read too), or "
                                f"inside a folder the server allows ({TRAIN_FOLDERS_ENV}, or "
                                f"'{TRAIN_FOLDERS_KEY}' in extra_model_paths.yaml). Other paths are "
                                "refused."),
                io.Int.Input("width", default=832, min=16, max=4096, step=16,
                             tooltip="Training width in pixels (Wan 2.1: a multiple of 16; TI2V-5B: of 32); "
                             "each video is scaled to cover and centre-cropped."),
                io.Int.Input("height", default=480, min=16, max=4096, step=16,
                             tooltip="Training height in pixels (a multiple of 16; TI2V-5B: of 32)."),
                io.Int.Input("length", default=33, min=1, max=1025, step=4,
                             tooltip="Clip length in pixel frames (4k+1)."),
                io.Int.Input("clips_per_video", default=1, min=1, max=1000,
                             tooltip="Clips of `length` frames cut from each video, spread over it."),
                io.Int.Input("steps", default=500, min=1, max=1000000, tooltip="Optimizer steps to train."),
                io.Int.Input("batch_size", default=1, min=1, max=64, tooltip="Samples per step."),
                io.Float.Input("learning_rate", default=0.0001, min=0.0001, max=1.0, step=0.0001,
                               tooltip="AdamW learning rate (the command line takes any value)."),
                io.Int.Input("rank", default=16, min=1, max=512,
                             tooltip="LoRA rank (16-64 is usual for Wan LoRAs)."),
                io.Float.Input("alpha", default=0.0, min=0.0, max=1024.0, step=0.5,
                               tooltip="LoRA alpha; 0 means alpha = rank (scale 1)."),
                io.Int.Input("max_anchors", default=MAX_ANCHORS, min=1, max=MAX_ANCHORS,
                             tooltip="Anchors per sample are drawn from 1 to this (paper: 20)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF,
                             tooltip="Seeds the LoRA init, the clip order, the anchors and the noise."),
                io.Boolean.Input("gradient_checkpointing", default=True,
                                 tooltip="Recompute each block in the backward: far less memory, 15-25 % "
                                 "slower (measured at real size)."),
                io.String.Input("targets", default=",".join(DEFAULT_TARGETS),
                                tooltip="Linear layers to train (name suffixes, or re:<regex>)."),
                io.Clip.Input("clip", optional=True, tooltip="A text encoder: clips with a caption "
                              "file beside them (same name, .txt) train with its encoding."),
                LoraModel.Input("init_lora", optional=True, tooltip="Continue training this LoRA (its "
                                "rank and alpha replace the inputs'); a LoRA of another model is refused."),
            ],
            outputs=[
                io.Model.Output(display_name="model", tooltip="The model with the trained LoRA applied."),
                LoraModel.Output(display_name="lora", tooltip="The LoRA, for SaveLoRA."),
                LossMap.Output(display_name="loss", tooltip="Loss per step, for LossGraphNode."),
                io.Int.Output(display_name="steps"),
            ],
        )

    @classmethod
    def execute(cls, model, vae, positive, folder, width, height, length, clips_per_video, steps,
                batch_size, learning_rate, rank, alpha, max_anchors, seed, gradient_checkpointing,
                targets, clip=None, init_lora=None) -> io.NodeOutput:
        from ..trainer.in_comfy import train_lora

        bar = comfy.utils.ProgressBar(steps)
        # one prefix, added here: the messages below and the trainer's name only the input
        try:
            if not positive:
                raise ValueError("positive: empty conditioning")
            roots = allowed_folders()
            # by name, before any file is read: the rest of the inputs are cheap to check first
            config = TrainConfig(steps=steps, batch_size=batch_size, lr=learning_rate, rank=rank,
                                 alpha=None if alpha == 0 else float(alpha), max_anchors=max_anchors,
                                 seed=seed, gradient_checkpointing=gradient_checkpointing,
                                 targets=check_targets(t.strip() for t in targets.split(",") if t.strip()))
            path, label = confine(folder, roots)
            lora, losses = train_lora(model, vae, positive[0][0], path, width, height, length, config,
                                      clips_per_video=clips_per_video, clip=clip, init_lora=init_lora,
                                      on_step=lambda step, loss: bar.update_absolute(step, steps),
                                      within=roots, label=label)
        except ValueError as e:
            raise ValueError(f"{DISPLAY_NAME}: {e}") from None
        trained, _ = comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0)
        return io.NodeOutput(trained, lora, {"loss": losses}, steps)
