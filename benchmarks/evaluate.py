"""Fidelity benchmark of the toy VideoCanvas models: the paper's ablations at toy scale.

    python -m benchmarks.evaluate [--cases benchmarks/cases/default.json] [--out bench_out/eval]
                                  [--variants icc,nearest,replace] [--steps 20]
                                  [--weights nearest=path/to/file.safetensors,...]

Every case runs through the pack's own node path inside a real (in-process) ComfyUI: conditions
are rendered and encoded by VideoCanvas Sampler's `prepare`, the model is patched with the variant's
position policy / paradigm, ComfyUI's KSampler machinery samples, the VAE decodes. Metrics need no
pretrained network (VIDEOCANVAS.md, "VideoCanvasBench"):
- cond_psnr / cond_ssim: inside each condition's mask, at its frame, output vs the given pixels;
- per-frame PSNR (output frame vs the source clip's frame, whole frame) and the distance of its
  peak from the nearest conditioned frame (homologous cases only: the conditions come from the
  source clip);
- motion: mean absolute difference of consecutive output frames (a dynamic-degree proxy).

A cases file (JSON) lists cases; each has a `name`, a `source` ({"seed": N} for a procedural clip,
held-out seeds are >= 1,000,000; or {"frames": "dir/with/pngs"}; or {"video": "file.mp4"}),
`conditions` ([{"frame": 6, "box": [x, y, w, h] fractions of the frame, default the whole frame,
"source_frame": defaults to "frame"}]) and optionally `seeds` (a list of source seeds to repeat the
case over) and `metrics` (a subset of METRICS; default all). Results: <out>/results.md,
<out>/results.json, <out>/psnr_<case>.png. Each case also reports the source clip's own motion, the
reference for the generated videos' motion.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

VARIANTS = {  # name -> (model file, position policy, paradigm)
    "icc": ("videocanvas_toy_t2v.safetensors", "interpolate", "in_context"),
    "nearest": ("videocanvas_toy_t2v_nearest.safetensors", "nearest", "in_context"),
    "replace": ("videocanvas_toy_t2v_replace.safetensors", "interpolate", "latent_replacement"),
}


METRICS = ("cond_psnr", "cond_ssim", "peak_distance", "exact_peak_rate", "motion")


def case_metrics(case: dict) -> tuple[str, ...]:
    wanted = tuple(case.get("metrics", METRICS))
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"case {case.get('name')!r}: unknown metrics {unknown}; allowed: {list(METRICS)}")
    return wanted


def parse_weights(spec: str) -> dict[str, str]:
    """--weights "icc=a.safetensors,nearest=b.safetensors": another file for some variants."""
    weights = {}
    for item in filter(None, spec.split(",")):
        variant, _, path = item.partition("=")
        if variant not in VARIANTS or not path:
            raise ValueError(f"--weights item {item!r}: expected VARIANT=FILE with VARIANT in "
                             f"{list(VARIANTS)}")
        if not Path(path).is_file():
            raise ValueError(f"--weights {variant}: no file at {path}")
        weights[variant] = path
    return weights


def motion_energy(video: torch.Tensor) -> float:
    """Mean absolute difference of consecutive frames of [T, H, W, 3] in [0, 1]."""
    return float((video[1:] - video[:-1]).abs().mean())


def load_source(source: dict, size: int, frames: int) -> torch.Tensor:
    """[T, H, W, 3] in [0, 1]."""
    if "seed" in source:
        from training.procedural import ClipSpec, generate_clip

        return generate_clip(int(source["seed"]), ClipSpec(frames, size, size))
    if "frames" in source:
        import numpy as np
        from PIL import Image

        files = sorted(Path(source["frames"]).glob("*.png"))[:frames]
        return torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB").resize((size, size))))
                            for f in files]).float() / 255
    if "video" in source:
        import av
        import numpy as np

        with av.open(source["video"]) as container:
            out = [torch.from_numpy(np.asarray(f.to_image().convert("RGB").resize((size, size))))
                   for f, _ in zip(container.decode(video=0), range(frames), strict=False)]
        return torch.stack(out).float() / 255
    raise ValueError(f"source must have 'seed', 'frames' or 'video'; got {source}")


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    err = (a - b) ** 2
    if mask is not None:
        m = mask.unsqueeze(-1).expand_as(err)
        mse = (err * m).sum() / m.sum().clamp_min(1)
    else:
        mse = err.mean()
    return float(10 * torch.log10(1.0 / mse.clamp_min(1e-10)))


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean SSIM map (kornia, 7x7 window) over the mask, luminance of [H, W, 3] images."""
    import kornia

    x, y = (t.permute(2, 0, 1).unsqueeze(0) for t in (a, b))
    smap = kornia.metrics.ssim(x, y, window_size=7).mean(1)[0]
    return float((smap * mask).sum() / mask.sum().clamp_min(1))


