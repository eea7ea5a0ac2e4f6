"""The workflow file format: a `Graph` of nodes and links, written out in both of ComfyUI's formats.

- UI format (`example_workflows/<name>.json`): what the ComfyUI frontend saves and loads (litegraph
  nodes with id/type/pos/size/inputs/outputs/widgets_values and a links table). ComfyUI serves a
  pack's `example_workflows/*.json` in its template browser (GET /workflow_templates; files under
  /api/workflow_templates/<pack>/), with `<name>.jpg` beside each as its thumbnail.
- API format (`example_workflows/api/<name>.json`): what POST /prompt takes ({id: {class_type,
  inputs}}). In a subfolder so the template browser does not list it (its glob is
  `<pack>/example_workflows/*.json`).

Widget order, defaults and socket types come from the nodes' real definitions (ComfyUI's
/object_info, passed in as `info`), never typed twice. `ui_to_api` converts a UI file back with a
server's /object_info (the tests compare it with the API file). Plain dict work: no ComfyUI needed.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = ROOT / "example_workflows"
API_DIR = WORKFLOWS_DIR / "api"
INPUTS_DIR = WORKFLOWS_DIR / "inputs"  # the example inputs (toy_models/example_inputs.py)

# Node types the frontend draws but the server does not know (not in /object_info, not in API format).
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
MEDIA_UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload", "audio_upload")
UPLOAD_WIDGET_VALUE = "image"  # what the frontend's upload button serializes (see ComfyUI's templates)
# Combos whose options are the files installed on a machine: any name is valid in a shared workflow.
FILE_COMBOS = {("UNETLoader", "unet_name"), ("VAELoader", "vae_name"), ("CLIPLoader", "clip_name"),
               ("CLIPVisionLoader", "clip_name"), ("CheckpointLoaderSimple", "ckpt_name"),
               ("LoadImage", "image"), ("LoadImageMask", "image"), ("LoadVideo", "file")}

# ComfyUI's repackaged Wan files (what its own templates use), with where they come from.


# ------------------------------------------------------------------------------ node definitions


def _input_specs(info: dict) -> list[tuple[str, str, list]]:
    """(section, name, spec) of a node's inputs in the frontend's order (input_order, required first)."""
    out = []
    for section in ("required", "optional"):
        specs = info.get("input", {}).get(section) or {}
        order = (info.get("input_order") or {}).get(section) or list(specs)
        out += [(section, name, specs[name]) for name in order if name in specs]
    return out


def _spec_type(spec) -> str:
    kind = spec[0]
    return "COMBO" if isinstance(kind, list) else kind


def _spec_opts(spec) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def is_widget(spec) -> bool:
    return _spec_type(spec) in WIDGET_TYPES and not _spec_opts(spec).get("forceInput")


def has_control_widget(name: str, spec) -> bool:
    """The frontend adds a 'control after generate' combo after this widget (and saves its value)."""
    kind, opts = _spec_type(spec), _spec_opts(spec)
    if kind == "INT":
        flag = opts.get("control_after_generate")
        return bool(flag) if flag is not None else name in ("seed", "noise_seed")
    return kind == "COMBO" and bool(opts.get("control_after_generate"))


def widget_layout(info: dict) -> list[tuple[str, str]]:
    """The node's widgets_values slots as (input name or '', role): role 'value' for an input's own
    value, 'control' for the control-after-generate value after it, 'upload' for the upload button
    (which the frontend appends after every other widget of a node with a media-upload combo)."""
    slots, upload = [], False
    for section, name, spec in _input_specs(info):
        if not is_widget(spec):
            continue
        slots.append((name, "value"))
        if has_control_widget(name, spec):
            slots.append((name, "control"))
        if section == "required" and any(_spec_opts(spec).get(f) for f in MEDIA_UPLOAD_FLAGS):
            upload = True
    return slots + ([("", "upload")] if upload else [])


def _combo_options(spec) -> list | None:
    return spec[0] if isinstance(spec[0], list) else _spec_opts(spec).get("options")


# ------------------------------------------------------------------------------------ the graph


@dataclass(frozen=True)
class Out:
    """Output `slot` of a node (what a link starts from)."""

    node: Node
    slot: int


@dataclass(eq=False)
class Node:
    id: int
    type: str
    inputs: dict
    title: str | None = None
    color: tuple[str, str] | None = None  # (color, bgcolor)
    width: int | None = None

    def __getitem__(self, slot: int) -> Out:
        return Out(self, slot)

    @property
    def out(self) -> Out:
        return Out(self, 0)


@dataclass
class Graph:
    name: str
    nodes: list[Node] = field(default_factory=list)

    def add(self, type_: str, title: str | None = None, ui_color=None, ui_width=None, **inputs) -> Node:
        """A node of ComfyUI type `type_`; `inputs` are its input values (an `Out` for a link).
        ui_color: (color, bgcolor); ui_width: its width in the UI."""
        node = Node(len(self.nodes) + 1, type_, inputs, title, ui_color, ui_width)
        self.nodes.append(node)
        return node

    def note(self, text: str, title: str = "About this workflow") -> Node:
        return self.add("Note", title=title, ui_color=NOTE_COLOR, ui_width=420, text=text)


NOTE_COLOR = ("#432", "#653")


def _resolve(graph: Graph, info: dict) -> dict[int, dict]:
    """Every node's full input values (given, else the definition's default), checked against the
    definitions: unknown names, missing required inputs, link types, combo options, number ranges."""
    resolved = {}
    for node in graph.nodes:
        if node.type in FRONTEND_ONLY:
            resolved[node.id] = dict(node.inputs)
            continue
        if node.type not in info:
            raise KeyError(f"{graph.name}: node type {node.type} is not registered in ComfyUI")
        specs = {name: (section, spec) for section, name, spec in _input_specs(info[node.type])}
        unknown = set(node.inputs) - set(specs)
        if unknown:
            raise KeyError(f"{graph.name}: {node.type} has no input(s) {sorted(unknown)}")
        values = {}
        for name, (section, spec) in specs.items():
            where = f"{graph.name}: {node.type}.{name}"
            value = node.inputs.get(name)
            if isinstance(value, Out):
                src = info.get(value.node.type, {}).get("output", [])
                got = src[value.slot] if value.slot < len(src) else None
                want = _spec_type(spec)
                if got != want and "*" not in (got, want):
                    raise TypeError(f"{where}: link from {value.node.type}[{value.slot}] is {got}, "
                                    f"needs {want}")
                values[name] = value
                continue
            if not is_widget(spec):
                if section == "required":
                    raise KeyError(f"{where}: required socket not connected")
                continue
            opts = _spec_opts(spec)
            if value is None:
                options = _combo_options(spec)
                if "default" in opts:
                    value = opts["default"]
                elif options:
                    value = options[0]
                else:
                    raise KeyError(f"{where}: no value and no default")
            kind = _spec_type(spec)
            options = _combo_options(spec)
            if kind == "COMBO" and (node.type, name) not in FILE_COMBOS and value not in (options or []):
                raise ValueError(f"{where}: {value!r} is not one of {options}")
            if kind in ("INT", "FLOAT") and not opts.get("min", value) <= value <= opts.get("max", value):
                raise ValueError(f"{where}: {value} outside [{opts.get('min')}, {opts.get('max')}]")
            values[name] = value
        resolved[node.id] = values
    return resolved


def _link_ref(out: Out) -> list:
    return [str(out.node.id), out.slot]


def to_api(graph: Graph, info: dict) -> dict:
    """API format: {"<id>": {"class_type", "inputs", "_meta": {"title"}}} (frontend-only nodes left out)."""
    values = _resolve(graph, info)
    prompt = {}
    for node in graph.nodes:
        if node.type in FRONTEND_ONLY:
            continue
        inputs = {k: (_link_ref(v) if isinstance(v, Out) else v) for k, v in values[node.id].items()}
        title = node.title or info[node.type].get("display_name") or node.type
        prompt[str(node.id)] = {"class_type": node.type, "inputs": inputs, "_meta": {"title": title}}
    return prompt


def _depths(graph: Graph) -> dict[int, int]:
    depth: dict[int, int] = {}

    def visit(node: Node) -> int:
        if node.id not in depth:
            ups = [v.node for v in node.inputs.values() if isinstance(v, Out)]
            depth[node.id] = 1 + max((visit(u) for u in ups), default=-1)
        return depth[node.id]

    for node in graph.nodes:
        visit(node)
    return depth


_TALL = {"LoadImage": 320, "LoadImageMask": 320, "LoadVideo": 360, "PreviewImage": 260, "SaveVideo": 300,
         # the visual editor's drawing areas (web/js/videocanvas_editor.js)
         "VideoCanvasPatchPlacer": 140, "VideoCanvasTimestampConditioner": 40}
# Nodes that draw the layout strip: a header plus one row per node that makes conditions.
_STRIP_NODES = {"VideoCanvasCanvas", "VideoCanvasLayoutPreview"}
_CONDITION_MAKERS = {"VideoCanvasTimestampConditioner", "VideoCanvasInpaint", "VideoCanvasOutpaint",
                     "VideoCanvasExtend", "VideoCanvasTransition", "VideoCanvasCameraMove", "VideoCanvasLoop"}


def to_ui(graph: Graph, info: dict, model_files: dict[str, tuple[str, str]] | None = None) -> dict:
    """UI format (what the frontend saves): nodes laid out in columns by depth, a links table.
    model_files: {file name: (models folder, download URL)}; a loader naming one gets it in its
    properties, where the frontend offers the download when the file is missing (the recipes know
    where their files come from, the format does not)."""
    model_files = model_files or {}
    values = _resolve(graph, info)
    depth = _depths(graph)
    ui_nodes, links = [], []
    slots_in: dict[int, list[dict]] = {}
    slots_out: dict[int, list[dict]] = {}
    for node in graph.nodes:
        if node.type in FRONTEND_ONLY:
            slots_in[node.id], slots_out[node.id] = [], []
            continue
        ninfo = info[node.type]
        slots_in[node.id] = [
            {"name": name, "type": _spec_type(spec), **({"shape": 7} if section == "optional" else {}),
             "link": None}
            for section, name, spec in _input_specs(ninfo) if not is_widget(spec)]
        # A widget fed by a link (e.g. CreateVideo's fps from the Canvas) is saved as the frontend
        # saves a widget converted to an input: a socket naming its widget, after the other sockets.
        slots_in[node.id] += [
            {"name": name, "type": _spec_type(spec), "widget": {"name": name}, "link": None}
            for _, name, spec in _input_specs(ninfo)
            if is_widget(spec) and isinstance(node.inputs.get(name), Out)]
        names = ninfo.get("output_name") or ninfo.get("output", [])
        slots_out[node.id] = [{"name": n, "type": t, "slot_index": i, "links": None}
                              for i, (n, t) in enumerate(zip(names, ninfo.get("output", []), strict=True))]
    for node in graph.nodes:  # links, in node then input order
        for slot in slots_in[node.id]:
            src = values[node.id].get(slot["name"])
            if not isinstance(src, Out):
                continue
            link_id = len(links) + 1
            links.append([link_id, src.node.id, src.slot, node.id,
                          slots_in[node.id].index(slot), slot["type"]])
            slot["link"] = link_id
            out_slot = slots_out[src.node.id][src.slot]
            out_slot["links"] = (out_slot["links"] or []) + [link_id]

    columns: dict[int, float] = {}
    order = sorted(graph.nodes, key=lambda n: (depth[n.id], n.id))
    for exec_order, node in enumerate(order):
        col = depth[node.id] if node.type not in FRONTEND_ONLY else 0
        if node.type in FRONTEND_ONLY:
            widgets = [node.inputs.get("text", "")]
            height = 60 + 18 * sum(1 + len(line) // 60 for line in widgets[0].splitlines())
        else:
            layout = widget_layout(info[node.type])
            widgets = []
            for name, role in layout:
                if role == "value":
                    v = values[node.id].get(name)
                    widgets.append(_link_default(info[node.type], name) if isinstance(v, Out) else v)
                elif role == "control":
                    widgets.append("fixed")
                else:
                    widgets.append(UPLOAD_WIDGET_VALUE)
            rows = max(len(slots_in[node.id]), len(slots_out[node.id]))
            height = 30 + 22 * rows + 26 * len(layout) + _TALL.get(node.type, 0)
            if node.type in _STRIP_NODES:
                height += 30 + 30 * sum(n.type in _CONDITION_MAKERS for n in graph.nodes)
            if node.type == "CLIPTextEncode":
                height += 120
        width = node.width or (400 if node.type in ("CLIPTextEncode", "CLIPLoader", "UNETLoader") else 320)
        x = 40 + 440 * col
        y = columns.get(col, 40)
        columns[col] = y + height + 50
        entry = {"id": node.id, "type": node.type, "pos": [x, y], "size": [width, height], "flags": {},
                 "order": exec_order, "mode": 0, "inputs": slots_in[node.id], "outputs": slots_out[node.id]}
        if node.title:
            entry["title"] = node.title
        props = {} if node.type in FRONTEND_ONLY else {"Node name for S&R": node.type}
        models = [values[node.id].get(k) for k in ("unet_name", "vae_name", "clip_name", "ckpt_name")]
        models = [m for m in models if m in model_files]
        if models:
            props["models"] = [{"name": m, "directory": model_files[m][0],
                                "url": f"{model_files[m][1]}?download=true"}
                               for m in models]
        entry["properties"] = props
        entry["widgets_values"] = widgets
        if node.color:
            entry["color"], entry["bgcolor"] = node.color
        ui_nodes.append(entry)
    ui_nodes.sort(key=lambda n: n["id"])
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"videocanvas/{graph.name}")), "revision": 0,
            "last_node_id": max(n.id for n in graph.nodes), "last_link_id": len(links),
            "nodes": ui_nodes, "links": links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 0.75, "offset": [0, 0]}}, "version": 0.4}


def _link_default(ninfo: dict, name: str):
    for _, n, spec in _input_specs(ninfo):
        if n == name:
            return _spec_opts(spec).get("default")
    return None


def ui_to_api(ui: dict, info: dict) -> dict:
    """Convert a UI-format workflow to API format with a server's /object_info, as the frontend's
    "Export (API)" does: widgets_values are read in the nodes' widget order (skipping the
    control-after-generate and upload values), links become [source id, slot]; muted (mode 2),
    bypassed (mode 4) and frontend-only nodes are left out."""
    links = {link[0]: link for link in ui.get("links", [])}
    prompt = {}
    for node in ui["nodes"]:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (2, 4):
            continue
        ninfo = info.get(node["type"])
        if ninfo is None:
            raise KeyError(f"node {node['id']}: type {node['type']} is not registered on this server")
        inputs: dict = {}
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                link = links[slot["link"]]
                inputs[slot["name"]] = [str(link[1]), link[2]]
        values = list(node.get("widgets_values") or [])
        layout = widget_layout(ninfo)
        if len(values) != len(layout):
            raise ValueError(f"node {node['id']} ({node['type']}): {len(values)} widgets_values for "
                             f"{len(layout)} widget slots {layout}")
        for (name, role), value in zip(layout, values, strict=True):
            if role == "value" and name not in inputs:
                inputs[name] = value
        title = node.get("title") or ninfo.get("display_name") or node["type"]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs, "_meta": {"title": title}}
    return prompt


# ------------------------------------------------------------------------------------ files


def dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def load_api(name: str) -> dict:
    return json.loads((API_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_ui(name: str) -> dict:
    return json.loads((WORKFLOWS_DIR / f"{name}.json").read_text(encoding="utf-8"))

