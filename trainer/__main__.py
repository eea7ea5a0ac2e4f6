"""python -m trainer: train a VideoCanvas LoRA on a Wan checkpoint from a folder of videos.

Run from the pack's folder (ComfyUI/custom_nodes/<pack>) with ComfyUI's Python:

  python -m trainer --model ../../models/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors \\
      --vae ../../models/vae/wan_2.1_vae.safetensors \\
      --text-encoder ../../models/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors \\
      --data my_videos/ --out runs/my_lora --sizes 832x480,480x832 --length 33 --steps 2000

Several GPUs (data parallel): torchrun --nproc_per_node 8 -m trainer ... (same arguments); add
--shard-base to split the frozen base across them too (FSDP: each GPU holds ~1/8 of it).
Interrupted? Run the same command with --resume: it continues to the same result.
The LoRA lands in OUT/<name>.safetensors; put it in ComfyUI/models/loras and load it with
LoraLoaderModelOnly before 'VideoCanvas RoPE Interpolator'.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import traceback
from pathlib import Path

import torch

from .loop import TrainConfig
from .lora import DEFAULT_TARGETS


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m trainer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    io = ap.add_argument_group("models and data")
    io.add_argument("--comfyui", help="ComfyUI folder to import (default: $COMFYUI_PATH, or the "
                                      "ComfyUI this pack is installed in)")
    io.add_argument("--model", required=True, help="Wan T2V / TI2V-5B diffusion model (.safetensors, "
                                                   "ComfyUI's diffusion_models format)")
    io.add_argument("--weight-dtype", default="default",
                    choices=["default", "fp8_e4m3fn", "fp8_e5m2", "bf16", "fp16", "fp32"],
                    help="as UNETLoader's weight_dtype (default: bf16 on a GPU, the file's on CPU)")
    io.add_argument("--vae", required=True, help="the model's VAE (.safetensors)")
    io.add_argument("--text-encoder", help="umt5 text encoder (.safetensors) for captions; without "
                                           "it every clip trains with the null prompt")
    io.add_argument("--data", required=True, help="folder of videos (captions: same name, .txt)")
    io.add_argument("--out", required=True, help="run folder: state, loss log, the LoRA")
    io.add_argument("--cache", help="cache folder for latents and embeddings (default OUT/cache)")
    io.add_argument("--name", default="videocanvas_lora", help="file name of the LoRA")
    io.add_argument("--sizes", default="832x480", help="size buckets WIDTHxHEIGHT, comma separated; "
                                                       "each video goes to the nearest aspect ratio")
    io.add_argument("--length", type=int, default=33, help="clip length in pixel frames (4k+1)")
    io.add_argument("--frame-stride", type=int, default=1, help="take every n-th source frame")
    io.add_argument("--clips-per-video", type=int, default=1)
    io.add_argument("--on-bad-video", choices=["error", "skip"], default="error",
                    help="an unreadable or too short video stops the run (naming it) or is skipped")
    tr = ap.add_argument_group("training")
    tr.add_argument("--steps", type=int, default=2000)
    tr.add_argument("--batch-size", type=int, default=1, help="samples per process per step")
    tr.add_argument("--lr", type=float, default=1e-4)
    tr.add_argument("--warmup", type=int, default=0)
    tr.add_argument("--weight-decay", type=float, default=0.0)
    tr.add_argument("--max-grad-norm", type=float, default=1.0)
    tr.add_argument("--rank", type=int, default=16)
    tr.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: rank)")
    tr.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                    help="Linear layers (name suffixes, or re:<regex>) inside the blocks")
    tr.add_argument("--min-anchors", type=int, default=1)
    tr.add_argument("--max-anchors", type=int, default=20, help="anchors per sample (paper: 20)")
    tr.add_argument("--min-crop", type=float, default=0.2, help="smallest crop, fraction of the frame")
    tr.add_argument("--max-crop", type=float, default=1.0)
    tr.add_argument("--shift", type=float, default=None, help="flow shift (default: the model's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--gradient-checkpointing", action="store_true")
    tr.add_argument("--micro-batch", type=int, default=1,
                    help="samples of one shape run as one forward (faster, more activation memory; "
                         "the same losses)")
    tr.add_argument("--shard-base", action="store_true",
                    help="under torchrun: split the frozen base's weights across the processes (FSDP2, "
                         "per transformer block), each holding ~1/N of it and gathering a block only "
                         "while it runs; the same LoRA as without")
    tr.add_argument("--init-lora", help="start from this LoRA (ComfyUI format)")
    tr.add_argument("--save-every", type=int, default=250, help="state and a LoRA every n steps")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out")
    tr.add_argument("--stop-after", type=int, default=None,
                    help="save and stop after this many steps of the --steps schedule")
    tr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from . import models

    device_type = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    models.import_comfyui(models.find_comfyui(args.comfyui), device_type)

    from .loop import Distributed

    if args.shard_base and device_type == "cpu" and args.weight_dtype.startswith("fp8"):
        raise SystemExit(f"--shard-base with --weight-dtype {args.weight_dtype}: on the CPU the processes "
                         f"talk through gloo, which cannot gather fp8 tensors; shard bf16/fp16/fp32 "
                         f"weights there")
    dist = Distributed(device_type)
    if args.shard_base and dist.world < 2:
        raise SystemExit("--shard-base: splits the base across the processes of a distributed launch "
                         "(torchrun --nproc_per_node N -m trainer ... --shard-base); this run is one "
                         "process, which holds the whole base anyway")
    device = torch.device(f"cuda:{dist.local_rank}" if device_type == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    out = Path(args.out)
    log = print if dist.main else (lambda *_: None)
    try:
        _train(args, models, dist, device, out, log)
    except BaseException as error:  # its traceback's frames would keep the model alive: let it go
        seen, e = set(), error
        while e is not None and id(e) not in seen:
            seen.add(id(e))
            traceback.clear_frames(e.__traceback__)
            e = e.__cause__ or e.__context__
        raise
    finally:
        # the model (FSDP's sharded modules hold the process group) died with _train's frame:
        # collect it now, so the group is torn down in a live interpreter; left to finalization,
        # gloo's worker threads aborted the process at exit now and then
        gc.collect()
        dist.close()
    return 0


def _train(args, models, dist, device: torch.device, out: Path, log) -> None:
    from ._pack import vc
    from .cache import build_cache, file_id, load_cached
    from .data import DataError, find_videos, parse_buckets
    from .loop import Trainer
    from .lora import LoRASet

    if (out / "state.json").exists() and not args.resume:
        raise SystemExit(f"--out {out}: holds a run already; pass --resume to continue it, or "
                         f"choose another folder")
    if args.resume and not (out / "state.json").exists():
        raise SystemExit(f"--resume: {out} holds no saved run state (state.json)")
    out.mkdir(parents=True, exist_ok=True)

    base = models.load_base(args.model, args.weight_dtype, device)
    lora = None
    if args.init_lora:  # checked before any encoding: a LoRA of another model stops here
        import comfy.utils

        if not args.init_lora.endswith(".safetensors"):
            raise SystemExit(f"--init-lora {args.init_lora}: only .safetensors files are loaded")
        lora = LoRASet.from_comfy(base.wan, comfy.utils.load_torch_file(args.init_lora), args.init_lora)
    vae = models.load_vae(args.vae)
    try:
        models.check_vae(base, vae, f"--vae {args.vae}")
    except ValueError as e:
        raise SystemExit(str(e)) from None
    timing = vc("timing")
    try:
        length = timing.check_length(args.length, name="--length")
    except timing.TimingError as e:  # shown by cli() as one line, as before
        raise DataError(str(e)) from None
    buckets = parse_buckets(args.sizes, base.spatial_multiple)
    videos = find_videos(Path(args.data))
    cache_dir = Path(args.cache) if args.cache else out / "cache"
    clip = models.load_text_encoder(args.text_encoder) if args.text_encoder else None
    encoder_ids = f"{file_id(args.vae)}|{file_id(args.text_encoder)}|{type(base.latent_format).__name__}"

    def cache(log_fn):
        return build_cache(videos, cache_dir, length, buckets,
                           lambda px: models.encode_video(vae, px, base.latent_format),
                           lambda caption: models.encode_text(clip, caption),
                           encoder_ids, args.frame_stride, args.clips_per_video,
                           args.on_bad_video, log=log_fn)

    manifest = out / "clips.json"  # the main process's list: the others need not decode again
    if dist.main:
        files = cache(log)
        manifest.write_text(json.dumps([str(f) for f in files]))
    dist.barrier()
    if not dist.main:
        files = [Path(f) for f in json.loads(manifest.read_text())]
    clip = None  # the text encoder is done with: let ComfyUI give its memory back
    import comfy.model_management

    comfy.model_management.unload_all_models()
    comfy.model_management.soft_empty_cache()

    class Clips:
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            return load_cached(files[i])

    config = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        warmup=args.warmup, max_grad_norm=args.max_grad_norm, rank=args.rank, alpha=args.alpha,
        targets=tuple(t for t in args.targets.split(",") if t), min_anchors=args.min_anchors,
        max_anchors=args.max_anchors, min_crop=args.min_crop, max_crop=args.max_crop,
        shift=args.shift, seed=args.seed, gradient_checkpointing=args.gradient_checkpointing,
        micro_batch=args.micro_batch)
    if args.shard_base:
        _shard(base.wan, dist, device, out, log)
        wan = base.wan
    else:
        wan = base.wan.to(device)
    if lora is not None:
        config.rank, config.alpha = lora.rank, lora.alpha
    trainer = Trainer(wan, Clips(), lambda canvases: models.encode_images(vae, canvases,
                                                                          base.latent_format),
                      config, device, base.compute_dtype, base.shift, lora=lora, dist=dist)
    if args.resume:
        trainer.load_state(out)
        _truncate_log(out / "loss.jsonl", trainer.step)
        log(f"resumed at step {trainer.step}")
    log(f"{len(files)} clips, {len(trainer.lora.names)} LoRA layers (rank {trainer.lora.rank}), "
        f"shift {trainer.shift}, {dist.world} process(es), device {device}")
    save_every = args.save_every

    def on_step(step, loss):
        if dist.main and save_every and step % save_every == 0 and step < args.steps:
            _save_lora(trainer, out / f"{args.name}_step{step:06d}.safetensors", args)

    trainer.run(out, save_every=save_every, stop_after=args.stop_after, log=log, on_step=on_step)
    if dist.main and trainer.step >= args.steps:
        path = _save_lora(trainer, out / f"{args.name}.safetensors", args)
        log(f"LoRA: {path}")
    # every process waits for the main one's saving before any tears its group down (a rank
    # leaving early aborted in gloo's threads at exit); not on an error, where it would hang
    dist.barrier()


def _shard(wan, dist, device, out: Path, log) -> None:
    """shard_base, and every process's share of the base written to OUT/shards.json."""
    from .loop import shard_base

    mine = shard_base(wan, dist, device)
    local = dist.gather(mine["local_elements"])
    if dist.main:
        total = mine["base_elements"]
        (out / "shards.json").write_text(json.dumps({"processes": dist.world, "base_elements": total,
                                                     "local_elements": local}))
        log(f"base sharded over {dist.world} processes: {min(local):,}-{max(local):,} of its "
            f"{total:,} parameter elements on each")


def _save_lora(trainer, path: Path, args) -> Path:
    from safetensors.torch import save_file

    meta = {"videocanvas": json.dumps({"step": trainer.step, "model": Path(args.model).name,
                                       **trainer.config.resumable_fields()})}
    save_file(trainer.lora.comfy_state_dict(), str(path), metadata=meta)
    return path


def _truncate_log(path: Path, step: int) -> None:
    """Drop loss-log rows past the resumed state (written after its last save)."""
    if path.exists():
        rows = [r for r in path.read_text().splitlines() if r and json.loads(r)["step"] <= step]
        path.write_text("".join(r + "\n" for r in rows))


def cli(argv=None) -> int:
    """main(), with data, LoRA and resume problems shown as one line naming the file."""
    from .data import DataError
    from .lora import LoRAError

    try:
        return main(argv)
    except (DataError, LoRAError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
