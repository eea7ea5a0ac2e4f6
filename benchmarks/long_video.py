"""VideoCanvas Long Video on the bundled toy model (64x64, 17-frame windows overlapping by 5 or 1, 20
steps, cfg 1, null prompt): seams, drift, sampling cost and peak memory.

    nice -n 10 .host/venv/bin/python -m benchmarks.long_video [--frames 305] [--skip-memory] [--out DIR]

Definitions (pixels in 0..255, frames as the node outputs them):
- flicker: mean absolute difference between consecutive frames. Boundary pairs are (f-1, f) for f the
  first frame a window adds (window i >= 1); inside pairs are every other pair. PSNR jump: the PSNR
  between consecutive frames, over boundary pairs vs inside pairs. A seam shows as boundary flicker
  above inside flicker (and boundary PSNR below inside PSNR).
- drift over the windows: per window, the mean colour (RGB) and the standard deviation of the frames it
  adds, as differences from window 0; and carried fidelity: the PSNR between the frames a window was
  given (the output's last `overlap` frames before it) and what it generated at those frames.
- sampling cost: see cost(); a window pays for its overlap twice, as condition frames and as its own
  copies of them.
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


def _run(pack, model, vae, total, output="images", conditions=None, seed=0, steps=STEPS, joins="fade",
         overlap=OVERLAP):
    node = pack.vc_nodes.long_video.VideoCanvasLongVideo
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, total, 16.0)
    return node.execute(model, null, null, vae, canvas, WINDOW, overlap, seed, steps, 1.0, "euler",
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


def keyframe_conditions(pack, total: int):
    """The same procedural frame as a condition at frames 0, 100, 200, ..."""
    from toy_models.procedural import SceneSpec, generate_clip

    plan = pack.vc_core.plan
    clip = generate_clip(1_000_511, SceneSpec(17, SIZE, SIZE))
    return tuple(plan.ConditionSource(plan.Patch(clip[8]), frames=f) for f in range(0, total, 100))


def _metrics(images: torch.Tensor, boundary: list[int], segments: list[range]) -> dict:
    """Flicker and consecutive PSNR over the pairs (f-1, f) for f in `boundary` vs every other pair,
    and per segment (the frames a chained window adds) its mean colour and contrast as shifts from
    the first segment's."""
    from benchmarks.evaluate import psnr

    total = int(images.shape[0])
    px = images.mul(255).round()
    diffs = (px[1:] - px[:-1]).abs().mean(dim=(1, 2, 3))  # pair (f-1, f) at index f-1
    pair_psnr = torch.tensor([psnr(images[f], images[f - 1]) for f in range(1, total)])
    at = torch.tensor([f - 1 for f in boundary])
    inside = torch.ones(total - 1, dtype=torch.bool)
    inside[at] = False
    per_segment, first = [], None
    for seg in segments:
        new = px[seg.start:seg.stop]
        stats = {"mean_rgb": [round(float(v), 2) for v in new.mean(dim=(0, 1, 2))],
                 "std": round(float(new.std()), 2)}
        first = first or stats
        stats["mean_rgb_shift"] = round(float(torch.tensor(stats["mean_rgb"]).sub(
            torch.tensor(first["mean_rgb"])).abs().mean()), 2)
        stats["std_shift"] = round(stats["std"] - first["std"], 2)
        per_segment.append(stats)
    return {"flicker_boundary": round(float(diffs[at].mean()), 2),
            "flicker_inside": round(float(diffs[inside].mean()), 2),
            "psnr_consecutive_boundary_db": round(float(pair_psnr[at].mean()), 2),
            "psnr_consecutive_inside_db": round(float(pair_psnr[inside].mean()), 2),
            "mean_rgb_shift_last_window": per_segment[-1]["mean_rgb_shift"],
            "std_shift_last_window": per_segment[-1]["std_shift"], "per_window": per_segment}


def seams(pack, model, vae, total: int, keyframes: bool, joins: str = "fade", overlap: int = OVERLAP) -> dict:
    from benchmarks.evaluate import psnr

    tails = []
    lv = pack.vc_nodes.long_video
    original = lv._to_uint8

    def record(images):
        out = original(images)
        tails.append(out)
        return out

    conditions = keyframe_conditions(pack, total) if keyframes else None
    lv._to_uint8 = record
    try:
        images, _ = _run(pack, model, vae, total, "images", conditions, joins=joins, overlap=overlap)
    finally:
        lv._to_uint8 = original
    wins = pack.vc_core.windows.plan_windows(total, WINDOW, overlap)
    out = {"total": total, "windows": len(wins), "overlap": overlap, "keyframes_every_100": keyframes,
           "joins": joins, **_metrics(images, [w.new_frames.start for w in wins[1:]],
                                      [w.new_frames for w in wins])}
    carried = [round(psnr(tails[i][:overlap].float() / 255,  # vs what the window was given
                          images[w.carried_frames.start:w.carried_frames.stop]), 2)
               for i, w in enumerate(wins) if i]
    for stats, value in zip(out["per_window"][1:], carried, strict=True):
        stats["carried_psnr_db"] = value
    out["carried_psnr_db_first_5_windows"] = round(sum(carried[:5]) / len(carried[:5]), 2)
    out["carried_psnr_db_last_5_windows"] = round(sum(carried[-5:]) / len(carried[-5:]), 2)
    return out


