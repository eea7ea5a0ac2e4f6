"""The templates' example inputs, copied into ComfyUI's input folder when the pack loads.

LoadImage / LoadImageMask / LoadVideo list the files at the top level of the input folder (their
combo options) and accept a name only if it exists there (their VALIDATE_INPUTS), on 0.3.75 and
0.7.0 alike; so the shipped files (example_workflows/inputs/, made by hostkit/example_inputs.py) are
copied there under their own names, and the templates run unedited. A file already there is never
overwritten (it may be the user's), and a copy that fails is logged, never fatal.
"""

import logging
import shutil
from pathlib import Path

import folder_paths

SHIPPED = Path(__file__).resolve().parent.parent / "example_workflows" / "inputs"


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
        if not path.is_file() or dest.exists():
            continue
        try:
            shutil.copyfile(path, dest)
            copied.append(path.name)
        except OSError as err:
            logging.warning("VideoCanvas: could not copy example input %s: %s", path.name, err)
    return copied
