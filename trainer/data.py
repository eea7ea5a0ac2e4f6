"""Videos -> training clips: find the videos of a folder, read them with PyAV, cut clips of a 4k+1
length and fit each to its size bucket (the bucket nearest its aspect ratio; scaled to cover,
centre-cropped). Captions: a .txt file beside a video, same stem (optional).

Every problem with a file is a DataError naming that file and what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif", ".mpg", ".mpeg")


class DataError(ValueError):
    """A problem with the training data; the message names the file (or folder)."""


@dataclass(frozen=True)
class Bucket:
    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class ClipSpec:
    """Where a clip comes from and how it is shaped."""

    video: Path
    caption: str
    start: int  # first source frame
    frame_stride: int  # take every n-th source frame
    length: int  # pixel frames, 4k+1
    bucket: Bucket


def parse_buckets(text: str, multiple: int = 16) -> list[Bucket]:
    """'832x480,480x832' -> buckets; every side must be a positive multiple of `multiple` (16 for Wan
    2.1: VAE stride 8 x patch 2; 32 for Wan 2.2 TI2V-5B)."""
    out = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            w, h = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise DataError(f"size '{part}': write sizes as WIDTHxHEIGHT, e.g. 832x480") from None
        if w <= 0 or h <= 0 or w % multiple or h % multiple:
            raise DataError(f"size '{part}': width and height must be positive multiples of {multiple} "
                            f"for this model (VAE stride x patch size)")
        out.append(Bucket(w, h))
    if not out:
        raise DataError("sizes: give at least one WIDTHxHEIGHT")
    return out


def check_length(length: int, stride: int = 4) -> int:
    if length < 1 or (length - 1) % stride:
        raise DataError(f"length {length}: must be {stride}k+1 pixel frames (e.g. 17, 33, 49, 81)")
    return int(length)


def find_videos(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise DataError(f"{folder}: no videos found (looked for {', '.join(VIDEO_EXTENSIONS)}, "
                        f"subfolders included)")
    return videos


def caption_of(video: Path) -> str:
    txt = video.with_suffix(".txt")
    return txt.read_text(encoding="utf-8").strip() if txt.exists() else ""


def probe(video: Path) -> tuple[int, int, int]:
    """(frames, width, height) of the first video stream, frames counted by decoding."""
    import av

    try:
        with av.open(str(video)) as box:
            streams = box.streams.video
            if not streams:
                raise DataError(f"{video}: has no video stream")
            frames, size = 0, None
            for frame in box.decode(streams[0]):
                frames += 1
                size = size or (frame.width, frame.height)
    except DataError:
        raise
    except Exception as e:  # PyAV raises its own error types per container and codec
        raise DataError(f"{video}: cannot be read as a video ({type(e).__name__}: {e})") from None
    if not frames:
        raise DataError(f"{video}: no frame could be decoded")
    return frames, size[0], size[1]


def read_frames(video: Path, indices: list[int]) -> torch.Tensor:
    """Frames at the given source indices (sorted), [T, H, W, 3] uint8."""
    import av

    wanted, got = set(indices), {}
    try:
        with av.open(str(video)) as box:
            for i, frame in enumerate(box.decode(box.streams.video[0])):
                if i in wanted:
                    got[i] = torch.from_numpy(frame.to_ndarray(format="rgb24"))
                if i >= indices[-1]:
                    break
    except Exception as e:
        raise DataError(f"{video}: cannot be read as a video ({type(e).__name__}: {e})") from None
    missing = [i for i in indices if i not in got]
    if missing:
        raise DataError(f"{video}: frame {missing[0]} could not be decoded ({len(got)} of "
                        f"{len(indices)} frames read)")
    return torch.stack([got[i] for i in indices])


def nearest_bucket(width: int, height: int, buckets: list[Bucket]) -> Bucket:
    aspect = width / height
    return min(buckets, key=lambda b: (abs(math.log(b.aspect / aspect)), -b.width * b.height))


def fit(frames: torch.Tensor, bucket: Bucket) -> torch.Tensor:
    """[T, H, W, 3] uint8 -> [T, bh, bw, 3] uint8: scale to cover the bucket (area filter when
    shrinking, bicubic when growing), centre crop."""
    t, h, w, _ = frames.shape
    scale = max(bucket.width / w, bucket.height / h)
    nh, nw = max(bucket.height, round(h * scale)), max(bucket.width, round(w * scale))
    x = frames.permute(0, 3, 1, 2).float()
    mode = "area" if scale < 1 else "bicubic"
    x = torch.nn.functional.interpolate(x, size=(nh, nw), mode=mode,
                                        **({} if mode == "area" else {"align_corners": False}))
    top, left = (nh - bucket.height) // 2, (nw - bucket.width) // 2
    x = x[:, :, top:top + bucket.height, left:left + bucket.width]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def plan_clips(video: Path, length: int, buckets: list[Bucket], frame_stride: int = 1,
               clips_per_video: int = 1) -> list[ClipSpec]:
    """Clips of one video, evenly spread over it; a DataError if the video is unreadable or too
    short for one clip."""
    frames, width, height = probe(video)
    span = (length - 1) * frame_stride + 1
    if frames < span:
        raise DataError(f"{video}: {frames} frames, too short for one clip of {length} frames at "
                        f"frame stride {frame_stride} (needs {span}); lower the length or the stride")
    if width < 2 or height < 2:
        raise DataError(f"{video}: frame size {width}x{height} is too small to train on")
    bucket = nearest_bucket(width, height, buckets)
    n = max(1, min(clips_per_video, frames - span + 1))
    starts = [round(i * (frames - span) / max(1, n - 1)) for i in range(n)] if n > 1 else [0]
    caption = caption_of(video)
    return [ClipSpec(video, caption, s, frame_stride, length, bucket) for s in starts]


def load_clip(spec: ClipSpec) -> torch.Tensor:
    """The clip's pixels, [length, bh, bw, 3] uint8."""
    idx = [spec.start + i * spec.frame_stride for i in range(spec.length)]
    return fit(read_frames(spec.video, idx), spec.bucket)
