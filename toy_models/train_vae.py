"""Train the toy Wan 2.1-format VAE (ComfyUI's own WanVAE class, small base dim) on procedural clips.

    python -m toy_models.train_vae [--minutes 44] [--steps 1400] [--dim 8] [--resume]
    python -m toy_models.train_vae --dim 16 --crop 64 --batch 16 --steps 0 --minutes 3 --workers 8  (GPU)
    python -m toy_models.train_vae --init models/vae/videocanvas_toy_vae.safetensors --decoder-only \
        --crop 64 --batch 4 --lr 5e-4 --steps 4367 --minutes 90 --run train_runs/vae_decoder \
        --out train_runs/vae_decoder/videocanvas_toy_vae.safetensors

`--decoder-only` continues a trained VAE with its encoder frozen: the latents, and so every DiT
trained on them, stay exactly as they were, while the decoder (and its 1x1 `conv2`, which holds the
calibration's inverse) learns to render them better. No regulariser: the latent does not move.

The architecture is Wan 2.1's causal video VAE (z_dim 16, dim_mult [1,2,4,4], temporal stride 4), so
ComfyUI's VAELoader detects it and encodes/decodes it exactly as the real one; only the base width is
small. Clips are 17 frames, the toy DiT's length (the image-mode first frame plus four 4-frame chunks:
a VAE trained on 9-frame clips reconstructed well up to frame 8 and then drifted to ~9 dB by frame 16,
its cache never having been trained past two hand-overs), cropped to 32x32 (the network is
convolutional), so a step of 8 clips costs ~1.9 s on 2 CPU cores.

Besides reconstruction, a light regulariser (latent_regulariser) ties the latent to the Wan 2.1
latent format's per-channel constants at every position: ComfyUI normalises every latent with those
constants before the DiT sees it, and a per-channel affine is all it can undo. Pooled statistics are
not enough: a VAE trained with them (Nov 2026) met them with a content-free offset that grew with the
latent slot (mean square 3.4 in slot 0, 35 in slot 4, against content variance ~1), which the DiT,
having only relative (RoPE) positions, cannot predict: its samples came out as tinted blobs.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from .common import ROOT, VAE_FILE, RunDir, StepBudget, comfy_modules, cosine_lr, export_weights, pick_device
from .procedural import SceneSpec, generate_clip


def build_vae(dim: int):
    """ComfyUI's WanVAE at base width `dim`, fan-in-scaled random init (its layers skip init)."""
    comfy_modules()
    from hostkit.tiny_models import build_wan21_vae

    return build_wan21_vae(dim=dim, seed=0)


def latent_stats_target():
    fmt = comfy_modules().latent_formats.Wan21()
    return fmt.latents_mean.reshape(16), fmt.latents_std.reshape(16)


