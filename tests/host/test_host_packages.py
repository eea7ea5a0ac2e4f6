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


PINNED = {pin.split("===")[0]: pin.split("===")[1] for pin in setup.TORCH_PINS}  # torch, torchvision


def test_a_new_venv_gets_torch_and_torchvision_as_hard_links_and_nothing_else(bare_venv):
    source = Path(sys.executable)
    target_site = setup.site_packages(bare_venv)
    # a stale file from an interrupted install is replaced, not kept
    (target_site / "torch").mkdir(parents=True)
    (target_site / "torch" / "__init__.py").write_text("truncated")

    linked = setup.seed_shared_packages(bare_venv, source)
    names = setup.installed_names(target_site)
    # torch's own requirements and torchvision's, followed through extras (the CUDA libraries)
    assert {"torch", "torchvision", "numpy", "pillow", "sympy", "filelock", "nvidia-cublas"} <= names
    assert linked == len(names)
    # packages only ComfyUI or this pack ask for stay with pip
    assert not names & {"aiohttp", "einops", "safetensors", "comfyui-frontend-package", "pytest"}
    assert not list(target_site.glob("*.seeding")) and not list(target_site.rglob("*.seeding"))

    src_init = setup.site_packages(source) / "torch" / "__init__.py"
    assert os.stat(target_site / "torch" / "__init__.py").st_ino == os.stat(src_init).st_ino
    # console scripts are copies that run the new venv's python, not the source's
    torchrun = bare_venv.parent / "torchrun"
    assert torchrun.read_text().splitlines()[0] == f"#!{bare_venv}"
    assert os.access(torchrun, os.X_OK)

    out = subprocess.run([str(bare_venv), "-c", "import torch, torchvision; from importlib.metadata "
                          "import version as v; print(v('torch'), v('torchvision'), torch.__file__)"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    version, vision, where = out.stdout.split()
    assert (version, vision) == (PINNED["torch"], PINNED["torchvision"])
    assert Path(where).is_relative_to(target_site)

    # a second call finds everything in place and links nothing
    assert setup.seed_shared_packages(bare_venv, source) == 0


def test_pip_removing_a_linked_package_from_the_new_venv_leaves_the_source_intact(bare_venv):
    source_site = setup.site_packages(Path(sys.executable))
    setup.seed_shared_packages(bare_venv, Path(sys.executable))
    module = source_site / "typing_extensions.py"
    before = module.read_bytes()
    links = os.stat(module).st_nlink
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(bare_venv), "uninstall", "-y",
                          "typing_extensions"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "typing-extensions" not in setup.installed_names(setup.site_packages(bare_venv))
    assert module.read_bytes() == before and os.stat(module).st_nlink == links - 1


def test_another_interpreter_is_never_linked_from(bare_venv, monkeypatch):
    real = setup.describe_python

    def other_tag(python, *roots):
        answer = real(python, *roots)
        if python == bare_venv:
            answer["env"]["tag"] = "cpython-399"
        return answer

    monkeypatch.setattr(setup, "describe_python", other_tag)
    assert setup.seed_shared_packages(bare_venv, Path(sys.executable)) == 0
    assert not any(setup.site_packages(bare_venv).iterdir())


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
    # and no folder is left empty (a leftover dist-info folder would read as installed)
    assert [str(d) for d in site.rglob("*") if d.is_dir() and not any(d.iterdir())] == []
