"""Cost of one denoising step of the VideoCanvas-patched Wan model, against the unpatched model.

    python -m benchmarks.step_cost [--quick] [--out DIR] [--threads N|auto]
    python -m benchmarks.step_cost --render benchmarks/results/step_cost.json   (report text only)

Full run: a tiny random Wan (dim 128, 2 layers) and a mid-size random Wan (dim 1536, ffn 8960,
12 heads of 128 like Wan 2.1 1.3B, but only 2 layers), written to safetensors and loaded with
ComfyUI's own `comfy.sd.load_diffusion_model`; results go to benchmarks/results/step_cost.{md,json}.
--quick: the tiny model only, a smaller grid, few rounds (well under 2 minutes); results go to
bench_out/step_cost/ unless --out is given, so a quick run never overwrites the full results.

What is timed (CPU, float32, torch.inference_mode): one model forward as ComfyUI's sampler issues
it. Every run is a real `comfy.sample.sample(steps=1, cfg=1.0, euler, simple)` (cfg 1 = one
forward, no uncond), and an APPLY_MODEL wrapper (the outermost model wrapper ComfyUI has) records
the wall time of `BaseModel.apply_model` -> `_apply_model` -> DIFFUSION_MODEL wrappers (the
VideoCanvas one on the patched model) -> `WanModel` forward -> denoised output. The wall time of
the whole 1-step `sample()` call (sampling setup, conditioning, memory estimate, the forward, the
Euler update) is recorded too, as a secondary figure.

Variants, run in rounds of back-to-back blocks (order shuffled per round, seeded) so machine noise
hits them alike; ratios are taken within a round or within a block, then medians:
- unpatched, F latent frames (the reference);
- patched with K = 0, 1, 4, 16 VideoCanvas conditions (each condition = one appended latent frame,
  K=16 at distinct pixel frames spread over the clip);
- unpatched with F+K latent frames (same token count as patched K, no VideoCanvas code): the
  measured token-count ideal for this backbone, attention kernel and machine. Each patched K runs
  in a block with its same-token partner (K=0 with the unpatched F forward, several blocks a round).

The ideal is also given as a cost model: with r = (F+K)/F the token ratio, linear layers scale
with r and self-attention with r^2, so ideal = (1-a)*r + a*r^2, where a is the share of the K=0
forward spent inside the self-attention kernel (QK^T, softmax, AV; measured in separate, untimed
calibration runs through ComfyUI's `optimized_attention_override` hook; for the tiny model the
share at F+16 frames is reported beside it). Everything else
(projections, FFN, norms, modulation, cross-attention, text embedding, head) counts as linear, so
the constant parts (the 512-token text embedding) make this model slightly pessimistic for small r.

A micro-benchmark times the K=0 code path on its own: ComfyUI's DIFFUSION_MODEL wrapper dispatch
with the VideoCanvas wrapper installed vs none, around a no-op forward.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from hostkit.inprocess import add_comfy_to_path, load_comfy_with_pack  # noqa: E402
from hostkit.tiny_models import TinyWan, save  # noqa: E402

KS = (0, 1, 4, 16)
TEXT_TOKENS = 512  # ComfyUI's umt5 tokenizer for Wan pads prompts to at least 512 tokens
STRIDE = 4  # Wan VAE temporal stride
TIMER_KEY = "step_cost_timer"
TARGET_K0 = 0.01
TARGET_K = 0.05


class VideoShape:
    """Latent size, tokens and pixel frames of a setup's video (Wan 2.1: 8x spatial VAE stride,
    2x2 patches, temporal stride 4)."""

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // 8, self.width // 8

    @property
    def tokens_per_frame(self) -> int:
        return (self.height // 16) * (self.width // 16)

    @property
    def pixel_frames(self) -> int:
        return STRIDE * (self.frames - 1) + 1


@dataclass(frozen=True)
class Setup(VideoShape):
    name: str
    wan: TinyWan
    frames: int  # latent frames F of the video being denoised
    height: int  # pixels
    width: int
    rounds: int
    k0_pairs: int = 4  # (unpatched F, patched K=0) blocks per round
    k_pairs: int = 1  # (unpatched F+K, patched K) blocks per round, for each K > 0
    calibration_reps: int = 3
    calibrate_long: bool = True  # also measure the attention share at F+16 frames (one forward)


def setups(quick: bool) -> list[Setup]:
    tiny = TinyWan(dim=128, ffn_dim=256, num_layers=2)
    if quick:
        return [Setup("tiny (dim 128, 2 layers)", tiny, frames=5, height=128, width=224, rounds=3,
                      k0_pairs=3)]
    mid = TinyWan(dim=1536, ffn_dim=8960, num_layers=2)
    return [Setup("tiny (dim 128, 2 layers)", tiny, frames=5, height=240, width=416, rounds=7,
                  k0_pairs=6, k_pairs=3),
            Setup("mid (dim 1536, ffn 8960, 12 heads, 2 layers)", mid, frames=5, height=240,
                  width=416, rounds=3, k0_pairs=3, calibration_reps=2,
                  calibrate_long=False)]


class ForwardTimer:
    """APPLY_MODEL wrapper: wall time of every model forward the sampler makes."""

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, executor, *args, **kwargs):
        start = time.perf_counter()
        out = executor(*args, **kwargs)
        self.times.append(time.perf_counter() - start)
        return out


class AttentionTimer:
    """optimized_attention_override: time spent in the self-attention kernel (keys = video tokens)."""

    def __init__(self):
        self.self_attention = 0.0
        self.cross_attention = 0.0

    def __call__(self, func, *args, **kwargs):
        start = time.perf_counter()
        out = func(*args, **kwargs)
        spent = time.perf_counter() - start
        if args[1].shape[1] == TEXT_TOKENS:
            self.cross_attention += spent
        else:
            self.self_attention += spent
        return out


def condition_frames(k: int, pixel_frames: int) -> list[int]:
    """K distinct pixel frames spread over the clip (dense conditioning when K ~ the clip length)."""
    if k == 0:
        return []
    if k > pixel_frames:
        raise ValueError(f"{k} conditions need at least {k} pixel frames; the clip has {pixel_frames}")
    if k == 1:
        return [pixel_frames // 2]
    return sorted({round(i * (pixel_frames - 1) / (k - 1)) for i in range(k)})


class Bench:
    def __init__(self, setup: Setup, vcn, model):
        import comfy.patcher_extension as pe

        self.setup, self.vcn = setup, vcn
        self.timer = ForwardTimer()
        self.plain = model.clone()
        self.plain.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, TIMER_KEY, self.timer)
        self.patched = vcn.model_patch.patch_model(model, policy="interpolate")
        self.patched.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, TIMER_KEY, self.timer)
        g = torch.Generator().manual_seed(0)
        self.context = torch.randn(1, TEXT_TOKENS, 4096, generator=g)
        self.negative = torch.randn(1, TEXT_TOKENS, 4096, generator=g)
        h, w = setup.latent_hw
        self.cond_latents = torch.randn(1, 16, max(KS), h, w, generator=g)
        self.noise = {f: torch.randn(1, 16, f, h, w, generator=g)
                      for f in {setup.frames + k for k in KS}}

    def variants(self) -> list[tuple[str, str, int, int]]:
        """(name, model, latent frames, conditions)."""
        f = self.setup.frames
        out = [("unpatched F", "plain", f, 0)]
        out += [(f"patched K={k}", "patched", f, k) for k in KS]
        out += [(f"unpatched F+{k}", "plain", f + k, 0) for k in KS if k]
        return out

    def round_plan(self, r: int) -> list[list[tuple[str, str, int, int]]]:
        """Blocks of two forwards run back to back: (unpatched F, patched K=0) k0_pairs times and
        (unpatched F+K, patched K) k_pairs times for each K > 0; block order and the order inside
        each block shuffled."""
        v = {name: (name, kind, frames, k) for name, kind, frames, k in self.variants()}
        blocks = [[v["unpatched F"], v["patched K=0"]] for _ in range(self.setup.k0_pairs)]
        blocks += [[v[f"unpatched F+{k}"], v[f"patched K={k}"]] for k in KS if k
                   for _ in range(self.setup.k_pairs)]
        rng = random.Random(1000 + r)
        rng.shuffle(blocks)
        for block in blocks:
            rng.shuffle(block)
        return blocks

    def step(self, model_kind: str, frames: int, k: int) -> tuple[float, float]:
        """One 1-step sampling run; returns (forward seconds, whole sample() call seconds)."""
        import comfy.sample

        model = self.plain if model_kind == "plain" else self.patched
        positive, negative = [[self.context, {}]], [[self.negative, {}]]
        if k:
            frames_px = condition_frames(k, self.setup.pixel_frames)
            latents = self.cond_latents[:, :, :k]
            positive = self.vcn.conditions.attach_conditions(positive, latents, frames_px, [1.0] * k, STRIDE)
            negative = self.vcn.conditions.attach_conditions(negative, latents, frames_px, [1.0] * k, STRIDE)
        noise = self.noise[frames]
        gc.collect()
        before = len(self.timer.times)
        start = time.perf_counter()
        with torch.inference_mode():
            comfy.sample.sample(model, noise, 1, 1.0, "euler", "simple", positive, negative,
                                torch.zeros_like(noise), seed=0, disable_pbar=True)
        call = time.perf_counter() - start
        forwards = self.timer.times[before:]
        if len(forwards) != 1:
            raise RuntimeError(f"expected one model forward per 1-step cfg-1 run, saw {len(forwards)}")
        return forwards[0], call

    def run_rounds(self, log) -> dict:
        """Warm-up (each patched variant and the reference once), then the timed rounds.
        Returns per round: every forward's and call's seconds by variant, and the pair ratios."""
        for _name, kind, frames, k in self.variants()[:1 + len(KS)]:
            self.step(kind, frames, k)
        rounds = []
        for r in range(self.setup.rounds):
            t0 = time.perf_counter()
            forward: dict[str, list[float]] = {}
            call: dict[str, list[float]] = {}
            pairs: dict[str, list[float]] = {}  # patched K / its block partner, by "K=k"
            for block in self.round_plan(r):
                got = {}
                for name, kind, frames, k in block:
                    fwd, c = self.step(kind, frames, k)
                    forward.setdefault(name, []).append(fwd)
                    call.setdefault(name, []).append(c)
                    got[kind] = (fwd, k)
                pairs.setdefault(f"K={got['patched'][1]}", []).append(got["patched"][0] / got["plain"][0])
            rounds.append({"forward": forward, "call": call, "pairs": pairs,
                           "seconds": time.perf_counter() - t0, "load_avg_1min": os.getloadavg()[0]})
            log(f"  round {r + 1}/{self.setup.rounds}: {time.perf_counter() - t0:.1f} s, "
                f"load avg {os.getloadavg()[0]:.2f}")
        return {"rounds": rounds}

    def attention_share(self) -> dict:
        """Share of the unpatched forward spent in the self-attention kernel, at F latent frames
        (calibration_reps runs; the cost model's `a`) and at F+16 (one run, for comparison);
        untimed runs with ComfyUI's optimized_attention_override hook."""
        attn = AttentionTimer()
        options = self.plain.model_options["transformer_options"]
        options["optimized_attention_override"] = attn
        out = {}
        try:
            plan = [(self.setup.frames, self.setup.calibration_reps)]
            if self.setup.calibrate_long:
                plan.append((self.setup.frames + max(KS), 1))
            for frames, reps in plan:
                shares, cross = [], []
                for _ in range(reps):
                    attn.self_attention = attn.cross_attention = 0.0
                    fwd, _ = self.step("plain", frames, 0)
                    shares.append(attn.self_attention / fwd)
                    cross.append(attn.cross_attention / fwd)
                out[frames] = {"self_attention_share": statistics.median(shares), "samples": shares,
                               "cross_attention_kernel_share": statistics.median(cross)}
        finally:
            del options["optimized_attention_override"]
        return {"self_attention_share": out[self.setup.frames]["self_attention_share"],
                "by_latent_frames": out}


def passthrough_cost(vcn, patched, iters: int = 20000, blocks: int = 7) -> dict:
    """Per-forward cost of the K=0 path: ComfyUI's DIFFUSION_MODEL wrapper dispatch (as in
    WanModel.forward) with the VideoCanvas wrapper installed vs with none, around a no-op."""
    import comfy.patcher_extension as pe

    def noop(x, timestep, context, clip_fea=None, time_dim_concat=None, transformer_options={},
             **kwargs):
        return x

    x, t, ctx = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    options = {"none": {"wrappers": {}},
               "videocanvas": {"wrappers": {pe.WrappersMP.DIFFUSION_MODEL: {
                   vcn.patch_state.WRAPPER_KEY: list(patched.get_wrappers(pe.WrappersMP.DIFFUSION_MODEL,
                                                             vcn.patch_state.WRAPPER_KEY))}}}}
    per_call = {name: [] for name in options}
    for _ in range(blocks):
        for name, to in options.items():
            start = time.perf_counter()
            for _ in range(iters):
                pe.WrapperExecutor.new_class_executor(
                    noop, None, pe.get_all_wrappers(pe.WrappersMP.DIFFUSION_MODEL, to)
                ).execute(x, t, ctx, None, None, to)
            per_call[name].append((time.perf_counter() - start) / iters)
    med = {name: statistics.median(v) for name, v in per_call.items()}
    return {"per_forward_s": med, "extra_s": med["videocanvas"] - med["none"]}


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summarise(setup: Setup, raw: dict, calib: dict) -> list[dict]:
    f = setup.frames
    a = calib["self_attention_share"]
    rounds = raw["rounds"]

    def to_reference(name: str, what: str = "forward") -> float:
        """Median over rounds of (this variant's median / unpatched F's median) in the round."""
        return statistics.median(statistics.median(rd[what][name])
                                 / statistics.median(rd[what]["unpatched F"]) for rd in rounds)

    def median_s(name: str) -> float:
        return statistics.median(t for rd in rounds for t in rd["forward"][name])

    rows = [{"variant": "unpatched F", "K": None, "tokens": f * setup.tokens_per_frame,
             "token_ratio": 1.0, "ideal_model": 1.0, "equal_token": 1.0, "measured": 1.0,
             "vs_equal_token": None, "pair_iqr": None, "pairs": 0, "vs_model": None,
             "forward_s": median_s("unpatched F"), "call_ratio": 1.0}]
    for k in KS:
        name = f"patched K={k}"
        r = (f + k) / f
        pairs = [p for rd in rounds for p in rd["pairs"][f"K={k}"]]
        measured = to_reference(name)
        ideal = (1 - a) * r + a * r * r
        rows.append({"variant": name, "K": k, "tokens": (f + k) * setup.tokens_per_frame,
                     "token_ratio": r, "ideal_model": ideal,
                     "equal_token": to_reference(f"unpatched F+{k}") if k else 1.0,
                     "measured": measured, "vs_equal_token": statistics.median(pairs) - 1,
                     "pair_iqr": [q - 1 for q in quartiles(pairs)], "pairs": len(pairs),
                     "vs_model": measured / ideal - 1, "forward_s": median_s(name),
                     "call_ratio": to_reference(name, "call")})
    return rows


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:+.1f} %"


