"""The layout is the architecture: which folder may import which, read from the source itself.

Product code (what a user runs: the nodes, the maths, the trainer, the templates) never imports dev
tooling (host set-up, toy-model recipes, benchmarks, scripts, tests); the maths never imports
ComfyUI or the nodes; test modules share code only through tests/helpers.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("vc_core", "vc_nodes", "trainer", "templates")
TOOLING = ("hostkit", "toy_models", "benchmarks", "scripts", "tests")
COMFYUI = ("comfy", "comfy_api", "comfy_extras", "comfy_execution", "folder_paths", "nodes",
           "node_helpers", "latent_preview", "server", "utils", "execution")


def imports(path: Path) -> set[str]:
    """Top-level names a module imports, relative imports resolved against the checkout's root."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + tuple((node.module or "").split(".")) if node.module else base
                found.add(target[0] if target else "<pack>")
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def test_the_folders_this_spec_names_exist():
    for folder in PRODUCT + TOOLING:
        assert (ROOT / folder).is_dir(), folder
    assert len(modules(*PRODUCT)) > 30


def test_no_product_module_imports_dev_tooling():
    offenders = {str(p.relative_to(ROOT)): sorted(imports(p) & set(TOOLING))
                 for p in modules(*PRODUCT) + [ROOT / "__init__.py"]}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_maths_imports_neither_comfyui_nor_any_other_folder_of_the_pack():
    offenders = {str(p.relative_to(ROOT)): sorted(imports(p) & set(COMFYUI + PRODUCT[1:] + TOOLING))
                 for p in modules("vc_core")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_test_modules_share_code_only_through_helpers():
    tests = ROOT / "tests"
    own = {p.stem for p in tests.rglob("*.py")} - {"helpers", "conftest"}
    offenders = {str(p.relative_to(ROOT)): sorted(imports(p) & own) for p in tests.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