def context_windows(pack, model, vae, total: int, keyframes: bool, length: int = 5, overlap: int = 2,
                    schedule: str = "standard_static") -> dict:
    """The other lever: ComfyUI's own context windows (ContextWindowsManual, `length` latent frames
    overlapping by `overlap`, pyramid fusion) under one VideoCanvas Sampler run over all `total`
    frames, decoded once. Windows are denoised together at every step and blended, so nothing is
    carried and no frame makes a VAE round trip. Seams are measured at the first and last frames of
    each window (where its weight starts and ends), drift over the same segments as Long Video's
    windows; the sampler's seconds against one pass over the same frames. Past 305 frames the video
    is decoded by ComfyUI's VAEDecodeTiled (DECODE_FRAMES at a time): its tile joins count as
    "elsewhere"."""
    import comfyui_version
    import nodes as comfy_nodes

    from hostkit.inprocess import windowed as through_context_windows

    windowed = through_context_windows(model, length, overlap, schedule)
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, total, 16.0)
    conditions = keyframe_conditions(pack, total) if keyframes else None
    seconds = {}
    for name, m in (("one pass", model), ("context windows", windowed)):
        t0 = time.perf_counter()
        latent = pack.vc_nodes.sampling.VideoCanvasSampler.execute(
            m, null, null, vae, canvas, 1, 0, STEPS, 1.0, "euler", "simple", 1.0, conditions).result[0]
        seconds[name] = time.perf_counter() - t0
    if total <= 305:
        images = comfy_nodes.VAEDecode().decode(vae, latent)[0]
    else:  # at once, 1001 frames take more than 24 GiB with the toy VAE: ComfyUI's tiled decode
        with torch.inference_mode():  # as ComfyUI runs nodes: the sampled latent is an inference tensor
            images = comfy_nodes.VAEDecodeTiled().decode(vae, latent, 64, 0, DECODE_FRAMES, 16)[0]
    images = images[..., :3].clamp(0, 1)
    latents = pack.vc_core.timing.latent_length(total, 4)
    handler = windowed.model_options["context_handler"]
    windows = [w.index_list for w in handler.get_context_windows(None, torch.empty(1, 1, latents), {})]
    edges = sorted({max(1, 4 * w[0] - 3) for w in windows[1:]} | {4 * w[-1] + 1 for w in windows[:-1]})
    segments = [w.new_frames for w in pack.vc_core.windows.plan_windows(total, WINDOW, OVERLAP)]
    return {"total": total, "keyframes_every_100": keyframes, "context_length": length,
            "context_overlap": overlap, "schedule": schedule, "windows": len(windows),
            "latent_frames_per_step": sum(len(w) for w in windows), "one_pass_latent_frames": latents,
            "sampler_s": round(seconds["context windows"], 2),
            "one_pass_sampler_s": round(seconds["one pass"], 2),
            "comfyui": comfyui_version.__version__, **_metrics(images, edges, segments)}


def vae_round_trips(pack, vae, hops: int) -> dict:
    """What the VAE alone does to a frame passed through it `hops` times as a carried frame is (encoded
    on its own as one image, decoded, rounded to 8 bits): mean RGB shift from the start (0..255)
    after 1, 5, 20 and `hops` trips. A long video makes one such trip per window."""
    from toy_models.procedural import SceneSpec, generate_clip

    x = generate_clip(1_000_511, SceneSpec(17, SIZE, SIZE))[8:9].float()
    start = x.mul(255).mean(dim=(0, 1, 2))
    out = {}
    for i in range(1, hops + 1):
        with torch.no_grad():
            x = vae.decode(vae.encode(x[..., :3])).reshape(-1, SIZE, SIZE, 3)[:1]
        x = x.clamp(0, 1).mul(255).round().div(255)
        if i in (1, 5, 20, hops):
            shift = x.mul(255).mean(dim=(0, 1, 2)) - start
            out[str(i)] = {"mean_rgb_shift": round(float(shift.abs().mean()), 2),
                           "per_channel": [round(float(v), 1) for v in shift]}
    return out


COST_STEPS = 4
DECODE_FRAMES = 256  # context windows past 305 frames: VAEDecodeTiled, 256 frames overlapping by 16


