"""The suite's three rooms: unit/ (the maths and tooling, no ComfyUI on the path), host/ (the pack in a
real ComfyUI: in-process executor and HTTP server, tiny checkpoints) and browser/ (ComfyUI's real
frontend in headless Chromium). Shared code lives in helpers.py; nothing here puts ComfyUI on the
path: host/conftest.py and browser/conftest.py do, for their tests.

The hosts (venv + ComfyUI with this pack linked into custom_nodes) are built by
`python3 -m hostkit.setup`, which the README's test command runs first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


@pytest.fixture(scope="session")
def comfy():
    """ComfyUI in-process with its builtin nodes and this pack loaded; runs API-format prompts."""
    from hostkit.inprocess import InProcessComfy

    return InProcessComfy()


@pytest.fixture(scope="session")
def pack(comfy):
    """The pack's package as ComfyUI loaded it (import its submodules from here)."""
    from hostkit.inprocess import load_comfy_with_pack

    return load_comfy_with_pack()


@pytest.fixture(scope="session")
def checkpoints():
    """Names of the tiny random checkpoints, as ComfyUI's loaders list them."""
    from hostkit.setup import comfy_dir
    from hostkit.tiny_models import write_test_checkpoints

    return write_test_checkpoints(comfy_dir() / "models")


@pytest.fixture(scope="session")
def server(tmp_path_factory, checkpoints):
    """A real ComfyUI server (main.py --cpu) on a free loopback port, stopped by its PID after."""
    from hostkit.server import ComfyServer

    if os.environ.get("VIDEOCANVAS_NO_SERVER"):  # set by hostkit/gpu_check.sh only, never in CI
        pytest.skip("VIDEOCANVAS_NO_SERVER: this machine has no ComfyUI frontend package to serve")

    out = tmp_path_factory.mktemp("comfy-output")
    with ComfyServer(log_path=out / "server.log", output_dir=out) as srv:
        yield srv


@pytest.fixture(scope="session")
def object_info(server) -> dict:
    """The server's /object_info: every registered node's schema."""
    return server.get("/object_info")
