"""Training inside ComfyUI, on the model, VAE and conditioning its loaders and nodes made
(the engine of the 'VideoCanvas Train LoRA' node; the command line shares everything but this)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from . import models
from ._pack import vc
from .data import AllowedFolder, find_videos, load_clip, parse_buckets, plan_clips, video_label
from .loop import Sample, TrainConfig, Trainer
from .lora import LoRASet


def _ordinary_weights(module: torch.nn.Module) -> int:
    """ComfyUI executes nodes under torch.inference_mode, so weights its loaders loaded are
    inference tensors, which autograd cannot keep for a backward pass. Swap each for an ordinary
    tensor with the same values (one weight copied at a time). Returns how many were swapped."""
    swapped = 0
    for m in module.modules():
        for name, p in list(m._parameters.items()):
            if p is not None and p.is_inference():
                m._parameters[name] = torch.nn.Parameter(p.clone(), requires_grad=False)
                swapped += 1
        for name, b in list(m._buffers.items()):
            if b is not None and b.is_inference():
                m._buffers[name] = b.clone()
                swapped += 1
    return swapped


def train_lora(patcher, vae, context: torch.Tensor, folder: Path, width: int, height: int, length: int,
               config: TrainConfig, frame_stride: int = 1, clips_per_video: int = 1, clip=None,
               init_lora: dict | None = None, on_step: Callable[[int, float], None] | None = None,
               log=print, within: Sequence[AllowedFolder] | None = None, label: str | None = None):
    """Train a LoRA on ComfyUI's loaded model; returns (ComfyUI LoRA state dict, losses).

    context: the text embedding [1, n, 4096] every clip trains with (from the node's `positive`),
    unless a text encoder `clip` is given and a clip has a caption file beside its video.
    within, label: the folders the server allows (nothing outside them is read, data.confine) and
    how messages name `folder` (never by its absolute path)."""
    import comfy.model_management

    base = models.wrap_base(patcher, "model", patcher.load_device)
    models.check_vae(base, vae)
    with torch.inference_mode(False), torch.enable_grad():
        lora = None
        if init_lora is not None:  # checked before any encoding; made here: trainable tensors
            lora = LoRASet.from_comfy(base.wan, init_lora, "init_lora")
            config.rank, config.alpha = lora.rank, lora.alpha
        length = vc("timing").check_length(length)  # a TimingError (ValueError) names `length`
        buckets = parse_buckets(f"{width}x{height}", base.spatial_multiple)
        samples = []
        label = str(folder) if label is None else label
        for video in find_videos(folder, within=within, label=label):
            for spec in plan_clips(video, length, buckets, frame_stride, clips_per_video, within=within,
                                   label=video_label(video, folder, label)):
                pixels = load_clip(spec)
                text = (models.encode_text(clip, spec.caption)[0] if clip is not None and spec.caption
                        else context[0].float().cpu())
                samples.append(Sample(models.encode_video(vae, pixels, base.latent_format)[0], pixels, text))
        log(f"VideoCanvas Train LoRA: {len(samples)} clips from {label}")
        comfy.model_management.load_models_gpu([patcher], force_full_load=True)
        wan = base.wan
        _ordinary_weights(wan)
        vc("rope").ROPE_TABLES.clear()  # tables built under inference mode cannot enter a backward
        device = next(wan.parameters()).device
        trainer = Trainer(wan, samples, lambda c: models.encode_images(vae, c, base.latent_format),
                          config, device, base.compute_dtype if device.type == "cuda" else torch.float32,
                          base.shift, lora=lora)

        def step_hook(step, loss):
            comfy.model_management.throw_exception_if_processing_interrupted()
            if on_step:
                on_step(step, loss)

        losses = trainer.run(log=log, on_step=step_hook)
        vc("rope").ROPE_TABLES.clear()
        return trainer.lora.comfy_state_dict(), losses
