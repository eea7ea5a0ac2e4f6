"""Step cost of VideoCanvas conditions on LTX-Video: the pack's guides against native LTXVAddGuide on
the same conditions, and what each guide adds.

    python -m benchmarks.ltx_cost [--quick] [--rounds N] [--out DIR]

A random LTX-Video transformer of LTX 2B's width (inner dim 2048, 32 heads of 64; 2 of its 28 blocks),
written in ComfyUI's format and loaded with its own loader, and the tiny random LTX-Video VAE. Each
variant is a real 1-step `comfy.sample.sample` (cfg 1: one forward) on a 384x256, 49-frame latent
(7 latent frames of 12x8 = 96 tokens):

- none: no conditions (EmptyLTXVLatentVideo);
- native3 / pack3: full images at frames 0, 24 and 48, by three chained LTXVAddGuide nodes / by the
  pack's Timestamp Conditioner + VideoCanvas Conditioning; their model inputs are asserted equal
  (bit for bit), so the forward costs the same by construction: the ratio shows it;
- pack1, pack13: 1 and 13 conditions (every 4th frame), each a single-image guide;
- patch3: a quarter-frame patch at frames 0, 24 and 48 (a guide of its zero canvas: the same tokens as
  a full frame).

Timed: the model forward (an APPLY_MODEL wrapper), and the layout (the conditioning node(s), VAE
encodes included). Variants run in rounds, shuffled per round; ratios are to `none` of the same
round; medians over rounds. CPU, float32, one thread. Sparse condition tokens do not apply to LTX:
on ComfyUI 0.3.75 and 0.7.0 every guide token enters the model (LTXVModel has no token dropping).
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
from hostkit.tiny_models import TinyLTXV, build_ltxv_vae, ltxv_vae_metadata, save  # noqa: E402

WIDTH, HEIGHT, LENGTH = 384, 256, 49
THREE = (0, 24, 48)
VARIANTS = {"none": (), "native3": THREE, "pack3": THREE, "pack1": (24,), "pack13": tuple(range(0, 49, 4)),
            "patch3": THREE}
TIMER_KEY = "ltx_cost_timer"


def prompt():
    g = torch.Generator().manual_seed(2)
    mask = torch.ones(1, 128, dtype=torch.long)
    return [[torch.randn(1, 128, 4096, generator=g), {"attention_mask": mask}]]


def image(k, width=WIDTH, height=HEIGHT):
    return torch.rand(1, height, width, 3, generator=torch.Generator().manual_seed(k))


def layout(vcn, vae, variant: str, width: int, height: int):
    """(positive, negative, LATENT) of one variant, the way its graph makes them."""
    from comfy_extras.nodes_lt import EmptyLTXVLatentVideo, LTXVAddGuide

    frames = VARIANTS[variant]
    if variant.startswith("native") or variant == "none":
        pos, neg, latent = prompt(), prompt(), EmptyLTXVLatentVideo.execute(width, height, LENGTH, 1)[0]
        for k, f in enumerate(frames):
            pos, neg, latent = LTXVAddGuide.execute(pos, neg, vae, latent, image(k, width, height), f, 1.0)
        return pos, neg, latent
    canvas = vcn.canvas.VideoCanvasCanvas.execute(width, height, LENGTH, 25.0)[0]
    conds = None
    for k, f in enumerate(frames):
        box = (0.0, 0.0, 0.5, 0.5) if variant.startswith("patch") else (0.0, 0.0, 1.0, 1.0)
        patch = vcn.patches.VideoCanvasPatchPlacer.execute(image(k, width, height), *box, "fraction", "cover",
                                                           0.0)[0]
        conds = vcn.patches.VideoCanvasTimestampConditioner.execute(patch, str(f), "frames", canvas, 1.0,
                                                                    conds)[0]
    pos, neg, latent, _, _ = vcn.sampling.VideoCanvasConditioning.execute(prompt(), prompt(), vae, canvas, 1,
                                                                          conds)
    return pos, neg, latent


def run_variant(vcn, model, vae, variant: str, width: int, height: int) -> tuple[float, float, dict]:
    """(forward seconds, layout seconds, the model's inputs) of one 1-step sample."""
    import comfy.patcher_extension as pe
    import comfy.sample

    start = time.perf_counter()
    pos, neg, latent = layout(vcn, vae, variant, width, height)
    laid_out = time.perf_counter() - start
    timer, seen = ForwardTimer(), {}
    patched = model.clone()
    patched.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, TIMER_KEY, timer)

    def record(executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options=None,
               **kwargs):
        seen.update(x=x.clone(), keyframe_idxs=kwargs.get("keyframe_idxs"))
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    patched.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "ltx_cost_inputs", record)
    samples = latent["samples"]
    noise = torch.randn(samples.shape, generator=torch.Generator().manual_seed(1))
    comfy.sample.sample(patched, noise, 1, 1.0, "euler", "simple", pos, neg, samples,
                        noise_mask=latent.get("noise_mask"), seed=0, disable_pbar=True)
    return timer.times[0], laid_out, seen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="head dim 2 (inner 64), 2 rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    head, rounds = (2, 2) if args.quick else (64, 5)
    rounds = args.rounds or rounds
    out = args.out or (ROOT / ("bench_out/ltx_cost" if args.quick else "benchmarks/results"))
    torch.set_num_threads(1)
    pack = load_comfy_with_pack()
    vcn = pack.vc_nodes
    import comfy.sd

    spec = TinyLTXV(attention_head_dim=head, num_layers=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = save(spec.build(seed=0), Path(tmp) / "ltxv.safetensors", metadata=spec.metadata())
        model = comfy.sd.load_diffusion_model(str(path), model_options={"dtype": torch.float32})
    vae = comfy.sd.VAE(sd=build_ltxv_vae(seed=1).state_dict(), metadata=ltxv_vae_metadata())
    per_round = []
    with torch.inference_mode():
        run_variant(vcn, model, vae, "pack1", WIDTH, HEIGHT)  # warm-up, untimed
        for r in range(rounds):
            order = list(VARIANTS)
            random.Random(r).shuffle(order)
            results = {v: run_variant(vcn, model, vae, v, WIDTH, HEIGHT) for v in order}
            native, ours = results["native3"][2], results["pack3"][2]
            assert torch.equal(native["x"], ours["x"]), "the pack's guides differ from LTXVAddGuide's"
            assert torch.equal(native["keyframe_idxs"], ours["keyframe_idxs"])
            per_round.append({v: res[:2] for v, res in results.items()})
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    def med(f):
        return statistics.median(f(t) for t in per_round)

    video_tokens = (LENGTH - 1) // 8 + 1
    tokens_per_frame = (WIDTH // 32) * (HEIGHT // 32)
    rows = [{"variant": v, "guides": len(VARIANTS[v]),
             "tokens": (video_tokens + len(VARIANTS[v])) * tokens_per_frame,
             "forward_ms": 1000 * med(lambda t, v=v: t[v][0]),
             "x_none": med(lambda t, v=v: t[v][0] / t["none"][0]),
             "layout_ms": 1000 * med(lambda t, v=v: t[v][1])} for v in VARIANTS]
    pack_over_native = med(lambda t: t["pack3"][0] / t["native3"][0])
    kind = "quick" if args.quick else "full"
    lines = [f"LTX-Video step cost ({kind}): a random LTX-Video transformer, inner "
             f"dim {32 * head} (32 heads of {head}), 2 layers, {WIDTH}x{HEIGHT}, {LENGTH} frames "
             f"({video_tokens} latent frames of {tokens_per_frame} tokens), the tiny random LTX-Video VAE, "
             f"CPU float32 1 thread, {rounds} rounds, medians. The model inputs of pack3 and native3 are "
             f"equal bit for bit in every round (asserted); pack3 / native3 forward: {pack_over_native:.3f}.",
             "",
             "| variant | guides | tokens | forward ms | x no conditions | layout ms (nodes, VAE encodes) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['variant']} | {row['guides']} | {row['tokens']} | {row['forward_ms']:.0f} | "
                     f"{row['x_none']:.2f} | {row['layout_ms']:.0f} |")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ltx_cost.md").write_text(text)
    (out / "ltx_cost.json").write_text(json.dumps({"rows": rows, "pack_over_native": pack_over_native,
                                                   "head_dim": head, "rounds": rounds}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