def cost(pack, model, vae, total: int, overlaps=(OVERLAP, 1), rounds: int = 3) -> dict:
    """Sampling cost of Long Video (17-frame windows, each overlap) against one VideoCanvas Sampler
    pass over all `total` frames (text-to-video, COST_STEPS steps): the seconds spent inside ComfyUI's
    sampler (comfy.sample.sample, every window's run summed), interleaved round by round, medians; and
    the transformer tokens per step each way (a window's latent frames plus one latent frame per
    carried condition frame, summed over the windows, against the one pass's). The one pass is not
    decoded: decoding 1001 frames at once takes more than this machine's 24 GiB with the toy VAE."""
    import statistics

    import comfy.sample

    lat = pack.vc_core.timing.latent_length
    null = pack.vc_nodes.sampling.VideoCanvasNullPrompt.execute().result[0]
    canvas = pack.vc_nodes.types.Canvas(SIZE, SIZE, total, 16.0)
    spent = {"sampling": 0.0}
    real = comfy.sample.sample

    def timed_sample(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent["sampling"] += time.perf_counter() - t0

    def one_pass():
        pack.vc_nodes.sampling.VideoCanvasSampler.execute(
            model, null, null, vae, canvas, 1, 0, COST_STEPS, 1.0, "euler", "simple", 1.0, None)

    runs = {"one pass": one_pass}
    for overlap in overlaps:
        runs[f"overlap {overlap}"] = (lambda o=overlap: _run(pack, model, vae, total, steps=COST_STEPS,
                                                              overlap=o))
    times = {name: [] for name in runs}
    comfy.sample.sample = timed_sample
    try:
        for _ in range(rounds):
            for name, fn in runs.items():
                spent["sampling"] = 0.0
                fn()
                times[name].append(spent["sampling"])
    finally:
        comfy.sample.sample = real
    med = {name: statistics.median(t) for name, t in times.items()}
    out = {"total": total, "steps": COST_STEPS, "rounds": rounds,
           "one_pass_sampling_s": round(med["one pass"], 2), "one_pass_latent_frames": lat(total, 4),
           "windows": []}
    for overlap in overlaps:
        wins = pack.vc_core.windows.plan_windows(total, WINDOW, overlap)
        frames = sum(lat(WINDOW, 4) + w.carried for w in wins)
        # the overlap is paid twice: its frames as conditions and the window's own copies of them
        overlap_frames = sum(w.carried + lat(w.carried, 4) for w in wins if w.carried)
        m = med[f"overlap {overlap}"]
        out["windows"].append({
            "overlap": overlap, "windows": len(wins), "latent_frames": frames,
            "token_ratio": round(frames / lat(total, 4), 2),
            "overlap_share": round(overlap_frames / frames, 2), "sampling_s": round(m, 2),
            "sampling_ratio": round(m / med["one pass"], 2)})
    return out


def render(results: dict, command: str) -> str:
    lines = ["# Long video on the toy model", "",
             f"`{command}` (CPU, {WINDOW}-frame windows, {STEPS} steps, cfg 1, null prompt, seed 0; "
             f"definitions in the script's docstring).", "",
             "## Seams and drift", "",
             "| run | overlap | joins | frames | windows | flicker boundary / inside | consecutive PSNR "
             "boundary / inside (dB) | carried PSNR first / last 5 windows (dB) | last window vs first: "
             "mean RGB shift, std shift |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in results["seams"]:
        name = "keyframe every 100 frames" if s["keyframes_every_100"] else "text-to-video"
        lines.append(f"| {name} | {s['overlap']} | {s['joins']} | {s['total']} | {s['windows']} | "
                     f"{s['flicker_boundary']} / "
                     f"{s['flicker_inside']} | {s['psnr_consecutive_boundary_db']} / "
                     f"{s['psnr_consecutive_inside_db']} | {s['carried_psnr_db_first_5_windows']} / "
                     f"{s['carried_psnr_db_last_5_windows']} | {s['mean_rgb_shift_last_window']}, "
                     f"{s['std_shift_last_window']} |")
    trips = results.get("vae_round_trips")
    if trips:
        after = ", ".join(f"{k} trips {v['mean_rgb_shift']} (R, G, B {v['per_channel']})"
                          for k, v in trips.items())
        lines += ["", "The VAE alone, a frame encoded on its own and decoded, 8 bits, again and again (one "
                  f"trip per window): mean RGB shift from the start after {after}."]
    c = results.get("cost")
    if c:
        lines += ["", "## Sampling cost", "",
                  f"Text-to-video, {c['total']} frames, {c['steps']} steps, medians of {c['rounds']} "
                  f"interleaved rounds, seconds inside ComfyUI's sampler. One pass: VideoCanvas Sampler "
                  f"over all {c['total']} frames ({c['one_pass_latent_frames']} latent frames): "
                  f"{c['one_pass_sampling_s']} s.", "",
                  "| overlap | windows | latent frames per step (all windows) | tokens vs one pass | "
                  "overlap's share of them | sampler s | vs one pass |", "|---|---|---|---|---|---|---|"]
        for w in c["windows"]:
            lines.append(f"| {w['overlap']} | {w['windows']} | {w['latent_frames']} | {w['token_ratio']}x | "
                         f"{w['overlap_share']} | {w['sampling_s']} | {w['sampling_ratio']}x |")
    if not results["memory"]:
        return "\n".join(lines) + "\n"
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


def render_context_windows(runs: list[dict], command: str) -> str:
    r0 = runs[0]
    lines = ["# Long video through ComfyUI's context windows, on the toy model", "",
             f"`{command}` (ComfyUI {r0['comfyui']}, CPU; VideoCanvas Sampler over all {r0['total']} frames "
             f"with ContextWindowsManual: {r0['context_length']} latent frames overlapping by "
             f"{r0['context_overlap']}, {r0['schedule']}, pyramid fusion; {STEPS} steps, cfg 1, null prompt, "
             f"seed 0; decoded once). Seams at each window's first and last frames; drift over the "
             f"segments Long Video's {WINDOW}-frame windows overlapping by {OVERLAP} add.", "",
             "| run | windows | flicker at window edges / elsewhere | consecutive PSNR edges / elsewhere "
             "(dB) | last segment vs first: mean RGB shift, std shift | latent frames per step (one pass) | "
             "sampler s (one pass) |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        name = "keyframe every 100 frames" if r["keyframes_every_100"] else "text-to-video"
        lines.append(f"| {name} | {r['windows']} | {r['flicker_boundary']} / {r['flicker_inside']} | "
                     f"{r['psnr_consecutive_boundary_db']} / {r['psnr_consecutive_inside_db']} | "
                     f"{r['mean_rgb_shift_last_window']}, {r['std_shift_last_window']} | "
                     f"{r['latent_frames_per_step']} ({r['one_pass_latent_frames']}) | {r['sampler_s']} "
                     f"({r['one_pass_sampler_s']}) |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--frames", type=int, default=305, help="length of the seam and cost runs (4k+1)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--memory-worker", nargs=3, metavar=("TOTAL", "OUTPUT", "TASK"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--cost-rounds", type=int, default=3)
    ap.add_argument("--context-windows", action="store_true",
                    help="only the context-windows lever (a ComfyUI whose context windows carry VideoCanvas "
                         "conditions: VIDEOCANVAS_HOST=0.33.0 with that host's python)")
    args = ap.parse_args()
    if args.memory_worker:
        total, output, task = args.memory_worker
        print(json.dumps(memory_worker(int(total), output.replace("_", " "), task.replace("_", " "))))
        return 0
    pack, model, vae = _setup()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.long_video " + " ".join(sys.argv[1:])
    if args.context_windows:
        runs = [context_windows(pack, model, vae, args.frames, kf) for kf in (False, True)]
        name = out / f"long_video_context_windows_{args.frames}"
        name.with_suffix(".json").write_text(json.dumps(runs, indent=1) + "\n")
        name.with_suffix(".md").write_text(render_context_windows(runs, command))
        print(render_context_windows(runs, command))
        return 0
    # the overlap of 5 with both joins, then an overlap of 1 (the cheapest carry) with fade
    variants = [(OVERLAP, "as sampled"), (OVERLAP, "fade"), (1, "fade")]
    results = {"seams": [], "memory": []}
    for keyframes in (False, True):
        for overlap, joins in variants:
            results["seams"].append(seams(pack, model, vae, args.frames, keyframes, joins, overlap))
            print(json.dumps({k: v for k, v in results["seams"][-1].items() if k != "per_window"}),
                  flush=True)
    results["vae_round_trips"] = vae_round_trips(pack, vae, results["seams"][0]["windows"] - 1)
    results["cost"] = cost(pack, model, vae, args.frames, rounds=args.cost_rounds)
    print(json.dumps(results["cost"]), flush=True)
    if not args.skip_memory:
        runs = itertools.product(MEMORY_TASKS, (101, 1001), ("images", "stream to file"))
        for task, total, output in runs:
            worker = [sys.executable, "-m", "benchmarks.long_video", "--memory-worker", str(total),
                      output.replace(" ", "_"), task.replace(" ", "_")]
            done = subprocess.run(worker, cwd=ROOT, capture_output=True, text=True, check=True,
                                  env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
            results["memory"].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results["memory"][-1]), flush=True)
    (out / f"long_video_{args.frames}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"long_video_{args.frames}.md").write_text(render(results, command))
    print(render(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
