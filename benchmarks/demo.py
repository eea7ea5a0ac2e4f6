"""The README's main job: the pack's shipped templates for the bundled toy model
(example_workflows/api/*(toy model).json), run unedited through a real headless ComfyUI server's HTTP
API with the shipped example inputs; writes the videos, a contact sheet and a report under out/demo/.

    bash scripts/demo.sh [--workflows 01,04,09] [--thumbnails]

--thumbnails also writes each template's card thumbnail (example_workflows/<name>.jpg, for the toy
template and its Wan twin alike) from the video the toy template just made.

Beside the benchmarks because it measures (template 01's keyframe PSNR per frame, `keyframe_psnr` in
the report) and the bundled-model tests reuse those helpers.
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
from templates.graph import WORKFLOWS_DIR, load_api  # noqa: E402
from templates.recipes import TOY, TOY_UNET, TOY_VAE, WORKFLOWS, thumbnail_source  # noqa: E402

SIZE, LENGTH = TOY.width, TOY.length
THUMBNAIL = 256  # px, square: the template cards crop to a square
KEYFRAME_TEMPLATE = "VideoCanvas 01 Image to video at any frame (Toy model)"
KEYFRAME_AT = 8  # the template holds its keyframe at the middle frame of 17


def bundled_models_present() -> bool:
    return all((ROOT / "models" / kind / name).exists()
               for kind, name in (("diffusion_models", TOY_UNET), ("vae", TOY_VAE)))


def toy_templates(numbers: str | None = None) -> list[str]:
    """The bundled-model templates, in order; numbers: e.g. '01,04' (None: all)."""
    wanted = set(numbers.split(",")) if numbers else None
    return [name for name, w in WORKFLOWS.items()
            if w.bundled and (wanted is None or name.split()[1] in wanted)]  # 'VideoCanvas 01 ...'


def thumbnail(frames, path: Path) -> None:
    """A 2x2 grid of four frames spread over the video (first, two between, last), as a JPEG."""
    from PIL import Image

    n = len(frames)
    picks = [frames[round(i * (n - 1) / 3)] for i in range(4)]
    cell = THUMBNAIL // 2
    sheet = Image.new("RGB", (THUMBNAIL, THUMBNAIL))
    for i, f in enumerate(picks):
        sheet.paste(Image.fromarray(f).resize((cell, cell), Image.BICUBIC), ((i % 2) * cell, (i // 2) * cell))
    sheet.save(path, format="JPEG", quality=88)


def saved_outputs(history: dict, kind: str) -> list[dict]:
    return [item for out in history["outputs"].values() for item in out.get(kind, [])]


def read_video(path: Path):
    import av
    import numpy as np

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def keyframe_image(size: int = SIZE):
    """The shipped keyframe (example_workflows/inputs/videocanvas_keyframe.png) as the procedural
    generator renders it at size x size: [H, W, 3] float in 0..1, on 8-bit levels."""
    from toy_models.example_inputs import FILES, FRAMES
    from toy_models.procedural import SceneSpec, generate_clip

    _, seed, frame = FILES["videocanvas_keyframe.png"]
    return (generate_clip(seed, SceneSpec(FRAMES, size, size))[frame] * 255).round() / 255.0


def keyframe_curve(frames) -> list[float]:
    """Per-frame PSNR (dB) of template 01's video ([T, H, W, 3] uint8) against its keyframe, at the
    video's size: where and how sharply it shows up."""
    import torch

    from benchmarks.evaluate import psnr

    key = keyframe_image()
    return [psnr(torch.as_tensor(frame) / 255.0, key) for frame in frames]


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
    ap.add_argument("--workflows", default=None, help="template numbers, e.g. 01,04,09 (default: all)")
    ap.add_argument("--out", default=str(ROOT / "out" / "demo"))
    ap.add_argument("--thumbnails", action="store_true",
                    help="write example_workflows/<name>.jpg for each template run and its Wan twin")
    args = ap.parse_args()
    if not bundled_models_present():
        print("The bundled toy model is not in models/ (train it: bash toy_models/train_all.sh). "
              "Refusing to run the demo on random weights.", file=sys.stderr)
        return 2
    import numpy as np
    from PIL import Image

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows, report = [], []
    # its own temp folder: a server starting elsewhere on this ComfyUI empties the shared one
    with ComfyServer(log_path=out / "server.log", output_dir=out / "comfy-output",
                     extra_args=["--temp-directory", str(out)]) as server:
        for name in toy_templates(args.workflows):
            prompt = load_api(name)  # as shipped: no edits
            t0 = time.monotonic()
            history = server.run(prompt)
            seconds = time.monotonic() - t0
            saved = [v for v in saved_outputs(history, "images") if v.get("type") == "output"]
            files = [out / "comfy-output" / v["subfolder"] / v["filename"] for v in saved
                     if v["filename"].endswith((".mp4", ".webm"))]
            layouts = [out / "temp" / v["subfolder"] / v["filename"]
                       for v in saved_outputs(history, "images") if v.get("type") == "temp"]
            key = WORKFLOWS[name].key + ("_vace" if WORKFLOWS[name].vace else "")
            target = out / f"{key}.mp4"
            shutil.copy(files[0], target)
            frames = read_video(target)
            layout = np.asarray(Image.open(layouts[0]).convert("RGB")) if layouts else \
                np.zeros((8, 8, 3), "uint8")
            rows.append((f"{name}: {frames.shape[0]} frames, {seconds:.1f} s", layout, frames))
            report.append({"template": name, "video": str(target), "frames": int(frames.shape[0]),
                           "size": list(frames.shape[1:3]), "seconds": round(seconds, 1)})
            if name == KEYFRAME_TEMPLATE:  # the keyframe's PSNR per frame: it should peak at its frame
                curve = keyframe_curve(frames)
                report[-1].update(keyframe_psnr=[round(c, 2) for c in curve],
                                  keyframe_peak=int(np.argmax(curve)))
            if args.thumbnails:
                for twin in WORKFLOWS:
                    if thumbnail_source(twin) == name:
                        thumbnail(frames, WORKFLOWS_DIR / f"{twin}.jpg")
            print(json.dumps(report[-1]), flush=True)
    contact_sheet(rows, out / "contact_sheet.png")
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"videos and contact sheet in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
