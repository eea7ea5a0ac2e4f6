"""The templates' example inputs, copied into ComfyUI's input folder when the pack loads.

LoadImage / LoadImageMask / LoadVideo list the files at the top level of the input folder (their
combo options) and accept a name only if it exists there (their VALIDATE_INPUTS), on 0.3.75 and
0.7.0 alike; so the shipped files (example_workflows/inputs/, made by toy_models/example_inputs.py) are
copied there under their own names, and the templates run unedited. A file already there is never
overwritten (it may be the user's), nothing is written through a link (a planted
`input/<name> -> elsewhere`, dangling or not, stays as it is and nothing is written elsewhere), and a
copy that fails is logged, never fatal.
"""

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import folder_paths

SHIPPED = Path(__file__).resolve().parent.parent / "example_workflows" / "inputs"


def write_new_file(dest: Path, data: bytes) -> bool:
    """Create `dest` holding `data`, only if no file, folder or link of that name exists; never
    follows a link and never replaces anything. Returns False (nothing written) when the name is
    taken. The bytes go to a fresh temporary file in the same folder first, then get the name by a
    hard link, which fails if the name exists (dangling links included): so a file of that name is
    either the whole copy or none."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".videocanvas-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide it from other users of ComfyUI
        try:
            os.link(tmp, dest, follow_symlinks=False)
            return True
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: create exclusively, never through a link
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            try:
                fd = os.open(dest, flags, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def copy_example_inputs(source: Path = SHIPPED) -> list[str]:
    """Copy every shipped input missing from ComfyUI's input folder; returns the names copied."""
    if not source.is_dir():
        return []
    try:
        target = Path(folder_paths.get_input_directory())
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        logging.warning("VideoCanvas: cannot reach ComfyUI's input folder for the example inputs: %s", err)
        return []
    copied = []
    for path in sorted(source.iterdir()):
        dest = target / path.name
        if not path.is_file() or os.path.lexists(dest):  # lexists: a dangling link is taken too
            continue
        try:
            if write_new_file(dest, path.read_bytes()):
                copied.append(path.name)
        except OSError as err:
            logging.warning("VideoCanvas: could not copy example input %s: %s", path.name, err)
    return copied
