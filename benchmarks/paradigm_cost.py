"""Step cost of the paradigms side by side on the same task: in-context conditioning on a Wan T2V
model, VACE control on a Wan VACE model and channel concatenation on a Wan image-to-video model.

    python -m benchmarks.paradigm_cost [--quick] [--rounds N] [--out DIR]

The three models share one random backbone size (the VACE model adds its control block, the
image-to-video model its 20 input channels), written in ComfyUI's format and loaded with its own
loader. Each variant is a real 1-step `comfy.sample.sample` (cfg 1: one forward) of conditions made
by the pack's nodes (Timestamp Conditioner, VideoCanvas Conditioning, the RoPE Interpolator's patch):
K = 1 (frame 16), 3 (frames 0, 16, 32) or dense (every one of the 33 frames) full-frame conditions.
Timed: the model forward (an APPLY_MODEL wrapper, as benchmarks.step_cost) and the whole run from the
conditioning node to the sampled latent (condition encoding included: per canvas for in-context, one
control or pixel video for VACE and channel concatenation). Variants run in rounds, shuffled per
round; a variant's forward is divided by its own model's forward without conditions measured in the
same round, and by the T2V model's; the medians over rounds are reported. CPU, float32, one thread.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchmarks.step_cost import ForwardTimer  # noqa: E402
from hostkit.inprocess import load_comfy_with_pack  # noqa: E402
from hostkit.tiny_models import TinyWan, build_wan21_vae, save  # noqa: E402

LENGTH = 33  # pixel frames: 9 latent frames
KS = {"1": "16", "3": "0,16,32", "dense": ",".join(str(f) for f in range(LENGTH))}
PARADIGM_MODELS = {"in_context": "t2v", "vace_control": "vace", "channel_concat": "i2v"}
TIMER_KEY = "paradigm_cost_timer"


def build_models(folder: Path, dim: int, ffn: int) -> dict[str, object]:
    import comfy.sd

    specs = {"t2v": TinyWan(dim=dim, ffn_dim=ffn), "vace": TinyWan(dim=dim, ffn_dim=ffn, vace_layers=1),
             "i2v": TinyWan(dim=dim, ffn_dim=ffn, in_dim=36)}
    return {name: comfy.sd.load_diffusion_model(str(save(spec.build(seed=i), folder / f"{name}.safetensors")))
            for i, (name, spec) in enumerate(specs.items())}


def run_variant(vcn, model, vae, size: int, frames: str | None, text) -> tuple[float, float]:
    """(forward seconds, whole-run seconds) of one 1-step sample."""
    import comfy.patcher_extension as pe
    import comfy.sample
    import comfy.samplers

    start = time.perf_counter()
    canvas = vcn.canvas.VideoCanvasCanvas.execute(size, size, LENGTH, 16.0)[0]
    conds = None
    if frames is not None:
        g = torch.Generator().manual_seed(0)
        image = torch.rand(1, size, size, 3, generator=g)
        patch = vcn.patches.VideoCanvasPatchPlacer.execute(image, 0.0, 0.0, 1.0, 1.0, "fraction", "cover",
                                                           0.0)[0]
        conds = vcn.patches.VideoCanvasTimestampConditioner.execute(patch, frames, "frames", canvas, 1.0)[0]
    pos, neg, latent, _, _ = vcn.sampling.VideoCanvasConditioning.execute(text, text, vae, canvas, 1, conds)
    timer = ForwardTimer()
    patched = vcn.model_patch.patch_model(model).clone()
    patched.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, TIMER_KEY, timer)
    samples = latent["samples"]
    noise = torch.randn(samples.shape, generator=torch.Generator().manual_seed(1))
    comfy.sample.sample(patched, noise, 1, 1.0, "euler", "simple", pos, neg, samples, seed=0,
                        disable_pbar=True)
    return timer.times[0], time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="dim 256, 64x64, 2 rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    dim, ffn, size, rounds = (256, 512, 64, 2) if args.quick else (1536, 8960, 192, 5)
    rounds = args.rounds or rounds
    out = args.out or (ROOT / ("bench_out/paradigm_cost" if args.quick else "benchmarks/results"))
    torch.set_num_threads(1)
    pack = load_comfy_with_pack()
    vcn = pack.vc_nodes
    import comfy.sd

    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp), dim, ffn)
        vae = comfy.sd.VAE(sd=build_wan21_vae(dim=8, seed=3).state_dict())
    text = [[torch.randn(1, 512, 4096, generator=torch.Generator().manual_seed(2)), {}]]
    variants = [(p, k) for p in PARADIGM_MODELS for k in (None, *KS)]
    per_round = []
    with torch.inference_mode():
        run_variant(vcn, models["t2v"], vae, size, "16", text)  # warm-up, untimed
        for r in range(rounds):
            order = variants[:]
            random.Random(r).shuffle(order)
            times = {}
            for p, k in order:
                times[(p, k)] = run_variant(vcn, models[PARADIGM_MODELS[p]], vae, size,
                                            None if k is None else KS[k], text)
            per_round.append(times)
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    def med(f):
        return statistics.median(f(t) for t in per_round)

    rows = []
    for p in PARADIGM_MODELS:
        for k in KS:
            v, own, t2v = (p, k), (p, None), ("in_context", None)
            rows.append({
                "paradigm": p, "K": k,
                "forward_ms": 1000 * med(lambda t, v=v: t[v][0]),
                "x_own_model": med(lambda t, v=v, own=own: t[v][0] / t[own][0]),
                "x_t2v": med(lambda t, v=v, t2v=t2v: t[v][0] / t[t2v][0]),
                "run_ms": 1000 * med(lambda t, v=v: t[v][1]),
                "run_x_t2v_plain": med(lambda t, v=v, t2v=t2v: t[v][1] / t[t2v][1])})
    plain = {p: 1000 * statistics.median(t[(p, None)][0] for t in per_round) for p in PARADIGM_MODELS}
    lines = [f"Paradigm step cost ({'quick' if args.quick else 'full'}): random Wan backbone dim {dim}, ffn "
             f"{ffn}, 2 layers, {size}x{size}, {LENGTH} frames (9 latent frames of "
             f"{(size // 16) ** 2} tokens), CPU float32 1 thread, {rounds} rounds, medians.",
             f"Forward without conditions: T2V {plain['in_context']:.0f} ms, VACE "
             f"{plain['vace_control']:.0f} ms, I2V {plain['channel_concat']:.0f} ms.", "",
             "| paradigm (model) | K | forward ms | x its model without conditions | x T2V forward | "
             "whole run ms (encode + sample) | x T2V whole run without conditions |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['paradigm']} ({PARADIGM_MODELS[row['paradigm']]}) | {row['K']} | "
                     f"{row['forward_ms']:.0f} | {row['x_own_model']:.2f} | {row['x_t2v']:.2f} | "
                     f"{row['run_ms']:.0f} | {row['run_x_t2v_plain']:.2f} |")
    text_out = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "paradigm_cost.md").write_text(text_out)
    (out / "paradigm_cost.json").write_text(json.dumps({"rows": rows, "plain_ms": plain, "dim": dim,
                                                        "size": size, "rounds": rounds}, indent=1))
    print(text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
