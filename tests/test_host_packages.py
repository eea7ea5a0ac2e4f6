"""Host set-up shares the torch family between the two hosts' venvs (hostkit.setup.seed_shared_packages):
a new venv takes torch, torchvision and everything they require as hard links to a finished host's
files, so two hosts cost one copy of the ~4.6 GB CUDA build. Runs against this host's own venv as the
source, into a bare venv made on the same file system."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hostkit import setup


@pytest.fixture
def bare_venv(tmp_path):
    """A venv without pip on the file system that holds this host's venv (hard links need one)."""
    source_site = setup.site_packages(Path(sys.executable))
    base = tmp_path
    if os.stat(base).st_dev != os.stat(source_site).st_dev:
        base = Path(sys.prefix).parent / f"seed-test-{os.getpid()}"
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    yield venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)
    if base != tmp_path:
        shutil.rmtree(base, ignore_errors=True)


def test_a_new_venv_gets_torch_and_torchvision_as_hard_links_and_nothing_else(bare_venv):
    source = Path(sys.executable)
    linked = setup.seed_shared_packages(bare_venv, source)
    target_site = setup.site_packages(bare_venv)
    names = setup.installed_names(target_site)
    # torch's own requirements and torchvision's, followed through extras (the CUDA libraries)
    assert {"torch", "torchvision", "numpy", "pillow", "sympy", "filelock"} <= names
    assert linked == len(names)
    # packages only ComfyUI or this pack ask for stay with pip
    assert not names & {"aiohttp", "einops", "safetensors", "comfyui-frontend-package", "pytest"}

    src_init = setup.site_packages(source) / "torch" / "__init__.py"
    assert os.stat(target_site / "torch" / "__init__.py").st_ino == os.stat(src_init).st_ino

    out = subprocess.run([str(bare_venv), "-c", "import torch, torchvision; from importlib.metadata "
                          "import version as v; print(v('torch'), v('torchvision'), torch.__file__)"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    version, vision, where = out.stdout.split()
    assert (version, vision) == ("2.13.0", "0.28.0")  # the pins in setup.TORCH_PINS
    assert Path(where).is_relative_to(target_site)

    # a second call finds everything in place and links nothing
    assert setup.seed_shared_packages(bare_venv, source) == 0


def test_a_failed_link_leaves_no_half_linked_package(bare_venv, monkeypatch):
    real_link = os.link
    torch_files = []

    def fail_inside_torch(src, dst):
        if Path(dst).parts[-2:-1] == ("torch",):  # torch/*.py: another file system, say
            torch_files.append(dst)
            if len(torch_files) > 3:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(src, dst)

    monkeypatch.setattr(setup.os, "link", fail_inside_torch)
    linked = setup.seed_shared_packages(bare_venv, Path(sys.executable))
    site = setup.site_packages(bare_venv)
    names = setup.installed_names(site)
    # the distributions before torch (sorted by name) went in whole; torch and after did not
    assert "torch" not in names and "torchvision" not in names
    assert {"numpy", "filelock"} <= names and linked == len(names)
    assert not any(Path(f).exists() for f in torch_files)
    # every file left belongs to a distribution whose dist-info made it: pip sees each one whole
    owned = set()
    for dist_info in site.glob("*.dist-info"):
        owned |= {row.split(",")[0] for row in (dist_info / "RECORD").read_text().splitlines()}
    stray = [rel for p in site.rglob("*") if p.is_file()
             and (rel := str(p.relative_to(site))) not in owned]
    assert stray == []
