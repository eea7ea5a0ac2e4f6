"""Fidelity benchmark of the toy VideoCanvas models: the paper's ablations at toy scale.

    python -m benchmarks.evaluate [--cases benchmarks/cases/default.json] [--out bench_out/eval]
                                  [--variants icc,nearest,replace,concat] [--steps 20] [--clips 32]
                                  [--weights nearest=path/to/file.safetensors,...]

Every case runs through the pack's own node path inside a real (in-process) ComfyUI: conditions
are rendered and encoded by VideoCanvas Sampler's `prepare`, the model is patched with the variant's
position policy / paradigm, ComfyUI's KSampler machinery samples, the VAE decodes. Metrics need no
pretrained network (VIDEOCANVAS.md, "VideoCanvasBench"):
- cond_psnr / cond_ssim: inside each condition's mask, at its frame, output vs the given pixels;
- free_psnr: output vs the source clip over every pixel of every frame that no condition covers
  (what the model had to make: an inpainting hole, an outpainting border, the frames between
  keyframes; the paper's Table-1 question for VACE);
- per-frame PSNR (output frame vs the source clip's frame, whole frame) and the distance of its
  peak from the nearest conditioned frame (homologous cases only: the conditions come from the
  source clip);
- motion: mean absolute difference of consecutive output frames (a dynamic-degree proxy);
  motion_ratio: the output's motion over the source clip's, per clip;
- vae_cond_psnr: cond_psnr of the toy VAE's own reconstruction of each condition canvas (encoded as
  a single image, as the sampler encodes it, and decoded): the ceiling cond_psnr is measured against.

A cases file (JSON) lists cases; each has a `name`, a `source` ({"seed": N} for a procedural clip,
held-out seeds are >= 1,000,000; {"seed": N, "camera": {"start": [cx, cy, zoom], "end": [...],
"easing": ...}} for a camera move over a procedural still, as VideoCanvas Camera Move renders it
(benchmarks/cases/camera.json); or {"frames": "dir/with/pngs"}; or {"video": "file.mp4"}),
`conditions` ([{"frame": 6, "box": [x, y, w, h] fractions of the frame, default the whole frame,
"hole": [x, y, w, h]: the box left out (inpainting), "source_frame": defaults to "frame"}]) and
optionally `seeds` (a list of source seeds to repeat the
case over) and `metrics` (a subset of METRICS; default all). `--clips N` runs every procedural case
over the held-out seeds 1,000,000 .. 1,000,000 + N - 1 instead of its `seeds`. Results:
<out>/results.md, <out>/results.json (with every clip's values), <out>/psnr_<case>.png. Each case also
reports the source clip's own motion, the reference for the generated videos' motion.

Statistics (benchmarks/stats.py): 95 % percentile-bootstrap intervals (2000 resamples, fixed seed) of
cond_psnr, exact_peak_rate and motion_ratio per case and per group, and of the paired difference icc
minus each other variant. Groups split the cases by where their conditions fall, and their clips by
the source clip's motion (below / at or above the median over every evaluated clip).
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

from benchmarks import stats  # noqa: E402

VARIANTS = {  # name -> (model file, position policy, paradigm)
    "icc": ("videocanvas_toy_t2v.safetensors", "interpolate", "in_context"),
    "nearest": ("videocanvas_toy_t2v_nearest.safetensors", "nearest", "in_context"),
    "replace": ("videocanvas_toy_t2v_replace.safetensors", "interpolate", "latent_replacement"),
    # a 36-channel Wan image-to-video toy model: model_patch sees its channels and patches it for
    # channel concatenation (the position policy and paradigm given are the only ones it accepts)
    "concat": ("videocanvas_toy_i2v.safetensors", "interpolate", "in_context"),
    # the toy Wan VACE model: model_patch sees its control blocks and patches it for VACE control
    # (the paper's Table-1 baseline; cases/table1.json)
    "vace": ("videocanvas_toy_vace.safetensors", "interpolate", "in_context"),
}


METRICS = ("cond_psnr", "cond_ssim", "free_psnr", "peak_distance", "exact_peak_rate", "motion",
           "motion_ratio", "vae_cond_psnr")
HELD_OUT_SEED = 1_000_000  # procedural training clips use seeds below it


def case_metrics(case: dict) -> tuple[str, ...]:
    wanted = tuple(case.get("metrics", METRICS))
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"case {case.get('name')!r}: unknown metrics {unknown}; allowed: {list(METRICS)}")
    return wanted


def clip_seeds(case: dict, clips: int | None) -> list[int]:
    """The source seeds a case runs over: its own, or with `clips`, that many held-out ones (a case
    whose source is a file keeps its own)."""
    if clips and "seed" in case["source"]:
        return list(range(HELD_OUT_SEED, HELD_OUT_SEED + clips))
    return case.get("seeds", [case["source"].get("seed", 0)])


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


CAMERA_KEYS = {"start", "end", "easing"}


def camera_clip(seed: int, camera: dict, size: int, frames: int) -> torch.Tensor:
    """A camera move over a still: the middle frame of procedural clip `seed`, rendered at twice the
    size, seen through the move over every frame, with vc_core's camera path, so that its frames are
    what VideoCanvas Camera Move gives as conditions at theirs. camera: {"start": [cx, cy, zoom],
    "end": [...], "easing": "linear"}, as the node's inputs."""
    from toy_models.procedural import SceneSpec, generate_clip
    from vc_core.plan import CameraMove, Patch

    if set(camera) - CAMERA_KEYS or not {"start", "end"} <= set(camera):
        raise ValueError(f"source camera: needs 'start' and 'end' ([cx, cy, zoom]), optionally 'easing'; "
                         f"got {sorted(camera)}")
    still = generate_clip(seed, SceneSpec(frames, 2 * size, 2 * size))[frames // 2]
    move = CameraMove(tuple(map(float, camera["start"])), tuple(map(float, camera["end"])),
                      camera.get("easing", "linear"))
    return Patch(still, None, move).render((size, size), range(frames)).pixels


def load_source(source: dict, size: int, frames: int) -> torch.Tensor:
    """[T, H, W, 3] in [0, 1]."""
    if "seed" in source and "camera" in source:
        return camera_clip(int(source["seed"]), source["camera"], size, frames)
    if "seed" in source:
        from toy_models.procedural import SceneSpec, generate_clip

        return generate_clip(int(source["seed"]), SceneSpec(frames, size, size))
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


def box_mask(box, size: int) -> torch.Tensor:
    """[size, size], 1 inside the box [x, y, w, h] (fractions of the frame)."""
    x, y, w, h = box
    mask = torch.zeros(size, size)
    mask[round(y * size):round((y + h) * size), round(x * size):round((x + w) * size)] = 1
    return mask


def free_mask(plan, frames: int, size: int) -> torch.Tensor:
    """[frames, size, size], 1 where no condition of the plan covers the pixel at its frame."""
    known = torch.zeros(frames, size, size)
    for mask, frame in zip(plan.masks, plan.frames, strict=True):
        known[frame] = torch.maximum(known[frame], mask.float())
    return 1 - known


class Runner:
    def __init__(self, size: int, frames: int, steps: int, weights: dict[str, str] | None = None,
                 vae: str = ""):
        from hostkit.inprocess import load_comfy_with_pack

        self.pack = load_comfy_with_pack()
        import comfy.sd
        import comfy.utils
        import folder_paths

        self.comfy_sd, self.folder_paths = comfy.sd, folder_paths
        vae_path = vae or folder_paths.get_full_path_or_raise("vae", "videocanvas_toy_vae.safetensors")
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
                    f"toy_models.train_dit --variant {variant}) or pass --weights {variant}=FILE")
            base = self.comfy_sd.load_diffusion_model(path)
            self.models[variant] = self.pack.vc_nodes.model_patch.patch_model(base, policy, paradigm)
        return self.models[variant]

    @torch.inference_mode()  # as ComfyUI's executor runs nodes
    def generate(self, variant: str, clip: torch.Tensor, conditions: list[dict], seed: int):
        import nodes as comfy_nodes

        from vc_core.plan import ConditionSource, Patch

        sampling = self.pack.vc_nodes.sampling
        sources = []
        for c in conditions:
            frame = int(c["frame"])
            mask = box_mask(c.get("box", (0.0, 0.0, 1.0, 1.0)), self.size)
            if "hole" in c:
                mask = mask * (1 - box_mask(c["hole"], self.size))
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

    @torch.inference_mode()
    def reconstruct(self, plan) -> torch.Tensor:
        """The VAE's own round trip of each condition canvas: encoded as a single image, as the
        sampler encodes it (encode_plan), and decoded alone. [K, H, W, 3]."""
        latents = self.pack.vc_nodes.encode.encode_plan(self.vae, plan)  # [1, C, K, h, w]
        return self.vae.decode(latents[0].movedim(1, 0).unsqueeze(2))[:, 0]  # K one-frame clips


