"""The pack loads into a real ComfyUI server and the code base stays lint-clean."""

import subprocess
import sys
from pathlib import Path

from helpers import ROOT
from hostkit.setup import PACK_LINK_NAME


def test_server_loads_pack_without_import_failure(server):
    log = server.log()
    assert "IMPORT FAILED" not in "\n".join(line for line in log.splitlines() if PACK_LINK_NAME in line)
    assert f"custom_nodes/{PACK_LINK_NAME}" in log


def test_object_info_lists_every_node_in_the_videocanvas_category(server, pack):
    info = server.get("/object_info")
    ours = {name: d for name, d in info.items() if d.get("python_module", "").endswith(PACK_LINK_NAME)}
    assert set(ours) == {cls.GET_NODE_INFO_V1()["name"] for cls in pack.vc_nodes.NODES}
    for name, d in ours.items():
        assert d["category"].split("/")[0] == "VideoCanvas", name  # e.g. VideoCanvas/training
        assert d["description"], f"{name} has no description"
        for section in ("required", "optional"):
            for inp, spec in d["input"].get(section, {}).items():
                opts = spec[1] if len(spec) > 1 else {}
                assert opts.get("tooltip"), f"{name}.{inp} has no tooltip"


def test_ruff_is_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_top_level_name_of_this_checkout_is_also_one_of_comfyuis():
    """The checkout and ComfyUI share sys.path in tests, tools and `python -m trainer`; with no name
    in common, their order does not matter (the nodes live in vc_nodes/, not a second `nodes`)."""
    from hostkit.setup import comfy_dir

    def top_level(folder: Path) -> set[str]:
        names = set()
        for p in folder.iterdir():
            if p.name.startswith((".", "_")) or p.name in ("tests", "models", "custom_nodes"):
                continue  # test folders are collected by path; models/ holds no Python
            if p.suffix == ".py" or (p.is_dir() and any(p.glob("*.py"))):
                names.add(p.stem if p.suffix == ".py" else p.name)
        return names

    ours, comfy = top_level(ROOT), top_level(comfy_dir())
    assert {"vc_core", "vc_nodes", "trainer", "hostkit"} <= ours
    assert {"nodes", "comfy", "utils", "folder_paths"} <= comfy
    assert ours & comfy == set()


def test_the_unit_tests_pass_where_comfyui_cannot_be_imported():
    """tests/unit run alone (no conftest of host/ or browser/ puts ComfyUI on the path): they pass,
    and ComfyUI's modules are not importable there, so nothing in them leans on a host."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                            "print([m for m in ('comfy', 'nodes', 'folder_paths') if u.find_spec(m)])"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    res = subprocess.run([sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and " passed" in res.stdout and "failed" not in res.stdout, res.stdout[-3000:]


def run_test_command(tmp_path, **env_extra) -> subprocess.CompletedProcess:
    """The README's test command on one quick test, with the archives' folder pointed at an empty one
    (a machine without ../shared)."""
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("VIDEOCANVAS_HOST", "VIDEOCANVAS_COMFYUI", "VIDEOCANVAS_REQUIRE_ALL_HOSTS")}
    env.update(VIDEOCANVAS_HOST_ARCHIVES=str(tmp_path), **env_extra)
    return subprocess.run(["bash", str(ROOT / "scripts" / "test.sh"), "-q", "-p", "no:cacheprovider",
                           "tests/unit/test_procedural.py::test_content_does_not_depend_on_resolution"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_test_command_says_when_the_archived_hosts_are_skipped(tmp_path):
    """Without ../shared the README's test command runs the pinned host only, says the 0.7.0 and
    0.33.0 hosts were skipped, and its exit code is the pinned run's."""
    res = run_test_command(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed" in res.stdout
    assert (f"ComfyUI 0.3.75: exit 0; "
            f"ComfyUI 0.7.0: SKIPPED (no archive at {tmp_path}/comfyui-0.7.0.tar.gz); "
            f"ComfyUI 0.33.0: SKIPPED (no archive at {tmp_path}/comfyui-0.33.0.tar.gz)"
            in res.stderr), res.stderr


def test_ci_fails_when_an_archived_host_is_missing(tmp_path):
    """.ci/run requires every host: the same missing archives are a failure there."""
    assert "VIDEOCANVAS_REQUIRE_ALL_HOSTS=1" in (ROOT / ".ci" / "run").read_text()
    res = run_test_command(tmp_path, VIDEOCANVAS_REQUIRE_ALL_HOSTS="1")
    assert res.returncode != 0 and "1 passed" in res.stdout
    assert "ComfyUI 0.7.0: MISSING (no archive at" in res.stderr, res.stderr
    assert "ComfyUI 0.33.0: MISSING (no archive at" in res.stderr, res.stderr
