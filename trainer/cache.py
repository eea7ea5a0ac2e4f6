"""Latents and text embeddings, computed once per clip and kept as safetensors.

A clip's cache file holds its video latent (the model's latent space), its pixels (uint8: anchors
are cropped from them anew at every iteration) and its text embedding. The file name is a hash of
everything that shapes it (source file, its size and mtime, clip placement, bucket, VAE and text
encoder identity, caption), so a changed video or a different VAE never reuses a stale entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .data import ClipSpec, DataError, load_clip, plan_clips


@dataclass
class CachedClip:
    latent: torch.Tensor  # [C, f, h, w], latent format applied
    pixels: torch.Tensor  # [T, H, W, 3] uint8
    context: torch.Tensor  # [n, 4096]
    source: str


def clip_key(spec: ClipSpec, encoder_ids: str) -> str:
    st = spec.video.stat()
    text = json.dumps([str(spec.video.resolve()), st.st_size, st.st_mtime_ns, spec.start,
                       spec.frame_stride, spec.length, spec.bucket.width, spec.bucket.height,
                       spec.caption, encoder_ids])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def file_id(path: str | None) -> str:
    """Identity of a weights file for cache keys: name, size and mtime (hashing GBs would be slow)."""
    if not path:
        return "none"
    st = Path(path).stat()
    return f"{Path(path).name}:{st.st_size}:{st.st_mtime_ns}"


def build_cache(videos: list[Path], cache_dir: Path, length: int, buckets, encode_video, encode_text,
                encoder_ids: str, frame_stride: int = 1, clips_per_video: int = 1,
                on_bad_video: str = "error", log=print) -> list[Path]:
    """Encode every clip not cached yet; returns the cache files of all clips, in order.

    A bad video (unreadable, too short) is a DataError naming it, raised after the clips before it
    were written (what was cached stays cached), or, with on_bad_video="skip", reported and left out.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    files, skipped = [], []
    for vi, video in enumerate(videos):
        try:
            specs = plan_clips(video, length, buckets, frame_stride, clips_per_video)
            for spec in specs:
                path = cache_dir / f"{clip_key(spec, encoder_ids)}.safetensors"
                if not path.exists():
                    pixels = load_clip(spec)
                    latent = encode_video(pixels)[0]
                    context = encode_text(spec.caption)[0]
                    meta = {"source": str(spec.video), "start": str(spec.start),
                            "bucket": str(spec.bucket), "caption": spec.caption}
                    tmp = path.with_suffix(".tmp")
                    save_file({"latent": latent.contiguous(), "pixels": pixels.contiguous(),
                               "context": context.float().contiguous()}, str(tmp), metadata=meta)
                    tmp.replace(path)
                files.append(path)
        except DataError as e:
            if on_bad_video != "skip":
                raise
            skipped.append(str(e))
            log(f"skipped: {e}")
        log(f"cache: {vi + 1}/{len(videos)} videos, {len(files)} clips")
    if not files:
        raise DataError(f"no usable clips: every video was skipped ({'; '.join(skipped)})")
    return files


def load_cached(path: Path) -> CachedClip:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        return CachedClip(f.get_tensor("latent"), f.get_tensor("pixels"), f.get_tensor("context"),
                          meta.get("source", str(path)))
