"""This package's way to the pack's `vc_core`, whichever way it was imported.

ComfyUI loads the pack as a package (its nodes import `..trainer`), so there `vc_core` is a sibling
subpackage; `python -m trainer` from the pack's folder makes `trainer` top-level, and `vc_core` is
then top-level too. Relative imports serve only the first, absolute ones only the second.
"""

from __future__ import annotations

import importlib


def vc(module: str):
    """`vc_core.<module>` of this pack."""
    parent = __package__.rpartition(".")[0]
    return importlib.import_module(f"{parent}.vc_core.{module}" if parent else f"vc_core.{module}")