def latent_regulariser(mu: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """In the latent format's units: the batch mean at each (channel, slot, y, x) should be the
    channel's format mean (no content-free pattern), and each (channel, slot)'s spread over batch and
    space should be the format std (content carries the variance, in every slot: image-mode latents
    are slot 0)."""
    z = (mu - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1)
    pattern = (z.mean(dim=0) ** 2).mean()
    spread = ((z.std(dim=(0, 3, 4)) - 1) ** 2).mean()
    return pattern + spread


def trainable_parameters(vae, decoder_only: bool) -> list[torch.nn.Parameter]:
    """Everything, or (decoder_only) the decoder and conv2 with the encoder and conv1 frozen."""
    if decoder_only:
        vae.encoder.requires_grad_(False)
        vae.conv1.requires_grad_(False)
    return [p for p in vae.parameters() if p.requires_grad]


def reconstruction_loss(vae, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, decoder_only: bool):
    """(loss, l1, mse, regulariser) for clips x; decoder_only encodes without a graph and drops the
    regulariser (a frozen encoder's latent cannot move)."""
    with torch.no_grad() if decoder_only else contextlib.nullcontext():
        mu = vae.encode(x)
    rec = vae.decode(mu)
    mu, rec = mu.float(), rec.float()
    l1 = (rec - x).abs().mean()
    mse = ((rec - x) ** 2).mean()
    stats = latent_regulariser(mu, mean, std)
    loss = l1 + mse + (0.0 if decoder_only else 0.1 * stats)
    return loss, l1, mse, stats


def batch(step: int, size: int, frames: int, crop: int, gen: torch.Generator) -> torch.Tensor:
    """[B, 3, T, crop, crop] in [-1, 1] (the Wan VAE's input range), random crops of 64x64 clips."""
    spec = SceneSpec(frames=frames, height=64, width=64)
    clips = []
    for i in range(size):
        clip = generate_clip((step * size + i) % 1_000_000, spec)  # training seeds 0 .. < 1e6
        y, x = (int(v) for v in torch.randint(0, 64 - crop + 1, (2,), generator=gen))
        clips.append(clip[:, y:y + crop, x:x + crop])
    return torch.stack(clips).permute(0, 4, 1, 2, 3) * 2 - 1


class Batches(torch.utils.data.IterableDataset):
    """Step `start`, `start + 1`, ... 's batch, each from its own generator (seeded by the step), so
    worker processes can draw them ahead of a GPU without changing what a step sees."""

    def __init__(self, start: int, size: int, frames: int, crop: int):
        self.start, self.size, self.frames, self.crop = start, size, frames, crop

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        workers, me = (info.num_workers, info.id) if info else (1, 0)
        step = self.start + me
        while True:
            yield batch(step, self.size, self.frames, self.crop, torch.Generator().manual_seed(step))
            step += workers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", default=str(ROOT / "train_runs" / "vae"))
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1400, help="0: as many as fit --minutes")
    ap.add_argument("--minutes", type=float, default=44.0, help="stop (and export) after this long")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--workers", type=int, default=0, help="processes drawing clips ahead (GPU runs)")
    ap.add_argument("--fp32", action="store_true", help="on a GPU: no bfloat16 autocast")
    ap.add_argument("--init", default=None, help="start from these VAE weights (safetensors)")
    ap.add_argument("--decoder-only", action="store_true",
                    help="freeze the encoder (and conv1): train decoder + conv2 on unchanged latents")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--out", default=str(VAE_FILE))
    args = ap.parse_args()

    device = pick_device()
    torch.manual_seed(0)
    run = RunDir(args.run)
    vae = build_vae(args.dim).to(device)
    if args.init:
        vae.load_state_dict(load_file(args.init))
    trained = trainable_parameters(vae, args.decoder_only)
    opt = torch.optim.Adam(trained, lr=args.lr)
    start = 0
    if args.resume and (meta := run.load_state(vae, opt)):
        start, args.steps = meta["step"], meta.get("steps", args.steps)
    mean_t, std_t = (t.to(device) for t in latent_stats_target())
    deadline = run.t0 + args.minutes * 60
    budget = StepBudget(args.steps, deadline)
    # workers interleave steps (worker i draws steps start + i, start + i + n, ...) and the loader
    # takes them round-robin, so the order is the same for any number of workers
    batches = iter(torch.utils.data.DataLoader(Batches(start, args.batch, args.frames, args.crop),
                                               batch_size=None, num_workers=args.workers,
                                               prefetch_factor=4 if args.workers else None))
    gpu_amp = device.type == "cuda" and not args.fp32
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if gpu_amp else contextlib.nullcontext
    done = start
    step = start
    while step < budget.steps:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, budget.steps, args.lr)
        x = next(batches).to(device, non_blocking=True)
        with amp():  # on a GPU bfloat16 convolutions run on tensor cores; weights and loss stay float32
            loss, l1, mse, stats = reconstruction_loss(vae, x, mean_t, std_t, args.decoder_only)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        done = step + 1
        if step % 20 == 0:
            psnr = (10 * torch.log10(4.0 / mse.detach())).item()  # range [-1, 1]: peak-to-peak 2
            run.log(step=step, loss=round(loss.item(), 5), l1=round(l1.item(), 5), psnr=round(psnr, 2),
                    stats=round(stats.item(), 4), lr=opt.param_groups[0]["lr"])
        budget.after(step, run, start)
        if step % 100 == 99:
            run.save_state(vae, opt, {"step": done, "dim": args.dim, "steps": budget.steps})
        if time.monotonic() > deadline:
            run.log(event="time budget reached", step=done)
            break
        step += 1
    run.save_state(vae, opt, {"step": done, "dim": args.dim, "steps": budget.steps})
    export_weights(vae, Path(args.out))
    run.log(event="exported", path=args.out, step=done)


if __name__ == "__main__":
    main()
