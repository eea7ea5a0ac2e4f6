"""One table from several benchmarks.evaluate runs (their results.json), a row per run.

    python -m benchmarks.summarize "plain base=bench_out/toy_plain" "full=bench_out/toy_full" ...

Columns: cond PSNR over all cases and over the single frames between latent slots, cond SSIM, peak
distance, exact-peak rate (all / between slots) and motion, as benchmarks/evaluate.py defines them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(label: str, folder: Path) -> str:
    # every clip (runs since per-clip statistics also split the clips by source motion)
    summary = [s for s in json.loads((folder / "results.json").read_text())["summary"]
               if s.get("split", "all clips") == "all clips"]
    everything = next(s for s in summary if s["group"].startswith("all"))
    between = next(s for s in summary if "between" in s["group"])
    return (f"| {label} | {everything['cond_psnr']:.2f} / {between['cond_psnr']:.2f} | "
            f"{everything['cond_ssim']:.3f} | {everything['peak_distance']:.2f} | "
            f"{everything['exact_peak_rate']:.2f} / {between['exact_peak_rate']:.2f} | "
            f"{everything['motion']:.4f} |")


def main(argv: list[str]) -> None:
    if not argv or any("=" not in a for a in argv):
        raise SystemExit(__doc__)
    print("| model | cond PSNR all / between slots | cond SSIM | peak dist | exact peak all / between "
          "| motion |")
    print("|---|---|---|---|---|---|")
    for arg in argv:
        label, folder = arg.split("=", 1)
        print(row(label, Path(folder)))


if __name__ == "__main__":
    main(sys.argv[1:])
