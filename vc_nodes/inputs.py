"""Every pack node's float and combo inputs, checked before the node runs.

ComfyUI does not do it for V3 nodes: 0.3.75 compares a V3 combo's value with no list at all (so a
misspelled sampler_name ran with a fallback), NaN passes its min/max checks (every comparison with
NaN is false; cfg NaN gave an all-black video), and a linked value is never checked. So each node's
execute is wrapped once, when the pack loads (vc_nodes/__init__.py), with a check read from the
node's own schema: new inputs are covered without code of their own.
"""

from __future__ import annotations

import functools
import inspect
import math

from comfy_api.latest import io

from .patches import node_origin


def check_inputs(cls, values: dict) -> None:
    """Refuse, naming the node and the input, a float input that is not a finite number and a combo
    value that is not one of its options. None (an optional input not given) is left alone."""
    schema = cls.define_schema()
    where = node_origin(cls) or schema.display_name or schema.node_id
    for spec in schema.inputs:
        value = values.get(spec.id)
        if value is None:
            continue
        if isinstance(spec, io.Combo.Input):
            options = list(spec.options or ())
            if value not in options:
                allowed = ", ".join(repr(o) for o in options)
                raise ValueError(f"{where}: {spec.id}: {value!r} is not one of the allowed values: "
                                 f"{allowed}")
        elif isinstance(spec, io.Float.Input):
            try:
                finite = not isinstance(value, bool) and math.isfinite(value)
            except TypeError:
                finite = False
            if not finite:
                bounds = (f" in [{spec.min:g}, {spec.max:g}]" if spec.min is not None and spec.max is not None
                          else "")
                raise ValueError(f"{where}: {spec.id} must be a finite number{bounds}; got {value!r}")


def guard_inputs(node: type[io.ComfyNode]) -> type[io.ComfyNode]:
    """Wrap the node's execute so check_inputs runs first, whatever calls it (ComfyUI's executor,
    or another node's code); positional calls are bound to the input names (partly: a call
    missing an input fails as it would have, after the check)."""
    execute = node.__dict__["execute"].__func__
    if getattr(execute, "_videocanvas_checked", False):
        return node
    signature = inspect.signature(execute)

    @functools.wraps(execute)
    def checked(cls, *args, **kwargs):
        check_inputs(cls, signature.bind_partial(cls, *args, **kwargs).arguments)
        return execute(cls, *args, **kwargs)

    checked._videocanvas_checked = True
    node.execute = classmethod(checked)
    return node
