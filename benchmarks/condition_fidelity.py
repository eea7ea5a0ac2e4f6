"""Fidelity of the condition modes (issue 16) on the bundled toy model: the same cases, seeds and
sampler as benchmarks/evaluate.py, with the model patched per mode.

    python -m benchmarks.condition_fidelity [--cases modes_subset.json,dense.json (in benchmarks/cases)]
        [--modes full,sparse,cached,cached+sparse] [--weights FILE] [--label NAME] [--out DIR]

Modes: full (the paper: every condition token, two-way attention; the reference), sparse (only the
condition tokens whose footprint holds a patch pixel), cached (condition tokens attend only to
condition tokens), cached+sparse. The bundled model was trained two-way, so cached is an
approximation on it; --weights runs another DiT file (e.g. one trained with --condition-attention
cached). Per mode: cond PSNR / SSIM (inside each condition's mask, at its frame), the change in cond
PSNR against full, and the PSNR of the whole video against full's video for the same seed (how far
the mode moves the output). Results: <out>/condition_fidelity.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchmarks.evaluate import Runner, evaluate_case, psnr  # noqa: E402

MODES = {"full": ("full", "two-way"), "sparse": ("sparse", "two-way"),
         "cached": ("full", "cached"), "cached+sparse": ("sparse", "cached")}
TOY = "videocanvas_toy_t2v.safetensors"


class ModeRunner(Runner):
    """evaluate.Runner whose variants are condition modes of one DiT file."""

    def __init__(self, size, frames, steps, weights: str | None):
        super().__init__(size, frames, steps)
        self.path = weights or self.folder_paths.get_full_path_or_raise("diffusion_models", TOY)
        self.base = None

    def model(self, variant: str):
        if variant not in self.models:
            if self.base is None:
                self.base = self.comfy_sd.load_diffusion_model(self.path)
            tokens, attention = MODES[variant]
            self.models[variant] = self.pack.vc_nodes.model_patch.patch_model(
                self.base, condition_tokens=tokens, condition_attention=attention,
                check_training=False)  # measuring what the refused combination would cost
        return self.models[variant]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default=",".join(str(ROOT / "benchmarks" / "cases" / f)
                                                for f in ("modes_subset.json", "dense.json")))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--weights", default=None, help="a DiT file instead of the bundled toy model")
    ap.add_argument("--label", default=None, help="what the weights are, for the report")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    modes = args.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown or modes[0] != "full":
        raise SystemExit(f"--modes: the first must be full (the reference), the others from "
                         f"{list(MODES)}; got {modes}")
    cases = [c for f in args.cases.split(",") for c in json.loads(Path(f).read_text())]
    runner = ModeRunner(64, 17, args.steps, args.weights)
    t0 = time.monotonic()
    results = []
    for case in cases:
        seeds = case.get("seeds", [case["source"].get("seed", 0)])
        per_mode: dict[str, dict] = {m: {"cond_psnr": [], "cond_ssim": [], "video_psnr_vs_full": []}
                                     for m in modes}
        for s in seeds:
            reference = None
            for m in modes:
                r = evaluate_case(runner, m, case, s)
                if m == "full":
                    reference = r["video"]
                per_mode[m]["cond_psnr"].append(r["cond_psnr"])
                per_mode[m]["cond_ssim"].append(r["cond_ssim"])
                if m != "full":
                    per_mode[m]["video_psnr_vs_full"].append(psnr(r["video"], reference))
        summary = {m: {k: sum(v) / len(v) if v else None for k, v in d.items()}
                   for m, d in per_mode.items()}
        results.append({"case": case["name"], "conditions": len(case["conditions"]),
                        "seeds": seeds, "modes": summary})
        print(f"{case['name']}: " + ", ".join(f"{m} {summary[m]['cond_psnr']:.2f} dB" for m in modes),
              flush=True)
    groups = {"cases with 1-3 conditions": [r for r in results if r["conditions"] <= 3],
              "dense cases (5 and 17 patch conditions)": [r for r in results if r["conditions"] > 3],
              "all cases": results}
    rows = []
    for label, members in groups.items():
        if not members:
            continue
        for m in modes:
            mean = {k: None if m == "full" and k == "video_psnr_vs_full" else
                    sum(r["modes"][m][k] for r in members) / len(members)
                    for k in ("cond_psnr", "cond_ssim", "video_psnr_vs_full")}
            full = sum(r["modes"]["full"]["cond_psnr"] for r in members) / len(members)
            rows.append({"group": label, "mode": m, "cases": len(members), **mean,
                         "delta_cond_psnr": mean["cond_psnr"] - full})
    weights = args.label or (Path(args.weights).name if args.weights else f"{TOY} (bundled, trained "
                             f"two-way)")
    lines = ["# Fidelity of the condition modes on the toy model (issue 16)", "",
             f"Command: `python -m benchmarks.condition_fidelity {' '.join(sys.argv[1:])}`; weights: "
             f"{weights}; {args.steps} euler steps, cfg 1, 64x64, 17 frames; cases: "
             f"{', '.join(Path(f).name for f in args.cases.split(','))}; {time.monotonic() - t0:.0f} s.",
             "", "Goal (issue 16): <= 0.3 dB fidelity loss (cond PSNR against full).", "",
             "| group | mode | cases | cond PSNR | Δ cond PSNR vs full | cond SSIM | video PSNR vs full |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        vs = "(reference)" if r["mode"] == "full" else f"{r['video_psnr_vs_full']:.2f} dB"
        lines.append(f"| {r['group']} | {r['mode']} | {r['cases']} | {r['cond_psnr']:.2f} | "
                     f"{r['delta_cond_psnr']:+.2f} dB | {r['cond_ssim']:.3f} | {vs} |")
    lines += ["", "| case | conditions | mode | cond PSNR | cond SSIM | video PSNR vs full |",
              "|---|---|---|---|---|---|"]
    for r in results:
        for m in modes:
            d = r["modes"][m]
            vs = "-" if m == "full" else f"{d['video_psnr_vs_full']:.2f}"
            lines.append(f"| {r['case']} | {r['conditions']} | {m} | {d['cond_psnr']:.2f} | "
                         f"{d['cond_ssim']:.3f} | {vs} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "condition_fidelity" + (f"_{args.label}" if args.label else "")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (out / f"{stem}.json").write_text(json.dumps(
        {"weights": weights, "steps": args.steps, "summary": rows, "results": results},
        indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
