"""The fidelity benchmark's statistics (benchmarks/evaluate.py): groups and percentile-bootstrap
intervals.

Every interval is of a mean: of one case's clips, or of a group's cases (the unweighted mean over its
cases of each case's mean over its clips, the group's point estimate), or of the per-clip difference of
two variants run on the same clips. A fixed seed makes every interval the same on every run.

A result (one case, as results.json stores it) has "frames" (its conditioned frames),
"clip_source_motion" (the source clip's motion, per clip) and "variants": {variant: {metric: mean,
"clips": {metric: [value per clip, in the order of clip_source_motion]}}}.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
INTERVAL_METRICS = ("cond_psnr", "free_psnr", "exact_peak_rate", "motion_ratio")
PAIRED_METRICS = ("cond_psnr", "free_psnr", "exact_peak_rate")


def stratified_interval(strata: Sequence[Sequence[float]], resamples: int = RESAMPLES, seed: int = 0,
                        level: float = LEVEL) -> tuple[float, float]:
    """Interval of the mean over strata of each stratum's mean. Each stratum (the clips of one case)
    is resampled with replacement on its own, so the cases keep their equal weight, as in the point
    estimate."""
    arrays = [np.asarray(s, dtype=np.float64) for s in strata]
    if not arrays or any(a.size == 0 for a in arrays):
        raise ValueError(f"bootstrap: every stratum needs a value; got sizes {[a.size for a in arrays]}")
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for a in arrays:
        means += a[rng.integers(0, a.size, (resamples, a.size))].mean(axis=1)
    means /= len(arrays)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_interval(values: Sequence[float], resamples: int = RESAMPLES, seed: int = 0,
                       level: float = LEVEL) -> tuple[float, float]:
    """Interval of the mean of `values` (one case's clips)."""
    return stratified_interval([values], resamples, seed, level)


def paired_differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """a - b clip by clip: two variants on the same clips, in the same order."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same clips; got {len(a)} and {len(b)}")
    return [x - y for x, y in zip(a, b, strict=True)]


def paired_interval(a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, seed: int = 0,
                    level: float = LEVEL) -> tuple[float, float]:
    """Interval of mean(a) - mean(b) over the same clips: the clips are resampled together, so what
    the two variants share (an easy clip, a hard clip) does not widen it."""
    return bootstrap_interval(paired_differences(a, b), resamples, seed, level)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


GROUPS = (  # the paper's question: does interpolation help most where a frame falls between slots?
    ("one frame on a latent slot (tau % 4 == 0)", lambda f: len(f) == 1 and f[0] % 4 == 0),
    ("one frame between slots (tau % 4 != 0)", lambda f: len(f) == 1 and f[0] % 4 != 0),
    ("several anchors", lambda f: len(f) > 1),
    ("all cases", lambda f: True),
)
ALL_CLIPS = "all clips"


def motion_threshold(results: list[dict]) -> float | None:
    """The median source motion over every evaluated clip of every case (None without per-clip
    values)."""
    motions = [m for r in results for m in r.get("clip_source_motion", [])]
    return statistics.median(motions) if motions else None


def clip_splits(threshold: float | None) -> list[tuple[str, object]]:
    """(label, which source motions a split keeps): all clips, then below / at or above the
    threshold."""
    splits = [(ALL_CLIPS, None)]
    if threshold is not None:
        splits += [(f"source motion < {threshold:.4f} (median)", lambda m: m < threshold),
                   (f"source motion >= {threshold:.4f} (median)", lambda m: m >= threshold)]
    return splits


def case_clips(result: dict, variant: str, keep=None) -> dict[str, list[float]]:
    """Per metric, the values of the clips of a case's variant whose source motion `keep` accepts
    (all without `keep`). A case stored without per-clip values counts as one clip of its means."""
    m = result["variants"][variant]
    if "clips" not in m:
        return {k: [v] for k, v in m.items() if isinstance(v, int | float)}
    chosen = [i for i, s in enumerate(result["clip_source_motion"]) if keep is None or keep(s)]
    columns = {k: [v[i] for i in chosen if v[i] is not None] for k, v in m["clips"].items()}
    return {k: v for k, v in columns.items() if v}


def group_summary(results: list[dict], threshold: float | None = None) -> list[dict]:
    """Per group of cases, split of their clips and variant: the unweighted mean over the group's
    cases of each case's mean over the split's clips (only metrics every case in it reports), and the
    intervals of INTERVAL_METRICS, each case's clips resampled on their own (none where every case
    has a single clip)."""
    rows = []
    for label, member in GROUPS:
        cases = [r for r in results if member(r["frames"])]
        variants = list(dict.fromkeys(v for r in cases for v in r["variants"]))
        for split, keep in clip_splits(threshold):
            for v in variants:
                have = [c for c in (case_clips(r, v, keep) for r in cases if v in r["variants"]) if c]
                if not have:
                    continue
                keys = [k for k in have[0] if all(k in c for c in have)]
                row = {"group": label, "split": split, "variant": v, "cases": len(have),
                       "clip_count": sum(len(c[keys[0]]) for c in have) if keys else 0,
                       **{k: mean(mean(c[k]) for c in have) for k in keys}}
                if row["clip_count"] > row["cases"]:
                    row.update({f"{k}_ci": stratified_interval([c[k] for c in have])
                                for k in INTERVAL_METRICS if k in keys})
                rows.append(row)
    return rows


def paired_summary(results: list[dict], threshold: float | None = None, reference: str = "icc"
                   ) -> list[dict]:
    """Per group and split of clips, `reference` minus each other variant on the same clips: the
    group's mean difference of PAIRED_METRICS and its interval (clip pairs resampled within cases)."""
    rows = []
    for label, member in GROUPS:
        cases = [r for r in results if member(r["frames"]) and reference in r["variants"]]
        others = list(dict.fromkeys(v for r in cases for v in r["variants"] if v != reference))
        for split, keep in clip_splits(threshold):
            for other in others:
                pairs = [(case_clips(r, reference, keep), case_clips(r, other, keep))
                         for r in cases if other in r["variants"]]
                pairs = [(a, b) for a, b in pairs if a]
                if not pairs:
                    continue
                row = {"group": label, "split": split, "variant": f"{reference} - {other}",
                       "cases": len(pairs)}
                for k in PAIRED_METRICS:
                    if all(k in a and k in b for a, b in pairs):
                        diffs = [paired_differences(a[k], b[k]) for a, b in pairs]
                        row[k] = mean(mean(d) for d in diffs)
                        if sum(map(len, diffs)) > len(diffs):
                            row[f"{k}_ci"] = stratified_interval(diffs)
                rows.append(row)
    return rows