class Runner:
    def __init__(self, size: int, frames: int, steps: int, weights: dict[str, str] | None = None):
        from hostkit.inprocess import load_comfy_with_pack

        self.pack = load_comfy_with_pack()
        import comfy.sd
        import comfy.utils
        import folder_paths

        self.comfy_sd, self.folder_paths = comfy.sd, folder_paths
        vae_path = folder_paths.get_full_path_or_raise("vae", "videocanvas_toy_vae.safetensors")
        self.vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(vae_path))
        self.size, self.frames, self.steps = size, frames, steps
        self.weights = weights or {}
        self.models = {}

    def model(self, variant: str):
        if variant not in self.models:
            name, policy, paradigm = VARIANTS[variant]
            path = self.weights.get(variant) or self.folder_paths.get_full_path(
                "diffusion_models", name) or str(ROOT / "models" / "ablations" / name)
            if not Path(path).is_file():
                raise FileNotFoundError(
                    f"no weights for variant {variant!r} at {path}: train them (python -m "
                    f"training.train_dit --variant {variant}) or pass --weights {variant}=FILE")
            base = self.comfy_sd.load_diffusion_model(path)
            self.models[variant] = self.pack.nodes.model_patch.patch_model(base, policy, paradigm)
        return self.models[variant]

    @torch.inference_mode()  # as ComfyUI's executor runs nodes
    def generate(self, variant: str, clip: torch.Tensor, conditions: list[dict], seed: int):
        import nodes as comfy_nodes
        from vc_core.plan import ConditionSource, Patch

        sampling = self.pack.nodes.sampling
        sources = []
        for c in conditions:
            frame = int(c["frame"])
            x, y, w, h = c.get("box", (0.0, 0.0, 1.0, 1.0))
            mask = torch.zeros(self.size, self.size)
            mask[round(y * self.size):round((y + h) * self.size),
                 round(x * self.size):round((x + w) * self.size)] = 1
            sources.append(ConditionSource(Patch(clip[int(c.get("source_frame", frame))], mask), frame))
        model = self.model(variant)
        null = [[torch.zeros(1, 1, 4096), {}]]
        plan, latents, latent = sampling.prepare(self.vae, tuple(sources), self.size, self.size,
                                                 self.frames, 1, model)
        pos = sampling.with_plan(null, plan, latents)
        out = comfy_nodes.common_ksampler(model, seed, self.steps, 1.0, "euler", "simple", pos, pos,
                                          latent)[0]
        video = comfy_nodes.VAEDecode().decode(self.vae, out)[0]
        return video, plan


def evaluate_case(runner: Runner, variant: str, case: dict, seed: int) -> dict:
    source = dict(case["source"], **({"seed": seed} if "seed" in case["source"] else {}))
    clip = load_source(source, runner.size, runner.frames)
    video, plan = runner.generate(variant, clip, case["conditions"], seed=0)
    cond = [(psnr(video[f], plan.canvases[k], plan.masks[k]), ssim(video[f], plan.canvases[k], plan.masks[k]))
            for k, f in enumerate(plan.frames)]
    curve = [psnr(video[i], clip[i]) for i in range(runner.frames)]
    peak = max(range(len(curve)), key=curve.__getitem__)
    motion = motion_energy(video)
    return {"cond_psnr": sum(c[0] for c in cond) / len(cond),
            "cond_ssim": sum(c[1] for c in cond) / len(cond), "curve": curve, "peak_frame": peak,
            "peak_distance": min(abs(peak - f) for f in plan.frames),
            "motion": motion, "source_motion": motion_energy(clip), "video": video}


def cell(metrics: dict, key: str, fmt: str) -> str:
    return format(metrics[key], fmt) if key in metrics else "-"


def summary_line(metrics: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in metrics.items() if k != "curve")


GROUPS = (  # the paper's question: does interpolation help most where a frame falls between slots?
    ("one frame on a latent slot (tau % 4 == 0)", lambda f: len(f) == 1 and f[0] % 4 == 0),
    ("one frame between slots (tau % 4 != 0)", lambda f: len(f) == 1 and f[0] % 4 != 0),
    ("several anchors", lambda f: len(f) > 1),
    ("all cases", lambda f: True),
)


def group_summary(results: list[dict]) -> list[dict]:
    """Per group of cases and variant, the unweighted mean of each metric over the group's cases
    (only metrics every case in it reports)."""
    rows = []
    for label, member in GROUPS:
        cases = [r for r in results if member(r["frames"])]
        variants = list(dict.fromkeys(v for r in cases for v in r["variants"]))
        for v in variants:
            have = [r["variants"][v] for r in cases if v in r["variants"]]
            keys = [k for k in METRICS if all(k in m for m in have)]
            rows.append({"group": label, "variant": v, "cases": len(have),
                         **{k: sum(m[k] for m in have) / len(have) for k in keys}})
    return [r for r in rows if r["cases"]]