def evaluate_case(runner: Runner, variant: str, case: dict, seed: int) -> dict:
    source = dict(case["source"], **({"seed": seed} if "seed" in case["source"] else {}))
    clip = load_source(source, runner.size, runner.frames)
    video, plan = runner.generate(variant, clip, case["conditions"], seed=0)
    own = runner.reconstruct(plan)
    cond = [(psnr(video[f], plan.canvases[k], plan.masks[k]), ssim(video[f], plan.canvases[k], plan.masks[k]),
             psnr(own[k], plan.canvases[k], plan.masks[k])) for k, f in enumerate(plan.frames)]
    curve = [psnr(video[i], clip[i]) for i in range(runner.frames)]
    free = free_mask(plan, runner.frames, runner.size)
    peak = max(range(len(curve)), key=curve.__getitem__)
    motion, source_motion = motion_energy(video), motion_energy(clip)
    return {"cond_psnr": sum(c[0] for c in cond) / len(cond),
            "cond_ssim": sum(c[1] for c in cond) / len(cond), "curve": curve, "peak_frame": peak,
            "free_psnr": psnr(video, clip, free) if free.any() else None,
            "peak_distance": min(abs(peak - f) for f in plan.frames),
            "vae_cond_psnr": sum(c[2] for c in cond) / len(cond),
            "motion": motion, "source_motion": source_motion,
            # a still source has no motion to keep: no ratio, rather than an infinite one
            "motion_ratio": motion / source_motion if source_motion > 0 else None, "video": video}


