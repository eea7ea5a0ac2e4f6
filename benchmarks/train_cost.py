"""Peak memory and seconds per step of VideoCanvas LoRA training at real size.

    python -m benchmarks.train_cost --device cuda --out bench_out/train_cost.json
    python -m benchmarks.train_cost --quick --out /tmp/train_cost.json      (tiny CPU smoke run)

The model is the full-size Wan 2.1 T2V 1.3B architecture (dim 1536, ffn 8960, 30 layers, 12 heads;
ComfyUI's own WanModel and ops, random weights, built in memory: nothing downloads), the VAE a
random full-size Wan 2.1 VAE (base dim 96) behind ComfyUI's VAE class. What is timed is the
trainer's own step (trainer.loop.Trainer.train_step): anchors drawn and rendered, each canvas
encoded on its own by the VAE, the in-context forward with the LoRA hooked on (bf16 autocast on a
GPU), the backward through the video tokens' loss, the all-reduce (one process: none) and AdamW.
Grid: 832x480, 33 and 81 frames, gradient checkpointing off and on, `--anchors` anchors per sample
(fixed, so every step has the same tokens), 512 text tokens (umt5's padded length), LoRA rank 16 on
the attention and feed-forward layers. An out-of-memory configuration is reported as OOM.
--quick: a 2-layer dim-128 Wan at 64x64, 9 frames, CPU, two steps: checks the script, not a cost.
--estimate: no run; the same grid from FLOP and activation counts (see `estimate`), marked as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after ComfyUI's folder: its `nodes` module must win

WAN_1_3B = {"dim": 1536, "ffn_dim": 8960, "num_layers": 30}
TINY = {"dim": 128, "ffn_dim": 256, "num_layers": 2}
TEXT_TOKENS = 512


def build_wan(arch: dict, device, weight_dtype):
    """ComfyUI's WanModel (T2V, 16 channels) with random weights made on the device: normal with
    std 1/sqrt(fan-in), unit norm gains, zero biases, small modulation (finite activations)."""
    import comfy.ldm.wan.model
    import comfy.ops

    ops = comfy.ops.manual_cast if weight_dtype in (torch.float8_e4m3fn, torch.float8_e5m2) \
        else comfy.ops.disable_weight_init
    wan = comfy.ldm.wan.model.WanModel(
        model_type="t2v", patch_size=(1, 2, 2), in_dim=16, dim=arch["dim"], ffn_dim=arch["ffn_dim"],
        freq_dim=256, text_dim=4096, out_dim=16, num_heads=arch["dim"] // 128,
        num_layers=arch["num_layers"], qk_norm=True, cross_attn_norm=True, eps=1e-6, operations=ops,
        device=device, dtype=torch.bfloat16 if weight_dtype.itemsize == 1 else weight_dtype)
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, p in wan.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif "norm" in name:
                p.fill_(1.0)
            elif "modulation" in name:
                p.copy_(torch.randn(p.shape, generator=gen, device=device) * 0.02)
            else:
                fan_in = p[0].numel() if p.ndim > 1 else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen, device=device) / fan_in ** 0.5)
    if weight_dtype.itemsize == 1:  # fp8 storage, computed in bf16 by ComfyUI's manual-cast ops
        for m in wan.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.data = m.weight.data.to(weight_dtype)
    return wan


def build_vae(base_dim: int):
    """ComfyUI's VAE class around a random Wan 2.1 VAE (what VAELoader gives for wan_2.1_vae)."""
    import comfy.sd

    from hostkit.tiny_models import build_wan21_vae

    sd = {k: v.contiguous() for k, v in build_wan21_vae(dim=base_dim, seed=0).state_dict().items()}
    return comfy.sd.VAE(sd=sd)


