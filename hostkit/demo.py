"""The README's main job: VideoCanvas workflows from workflows/api/ on the bundled toy model, through
a real headless ComfyUI server's HTTP API; writes the videos and a contact sheet under out/demo/.

    bash scripts/demo.sh [--steps 20] [--workflows 01_i2v_any_frame,04_patch_to_video,09_transition]

The workflows are the shareable ones, adapted (hostkit.workflows.adapt) to the toy model: its files,
VideoCanvas Null Prompt in place of the umt5 text path (the toy model has no text), 64x64, 17
frames. Their inputs are held-out procedural clips (seeds the model never saw in training), so
what the model was given is known and the sheet shows it beside what it made.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from hostkit.server import ComfyServer  # noqa: E402
from hostkit.setup import comfy_dir  # noqa: E402
from hostkit.workflows import adapt, input_files, load_api  # noqa: E402

TOY_UNET = "videocanvas_toy_t2v.safetensors"
TOY_VAE = "videocanvas_toy_vae.safetensors"
SIZE, LENGTH = 64, 17
DEFAULT_WORKFLOWS = "01_i2v_any_frame,04_patch_to_video,09_transition"
INPUT_SEEDS = {"image": 1_000_321, "rgba": 1_000_322, "video": 1_000_323, "mask": 1_000_324}
# The default workflows' inputs, picked (by looking at the toy VAE's reconstructions of held-out
# seeds) among content the toy VAE can represent: one large object in a strong colour on a
# contrasting ground. It keeps colour and layout, not texture (models/MODEL_CARD.md), so a striped
# disc on a similar ground comes back as a tint whatever the DiT does. The benchmark's seeds are
# not picked.
DEMO_SEEDS = {"videocanvas_keyframe.png": 1_000_551, "videocanvas_object.png": 1_000_411,
              "videocanvas_clip_a.mp4": 1_000_531, "videocanvas_clip_b.mp4": 1_000_511}


def bundled_models_present() -> bool:
    return all((ROOT / "models" / kind / name).exists()
               for kind, name in (("diffusion_models", TOY_UNET), ("vae", TOY_VAE)))


def write_inputs(prompt: dict, folder: Path) -> dict[str, str]:
    """Held-out procedural content for every file the workflow loads; {workflow name: file name}."""
    import av
    from PIL import Image, ImageDraw

    from training.procedural import ClipSpec, generate_clip

    mapping = {}
    for i, (name, kind) in enumerate(sorted(input_files(prompt).items())):
        seed = DEMO_SEEDS.get(Path(name).name, INPUT_SEEDS[kind] + 10 * i)
        clip = generate_clip(seed, ClipSpec(LENGTH, SIZE, SIZE))
        frames = (clip.numpy() * 255).round().astype("uint8")
        target = folder / f"vcdemo_{Path(name).name}"
        if kind == "video":
            with av.open(str(target), "w") as container:
                stream = container.add_stream("libx264", rate=16)
                stream.width = stream.height = SIZE
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "12"}
                for f in frames:
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
                container.mux(stream.encode())
        elif kind == "mask":
            mask = Image.new("L", (SIZE, SIZE), 0)
            ImageDraw.Draw(mask).rectangle([SIZE // 4, SIZE // 4, 3 * SIZE // 4, 3 * SIZE // 4], fill=255)
            mask.convert("RGB").save(target)
        else:
            img = Image.fromarray(frames[LENGTH // 2]).convert("RGBA")
            if kind == "rgba":  # an object cut-out: alpha is the MASK the workflow uses
                alpha = Image.new("L", (SIZE, SIZE), 0)
                ImageDraw.Draw(alpha).ellipse([SIZE // 6, SIZE // 6, 5 * SIZE // 6, 5 * SIZE // 6], fill=255)
                img.putalpha(alpha)
            img.save(target)
        mapping[name] = target.name
    return mapping


def saved_outputs(history: dict, kind: str) -> list[dict]:
    return [item for out in history["outputs"].values() for item in out.get(kind, [])]


def read_video(path: Path):
    import av
    import numpy as np

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def contact_sheet(rows: list[tuple[str, object, object]], path: Path, scale: int = 2) -> None:
    """One block per workflow: its title, the layout strip (what was given, where and when) and
    every frame of the video it made, frame numbers underneath."""
    from PIL import Image, ImageDraw

    blocks = []
    for title, layout, frames in rows:
        n, h, w, _ = frames.shape
        strip = Image.new("RGB", (n * (w * scale + 2), h * scale + 14), "white")
        for i, f in enumerate(frames):
            strip.paste(Image.fromarray(f).resize((w * scale, h * scale), Image.NEAREST),
                        (i * (w * scale + 2), 0))
            ImageDraw.Draw(strip).text((i * (w * scale + 2) + 2, h * scale + 1), str(i), fill="black")
        lay = Image.fromarray(layout)
        block = Image.new("RGB", (max(strip.width, lay.width), 16 + lay.height + strip.height), "white")
        ImageDraw.Draw(block).text((2, 2), title, fill="black")
        block.paste(lay, (0, 16))
        block.paste(strip, (0, 16 + lay.height))
        blocks.append(block)
    sheet = Image.new("RGB", (max(b.width for b in blocks), sum(b.height + 8 for b in blocks)), "white")
    y = 0
    for b in blocks:
        sheet.paste(b, (0, y))
        y += b.height + 8
    sheet.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workflows", default=DEFAULT_WORKFLOWS)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "out" / "demo"))
    ap.add_argument("--unet", default=TOY_UNET, help="another diffusion model file (development)")
    ap.add_argument("--vae", default=TOY_VAE)
    args = ap.parse_args()
    if args.unet == TOY_UNET and not bundled_models_present():
        print("The bundled toy model is not in models/ (train it: bash training/train_all.sh). "
              "Refusing to run the demo on random weights.", file=sys.stderr)
        return 2
    import numpy as np
    from PIL import Image

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    comfy_input = comfy_dir() / "input"
    comfy_input.mkdir(exist_ok=True)
    rows, report = [], []
    with ComfyServer(log_path=out / "server.log", output_dir=out / "comfy-output") as server:
        for name in args.workflows.split(","):
            api = load_api(name)
            prompt = adapt(api, unet=args.unet, vae=args.vae, size=(SIZE, SIZE), length=LENGTH,
                           steps=args.steps, cfg=1.0, seed=0, inputs=write_inputs(api, comfy_input))
            t0 = time.monotonic()
            history = server.run(prompt)
            seconds = time.monotonic() - t0
            saved = [v for v in saved_outputs(history, "images") if v.get("type") == "output"]
            files = [out / "comfy-output" / v["subfolder"] / v["filename"] for v in saved
                     if v["filename"].endswith((".mp4", ".webm"))]
            layouts = [comfy_dir() / "temp" / v["subfolder"] / v["filename"]
                       for v in saved_outputs(history, "images") if v.get("type") == "temp"]
            target = out / f"{name}.mp4"
            shutil.copy(files[0], target)
            frames = read_video(target)
            layout = np.asarray(Image.open(layouts[0]).convert("RGB")) if layouts else \
                np.zeros((8, 8, 3), "uint8")
            rows.append((f"{name}: {frames.shape[0]} frames, {seconds:.1f} s", layout, frames))
            report.append({"workflow": name, "video": str(target), "frames": int(frames.shape[0]),
                           "size": list(frames.shape[1:3]), "seconds": round(seconds, 1)})
            print(json.dumps(report[-1]), flush=True)
    contact_sheet(rows, out / "contact_sheet.png")
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"videos and contact sheet in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