def clip_value(row: dict, metric: str) -> float | None:
    """One clip's value of a metric; its exact-peak rate is 1 or 0."""
    return float(row["peak_distance"] == 0) if metric == "exact_peak_rate" else row[metric]


def case_summary(rows: list[dict], wanted: tuple[str, ...]) -> dict:
    """A case's variant: the mean of each wanted metric over its clips, an interval where it has
    several, and the clips' own values (under "clips", for the group statistics)."""
    clips = {k: [clip_value(r, k) for r in rows] for k in wanted}
    summary = {k: stats.mean(v for v in clips[k] if v is not None) for k in wanted
               if any(v is not None for v in clips[k])}
    for k in stats.INTERVAL_METRICS:
        values = [v for v in clips.get(k, []) if v is not None]
        if len(values) > 1:
            summary[f"{k}_ci"] = stats.bootstrap_interval(values)
    summary["curve"] = [stats.mean(r["curve"][i] for r in rows) for i in range(len(rows[0]["curve"]))]
    summary["clips"] = clips
    return summary


def cell(metrics: dict, key: str, fmt: str, ci_fmt: str | None = None) -> str:
    """`17.48 [17.1, 17.9]`: the value and, where there is one, its interval."""
    if key not in metrics:
        return "-"
    ci = metrics.get(f"{key}_ci")
    interval = f" [{ci[0]:{ci_fmt or fmt}}, {ci[1]:{ci_fmt or fmt}}]" if ci else ""
    return format(metrics[key], fmt) + interval


def summary_line(metrics: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in metrics.items() if k in METRICS)


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


COLUMNS = (  # key, format, format of its interval
    ("cond_psnr", ".2f", ".1f"), ("vae_cond_psnr", ".2f", None), ("cond_ssim", ".3f", None),
    ("free_psnr", ".2f", ".1f"),
    ("peak_distance", ".2f", None), ("exact_peak_rate", ".2f", ".2f"), ("motion", ".4f", None),
    ("motion_ratio", ".2f", ".2f"))
HEADER = ("cond PSNR | VAE's own PSNR | cond SSIM | free PSNR | peak dist | exact peak | {motion} | "
          "motion ratio")


def cells(metrics: dict, source_motion: float | None = None) -> str:
    """The COLUMNS of a row; the source clips' motion beside the output's, where given."""
    out = [cell(metrics, key, fmt, ci) for key, fmt, ci in COLUMNS]
    if source_motion is not None:
        out[[c[0] for c in COLUMNS].index("motion")] += f" ({source_motion:.4f})"
    return " | ".join(out)


def paired_cells(d: dict) -> str:
    keys = ("cond_psnr", "free_psnr", "exact_peak_rate")
    return " | ".join(cell(d, k, "+.2f", ".2f") for k in keys)


