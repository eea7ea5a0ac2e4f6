"""The example inputs the templates load (images, a cut-out, a mask, clips), made by this project's
procedural generator (toy_models/procedural.py) from held-out seeds, so they are the pack's own and
are shipped with it in example_workflows/inputs/ (the pack copies them into ComfyUI's input folder
when it loads: vc_nodes/example_inputs.py).

    .host/venv/bin/python -m toy_models.example_inputs           # (re)write the files
    .host/venv/bin/python -m toy_models.example_inputs --check   # exit 1 if a PNG differs

Stills are rendered at 256x256 (the generator is resolution independent: the toy model sees the same
content downscaled); clips are 17 frames of 128x128 at 16 fps, H.264. The seeds were picked among
held-out content the toy VAE can represent (one large object in a strong colour on a contrasting
ground), so the templates' videos on the bundled model show what they were given: it keeps colour and
layout, not texture (models/MODEL_CARD.md), so a striped disc on a similar ground comes back as a tint
whatever the DiT does. The benchmark's seeds are not picked.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS_DIR = ROOT / "example_workflows" / "inputs"
STILL, CLIP, FRAMES, FPS = 256, 128, 17, 16

# file name -> (kind, seed, frame of the generated clip for stills)
FILES: dict[str, tuple[str, int, int]] = {
    "videocanvas_keyframe.png": ("image", 1_000_551, FRAMES // 2),
    "videocanvas_first.png": ("image", 1_000_531, 0),
    "videocanvas_last.png": ("image", 1_000_531, FRAMES - 1),
    "videocanvas_key_start.png": ("image", 1_000_511, 0),
    "videocanvas_key_middle.png": ("image", 1_000_511, FRAMES // 2),
    "videocanvas_key_end.png": ("image", 1_000_511, FRAMES - 1),
    "videocanvas_object.png": ("rgba", 1_000_411, FRAMES // 2),
    "videocanvas_mask.png": ("mask", 0, 0),
    "videocanvas_clip.mp4": ("video", 1_000_551, 0),
    "videocanvas_clip_a.mp4": ("video", 1_000_531, 0),
    "videocanvas_clip_b.mp4": ("video", 1_000_511, 0),
}


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def render(name: str) -> bytes:
    """The bytes of one example input (a pure function of its entry in FILES)."""
    from PIL import Image, ImageDraw

    from toy_models.procedural import SceneSpec, generate_clip

    kind, seed, frame = FILES[name]
    if kind == "mask":  # white = the hole to generate, at the clips' size, as Video Inpaint wants
        mask = Image.new("L", (CLIP, CLIP), 0)
        ImageDraw.Draw(mask).rectangle([CLIP // 4, CLIP // 4, 3 * CLIP // 4 - 1, 3 * CLIP // 4 - 1],
                                       fill=255)
        return _png(mask.convert("RGB"))
    size = CLIP if kind == "video" else STILL
    clip = generate_clip(seed, SceneSpec(FRAMES, size, size))
    pixels = (clip.numpy() * 255).round().astype("uint8")
    if kind == "video":
        return _video(pixels)
    img = Image.fromarray(pixels[frame])
    if kind == "rgba":  # an object cut-out: transparent around a disc (LoadImage's MASK = 1 - alpha)
        alpha = Image.new("L", (size, size), 0)
        ImageDraw.Draw(alpha).ellipse([size // 6, size // 6, 5 * size // 6, 5 * size // 6], fill=255)
        img = img.convert("RGBA")
        img.putalpha(alpha)
    return _png(img)


def _video(frames) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "14", "threads": "1"}  # one thread: the same bytes every run
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def write_all(folder: Path = INPUTS_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        path = folder / name
        path.write_bytes(render(name))
        written.append(path)
    return written


def stale(folder: Path = INPUTS_DIR) -> list[str]:
    """Files missing, or PNGs whose bytes differ from what render() makes now (videos are checked
    for presence only: their bytes depend on the host's libx264 build)."""
    out = []
    for name in FILES:
        path = folder / name
        if not path.exists() or (name.endswith(".png") and path.read_bytes() != render(name)):
            out.append(name)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check:
        bad = stale()
        for name in bad:
            print(f"out of date: example_workflows/inputs/{name}", file=sys.stderr)
        return 1 if bad else 0
    for path in write_all():
        print(f"{path.relative_to(ROOT)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    sys.exit(main())
