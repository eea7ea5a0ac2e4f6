"""The base model, VAE and text encoder, loaded the way ComfyUI's own loaders load them.

The command line imports ComfyUI from a ComfyUI folder (--comfyui, $COMFYUI_PATH, or the ComfyUI
this pack is installed in); inside ComfyUI the node hands over what its loaders loaded.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

PACK = Path(__file__).resolve().parent.parent
WEIGHT_DTYPES = {"default": None, "fp8_e4m3fn": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2,
                 "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def find_comfyui(explicit: str | None = None) -> Path:
    """The ComfyUI folder to import: --comfyui, $COMFYUI_PATH, or the one this pack sits in
    (ComfyUI/custom_nodes/<pack>)."""
    candidates = [explicit, os.environ.get("COMFYUI_PATH"), str(PACK.parent.parent)]
    for c in candidates:
        if c and (Path(c) / "comfy" / "sd.py").exists():
            return Path(c).resolve()
    raise SystemExit("ComfyUI not found: pass --comfyui /path/to/ComfyUI (the folder holding "
                     "main.py and comfy/), or set COMFYUI_PATH")


def import_comfyui(path: Path, device: str) -> None:
    """ComfyUI on sys.path, its CPU flag set before comfy.model_management is imported."""
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    from comfy.cli_args import args

    args.cpu = device == "cpu"
    import utils.extra_config  # noqa: F401  (ComfyUI binds its `utils` package before comfy.utils)


@dataclass
class Base:
    """A loaded base: ComfyUI's ModelPatcher, its WanModel and what training needs to know."""

    patcher: object
    latent_format: object
    shift: float
    compute_dtype: torch.dtype
    spatial_multiple: int  # width/height multiple: VAE stride x patch size

    @property
    def wan(self):
        return self.patcher.model.diffusion_model


def describe(patcher, source: str) -> None:
    """Refuse what VideoCanvas cannot train: non-Wan and non-T2V Wan models, naming the file."""
    import comfy.ldm.wan.model as wan_model

    wan = patcher.model.diffusion_model
    if type(wan) is not wan_model.WanModel:
        raise ValueError(f"{source}: not a Wan text-to-video model ({type(wan).__name__}); VideoCanvas "
                         f"trains Wan 2.1 T2V 1.3B/14B and Wan 2.2 TI2V-5B")
    in_dim = wan.patch_embedding.weight.shape[1]
    if wan.model_type == "i2v" or in_dim != wan.out_dim:
        raise ValueError(f"{source}: a Wan image-to-video model ({in_dim} input channels); use a T2V "
                         f"or TI2V-5B model")


def wrap_base(patcher, source: str, device: torch.device) -> Base:
    describe(patcher, source)
    model = patcher.model
    shift = float(getattr(model.model_sampling, "shift", 1.0))
    if device.type == "cuda":
        compute = torch.bfloat16
    else:
        compute = torch.float32  # CPU: bf16 matmuls are slow there and the tests want exact sums
    wan = model.diffusion_model
    channels = wan.patch_embedding.weight.shape[1]
    vae_stride = 16 if channels == 48 else 8
    return Base(patcher, model.latent_format, shift, compute, vae_stride * wan.patch_size[1])


def load_base(path: str, weight_dtype: str, device: torch.device) -> Base:
    """comfy.sd.load_diffusion_model, as UNETLoader calls it (fp8 weight dtypes included)."""
    import comfy.sd

    if not Path(path).is_file():
        raise SystemExit(f"--model {path}: no such file")
    if not str(path).endswith(".safetensors"):
        raise SystemExit(f"--model {path}: only .safetensors files are loaded")
    options = {}
    if WEIGHT_DTYPES[weight_dtype] is not None:
        options["dtype"] = WEIGHT_DTYPES[weight_dtype]
    elif device.type == "cuda":
        options["dtype"] = torch.bfloat16  # fp16 weights train unstably; fp8 only when asked
    else:  # training on the CPU computes in float32 (ComfyUI on a GPU machine would pick half)
        options["dtype"] = torch.float32
    patcher = comfy.sd.load_diffusion_model(str(path), model_options=options)
    if patcher is None:
        raise SystemExit(f"--model {path}: ComfyUI does not recognise this diffusion model")
    return wrap_base(patcher, str(path), device)


def load_vae(path: str):
    import comfy.sd
    import comfy.utils

    if not str(path).endswith(".safetensors") or not Path(path).is_file():
        raise SystemExit(f"--vae {path}: needs an existing .safetensors file")
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(str(path)))
    if getattr(vae, "latent_dim", 2) != 3:
        raise SystemExit(f"--vae {path}: not a video VAE (Wan 2.1 or Wan 2.2 VAE needed)")
    return vae


def check_vae(base: Base, vae, source: str = "vae") -> None:
    """The VAE must make the latents the model denoises (16 channels: Wan 2.1 VAE; 48: Wan 2.2)."""
    channels = base.wan.patch_embedding.weight.shape[1]
    if getattr(vae, "latent_channels", channels) != channels:
        raise ValueError(f"{source}: this VAE makes {vae.latent_channels}-channel latents but the model "
                         f"denoises {channels} (Wan 2.1 VAE: 16, Wan 2.2 VAE: 48)")


def load_text_encoder(path: str):
    import comfy.sd

    if not str(path).endswith(".safetensors") or not Path(path).is_file():
        raise SystemExit(f"--text-encoder {path}: needs an existing .safetensors file")
    return comfy.sd.load_clip(ckpt_paths=[str(path)], clip_type=comfy.sd.CLIPType.WAN)


def encode_text(clip, caption: str) -> torch.Tensor:
    """[1, n, 4096] as CLIPTextEncode gives it; without an encoder, the null prompt (one zero
    token of Wan's text width: what VideoCanvas Null Prompt gives)."""
    if clip is None:
        return torch.zeros(1, 1, 4096)
    return clip.encode_from_tokens(clip.tokenize(caption)).float().cpu()


def encode_video(vae, pixels: torch.Tensor, latent_format) -> torch.Tensor:
    """[1, C, f, h, w] in the model's latent space, of a [T, H, W, 3] uint8 clip."""
    with torch.no_grad():
        z = vae.encode(pixels.float() / 255.0)
    return latent_format.process_in(z.float().cpu())


def encode_images(vae, canvases: torch.Tensor, latent_format) -> torch.Tensor:
    """[1, C, K, h, w]: every canvas [K, H, W, 3] (0..1) encoded on its own as one image, as the
    pack's nodes encode conditions (vc_nodes/encode.py: a shallow copy of the VAE flagged not_video)."""
    import copy

    image_mode = copy.copy(vae)
    image_mode.not_video = True
    with torch.no_grad():
        z = image_mode.encode(canvases)  # [K, C, 1, h, w]
    return latent_format.process_in(z[:, :, 0].movedim(0, 1).unsqueeze(0).float())