def report(meta: dict, groups: list[dict], paired: list[dict], gaps: list[dict], results: list[dict]
           ) -> list[str]:
    """results.md: the groups, the paired differences, the VAE reference per conditioned frame, the
    cases."""
    threshold = "-" if meta["motion_threshold"] is None else f"{meta['motion_threshold']:.4f}"
    clips = meta["clips"] or "each case's own seeds"
    lines = [f"`{meta['command']}`: {meta['steps']} Euler steps, {meta['size']}x{meta['size']}, "
             f"{meta['frames']} frames; clips per case: {clips}; 95 % percentile-bootstrap intervals "
             f"in brackets (2000 resamples, seed 0; a group's intervals resample each case's clips on "
             f"their own); median source motion over every clip: {threshold}", "",
             f"| group | clips | variant | cases | n | {HEADER.format(motion='motion')} |",
             "|---|---|---|---|---|" + "---|" * len(COLUMNS)]
    lines += [f"| {g['group']} | {g['split']} | {g['variant']} | {g['cases']} | {g['clip_count']} | "
              f"{cells(g)} |" for g in groups]
    if paired:
        lines += ["", "Paired differences on the same clips:", "",
                  "| group | clips | difference | cases | cond PSNR (dB) | free PSNR (dB) | exact peak |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {d['group']} | {d['split']} | {d['variant']} | {d['cases']} | "
                  f"{paired_cells(d)} |" for d in paired]
        by_case = stats.paired_by_case(results)
        lines += ["", "Paired differences per case (all clips):", "",
                  "| case | difference | n | cond PSNR (dB) | free PSNR (dB) | exact peak |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {d['case']} | {d['variant']} | {d['n']} | {paired_cells(d)} |" for d in by_case]
    if gaps:
        lines += ["", "cond PSNR against the VAE's own reconstruction of the condition, per conditioned "
                  "frame (single-condition cases):", "",
                  "| conditioned frame | variant | cases | cond PSNR | VAE's own PSNR | gap (cond - VAE) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {g['frame']} | {g['variant']} | {g['cases']} | {g['cond_psnr']:.2f} | "
                  f"{g['vae_cond_psnr']:.2f} | {cell(g, 'gap', '+.2f', '.2f')} |" for g in gaps]
    lines += ["", f"| case | frames | variant | n | {HEADER.format(motion='motion (source)')} |",
              "|---|---|---|---|" + "---|" * len(COLUMNS)]
    for r in results:
        for v, m in r["variants"].items():
            lines.append(f"| {r['case']} | {r['frames']} | {v} | {len(r['seeds'])} | "
                         f"{cells(m, r['source_motion'])} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default=str(ROOT / "benchmarks" / "cases" / "default.json"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "eval"))
    ap.add_argument("--variants", default="icc,nearest,replace")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--weights", default="", help="VARIANT=FILE,...: evaluate these files instead")
    ap.add_argument("--vae", default="", help="decode (and encode conditions) with this VAE file "
                                                "instead of the bundled one")
    ap.add_argument("--clips", type=int, default=None,
                    help=f"run every procedural case over N held-out clips (seeds {HELD_OUT_SEED} ..) "
                         f"instead of its own seeds; the issue's statistics want >= 32")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=17)
    args = ap.parse_args()
    cases = json.loads(Path(args.cases).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; known: {list(VARIANTS)}")
    runner = Runner(args.size, args.frames, args.steps, parse_weights(args.weights), args.vae)
    wanted = {case["name"]: case_metrics(case) for case in cases}  # fail before any sampling
    results, t0 = [], time.monotonic()
    for case in cases:
        seeds = clip_seeds(case, args.clips)
        per_variant, motions = {}, []
        for variant in variants:
            rows = [evaluate_case(runner, variant, case, s) for s in seeds]
            motions = [r["source_motion"] for r in rows]  # the same clips for every variant
            per_variant[variant] = case_summary(rows, wanted[case["name"]])
        frames = [int(c["frame"]) for c in case["conditions"]]
        plot_curves(out / f"psnr_{case['name']}.png", {v: per_variant[v]["curve"] for v in variants}, frames)
        results.append({"case": case["name"], "frames": frames, "seeds": seeds,
                        "source_motion": stats.mean(motions), "clip_source_motion": motions,
                        "variants": per_variant})
        print(f"{case['name']}: " + ", ".join(f"{v} {summary_line(per_variant[v])}" for v in variants),
              flush=True)
    threshold = stats.motion_threshold(results)
    groups, paired = stats.group_summary(results, threshold), stats.paired_summary(results, threshold)
    gaps = stats.vae_gap_summary(results)
    meta = {"command": " ".join(["python -m benchmarks.evaluate", *sys.argv[1:]]), "steps": args.steps,
            "size": args.size, "frames": args.frames, "clips": args.clips, "motion_threshold": threshold}
    (out / "results.json").write_text(json.dumps({**meta, "summary": groups, "paired": paired,
                                                   "vae_gap": gaps, "results": results}, indent=1))
    lines = report(meta, groups, paired, gaps, results)
    (out / "results.md").write_text("\n".join(lines) + f"\n\n{len(cases)} cases, "
                                    f"{time.monotonic() - t0:.0f} s\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