def measure(wan, vae, device, frames: int, width: int, height: int, anchors: int, checkpointing: bool,
            steps: int, rank: int) -> dict:
    import comfy.latent_formats

    from trainer import models
    from trainer.loop import Sample, TrainConfig, Trainer

    fmt = comfy.latent_formats.Wan21()
    f = (frames - 1) // 4 + 1
    gen = torch.Generator().manual_seed(0)
    clip = Sample(torch.randn(16, f, height // 8, width // 8, generator=gen),
                  torch.randint(0, 256, (frames, height, width, 3), dtype=torch.uint8, generator=gen),
                  torch.randn(TEXT_TOKENS, 4096, generator=gen) * 0.1)
    config = TrainConfig(steps=steps + 1, rank=rank, min_anchors=anchors, max_anchors=anchors,
                         gradient_checkpointing=checkpointing, lr=1e-4)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    row = {"frames": frames, "latent_frames": f, "size": f"{width}x{height}", "anchors": anchors,
           "tokens": (f + anchors) * (height // 16) * (width // 16), "checkpointing": checkpointing}
    trainer = None
    try:
        trainer = Trainer(wan, [clip], lambda c: models.encode_images(vae, c, fmt), config, device,
                          dtype, shift=8.0)
        trainer.lora.attach(wan)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(steps + 1):  # the first step warms up (kernels, allocator): not timed
            sync()
            t0 = time.perf_counter()
            loss = trainer.train_step()
            sync()
            if i:
                times.append(time.perf_counter() - t0)
        row.update(seconds_per_step=statistics.median(times), loss=loss, status="ok")
        if device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    except torch.OutOfMemoryError:
        row.update(status="OOM")
        if device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    finally:
        if trainer is not None:
            trainer.lora.detach()
        del trainer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


# Tensors of N x dim a Wan block keeps for its backward pass (norms, modulation, q/k/v before and
# after norm and RoPE, attention and projection outputs, residuals, cross-attention): a count from
# the block's forward, rounded; the feed-forward hidden layer (before and after GELU) comes on top.
SAVED_PER_BLOCK = 21


def estimate(frames: int, width: int, height: int, anchors: int, checkpointing: bool,
             arch: dict = WAN_1_3B, tflops: float = 400.0) -> dict:
    """Seconds per step and peak memory from counts, not a measurement.

    FLOPs of one block's forward over N tokens (T = 512 text tokens, d = dim, f = ffn_dim):
    8 N d^2 (self-attention projections) + 4 N d^2 + 4 T d^2 (cross-attention projections)
    + 4 N d f (feed-forward) + 4 N^2 d (self-attention) + 4 N T d (cross-attention); a training
    step is 3 forwards (forward + backward), 4 with checkpointing (the forward again), at `tflops`
    sustained. Memory (bf16): weights + what the backward keeps: per block SAVED_PER_BLOCK N x d
    tensors and two N x f, for every block, or with checkpointing every block's input plus one
    block's set."""
    d, f, layers = arch["dim"], arch["ffn_dim"], arch["num_layers"]
    lat = (frames - 1) // 4 + 1
    n = (lat + anchors) * (height // 16) * (width // 16)
    t = TEXT_TOKENS
    block = 8 * n * d * d + 4 * n * d * d + 4 * t * d * d + 4 * n * d * f + 4 * n * n * d + 4 * n * t * d
    flops = layers * block * (4 if checkpointing else 3)
    params = layers * (8 * d * d + 2 * d * f) + 4096 * d + d * d  # blocks + text embedding (about)
    per_block = (SAVED_PER_BLOCK * n * d + 2 * n * f) * 2
    activations = (layers * n * d * 2 + per_block) if checkpointing else layers * per_block
    return {"frames": frames, "latent_frames": lat, "size": f"{width}x{height}", "anchors": anchors,
            "tokens": n, "checkpointing": checkpointing, "status": "estimate",
            "seconds_per_step": flops / (tflops * 1e12), "peak_gib": (params * 2 + activations) / 2**30,
            "tflop_per_step": flops / 1e12}


def table(rows: list[dict]) -> str:
    out = ["| frames | size | anchors | tokens | grad. checkpointing | peak memory (GiB) | s / step |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = f"{r['peak_gib']:.1f}" if "peak_gib" in r else "n/a (CPU)"
        secs = f"{r['seconds_per_step']:.2f}" if r["status"] == "ok" else r["status"]
        if r["status"] == "estimate":
            peak, secs = f"~{r['peak_gib']:.0f} (estimate)", f"~{r['seconds_per_step']:.1f} (estimate)"
        out.append(f"| {r['frames']} | {r['size']} | {r['anchors']} | {r['tokens']} | "
                   f"{'on' if r['checkpointing'] else 'off'} | {peak} | {secs} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="tiny model on the CPU: a smoke run")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--frames", default="33,81")
    ap.add_argument("--size", default="832x480")
    ap.add_argument("--anchors", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    ap.add_argument("--weight-dtype", default="bf16", choices=["bf16", "fp8_e4m3fn"])
    ap.add_argument("--estimate", action="store_true", help="no run: counts only (see estimate())")
    ap.add_argument("--tflops", type=float, default=400.0, help="sustained bf16 TFLOP/s for --estimate")
    args = ap.parse_args(argv)
    if args.estimate:
        width, height = (int(v) for v in args.size.split("x"))
        rows = [estimate(int(f), width, height, args.anchors, c, tflops=args.tflops)
                for f in args.frames.split(",") for c in (False, True)]
        md = table(rows)
        print(md)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"rows": rows, "markdown": md, "estimate": True,
                                            "tflops": args.tflops}, indent=1))
        return 0
    if args.quick:
        args.device, args.frames, args.size, args.steps, args.anchors = "cpu", "9", "64x64", 1, 2

    from hostkit.inprocess import add_comfy_to_path

    os.environ["VIDEOCANVAS_DEVICE"] = "cuda" if args.device == "cuda" else "cpu"
    add_comfy_to_path()
    device = torch.device(args.device)
    weight_dtype = {"bf16": torch.bfloat16, "fp8_e4m3fn": torch.float8_e4m3fn}[args.weight_dtype]
    if device.type == "cpu":
        weight_dtype = torch.float32
    arch = TINY if args.quick else WAN_1_3B
    t0 = time.perf_counter()
    wan = build_wan(arch, device, weight_dtype)
    vae = build_vae(8 if args.quick else 96)
    params = sum(p.numel() for p in wan.parameters())
    print(f"Wan {params / 1e6:.1f}M parameters ({args.weight_dtype if device.type == 'cuda' else 'fp32'}) "
          f"built on {device} in {time.perf_counter() - t0:.1f} s", flush=True)
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    for frames in (int(f) for f in args.frames.split(",")):
        for checkpointing in (False, True):
            row = measure(wan, vae, device, frames, width, height, args.anchors, checkpointing,
                          args.steps, args.rank)
            print(json.dumps(row), flush=True)
            rows.append(row)
    md = table(rows)
    print(md)
    result = {"rows": rows, "markdown": md, "parameters": params, "arch": arch,
              "weight_dtype": args.weight_dtype, "rank": args.rank, "device": str(device),
              "gpu": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
              "torch": torch.__version__, "quick": args.quick}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
