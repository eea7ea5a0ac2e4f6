"""Videos -> training clips: find the videos of a folder, read them with PyAV, cut clips of a 4k+1
length and fit each to its size bucket (the bucket nearest its aspect ratio; scaled to cover,
centre-cropped). Captions: a .txt file beside a video, same stem (optional).

Every problem with a file is a DataError naming that file and what is wrong.

Inside ComfyUI (a server other people may reach) a folder is first confined to the folders the
server allows (`confine`) and walked with those as bounds (`find_videos(..., within=...)`): nothing
outside them is read, and messages show paths relative to the allowed folder. The command line
passes no bounds: a local user reads what they can read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif", ".mpg", ".mpeg")

# Bounds of one folder walk: a training set is hundreds or thousands of clips; a folder past these
# is a mistake (or the disk's root), refused by name instead of walked for minutes.
MAX_FOLDER_ENTRIES = 20_000
MAX_FOLDER_DEPTH = 8


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
    label: str = ""  # how messages name the video ("" = its path)


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


@dataclass(frozen=True)
class AllowedFolder:
    """A folder the server lets clients read from, and how messages name it (never its path)."""

    path: Path
    description: str  # e.g. "ComfyUI's input folder"


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _real_roots(roots: Sequence[AllowedFolder]) -> list[str]:
    return [os.path.realpath(r.path) for r in roots]


def confine(name, roots: Sequence[AllowedFolder], input_name: str = "folder") -> tuple[Path, str]:
    """The folder `name` names inside one of `roots`, and its label for messages ('clips/cats' in
    ComfyUI's input folder). Refused by the name alone, before anything is read: '~', '..', an
    absolute path outside every root, and a name that resolves (through links) outside them. A
    relative name is looked for in each root in turn. So a client learns nothing about paths
    outside the roots: not whether they exist, nor what they hold."""
    allowed = " or ".join(r.description for r in roots)
    rule = (f"{input_name}: only folders inside {allowed} can be read (a name relative to it, "
            f"subfolders allowed)")
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"{rule}; got an empty name")
    if "\0" in name:
        raise DataError(f"{rule}; got a name with a NUL character")
    if name.startswith("~"):
        raise DataError(f"{rule}; '~' (a home folder) is not expanded")
    parts = name.replace(os.altsep or os.sep, os.sep).split(os.sep)
    if ".." in parts:
        raise DataError(f"{rule}; '..' is not allowed in the name")
    real_roots = _real_roots(roots)
    if os.path.isabs(name):
        path = os.path.normpath(name)
        candidates = []
        for root, real_root in zip(roots, real_roots, strict=True):
            for base in (os.path.normpath(os.path.abspath(root.path)), real_root):
                if _inside(path, [base]) and not candidates:
                    candidates = [(root, os.path.relpath(path, base))]
        if not candidates:  # the path is not repeated: whatever it is, it is not ours to describe
            raise DataError(f"{rule}; got an absolute path outside them")
    else:
        candidates = [(r, os.path.normpath(name)) for r in roots]
    for root, rel in candidates:
        rel = rel.replace(os.sep, "/")
        where = f"'{rel}' in {root.description}"
        real = os.path.realpath(os.path.join(root.path, rel))
        # checked before any stat of the target: a link out of the root is refused whether or not
        # what it points at exists
        if not _inside(real, real_roots):
            raise DataError(f"{input_name} {where} leads outside the folders that can be read (a "
                            f"link); only folders inside {allowed} can be read")
        if os.path.lexists(real):
            if not os.path.isdir(real):
                raise DataError(f"{input_name} {where} is not a folder")
            # messages name it relative to its root; a root other than the first is named too
            return Path(real), rel if root is roots[0] else f"<{root.description}>/{rel}"
    looked = " or ".join(r.description for r, _ in candidates)
    raise DataError(f"{input_name} '{candidates[0][1].replace(os.sep, '/')}': no such folder in {looked}")


def _walk(folder: Path, label: str, within: list[str] | None, max_entries: int, max_depth: int):
    """Regular files under `folder`, subfolders included, sorted; links are followed only to files
    inside `within` (None: anywhere) and never into folders (no cycles). Bounded by max_entries
    and max_depth, refused by name past them."""
    files, seen, stack = [], 0, [(folder, 0)]
    while stack:
        here, depth = stack.pop()
        with os.scandir(here) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    raise DataError(f"{label}: more than {max_entries} files and folders (subfolders "
                                    f"included); at most {max_entries} are looked at: give a smaller "
                                    f"folder")
                path = Path(entry.path)
                shown = f"{label}/{path.relative_to(folder).as_posix()}"
                if entry.is_symlink():
                    if within is not None and not _inside(os.path.realpath(path), within):
                        raise DataError(f"{shown}: a link to outside the folders that can be read")
                    if entry.is_file():  # a link to a regular file; links to folders are not walked
                        files.append(path)
                elif entry.is_dir(follow_symlinks=False):
                    if depth + 1 > max_depth:
                        raise DataError(f"{shown}: subfolders nested more than {max_depth} deep; at "
                                        f"most {max_depth} levels are looked at")
                    stack.append((path, depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    files.append(path)
    return sorted(files)


def find_videos(folder: Path, *, within: Sequence[AllowedFolder] | None = None, label: str | None = None,
                max_entries: int | None = None, max_depth: int | None = None) -> list[Path]:
    """The video files of a folder, subfolders included. within: the allowed folders (from
    `confine`): links leading outside them are refused; label: how messages name the folder."""
    folder = Path(folder)
    label = str(folder) if label is None else label
    if not folder.is_dir():
        raise DataError(f"{label}: not a folder")
    real = None if within is None else _real_roots(within)
    files = _walk(folder, label, real, MAX_FOLDER_ENTRIES if max_entries is None else max_entries,
                  MAX_FOLDER_DEPTH if max_depth is None else max_depth)
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    if not videos:
        raise DataError(f"{label}: no videos found (looked for {', '.join(VIDEO_EXTENSIONS)}, "
                        f"subfolders included)")
    return videos


def video_label(video: Path, folder: Path, label: str) -> str:
    """How messages name a video found in `folder` (shown as `label`)."""
    return f"{label}/{Path(video).relative_to(folder).as_posix()}"


def caption_of(video: Path, within: Sequence[AllowedFolder] | None = None, label: str | None = None) -> str:
    txt = video.with_suffix(".txt")
    if within is not None and not _inside(os.path.realpath(txt), _real_roots(within)):
        raise DataError(f"{label or txt}: its caption file is a link to outside the folders that "
                        f"can be read")
    return txt.read_text(encoding="utf-8").strip() if txt.is_file() else ""


def _unreadable(video: Path, name: str, e: Exception) -> DataError:
    # PyAV's messages quote the file's path: shown as the caller names the file instead
    reason = str(e).replace(str(video), name)
    return DataError(f"{name}: cannot be read as a video ({type(e).__name__}: {reason})")


def probe(video: Path, label: str | None = None) -> tuple[int, int, int]:
    """(frames, width, height) of the first video stream, frames counted by decoding. label: how
    messages name the video (default: its path)."""
    import av

    name = label or str(video)
    try:
        with av.open(str(video)) as box:
            streams = box.streams.video
            if not streams:
                raise DataError(f"{name}: has no video stream")
            frames, size = 0, None
            for frame in box.decode(streams[0]):
                frames += 1
                size = size or (frame.width, frame.height)
    except DataError:
        raise
    except Exception as e:  # PyAV raises its own error types per container and codec
        raise _unreadable(video, name, e) from None
    if not frames:
        raise DataError(f"{name}: no frame could be decoded")
    return frames, size[0], size[1]


def read_frames(video: Path, indices: list[int], label: str | None = None) -> torch.Tensor:
    """Frames at the given source indices (sorted), [T, H, W, 3] uint8."""
    import av

    name = label or str(video)
    wanted, got = set(indices), {}
    try:
        with av.open(str(video)) as box:
            for i, frame in enumerate(box.decode(box.streams.video[0])):
                if i in wanted:
                    got[i] = torch.from_numpy(frame.to_ndarray(format="rgb24"))
                if i >= indices[-1]:
                    break
    except Exception as e:
        raise _unreadable(video, name, e) from None
    missing = [i for i in indices if i not in got]
    if missing:
        raise DataError(f"{name}: frame {missing[0]} could not be decoded ({len(got)} of "
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
               clips_per_video: int = 1, *, within: Sequence[AllowedFolder] | None = None,
               label: str | None = None) -> list[ClipSpec]:
    """Clips of one video, evenly spread over it; a DataError if the video is unreadable or too
    short for one clip. within, label: as for find_videos (the caption file is confined too)."""
    name = label or str(video)
    frames, width, height = probe(video, label)
    span = (length - 1) * frame_stride + 1
    if frames < span:
        raise DataError(f"{name}: {frames} frames, too short for one clip of {length} frames at "
                        f"frame stride {frame_stride} (needs {span}); lower the length or the stride")
    if width < 2 or height < 2:
        raise DataError(f"{name}: frame size {width}x{height} is too small to train on")
    bucket = nearest_bucket(width, height, buckets)
    n = max(1, min(clips_per_video, frames - span + 1))
    starts = [round(i * (frames - span) / max(1, n - 1)) for i in range(n)] if n > 1 else [0]
    caption = caption_of(video, within, label)
    return [ClipSpec(video, caption, s, frame_stride, length, bucket, label or "") for s in starts]


def load_clip(spec: ClipSpec) -> torch.Tensor:
    """The clip's pixels, [length, bh, bw, 3] uint8."""
    idx = [spec.start + i * spec.frame_stride for i in range(spec.length)]
    return fit(read_frames(spec.video, idx, spec.label or None), spec.bucket)
