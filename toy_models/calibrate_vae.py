"""Calibrate the toy VAE's latent scale: an exact reparameterisation, folded into its weights.

    python -m toy_models.calibrate_vae [--clips 128]

ComfyUI normalises every Wan 2.1 latent with fixed constants (latent_formats.Wan21) before the DiT,
and the sampler's noise is unit-variance in that space. train_vae's regulariser only pulls the
latent towards those constants; here each channel of the VAE's mean latent is remapped exactly,
mu' = a * mu + b, so that after the Wan 2.1 latent format the content (each latent minus the data's
mean latent at its position) has unit std and the channel mean is 0. `a` and `b` fold into the
encoder's 1x1 `conv1` (the mu half) and their inverse into the decoder's 1x1 `conv2`, so
decode(encode(x)) is unchanged (checked here) and the file stays a plain Wan 2.1 VAE for VAELoader.
(A first VAE, trained with pooled statistics only, needed a = 2.3 .. 4.5 and still left a content-free
pattern of ~95 % of the latent variance, which no per-channel map can remove; see train_vae.)
"""

from __future__ import annotations

import argparse
import json

import torch
from safetensors.torch import load_file, save_file

from .common import VAE_FILE, comfy_modules, pick_device
from .procedural import SceneSpec, generate_clip
from .train_dit import FRAMES, SIZE, load_vae


@torch.no_grad()
def latent_affine(mu: torch.Tensor, mean_w: torch.Tensor, std_w: torch.Tensor):
    """(a, b) per channel such that (a * mu + b - mean_w) / std_w has per-channel mean 0 and content
    (mu minus its mean over clips at each position) std 1. mu: [N, 16, T, h, w]."""
    z = (mu - mean_w.view(1, -1, 1, 1, 1)) / std_w.view(1, -1, 1, 1, 1)
    content = z - z.mean(0, keepdim=True)
    content_std = content.pow(2).mean(dim=(0, 2, 3, 4)).sqrt()
    channel_mean = z.mean(dim=(0, 2, 3, 4))
    a = 1 / content_std
    b = mean_w - (mean_w + std_w * channel_mean) * a
    return a, b


def fold_affine(sd: dict, a: torch.Tensor, b: torch.Tensor) -> dict:
    """mu' = a mu + b in conv1's mu half; conv2 reads mu' and undoes it: W2 (mu' - b) / a + b2."""
    sd = dict(sd)
    z = a.numel()
    w1, b1 = sd["conv1.weight"].clone(), sd["conv1.bias"].clone()
    w1[:z] *= a.view(-1, 1, 1, 1, 1)
    b1[:z] = a * b1[:z] + b
    w2, b2 = sd["conv2.weight"], sd["conv2.bias"]
    w2_flat = w2.view(w2.shape[0], w2.shape[1])
    sd["conv1.weight"], sd["conv1.bias"] = w1, b1
    sd["conv2.weight"] = (w2_flat / a.view(1, -1)).view_as(w2).contiguous()
    sd["conv2.bias"] = (b2 - w2_flat @ (b / a)).contiguous()
    return sd


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clips", type=int, default=128, help="training clips the statistics come from")
    ap.add_argument("--vae", default=str(VAE_FILE))
    args = ap.parse_args()
    fmt = comfy_modules().latent_formats.Wan21()
    mean_w, std_w = fmt.latents_mean.reshape(16), fmt.latents_std.reshape(16)
    device = pick_device()
    # full float32 on a GPU too: the drift check below compares two float32 paths to 1e-3
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    vae = load_vae(device)
    pixels = torch.stack([generate_clip(s, SceneSpec(FRAMES, SIZE, SIZE)) for s in range(args.clips)])
    x = pixels.permute(0, 4, 1, 2, 3).to(device) * 2 - 1
    mu = torch.cat([vae.encode(x[i:i + 16]) for i in range(0, args.clips, 16)]).cpu()
    a, b = latent_affine(mu, mean_w, std_w)
    sd = load_file(args.vae)
    new_sd = fold_affine(sd, a, b)
    probe = x[:2]
    before = vae.decode(vae.encode(probe))
    vae.load_state_dict(new_sd)
    after = vae.decode(vae.encode(probe))
    drift = float((after - before).abs().max())
    if drift > 1e-3:
        raise RuntimeError(f"the folded affine changed reconstructions by up to {drift}")
    save_file({k: v.contiguous() for k, v in new_sd.items()}, args.vae)
    print(json.dumps({"scale": [round(v, 3) for v in a.tolist()], "reconstruction_drift": drift,
                      "clips": args.clips}))


if __name__ == "__main__":
    main()