def plot_curves(path: Path, curves: dict[str, list[float]], frames: list[int]) -> None:
    """Per-frame PSNR lines per variant with the conditioned frames marked (PIL, no matplotlib)."""
    from PIL import Image, ImageDraw

    w, h, pad = 640, 320, 36
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    values = [v for c in curves.values() for v in c]
    lo, hi = math.floor(min(values)), math.ceil(max(values))
    n = len(next(iter(curves.values())))

    def xy(i, v):
        return (pad + i * (w - 2 * pad) / max(1, n - 1),
                h - pad - (v - lo) / max(1e-6, hi - lo) * (h - 2 * pad))

    for f in frames:
        x = xy(f, lo)[0]
        d.line([(x, pad), (x, h - pad)], fill=(200, 200, 200), width=3)
    colours = [(220, 50, 32), (0, 90, 181), (20, 150, 60), (150, 80, 200)]
    for (name, curve), colour in zip(curves.items(), colours, strict=False):
        d.line([xy(i, v) for i, v in enumerate(curve)], fill=colour, width=2)
        d.text((w - 150, pad + 14 * list(curves).index(name)), name, fill=colour)
    d.rectangle([pad, pad, w - pad, h - pad], outline="black")
    d.text((4, pad - 12), f"PSNR dB ({lo}..{hi})", fill="black")
    d.text((pad, h - pad + 6), f"frame 0..{n - 1}; grey: conditioned frames", fill="black")
    img.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default=str(ROOT / "benchmarks" / "cases" / "default.json"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "eval"))
    ap.add_argument("--variants", default="icc,nearest,replace")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--weights", default="", help="VARIANT=FILE,...: evaluate these files instead")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=17)
    args = ap.parse_args()
    cases = json.loads(Path(args.cases).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.size, args.frames, args.steps, parse_weights(args.weights))
    variants = args.variants.split(",")
    wanted = {case["name"]: case_metrics(case) for case in cases}  # fail before any sampling
    results, t0 = [], time.monotonic()
    for case in cases:
        seeds = case.get("seeds", [case["source"].get("seed", 0)])
        per_variant, source_motion = {}, 0.0
        for variant in variants:
            rows = [evaluate_case(runner, variant, case, s) for s in seeds]
            source_motion = sum(r["source_motion"] for r in rows) / len(rows)
            summary = {key: sum(r[key] for r in rows) / len(rows)
                       for key in ("cond_psnr", "cond_ssim", "peak_distance", "motion")}
            summary["exact_peak_rate"] = sum(r["peak_distance"] == 0 for r in rows) / len(rows)
            per_variant[variant] = {k: summary[k] for k in wanted[case["name"]]}
            per_variant[variant]["curve"] = [sum(r["curve"][i] for r in rows) / len(rows)
                                             for i in range(args.frames)]
        frames = [int(c["frame"]) for c in case["conditions"]]
        plot_curves(out / f"psnr_{case['name']}.png", {v: per_variant[v]["curve"] for v in variants}, frames)
        results.append({"case": case["name"], "frames": frames, "seeds": seeds,
                        "source_motion": source_motion, "variants": per_variant})
        print(f"{case['name']}: " + ", ".join(f"{v} {summary_line(per_variant[v])}" for v in variants),
              flush=True)
    groups = group_summary(results)
    (out / "results.json").write_text(json.dumps({"steps": args.steps, "size": args.size,
                                                   "frames": args.frames, "summary": groups,
                                                   "results": results}, indent=1))
    columns = (("cond_psnr", ".2f"), ("cond_ssim", ".3f"), ("peak_distance", ".2f"),
               ("exact_peak_rate", ".2f"), ("motion", ".4f"))
    lines = ["| group | variant | cases | cond PSNR | cond SSIM | peak dist | exact peak | motion |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {g['group']} | {g['variant']} | {g['cases']} | "
              + " | ".join(cell(g, key, fmt) for key, fmt in columns) + " |" for g in groups]
    lines += ["", "| case | frames | variant | cond PSNR | cond SSIM | peak dist | exact peak | motion "
             "(source) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for v, m in r["variants"].items():
            cells = [cell(m, key, fmt) for key, fmt in columns]
            cells[-1] += f" ({r['source_motion']:.4f})"
            lines.append(f"| {r['case']} | {r['frames']} | {v} | " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + f"\n\n{len(cases)} cases, "
                                    f"{time.monotonic() - t0:.0f} s\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
