"""Prepare a run of the test suite (and GPU benchmarks) on a lent GPU machine that has PyTorch but no
network: a trimmed copy of the pinned ComfyUI's source, the wheels it needs that such a machine lacks,
and the command that installs them there. Everything goes into git-ignored folders of this checkout
(the device tool copies the working tree plus the paths it is told to carry, 64 MiB in all).

    python3 -m hostkit.device_bundle            # writes .devcomfy/, .whl/, .devshim/; prints the preamble

- `.devcomfy/ComfyUI`: ComfyUI 0.3.75's code and small data files (no models, tokenizer blobs, tests).
- `.whl/`: wheels for CPython 3.12 (the GPU image's Python) of what ComfyUI imports and the image lacks.
- `.devshim/av`: PyAV is 36 MB as a wheel, too big to carry beside the rest; ComfyUI imports it at start
  for its video types only. The shim lets those imports succeed and raises on any use, so a test that
  touches video files fails loudly instead of passing on a fake.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .setup import ROOT, host_dir

COMFY_OUT = ROOT / ".devcomfy" / "ComfyUI"
WHEELS = ROOT / ".whl"
SHIM = ROOT / ".devshim"
# What ComfyUI 0.3.75 and this pack import that the GPU image (see the device tool's KINDS.md) lacks,
# at the versions the 0.3.75 host pins.
MISSING = ["kornia==0.9.0", "kornia_rs==0.2.0", "torchsde==0.2.6", "trampoline==0.1.2",
           "pydantic==2.14.4", "pydantic_core==2.50.5", "annotated_types==0.8.0",
           "typing_inspection==0.4.5", "pydantic_settings==2.16.3", "python_dotenv==1.2.4",
           "spandrel==0.4.2"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
TOP_LEVEL_SKIP = {".git", "models", "custom_nodes", "output", "input", "temp", "user", "tests",
                  "tests-unit", ".github"}
MAX_DATA_FILE = 256 * 1024  # tokenizer vocabularies and the like are only read by text encoders

PREAMBLE = (
    "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
    "--target /tmp/site .whl/*.whl || exit 1; export PYTHONPATH=/tmp/site:$PWD/.devshim "
    "VIDEOCANVAS_COMFYUI=$PWD/.devcomfy/ComfyUI VIDEOCANVAS_DEVICE=cuda PYTHONUNBUFFERED=1; "
    "ln -sfn $PWD .devcomfy/ComfyUI/custom_nodes/comfyui-videocanvas;")

AV_SHIM = {
    "__init__.py": (
        '"""Stand-in for PyAV on a GPU machine without it: imports succeed, any use raises."""\n\n\n'
        "class _Missing:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        raise RuntimeError('PyAV is not installed on this machine (hostkit/device_bundle.py)')\n\n\n"
        "def open(*args, **kwargs):  # noqa: A001\n"
        "    raise RuntimeError('PyAV is not installed on this machine (hostkit/device_bundle.py)')\n\n\n"
        "def __getattr__(name):\n"
        "    return _Missing\n"),
    "container.py": "from . import _Missing as InputContainer, _Missing as OutputContainer  # noqa: F401\n"
                    "def __getattr__(name):\n    from . import _Missing\n    return _Missing\n",
    "subtitles/__init__.py": "",
    "subtitles/stream.py": "from .. import _Missing as SubtitleStream  # noqa: F401\n",
}


def copy_comfy(src: Path, dst: Path) -> int:
    if dst.exists():
        shutil.rmtree(dst)
    total = 0
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if rel.parts[0] in TOP_LEVEL_SKIP or "__pycache__" in rel.parts or not path.is_file() \
                or path.is_symlink():
            continue
        if path.suffix != ".py" and path.stat().st_size > MAX_DATA_FILE:
            continue
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
        total += path.stat().st_size
    for folder in ("custom_nodes", "models", "input", "output"):
        (dst / folder).mkdir(exist_ok=True)
    return total


def download_wheels(dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd + MISSING, check=True)


def write_shim(dest: Path) -> None:
    for rel, text in AV_SHIM.items():
        path = dest / "av" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main() -> int:
    comfy = host_dir() / "ComfyUI"  # the pinned host unless VIDEOCANVAS_HOST says otherwise
    size = copy_comfy(comfy, COMFY_OUT)
    download_wheels(WHEELS)
    write_shim(SHIM)
    wheels = sum(p.stat().st_size for p in WHEELS.glob("*.whl"))
    print(f"ComfyUI source {size / 2**20:.1f} MiB, wheels {wheels / 2**20:.1f} MiB")
    print("carry: .devcomfy .whl .devshim; command preamble:")
    print(PREAMBLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
