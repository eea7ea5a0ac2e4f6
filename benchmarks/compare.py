"""Two runs of benchmarks.evaluate over the same cases and clips, side by side: a retrained model
against the one it replaces, say, with the difference paired clip by clip.

    python -m benchmarks.compare NEW/results.json OLD/results.json [--variant icc]
        [--labels new,old] [--out DIR]

Each run's VARIANT becomes one variant of a merged result, under its label; the tables are
evaluate's (groups with 95 % bootstrap intervals, clips split at the median source motion, the paired
difference NEW - OLD on the same clips, the gap to the VAE's own reconstruction per conditioned
frame), written to DIR/compare.md and DIR/compare.json. Runs of other cases, clips, sizes, lengths
or step counts are refused: their difference would not be paired.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from benchmarks import stats
from benchmarks.evaluate import report

SETTINGS = ("size", "frames", "steps")  # what else must match for two runs' clips to pair
MOTION_RTOL = 1e-6  # a clip's source motion, computed from the clip itself: equal clips, equal values


def merge(new: dict, old: dict, variant: str, labels: tuple[str, str]) -> list[dict]:
    """The cases of two results.json, each with the two runs' `variant` under `labels`."""
    for run, name in ((new, labels[0]), (old, labels[1])):
        if "command" not in run or any("clip_source_motion" not in r for r in run["results"]):
            raise ValueError(f"the {name} run was written by an older benchmarks.evaluate (no per-clip "
                             f"values to pair): run it again")
    differ = [k for k in SETTINGS if new[k] != old[k]]
    if differ:
        raise ValueError("the runs differ in " + ", ".join(f"{k} ({new[k]} and {old[k]})" for k in differ))
    names = [[r["case"] for r in run["results"]] for run in (new, old)]
    for run_names, name in zip(names, labels, strict=True):
        if len(set(run_names)) != len(run_names):
            raise ValueError(f"the {name} run names a case twice: cases pair by name")
    if set(names[0]) != set(names[1]):
        raise ValueError(f"the runs hold different cases: only in {labels[0]}: "
                         f"{sorted(set(names[0]) - set(names[1]))}; only in {labels[1]}: "
                         f"{sorted(set(names[1]) - set(names[0]))}")
    olds = {r["case"]: r for r in old["results"]}
    merged = []
    for r in new["results"]:
        o = olds[r["case"]]
        same_clips = (o["seeds"], o["frames"]) == (r["seeds"], r["frames"]) and len(
            o["clip_source_motion"]) == len(r["clip_source_motion"]) and all(
            math.isclose(a, b, rel_tol=MOTION_RTOL, abs_tol=1e-12)
            for a, b in zip(o["clip_source_motion"], r["clip_source_motion"], strict=True))
        if not same_clips:
            raise ValueError(f"case {r['case']!r}: the runs differ in its clips (seeds, source motion) or "
                             f"conditioned frames; compare runs of one cases file with one --clips")
        for run, name in ((r, labels[0]), (o, labels[1])):
            if variant not in run["variants"]:
                raise ValueError(f"case {r['case']!r}: the {name} run has no variant {variant!r} "
                                 f"(it has {sorted(run['variants'])})")
        merged.append({**r, "variants": {labels[0]: r["variants"][variant],
                                         labels[1]: o["variants"][variant]}})
    return merged


def compare(new: dict, old: dict, variant: str, labels: tuple[str, str], command: str
            ) -> tuple[dict, list[str]]:
    """(compare.json's content, compare.md's lines)."""
    results = merge(new, old, variant, labels)
    threshold = stats.motion_threshold(results)
    groups = stats.group_summary(results, threshold)
    paired = stats.paired_summary(results, threshold, reference=labels[0])
    gaps = stats.vae_gap_summary(results)
    meta = {"command": command, "steps": new["steps"], "size": new["size"], "frames": new["frames"],
            "clips": new["clips"], "motion_threshold": threshold,
            "runs": {labels[0]: new["command"], labels[1]: old["command"]}}
    lines = [f"{labels[0]}: `{new['command']}`", "", f"{labels[1]}: `{old['command']}`", "",
             *report(meta, groups, paired, gaps, results)]
    return {**meta, "summary": groups, "paired": paired, "vae_gap": gaps, "results": results}, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("new")
    ap.add_argument("old")
    ap.add_argument("--variant", default="icc")
    ap.add_argument("--labels", default="new,old", help="two names, NEW's first")
    ap.add_argument("--out", default="bench_out/compare")
    args = ap.parse_args()
    labels = tuple(args.labels.split(","))
    if len(labels) != 2 or len(set(labels)) != 2 or not all(labels):
        raise SystemExit(f"--labels {args.labels!r}: two different names, comma-separated")
    runs = [json.loads(Path(p).read_text()) for p in (args.new, args.old)]
    try:
        content, lines = compare(*runs, args.variant, labels,
                                 " ".join(["python -m benchmarks.compare", *sys.argv[1:]]))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(content, indent=1))
    (out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
