"""ComfyUI in-process: import its modules, load the builtin nodes and this pack, read the nodes'
definitions (/object_info) and execute prompts.

The recipe from shared/COMFYUI_NOTES.md: CPU flag before `comfy.model_management` is imported,
`utils.extra_config` before `nodes`, then ComfyUI's own validate_prompt + PromptExecutor.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from enum import Enum
from pathlib import Path

from .setup import PACK_LINK_NAME, comfy_dir

_loaded = False


def on_gpu() -> bool:
    """Whether the development host should let ComfyUI use its GPU (VIDEOCANVAS_DEVICE=cuda)."""
    return os.environ.get("VIDEOCANVAS_DEVICE", "cpu") == "cuda"


def add_comfy_to_path(comfy: Path | None = None) -> Path:
    comfy = Path(comfy or comfy_dir())
    if str(comfy) not in sys.path:
        sys.path.insert(0, str(comfy))
    from comfy.cli_args import args
    # Tests run on the CPU (CI has no GPU); VIDEOCANVAS_DEVICE=cuda runs them on ComfyUI's default GPU.
    args.cpu = not on_gpu()
    # ComfyUI's nodes.py puts ComfyUI/comfy first on sys.path, where comfy/utils.py would then
    # shadow the top-level `utils` package: bind the package first (main.py imports it early too).
    import utils.extra_config  # noqa: F401
    return comfy


def load_comfy_with_pack() -> object:
    """Import ComfyUI, its builtin nodes and this pack (through its custom_nodes link), once.
    Returns the pack's module as ComfyUI loaded it."""
    global _loaded
    comfy = add_comfy_to_path()
    import nodes

    link = comfy / "custom_nodes" / PACK_LINK_NAME
    if not _loaded:
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        if not asyncio.run(nodes.load_custom_node(str(link))):
            raise RuntimeError(f"ComfyUI could not load the pack from {link}")
        _loaded = True
    # ComfyUI registers a pack folder under its path with '.' spelled '_x_' (nodes.load_custom_node).
    return sys.modules[str(link).replace(".", "_x_")]


def windowed(model, length: int = 5, overlap: int = 2, schedule: str = "standard_static", stride: int = 1):
    """The model through ComfyUI's ContextWindowsManual (latent frames on the time axis, dim 2, pyramid
    fusion), with the node's own defaults for the inputs newer releases add (0.33.0's anchor frame)."""
    import inspect

    from comfy_extras.nodes_context_windows import ContextWindowsManualNode

    given = {"model": model, "context_length": length, "context_overlap": overlap,
             "context_schedule": schedule, "context_stride": stride, "closed_loop": False,
             "fuse_method": "pyramid", "dim": 2, "freenoise": False}
    names = inspect.signature(ContextWindowsManualNode.execute).parameters
    return ContextWindowsManualNode.execute(**{k: v for k, v in given.items() if k in names})[0]


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON: {type(value).__name__}")


def object_info() -> dict:
    """ComfyUI's /object_info for every registered node, computed in-process (as server.py's
    node_info does), after loading ComfyUI and this pack once: what the templates are built with
    (templates.recipes.build_all) without starting a server."""
    load_comfy_with_pack()
    import nodes
    from comfy_api.internal import _ComfyNodeInternal

    def node_info(name, cls):
        if issubclass(cls, _ComfyNodeInternal):
            return cls.GET_NODE_INFO_V1()
        inputs = cls.INPUT_TYPES()
        return {"input": inputs, "input_order": {k: list(v) for k, v in inputs.items()},
                "output": cls.RETURN_TYPES,
                "output_name": getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES,
                "name": name, "display_name": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(name, name)}

    info = {}
    for name, cls in nodes.NODE_CLASS_MAPPINGS.items():
        try:
            info[name] = node_info(name, cls)
        except Exception:  # a broken third-party node must not stop the generator
            continue
    return json.loads(json.dumps(info, default=_plain))  # exactly what HTTP would deliver


class NoCacheArgs(dict):
    """PromptExecutor's cache_args with no caching. Newer executors read more keys (0.7.0 reads
    cache_args["ram"], later ones "ram_inactive"): any key not given is 0, i.e. off."""

    def __missing__(self, key):
        return 0


class RecordingServer:
    """The part of ComfyUI's PromptServer that PromptExecutor talks to; keeps every message."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.messages: list[tuple[str, dict]] = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


class InProcessComfy:
    """Validate and execute API-format prompts with ComfyUI's real executor, no HTTP."""

    def __init__(self):
        load_comfy_with_pack()
        import comfy.utils
        import execution

        self._execution = execution
        self.server = RecordingServer()
        self.progress: list[tuple[int, int]] = []
        # Newer ComfyUIs (0.33.0) relay at most one update per 0.1 s and 0.5 % to the UI; the tests
        # check every update the pack's and ComfyUI's progress bars make, so record them unthrottled.
        if hasattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL"):
            comfy.utils.PROGRESS_THROTTLE_MIN_INTERVAL = 0.0
            comfy.utils.PROGRESS_THROTTLE_MIN_PERCENT = 0.0
        comfy.utils.set_progress_bar_global_hook(lambda value, total, *a, **k:
                                                 self.progress.append((value, total)))
        self.executor = execution.PromptExecutor(self.server, cache_type=execution.CacheType.NONE,
                                                 cache_args=NoCacheArgs(lru=0, ram=0))

    def validate(self, prompt: dict) -> tuple[bool, dict, list, dict]:
        return asyncio.run(self._execution.validate_prompt(str(uuid.uuid4()), prompt, None))

    def run(self, prompt: dict) -> dict:
        """Execute; returns {node_id: ui output}. Raises with ComfyUI's own error text on failure."""
        valid, error, outputs, node_errors = self.validate(prompt)
        if not valid:
            raise PromptRejected(error, node_errors)
        self.server.messages.clear()
        self.executor.execute(prompt, str(uuid.uuid4()), {}, outputs)
        if not self.executor.success:
            errs = [d for e, d in self.executor.status_messages if e == "execution_error"]
            raise ExecutionFailed(errs[0] if errs else {"exception_message": "unknown failure"})
        return self.executor.history_result.get("outputs", {})


class PromptRejected(Exception):
    """ComfyUI's validation refused the prompt (what /prompt answers with HTTP 400)."""

    def __init__(self, error: dict, node_errors: dict):
        self.error, self.node_errors = error, node_errors
        super().__init__(f"{error.get('message')}: {node_errors or error.get('details')}")


class ExecutionFailed(Exception):
    """A node raised during execution; carries ComfyUI's execution_error message."""

    def __init__(self, data: dict):
        self.data = data
        super().__init__(f"{data.get('node_type')}: {data.get('exception_message')}")
