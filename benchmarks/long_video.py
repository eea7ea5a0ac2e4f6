"""VideoCanvas Long Video on the bundled toy model (64x64, 17-frame windows overlapping by 5, 20 steps,
cfg 1, null prompt): seams, drift and peak memory.

    nice -n 10 .host/venv/bin/python -m benchmarks.long_video [--windows 25] [--out benchmarks/results]

Definitions (pixels in 0..255, frames as the node outputs them):
- flicker: mean absolute difference between consecutive frames. Boundary pairs are (f-1, f) for f the
  first frame a window adds (window i >= 1); inside pairs are every other pair. PSNR jump: the PSNR
  between consecutive frames, over boundary pairs vs inside pairs. A seam shows as boundary flicker
  above inside flicker (and boundary PSNR below inside PSNR).
- drift over the windows: per window, the mean colour (RGB) and the standard deviation of the frames it
  adds, as differences from window 0; and carried fidelity: the PSNR between the frames a window was
  given (the last `overlap` frames of the window before) and what it generated at those frames.
- memory: the resident set size (RSS) of a fresh process that loads ComfyUI, the pack and the toy
  model and generates 101 or 1001 frames, per task (text-to-video; inpainting, a condition on every
  frame; a camera move, one every 4th) and output mode: before the node runs (the task's input, e.g.
  the video to inpaint, already made), its peak after each window, and after the output. The workers
  run with MALLOC_MMAP_THRESHOLD_=65536 so that glibc returns freed tensors at once and RSS is live
  memory (with its adaptive threshold the same run's peak varies by +-200 MiB from window to window).
  These runs sample 4 steps a window (memory does not depend on it).
Conditions: text-to-video (no user conditions) so that what a window continues is only what the window
before made; the seam run also repeats with a keyframe every 100 frames (frames 0, 100, 200, ...).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
WINDOW, OVERLAP, STEPS, SIZE = 17, 5, 20, 64
MEMORY_STEPS = 4  # what a window holds does not depend on the steps: the memory runs take fewer


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _setup():
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # after ComfyUI's folder: its `nodes` module must win
    from hostkit.inprocess import add_comfy_to_path, load_comfy_with_pack

    add_comfy_to_path()
    pack = load_comfy_with_pack()
    import comfy.sd
    import comfy.utils
    import folder_paths

    from templates.recipes import TOY_UNET, TOY_VAE

    model = comfy.sd.load_diffusion_model(folder_paths.get_full_path("diffusion_models", TOY_UNET))
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(folder_paths.get_full_path("vae", TOY_VAE)))
    return pack, model, vae


def _run(pack, model, vae, total, output="images", conditions=None, seed=0, steps=STEPS, joins="fade"):
    node = pack.vc_nodes.long_video.VideoCanvasLongVideo
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, total, 16.0)
    return node.execute(model, null, null, vae, canvas, WINDOW, OVERLAP, seed, steps, 1.0, "euler",
                        "simple", output, conditions, joins).result


MEMORY_TASKS = ("text-to-video", "inpainting", "camera move")


def task_conditions(pack, task: str, total: int):
    """The conditions of a memory run over `total` frames. inpainting: a `total`-frame video (a
    moving gradient) with a centred 32x32 hole on every frame, a condition on every frame (what
    VideoCanvas Inpaint makes of LoadVideo's frames); camera move: one image zoomed 1 -> 1.5 over the
    whole video, a condition every 4th frame (VideoCanvas Camera Move's default)."""
    tasks = pack.vc_core.tasks
    if task == "text-to-video":
        return None
    if task == "inpainting":
        t = torch.arange(total, dtype=torch.float32).view(-1, 1, 1, 1) / total
        x = torch.linspace(0, 1, SIZE).view(1, 1, -1, 1)
        video = (0.2 + 0.6 * (x + t) % 1).expand(total, SIZE, SIZE, 3).contiguous()
        hole = torch.zeros(SIZE, SIZE)
        hole[16:48, 16:48] = 1
        return tuple(tasks.inpaint_sources(video, hole))
    if task == "camera move":
        image = torch.linspace(0, 1, SIZE * SIZE * 3).view(SIZE, SIZE, 3)
        return tuple(tasks.camera_move_sources(image, (0.5, 0.5, 1.0), (0.5, 0.5, 1.5)))
    raise ValueError(f"task must be one of {MEMORY_TASKS}; got {task!r}")


def memory_worker(total: int, output: str, task: str = "text-to-video") -> dict:
    pack, model, vae = _setup()
    # a 1-window warm-up loads the weights and primes the allocator, as in a running ComfyUI
    _run(pack, model, vae, WINDOW, output, task_conditions(pack, task, WINDOW), steps=MEMORY_STEPS)
    # the task's input (e.g. the video to inpaint) is made before: it is the upstream node's output
    conditions = task_conditions(pack, task, total)
    before = _rss()
    peak_during = [before]
    lv = pack.vc_nodes.long_video
    original = lv._to_uint8

    def sampled(images):  # after every window: RSS while windows run
        peak_during.append(_rss())
        return original(images)

    lv._to_uint8 = sampled
    t0 = time.monotonic()
    images, video = _run(pack, model, vae, total, output, conditions, steps=MEMORY_STEPS)
    seconds = time.monotonic() - t0
    after = _rss()
    frames = int(images.shape[0])
    del images, video
    return {"task": task, "total": total, "output": output, "windows": len(peak_during) - 1,
            "seconds": round(seconds, 1),
            "image_frames_out": frames, "rss_before_mib": round(before / 2**20, 1),
            "rss_peak_while_windows_run_mib": round(max(peak_during) / 2**20, 1),
            "rss_after_output_mib": round(after / 2**20, 1),
            "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def seams(pack, model, vae, windows: int, keyframes: bool, joins: str = "fade") -> dict:
    from benchmarks.evaluate import psnr

    total = WINDOW + (windows - 1) * (WINDOW - OVERLAP)
    total -= (total - 1) % 4  # a canvas length is 4k+1
    tails = []
    lv = pack.vc_nodes.long_video
    original = lv._to_uint8

    def record(images):
        out = original(images)
        tails.append(out)
        return out

    conditions = None
    if keyframes:
        from toy_models.procedural import SceneSpec, generate_clip

        plan = pack.vc_core.plan
        clip = generate_clip(1_000_511, SceneSpec(17, SIZE, SIZE))
        conditions = tuple(plan.ConditionSource(plan.Patch(clip[8]), frames=f)
                           for f in range(0, total, 100))
    lv._to_uint8 = record
    try:
        images, _ = _run(pack, model, vae, total, "images", conditions, joins=joins)
    finally:
        lv._to_uint8 = original
    wins = pack.vc_core.windows.plan_windows(total, WINDOW, OVERLAP)
    px = images.mul(255).round()
    diffs = (px[1:] - px[:-1]).abs().mean(dim=(1, 2, 3))  # pair (f-1, f) at index f-1
    pair_psnr = torch.tensor([psnr(images[f], images[f - 1]) for f in range(1, total)])
    boundary = torch.tensor([w.new_frames.start - 1 for w in wins[1:]])
    inside = torch.ones(total - 1, dtype=torch.bool)
    inside[boundary] = False
    per_window = []
    first = None
    for i, w in enumerate(wins):
        new = px[w.new_frames.start:w.new_frames.stop]
        stats = {"mean_rgb": [round(float(v), 2) for v in new.mean(dim=(0, 1, 2))],
                 "std": round(float(new.std()), 2)}
        if first is None:
            first = stats
        stats["mean_rgb_shift"] = round(float(torch.tensor(stats["mean_rgb"]).sub(
            torch.tensor(first["mean_rgb"])).abs().mean()), 2)
        stats["std_shift"] = round(stats["std"] - first["std"], 2)
        if i:
            stats["carried_psnr_db"] = round(psnr(tails[i][:OVERLAP].float() / 255,
                                                  tails[i - 1][-OVERLAP:].float() / 255), 2)
        per_window.append(stats)
    carried = [w["carried_psnr_db"] for w in per_window[1:]]
    return {
        "total": total, "windows": len(wins), "keyframes_every_100": keyframes, "joins": joins,
        "flicker_boundary": round(float(diffs[boundary].mean()), 2),
        "flicker_inside": round(float(diffs[inside].mean()), 2),
        "psnr_consecutive_boundary_db": round(float(pair_psnr[boundary].mean()), 2),
        "psnr_consecutive_inside_db": round(float(pair_psnr[inside].mean()), 2),
        "carried_psnr_db_first_5_windows": round(sum(carried[:5]) / len(carried[:5]), 2),
        "carried_psnr_db_last_5_windows": round(sum(carried[-5:]) / len(carried[-5:]), 2),
        "mean_rgb_shift_last_window": per_window[-1]["mean_rgb_shift"],
        "std_shift_last_window": per_window[-1]["std_shift"],
        "per_window": per_window,
    }


def render(results: dict) -> str:
    lines = ["# Long video on the toy model", "",
             f"`python -m benchmarks.long_video` (CPU, {WINDOW}-frame windows overlapping by {OVERLAP}, "
             f"{STEPS} steps, cfg 1, null prompt, seed 0; definitions in the script's docstring).", "",
             "## Seams and drift", "",
             "| run | joins | frames | windows | flicker boundary / inside | consecutive PSNR boundary / "
             "inside (dB) | carried PSNR first / last 5 windows (dB) | last window vs first: mean RGB shift, "
             "std shift |",
             "|---|---|---|---|---|---|---|---|"]
    for s in results["seams"]:
        name = "keyframe every 100 frames" if s["keyframes_every_100"] else "text-to-video"
        lines.append(f"| {name} | {s.get('joins', 'as sampled')} | {s['total']} | {s['windows']} | "
                     f"{s['flicker_boundary']} / "
                     f"{s['flicker_inside']} | {s['psnr_consecutive_boundary_db']} / "
                     f"{s['psnr_consecutive_inside_db']} | {s['carried_psnr_db_first_5_windows']} / "
                     f"{s['carried_psnr_db_last_5_windows']} | {s['mean_rgb_shift_last_window']}, "
                     f"{s['std_shift_last_window']} |")
    lines += ["", "## Peak memory", "",
              f"{MEMORY_STEPS} steps a window (memory does not depend on the steps).", "",
              "| task | frames | output | windows | s | RSS before (MiB) | peak while windows run | "
              "the node's own (peak - before) | after output |", "|---|---|---|---|---|---|---|---|---|"]
    for m in results["memory"]:
        lines.append(f"| {m.get('task', 'text-to-video')} | {m['total']} | {m['output']} | "
                     f"{m['windows']} | {m['seconds']} | "
                     f"{m['rss_before_mib']} | {m['rss_peak_while_windows_run_mib']} | "
                     f"{round(m['rss_peak_while_windows_run_mib'] - m['rss_before_mib'], 1)} | "
                     f"{m['rss_after_output_mib']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--windows", type=int, default=25)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--memory-worker", nargs=3, metavar=("TOTAL", "OUTPUT", "TASK"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if args.memory_worker:
        total, output, task = args.memory_worker
        print(json.dumps(memory_worker(int(total), output.replace("_", " "), task.replace("_", " "))))
        return 0
    pack, model, vae = _setup()
    results = {"seams": [seams(pack, model, vae, args.windows, kf, joins) for kf in (False, True)
                         for joins in ("as sampled", "fade")], "memory": []}
    if not args.skip_memory:
        runs = itertools.product(MEMORY_TASKS, (101, 1001), ("images", "stream to file"))
        for task, total, output in runs:
            worker = [sys.executable, "-m", "benchmarks.long_video", "--memory-worker", str(total),
                      output.replace(" ", "_"), task.replace(" ", "_")]
            done = subprocess.run(worker, cwd=ROOT, capture_output=True, text=True, check=True,
                                  env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
            results["memory"].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results["memory"][-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "long_video.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "long_video.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
