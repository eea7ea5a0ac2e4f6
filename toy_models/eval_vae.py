"""Held-out reconstruction of the toy VAE, and the paper's padding check, through ComfyUI's own VAE.

    python -m toy_models.eval_vae [--clips 16] [--vae FILE] [--baseline FILE] [--out train_runs/vae/eval.json]

Means over held-out clips, with 95 % bootstrap intervals over clips; with --baseline, the paired
difference (this VAE - baseline) clip by clip on the same clips, crops and frames.

- video mode: a 17-frame held-out clip encoded as one clip and decoded (PSNR over all frames, and
  per frame averaged over clips);
- image mode: every frame encoded on its own as a single image (PSNR over all frames);
- spatial padding (what VideoCanvas does): a random 20-100 % crop of a frame on a VAE_ZERO canvas,
  encoded as a single image; PSNR inside the crop;
- motion: the mean absolute frame-to-frame change of the video-mode round trip and of the clip
  (benchmarks.evaluate's motion measure);
- temporal padding (what it avoids): the same frame inside a 5-frame clip whose other frames are
  VAE_ZERO, encoded in video mode; PSNR of that frame (the paper: 34.7 dB vs 23.1 dB on Wan's VAE).
"""

from __future__ import annotations

import argparse
import json

import torch

from .common import ROOT, VAE_FILE, comfy_modules
from .procedural import HELD_OUT_START, SceneSpec, generate_clip
from .train_dit import random_crop_mask


def psnr(a, b, mask=None) -> float:
    err = (a - b) ** 2
    if mask is not None:
        m = mask.unsqueeze(-1).expand_as(err)
        return float(10 * torch.log10(1 / ((err * m).sum() / m.sum())))
    return float(10 * torch.log10(1 / err.mean()))


def measure(vae, clips: int) -> tuple[dict[str, list[float]], list[float]]:
    """Per-clip PSNR of each mode over held-out clips 0 .. clips-1, and video mode per frame."""
    from benchmarks.evaluate import motion_energy
    from vc_core.canvas import VAE_ZERO

    gen = torch.Generator().manual_seed(7)  # the same crops and frames for every VAE measured
    rows = {"video_mode": [], "image_mode": [], "spatial_padding": [], "temporal_padding": [],
            "video_mode_motion": [], "source_motion": []}
    per_frame = torch.zeros(17)  # video mode: a causal VAE's late frames are where it drifts
    for i in range(clips):
        clip = generate_clip(HELD_OUT_START + i, SceneSpec(17, 64, 64))
        rec = vae.decode(vae.encode(clip))[0]
        rows["video_mode"].append(psnr(rec, clip))
        # benchmarks.evaluate's motion (mean |frame difference|) of the round trip and of the clip:
        # what the toy can show of a source's motion before any DiT is involved
        rows["video_mode_motion"].append(motion_energy(rec))
        rows["source_motion"].append(motion_energy(clip))
        per_frame += torch.tensor([psnr(rec[f], clip[f]) for f in range(17)]) / clips
        singles = torch.cat([vae.decode(vae.encode(clip[f:f + 1]))[0] for f in range(17)])
        rows["image_mode"].append(psnr(singles, clip))
        frame = int(torch.randint(1, 17, (), generator=gen))
        mask = random_crop_mask(gen)
        canvas = mask[..., None] * clip[frame] + (1 - mask[..., None]) * VAE_ZERO
        rows["spatial_padding"].append(psnr(vae.decode(vae.encode(canvas[None]))[0, 0], clip[frame], mask))
        padded = torch.full((5, 64, 64, 3), VAE_ZERO)
        slot = frame % 4 + 1  # a non-first position inside a 4-frame chunk, as a mid-video frame is
        padded[slot] = clip[frame]
        rows["temporal_padding"].append(psnr(vae.decode(vae.encode(padded))[0, slot], clip[frame], mask))
    return rows, per_frame.tolist()


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--vae", default=str(VAE_FILE))
    ap.add_argument("--baseline", default=None,
                    help="another VAE file measured on the same clips: adds paired differences")
    ap.add_argument("--out", default=str(ROOT / "train_runs" / "vae" / "eval.json"))
    args = ap.parse_args()
    comfy_modules()
    import comfy.sd
    import comfy.utils

    from benchmarks.stats import bootstrap_interval, paired_interval

    load = lambda path: comfy.sd.VAE(sd=comfy.utils.load_torch_file(path))  # noqa: E731
    rows, per_frame = measure(load(args.vae), args.clips)
    digits = lambda k: 4 if k.endswith("motion") else 2  # noqa: E731
    means = lambda r: {k: round(sum(v) / len(v), digits(k)) for k, v in r.items()}  # noqa: E731
    result = means(rows)
    # 95 % percentile bootstrap over clips (benchmarks.stats: 2000 resamples, seed 0)
    result["interval_95"] = {k: [round(b, digits(k)) for b in bootstrap_interval(v)] for k, v in rows.items()}
    result["video_mode_per_frame"] = [round(v, 2) for v in per_frame]
    result["clips"] = args.clips
    if args.baseline:
        base, base_per_frame = measure(load(args.baseline), args.clips)
        result["baseline"] = {"vae": args.baseline, **means(base),
                              "video_mode_per_frame": [round(v, 2) for v in base_per_frame]}
        result["minus_baseline"] = {  # the same clips: paired, clip by clip
            k: [round(sum(rows[k]) / len(rows[k]) - sum(base[k]) / len(base[k]), digits(k)),
                [round(b, digits(k)) for b in paired_interval(rows[k], base[k])]]
            for k in rows if k != "source_motion"}
    print(json.dumps(result))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