def paired_by_case(results: list[dict], reference: str = "icc") -> list[dict]:
    """Per case, `reference` minus each other variant on the same clips: the mean difference of
    PAIRED_METRICS and its interval (the clip pairs resampled)."""
    rows = []
    for r in results:
        if reference not in r["variants"]:
            continue
        a = case_clips(r, reference)
        for other in (v for v in r["variants"] if v != reference):
            b = case_clips(r, other)
            row = {"case": r["case"], "variant": f"{reference} - {other}", "n": 0}
            for k in PAIRED_METRICS:
                if k in a and k in b:
                    diffs = paired_differences(a[k], b[k])
                    row[k], row["n"] = mean(diffs), len(diffs)
                    if len(diffs) > 1:
                        row[f"{k}_ci"] = paired_interval(a[k], b[k])
            rows.append(row)
    return rows


def vae_gap_summary(results: list[dict]) -> list[dict]:
    """Per conditioned frame of the single-condition cases and variant: mean cond PSNR, the VAE's
    own reconstruction's, and the gap (cond - VAE, paired per clip) with its interval."""
    by_frame: dict[int, list[dict]] = {}
    for r in results:
        if len(r["frames"]) == 1:
            by_frame.setdefault(r["frames"][0], []).append(r)
    rows = []
    for frame, cases in sorted(by_frame.items()):
        for v in dict.fromkeys(v for r in cases for v in r["variants"]):
            have = [c for c in (case_clips(r, v) for r in cases if v in r["variants"])
                    if "cond_psnr" in c and "vae_cond_psnr" in c]
            if not have:
                continue
            gaps = [paired_differences(c["cond_psnr"], c["vae_cond_psnr"]) for c in have]
            row = {"frame": frame, "variant": v, "cases": len(have),
                   "cond_psnr": mean(mean(c["cond_psnr"]) for c in have),
                   "vae_cond_psnr": mean(mean(c["vae_cond_psnr"]) for c in have),
                   "gap": mean(mean(g) for g in gaps)}
            if sum(map(len, gaps)) > len(gaps):
                row["gap_ci"] = stratified_interval(gaps)
            rows.append(row)
    return rows
