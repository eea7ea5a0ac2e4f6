"""Write the toy training clips as video files: the folder the LoRA trainer (python -m trainer) reads.

    python -m toy_models.export_clips --clips 1024 --out train_runs/toy_clips

The clips are train_dit's (toy_models.procedural, the same seeds and scene cuts), written losslessly
(FFV1 in Matroska) so the LoRA route trains on exactly the pixels the bundled toy model saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np

from .procedural import SceneSpec, generate_clip
from .train_dit import FRAMES, SCENE_CUTS, SIZE


def write(path: Path, clip) -> None:
    with av.open(str(path), "w") as box:
        stream = box.add_stream("ffv1", rate=16)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "bgr0"
        for frame in (clip.numpy() * 255).round().clip(0, 255).astype(np.uint8):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("train_runs/toy_clips"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    spec = SceneSpec(FRAMES, SIZE, SIZE, scene_cut=SCENE_CUTS)
    for seed in range(args.clips):
        path = args.out / f"clip_{seed:05d}.mkv"
        if not path.exists():
            write(path, generate_clip(seed, spec))
    print(f"{args.clips} clips in {args.out}")


if __name__ == "__main__":
    main()