def table(rows: list[dict]) -> str:
    head = ("| variant | tokens | r = (F+K)/F | r² | ideal: cost model | ideal: unpatched, same tokens | "
            "measured ratio | vs same-token ideal: median (IQR), pairs | vs cost model | forward median | "
            "1-step sample() ratio |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        versus = ""
        if row["vs_equal_token"] is not None:
            lo, hi = row["pair_iqr"]
            versus = f"{pct(row['vs_equal_token'])} ({pct(lo)} to {pct(hi)}), {row['pairs']}"
        lines.append(
            f"| {row['variant']} | {row['tokens']} | {row['token_ratio']:.2f} | "
            f"{row['token_ratio'] ** 2:.2f} | {row['ideal_model']:.3f} | {row['equal_token']:.3f} | "
            f"{row['measured']:.3f} | {versus} | "
            f"{pct(row['vs_model'])} | {row['forward_s']:.3f} s | {row['call_ratio']:.3f} |")
    return "\n".join(lines)


MIN_BLOCKS = 8  # fewer blocks than this: no verdict, only the numbers


def judge(median: float, iqr: list[float], low: float, high: float, blocks: int) -> str:
    """Whether [low, high] holds the median, and whether the noise (IQR over blocks) resolves it."""
    inside = low <= median <= high
    if blocks < MIN_BLOCKS:
        return f"too few blocks ({blocks} < {MIN_BLOCKS}) to judge"
    resolved = low <= iqr[0] and iqr[1] <= high if inside else iqr[1] < low or iqr[0] > high
    if inside:
        return "met" if resolved else "median meets it, but the noise (IQR) is wider than the target"
    return "not met" if resolved else "median misses it, but the noise (IQR) is wider than the target"


def verdict(rows: list[dict]) -> str:
    k0 = next(r for r in rows if r["K"] == 0)
    lo, hi = k0["pair_iqr"]
    out = [f"- K=0 overhead (forward, median of {k0['pairs']} back-to-back pairs): "
           f"{pct(k0['vs_equal_token'])}, interquartile range {pct(lo)} to {pct(hi)} (target <= +1 %: "
           f"{judge(k0['vs_equal_token'], k0['pair_iqr'], -1.0, TARGET_K0, k0['pairs'])})"]
    for r in rows:
        if r["K"]:
            lo, hi = r["pair_iqr"]
            out.append(f"- K={r['K']}: {pct(r['vs_equal_token'])} vs the same-token unpatched forward, "
                       f"IQR {pct(lo)} to {pct(hi)} over {r['pairs']} blocks (target within 5 %: "
                       f"{judge(r['vs_equal_token'], r['pair_iqr'], -TARGET_K, TARGET_K, r['pairs'])}); "
                       f"{pct(r['vs_model'])} vs the cost model")
    return "\n".join(out)


def pick_threads(reps: int = 7) -> tuple[int, dict[int, float]]:
    """The thread count (1..CPUs) that runs a small DiT-like probe (matmuls + elementwise ops)
    fastest now; interleaved, median of reps."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(1024, 1536, generator=g), torch.randn(1536, 1536, generator=g) / 40

    def probe():
        y = x
        for _ in range(4):
            y = torch.nn.functional.gelu(y @ w) * 0.5 + y
            y = y / (y.pow(2).mean(-1, keepdim=True) + 1e-6).sqrt()
        return y

    counts = list(range(1, (os.cpu_count() or 1) + 1))
    times: dict[int, list[float]] = {n: [] for n in counts}
    with torch.inference_mode():
        for _ in range(reps):
            for n in counts:
                torch.set_num_threads(n)
                probe()
                start = time.perf_counter()
                probe()
                times[n].append(time.perf_counter() - start)
    med = {n: round(statistics.median(v), 4) for n, v in times.items()}
    return min(med, key=med.get), med


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


# --- Condition modes (issue 16): full | sparse condition tokens x two-way | cached attention ------

MODES = {"full": ("full", "two-way"), "sparse": ("sparse", "two-way"),
         "cached": ("full", "cached"), "cached+sparse": ("sparse", "cached")}
MODE_KS = (1, 4, 16, "dense")
MODE_STEPS_AMORTISED = 30  # the per-step mean is also given over a run of this many steps


@dataclass(frozen=True)
class ModeSetup(VideoShape):
    """One model and video for the condition-mode study. Every condition is a patch in a centred box
    of `patch_fraction` of the canvas' width and height (an outpainting-like layout: sparse keeps
    the tokens under the box); 'dense' = a condition at every pixel frame."""

    name: str
    wan: TinyWan
    frames: int
    height: int
    width: int
    rounds: int
    steps: int = 3  # forwards per sampling run: the first computes the cached keys/values
    ks: tuple = MODE_KS
    patch_fraction: float = 0.5
    reference_reps: int = 2  # unconditioned runs per round
    dtype: str = "float32"
    warm_all: bool = True  # warm-up run of every variant (False: of the reference only)

    def count(self, k) -> int:
        return self.pixel_frames if k == "dense" else int(k)


def mode_setups(quick: bool) -> list[ModeSetup]:
    tiny = TinyWan(dim=128, ffn_dim=256, num_layers=2)
    if quick:
        return [ModeSetup("tiny (dim 128, 2 layers)", tiny, frames=3, height=64, width=96, rounds=1,
                          steps=2, ks=(1, "dense"), reference_reps=1)]
    mid = TinyWan(dim=1536, ffn_dim=8960, num_layers=2)
    return [ModeSetup("tiny (dim 128, 2 layers)", tiny, frames=5, height=240, width=416, rounds=3),
            ModeSetup("mid (dim 1536, ffn 8960, 12 heads, 2 layers)", mid, frames=5, height=128,
                      width=224, rounds=2, steps=2, reference_reps=1)]


def real_size_setup(smoke: bool) -> ModeSetup:
    """Wan 2.1 1.3B's shape (dim 1536, ffn 8960, 12 heads, 30 layers) with random weights, 832x480,
    81 frames, a condition at every frame; --smoke: the same code on a tiny model and video."""
    if smoke:
        return ModeSetup("real-size smoke (dim 128, 2 layers, 96x64, 9 frames)",
                         TinyWan(dim=128, ffn_dim=256, num_layers=2), frames=3, height=64, width=96,
                         rounds=1, steps=2, ks=("dense",), reference_reps=1, warm_all=False)
    return ModeSetup("real size: Wan 1.3B shape (dim 1536, ffn 8960, 12 heads, 30 layers), random "
                     "weights, 832x480, 81 frames", TinyWan(dim=1536, ffn_dim=8960, num_layers=30),
                     frames=21, height=480, width=832, rounds=1, steps=3, ks=("dense",),
                     reference_reps=2, dtype="bfloat16", warm_all=False)


class SyncTimer(ForwardTimer):
    """ForwardTimer that waits for the GPU before and after (kernels run asynchronously)."""

    def __call__(self, executor, *args, **kwargs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = executor(*args, **kwargs)
        torch.cuda.synchronize()
        self.times.append(time.perf_counter() - start)
        return out


class ProcessTimer(ForwardTimer):
    """ForwardTimer in this process's CPU seconds (time.process_time): with one torch thread that is
    the forward's own compute, which other processes on a shared machine do not inflate (wall time
    here varied 4x with the load of other jobs)."""

    def __call__(self, executor, *args, **kwargs):
        start = time.process_time()
        out = executor(*args, **kwargs)
        self.times.append(time.process_time() - start)
        return out


def centred_box_masks(k: int, height: int, width: int, fraction: float) -> torch.Tensor:
    masks = torch.zeros(k, height, width)
    bh, bw = round(height * fraction), round(width * fraction)
    top, left = (height - bh) // 2, (width - bw) // 2
    masks[:, top:top + bh, left:left + bw] = 1.0
    return masks


class ModeBench:
    def __init__(self, setup: ModeSetup, vcn, model, cuda: bool):
        import comfy.patcher_extension as pe

        self.setup, self.vcn = setup, vcn
        self.timer = SyncTimer() if cuda else ProcessTimer()
        self.models = {"unconditioned": model.clone()}
        for name, (tokens, attention) in MODES.items():
            self.models[name] = vcn.model_patch.patch_model(model, condition_tokens=tokens,
                                               condition_attention=attention)
        for m in self.models.values():
            m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, TIMER_KEY, self.timer)
        g = torch.Generator().manual_seed(0)
        self.context = torch.randn(1, TEXT_TOKENS, 4096, generator=g)
        h, w = setup.latent_hw
        most = max(setup.count(k) for k in setup.ks)
        self.cond_latents = torch.randn(1, 16, most, h, w, generator=g)
        self.noise = torch.randn(1, 16, setup.frames, h, w, generator=g)
        self.masks = centred_box_masks(most, setup.height, setup.width, setup.patch_fraction)

    def kept_tokens(self, k: int) -> int:
        from vc_core.condition_tokens import Footprint, token_keep

        fp = Footprint.from_masks(self.masks[:k], self.setup.latent_hw)
        return int(token_keep(fp.tensor(), (2, 2)).sum())

    def run(self, mode: str, k) -> list[float]:
        """One sampling run of setup.steps steps at cfg 1; the seconds of each model forward."""
        import comfy.sample

        n = self.setup.count(k) if mode != "unconditioned" else 0
        positive = [[self.context, {}]]
        if n:
            frames = (list(range(n)) if k == "dense" else condition_frames(n, self.setup.pixel_frames))
            positive = self.vcn.conditions.attach_conditions(positive, self.cond_latents[:, :, :n], frames,
                                                 [1.0] * n, STRIDE, masks=self.masks[:n])
        gc.collect()
        before = len(self.timer.times)
        with torch.inference_mode():
            comfy.sample.sample(self.models[mode], self.noise, self.setup.steps, 1.0, "euler",
                                "simple", positive, positive, torch.zeros_like(self.noise), seed=0,
                                disable_pbar=True)
        forwards = self.timer.times[before:]
        if len(forwards) != self.setup.steps:
            raise RuntimeError(f"expected {self.setup.steps} forwards, saw {len(forwards)}")
        return forwards

    def run_rounds(self, log) -> list[dict]:
        """A warm-up of every variant, then rounds: each variant once (the unconditioned reference
        reference_reps times), in an order shuffled per round (seeded)."""
        variants = [(m, k) for m in MODES for k in self.setup.ks]
        for mode, k in [("unconditioned", 0)] + (variants if self.setup.warm_all else []):
            self.run(mode, k)
        rounds = []
        for r in range(self.setup.rounds):
            t0 = time.perf_counter()
            order = [("unconditioned", 0)] * self.setup.reference_reps + variants
            random.Random(2000 + r).shuffle(order)
            got: dict[str, list[list[float]]] = {}
            for mode, k in order:
                got.setdefault(f"{mode} K={k}" if mode != "unconditioned" else mode, []).append(
                    self.run(mode, k))
            rounds.append({"runs": got, "seconds": time.perf_counter() - t0,
                           "load_avg_1min": os.getloadavg()[0]})
            log(f"  round {r + 1}/{self.setup.rounds}: {time.perf_counter() - t0:.1f} s")
        return rounds


def summarise_modes(setup: ModeSetup, bench: ModeBench, rounds: list[dict]) -> list[dict]:
    """Per variant: first-step and later-step forward over the unconditioned forward (per round,
    medians; then the median over rounds) and the mean step over a MODE_STEPS_AMORTISED-step run."""

    def ref(rd) -> float:
        return statistics.median(t for run in rd["runs"]["unconditioned"] for t in run)

    rows = [{"mode": "unconditioned", "K": 0, "conditions": 0, "condition_tokens": 0,
             "first": 1.0, "later": 1.0, "amortised": 1.0,
             "first_s": statistics.median(ref(rd) for rd in rounds),
             "later_s": statistics.median(ref(rd) for rd in rounds)}]
    n_steps = MODE_STEPS_AMORTISED
    for mode, (tokens, _attention) in MODES.items():
        for k in setup.ks:
            name = f"{mode} K={k}"
            n = setup.count(k)
            first = statistics.median(statistics.median(run[0] for run in rd["runs"][name]) / ref(rd)
                                      for rd in rounds)
            later = statistics.median(statistics.median(t for run in rd["runs"][name] for t in run[1:])
                                      / ref(rd) for rd in rounds)
            rows.append({"mode": mode, "K": k, "conditions": n,
                         "condition_tokens": (bench.kept_tokens(n) if tokens == "sparse"
                                              else n * setup.tokens_per_frame),
                         "first": first, "later": later,
                         "amortised": (first + (n_steps - 1) * later) / n_steps,
                         "first_s": statistics.median(run[0] for rd in rounds for run in rd["runs"][name]),
                         "later_s": statistics.median(t for rd in rounds for run in rd["runs"][name]
                                                      for t in run[1:])})
    return rows


def modes_report(info: dict, results: list[dict]) -> str:
    m = info["machine"]
    lines = [
        "# Step cost of the condition modes (issue 16)", "",
        f"Command: `{info['command']}` (from the repository root, with the host venv's python)", "",
        f"- Machine: {info['device']}; {m['cpu']}, {m['cpu_count']} CPUs; torch {m['torch']} "
        f"({m['threads']} CPU threads); ComfyUI {info['comfyui']}, attention kernel "
        f"`{info['attention']}`",
        f"- Date: {info['date']}; wall time {info['total_seconds']:.0f} s; 1-min load average "
        f"{info['load_avg_before'][0]:.2f} before, {info['load_avg_after'][0]:.2f} after",
        "- Timed: every model forward of a real `comfy.sample.sample(steps=S, cfg=1.0, euler)` run "
        "(APPLY_MODEL wrapper), batch 1, 512 text tokens; on the CPU in this process's CPU seconds "
        "(one torch thread: the forward's own compute, not inflated by other jobs on a shared "
        "machine), on CUDA in wall seconds, synchronised before and after. "
        "Variants: the unpatched model with no conditions (the reference) and the patched model "
        "with K conditions in each mode: `full` (the paper: every condition token, two-way "
        "attention), `sparse` (only the condition tokens under the patch), `cached` (condition "
        "tokens attend only to condition tokens; their keys/values are computed in the run's first "
        "forward and reused), `cached+sparse`. Each condition is a patch in a centred box of half the "
        "canvas' width and height; `dense` = a condition at every pixel frame. Each round runs "
        "every variant once (the reference as often as the section says) in a shuffled order; "
        "ratios are to the reference's median forward in the same round, then the median over "
        "rounds. *first step*: the run's first forward (for cached: with the condition pass); "
        "*later steps*: the others; *mean step over 30 steps*: (first + 29 x later) / 30.",
        "- Goal (issue 16): dense conditioning at <= 1.5x the unconditioned step.",
        "- Cost model for cached (later steps): video tokens only, attending to Lv + Lc keys: "
        "1 + a x Lc / Lv, a = the self-attention share of the unconditioned step; the first step "
        "adds the condition pass (Lc tokens, Lc x Lc attention).",
    ]
    for res in results:
        s = res["setup"]
        lines += ["", f"## {s['name']}", "",
                  f"Video latent [1, 16, {s['frames']}, {s['height'] // 8}, {s['width'] // 8}] = "
                  f"{s['frames']} latent frames ({STRIDE * (s['frames'] - 1) + 1} pixel frames) at "
                  f"{s['height']}x{s['width']} px, {(s['height'] // 16) * (s['width'] // 16)} tokens "
                  f"per latent frame; {res['dtype']}; {s['rounds']} round(s) of {s['steps']}-step runs, "
                  f"{s['reference_reps']} reference run(s) per round; {res['seconds']:.0f} s.", "",
                  modes_table_from(res), ""]
    return "\n".join(lines) + "\n"


def modes_table_from(res: dict) -> str:
    s = res["setup"]
    video = s["frames"] * (s["height"] // 16) * (s["width"] // 16)
    head = ("| variant | conditions | condition tokens | first step | later steps | "
            f"mean step over {MODE_STEPS_AMORTISED} steps | first step (s) | later step (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in res["rows"]:
        label = r["mode"] if r["mode"] == "unconditioned" else f"{r['mode']}, K={r['K']}"
        lines.append(f"| {label} | {r['conditions']} | {r['condition_tokens']} (+{video} video) | "
                     f"{r['first']:.2f}x | {r['later']:.2f}x | {r['amortised']:.2f}x | "
                     f"{r['first_s']:.3f} | {r['later_s']:.3f} |")
    return "\n".join(lines)


def run_modes(args, log) -> int:
    """The condition-mode study (--modes) or its real-size row (--real-size)."""
    started, load_before = time.perf_counter(), os.getloadavg()
    cuda = args.device == "cuda"
    if cuda:
        os.environ["VIDEOCANVAS_DEVICE"] = "cuda"  # read by hostkit.inprocess before ComfyUI loads
    add_comfy_to_path()
    torch.set_num_threads(int(args.threads) if args.threads != "auto" else (os.cpu_count() or 1))
    pack = load_comfy_with_pack()
    vcn = pack.vc_nodes
    import comfy.ldm.modules.attention as attention
    import comfy.model_management as mm
    import comfy.sd
    import comfyui_version

    setups_ = [real_size_setup(args.smoke)] if args.real_size else mode_setups(args.quick)
    results = []
    for setup in setups_:
        log(f"{setup.name}: building the model")
        dtype = getattr(torch, setup.dtype)
        sd = setup.wan.build(seed=0).state_dict()
        model = comfy.sd.load_diffusion_model_state_dict(sd, model_options={"dtype": dtype})
        del sd
        bench = ModeBench(setup, vcn, model, cuda)
        t0 = time.perf_counter()
        rounds = bench.run_rounds(log)
        rows = summarise_modes(setup, bench, rounds)
        res = {"setup": {**asdict(setup), "wan": asdict(setup.wan)},
               "dtype": str(model.model.get_dtype()), "rows": rows, "rounds": rounds,
               "seconds": time.perf_counter() - t0}
        log(modes_table_from(res))
        results.append(res)
        del bench, model
        mm.unload_all_models()
        gc.collect()
    device = (f"CUDA {torch.cuda.get_device_name()}" if cuda else "CPU")
    info = {"command": "python -m benchmarks.step_cost " + " ".join(args.argv),
            "device": device, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
            "comfyui": comfyui_version.__version__, "attention": attention.optimized_attention.__name__,
            "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
            "total_seconds": time.perf_counter() - started}
    stem = "condition_modes_real_size" if args.real_size else "condition_modes"
    out_dir = args.out or (ROOT / ("bench_out/step_cost" if args.quick or args.smoke
                                   else "benchmarks/results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    md = modes_report(info, results)
    (out_dir / f"{stem}.md").write_text(md)
    (out_dir / f"{stem}.json").write_text(json.dumps({"info": info, "results": results}, indent=1))
    print(md)
    log(f"wrote {out_dir / stem}.md and .json in {info['total_seconds']:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, small grid, few rounds")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: benchmarks/results; bench_out/step_cost "
                             "with --quick)")
    parser.add_argument("--threads", default="1",
                        help="torch threads (default 1), or 'auto': the count from 1 to the number of "
                             "CPUs that runs a short probe fastest at start-up. On a shared machine "
                             "more than one thread is unsafe: when another process takes a core, "
                             "every OpenMP op waits for the descheduled thread (measured here: the "
                             "tiny forward went from 0.03 s at 1 thread to 1.2 s at 2)")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="measure nothing: rewrite the markdown report from a step_cost.json")
    parser.add_argument("--modes", action="store_true",
                        help="the condition-mode study instead (full | sparse tokens x two-way | "
                             "cached attention; issue 16): condition_modes.{md,json}")
    parser.add_argument("--real-size", action="store_true",
                        help="the condition modes on Wan 1.3B's shape (random weights), 832x480, 81 "
                             "frames, dense, absolute times: condition_modes_real_size.{md,json}; "
                             "meant for --device cuda")
    parser.add_argument("--smoke", action="store_true",
                        help="with --real-size: the same code on a tiny model and video (CPU check)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="--modes / --real-size: where ComfyUI runs the model (default cpu)")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.modes or args.real_size:
        return run_modes(args, lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.render:
        saved = json.loads(args.render.read_text())
        saved["info"]["rendered"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        md = report(saved["info"], saved["results"])
        args.render.with_suffix(".md").write_text(md)
        print(md)
        return 0
    out_dir = args.out or (ROOT / ("bench_out/step_cost" if args.quick else "benchmarks/results"))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_before = os.getloadavg()
    add_comfy_to_path()
    if args.threads == "auto":
        threads, probe = pick_threads()
        log(f"threads: {threads} (probe median seconds by thread count: {probe})")
    else:
        threads, probe = int(args.threads), None
    torch.set_num_threads(threads)
    pack = load_comfy_with_pack()
    vcn = pack.vc_nodes
    import comfy.ldm.modules.attention as attention
    import comfy.model_management as mm
    import comfy.sd
    import comfyui_version

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for setup in setups(args.quick):
            log(f"{setup.name}: F={setup.frames} latent frames ({setup.pixel_frames} px frames) at "
                f"{setup.height}x{setup.width} px, {setup.tokens_per_frame} tokens/frame")
            path = save(setup.wan.build(seed=0), Path(tmp) / "wan.safetensors")
            model = comfy.sd.load_diffusion_model(str(path))
            bench = Bench(setup, vcn, model)
            t0 = time.perf_counter()
            raw = bench.run_rounds(log)
            calib = bench.attention_share()
            rows = summarise(setup, raw, calib)
            micro = passthrough_cost(vcn, bench.patched)
            log(table(rows))
            results.append({"setup": {**asdict(setup), "wan": asdict(setup.wan),
                                      "num_heads": setup.wan.dim // 128,
                                      "latent_shape": [1, 16, setup.frames, *setup.latent_hw],
                                      "tokens_per_frame": setup.tokens_per_frame,
                                      "pixel_frames": setup.pixel_frames,
                                      "condition_frames": {k: condition_frames(k, setup.pixel_frames)
                                                           for k in KS}},
                            "dtype": str(model.model.get_dtype()), "rows": rows, "raw": raw,
                            "calibration": calib, "passthrough": micro,
                            "seconds": time.perf_counter() - t0})
            del bench, model
            mm.unload_all_models()
            gc.collect()

    info = {"command": "python -m benchmarks.step_cost" + (" --quick" if args.quick else "")
            + (f" --threads {args.threads}" if args.threads != "1" else ""),
            "threads": threads, "threads_arg": args.threads, "thread_probe_s": probe,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
            "comfyui": comfyui_version.__version__, "attention": attention.optimized_attention.__name__,
            "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
            "total_seconds": time.perf_counter() - started}
    md = report(info, results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "step_cost.md").write_text(md)
    (out_dir / "step_cost.json").write_text(json.dumps({"info": info, "results": results}, indent=1))
    print(md)
    log(f"wrote {out_dir / 'step_cost.md'} and step_cost.json in {info['total_seconds']:.0f} s")
    return 0


def thread_note(info: dict) -> str:
    probe = info.get("thread_probe_s")
    if info.get("threads_arg") != "1" and not probe:
        return ", set by --threads"
    if not probe:
        return (", the default: with another process on a core, a second OpenMP thread stalls every "
                "op; see --help")
    return (", chosen by a probe: median s by thread count "
            + ", ".join(f"{n}: {t:.4f}" for n, t in probe.items()))


def report(info: dict, results: list[dict]) -> str:
    m = info["machine"]
    lines = [
        "# Step cost of the VideoCanvas patch (one denoising step)", "",
        f"Command: `{info['command']}` (from the repository root, with the host venv's python)", "",
        *(["**Quick mode: a smoke run (small grid, few pairs of ~30 ms forwards); its ratios are too "
           "noisy to judge the targets. Use the full run for that.**", ""]
          if "--quick" in info["command"] else []),
        *([f"(Report text re-rendered on {info['rendered']} from the measurements saved in "
           f"step_cost.json with `--render`; nothing was re-measured.)", ""]
          if info.get("rendered") else []),
        f"- Machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['platform']}; torch {m['torch']} "
        f"({m['threads']} threads{thread_note(info)}), Python {m['python']}; "
        f"ComfyUI {info['comfyui']} in CPU mode, "
        f"attention kernel `{info['attention']}` (ComfyUI's CPU default)",
        f"- Date: {info['date']}; wall time {info['total_seconds']:.0f} s; 1-min load average "
        f"{info['load_avg_before'][0]:.2f} before, {info['load_avg_after'][0]:.2f} after (the machine "
        f"is shared: a load above the core count means other work competed for the cores)",
        "- Timed: one model forward as ComfyUI's sampler makes it (`BaseModel.apply_model`, through an "
        "APPLY_MODEL wrapper, inside a real `comfy.sample.sample(steps=1, cfg=1.0)`, so no uncond "
        "pass); float32 weights, batch 1, 512 text tokens, `torch.inference_mode()`. After a warm-up "
        "(each patched variant and the reference once), every round runs blocks of two forwards "
        "back to back: (unpatched F, patched K=0) and (unpatched F+K, patched K) for each K > 0, "
        "each block repeated as the model's section says; blocks and the order inside each block "
        "are shuffled (seeded). *Measured ratio*: per round, the variant's median over the "
        "unpatched F median; median over rounds. *vs same-token ideal*: median over all blocks of "
        "patched / its block partner, minus 1, with the interquartile range over blocks (the "
        "noise) and the number of blocks.",
        "- Ideal, two ways. *Unpatched, same tokens*: the unpatched model denoising F+K latent "
        "frames, i.e. the same sequence length with no VideoCanvas code (measured here, same rounds). "
        "*Cost model*: r = (F+K)/F, ideal = (1-a)·r + a·r², a = share of the unpatched K=0 forward "
        "spent in the self-attention kernel (measured in untimed calibration runs). The targets "
        "(K=0 overhead <= 1 %; K>0 within 5 % of the token-count ideal) are judged against the "
        "same-token measurement; the cost-model deviation is shown beside it.",
        "- 1-step sample() ratio: the whole `comfy.sample.sample` call (setup, conds, memory "
        "estimate, forward, Euler update), same per-round median ratio.",
        "- Calibration (untimed): the self-attention kernel share of the unpatched forward at F "
        "latent frames gives the cost model's a; where shown, the share at F+16 frames judges the model "
        "(a kernel that gets slower per FLOP at longer sequences makes the model too optimistic).",
    ]
    for res in results:
        s = res["setup"]
        calib, micro = res["calibration"], res["passthrough"]
        k0 = next(r for r in res["rows"] if r["K"] == 0)
        extra = micro["extra_s"]
        loads = [rd["load_avg_1min"] for rd in res["raw"]["rounds"]]
        lines += [
            "", f"## {s['name']}", "",
            f"WanModel dim {s['wan']['dim']}, ffn {s['wan']['ffn_dim']}, {s['num_heads']} head(s) of "
            f"128, {s['wan']['num_layers']} layers ({res['dtype']}); video latent "
            f"{s['latent_shape']} = F={s['frames']} latent frames ({s['pixel_frames']} pixel frames) at "
            f"{s['height']}x{s['width']} px, {s['tokens_per_frame']} tokens per latent frame; each "
            f"condition appends one latent frame ({s['tokens_per_frame']} tokens). Condition pixel "
            f"frames: " + "; ".join(f"K={k}: {v}" for k, v in s["condition_frames"].items() if v)
            + f". {s['rounds']} timed rounds of {s['k0_pairs']} K=0 block(s) and {s['k_pairs']} "
            f"block(s) per K > 0; "
            f"{res['seconds']:.0f} s; 1-min load average after each round {min(loads):.2f} to "
            f"{max(loads):.2f} on {m['cpu_count']} cores.", "",
            table(res["rows"]), "",
            "- Kernel shares of the unpatched forward (calibration): " + "; ".join(
                f"{fr} latent frames: self-attention {c['self_attention_share']:.3f} (runs: "
                f"{', '.join(f'{x:.3f}' for x in c['samples'])}), cross-attention "
                f"{c['cross_attention_kernel_share']:.3f}" for fr, c in calib["by_latent_frames"].items())
            + f". Cost model a = {calib['self_attention_share']:.3f}.",
            f"- K=0 code path alone (wrapper dispatch with the VideoCanvas wrapper vs none, no-op "
            f"forward): {extra * 1e6:+.1f} µs per forward = {100 * extra / k0['forward_s']:+.5f} % of "
            f"this model's forward ({micro['per_forward_s']['none'] * 1e6:.1f} µs vs "
            f"{micro['per_forward_s']['videocanvas'] * 1e6:.1f} µs per dispatch).",
            verdict(res["rows"]),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
