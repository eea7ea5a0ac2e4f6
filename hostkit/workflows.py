"""The pack's shareable workflows: one Python description per VideoCanvas task, written out in both of
ComfyUI's formats, and the adapter that runs them on tiny or bundled models.

- UI format (`workflows/<name>.json`): what the ComfyUI frontend saves and loads (litegraph nodes with
  id/type/pos/size/inputs/outputs/widgets_values and a links table). ComfyUI serves a pack's
  `workflows/*.json` in its template browser (GET /workflow_templates), so only UI files live there.
- API format (`workflows/api/<name>.json`): what POST /prompt takes ({id: {class_type, inputs}}).
  In a subfolder so the template browser does not list it (its glob is `<pack>/workflows/*.json`).

Both are generated from the same `Graph` (scripts/build_workflows.py): widget order, defaults and
socket types come from the nodes' real definitions (ComfyUI's /object_info, computed in-process by
`object_info()`), never typed twice. `ui_to_api` converts a UI file back with a server's /object_info
(the tests compare it with the API file), and `adapt` turns an API prompt into one that runs on tiny
or bundled models (text encoder replaced by VideoCanvas Null Prompt, small size, few steps).

Everything except `object_info()` / `build_all()` is plain dict work and needs no ComfyUI.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = ROOT / "workflows"
API_DIR = WORKFLOWS_DIR / "api"

# Node types the frontend draws but the server does not know (not in /object_info, not in API format).
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
MEDIA_UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload", "audio_upload")
UPLOAD_WIDGET_VALUE = "image"  # what the frontend's upload button serializes (see ComfyUI's templates)
# Combos whose options are the files installed on a machine: any name is valid in a shared workflow.
FILE_COMBOS = {("UNETLoader", "unet_name"), ("VAELoader", "vae_name"), ("CLIPLoader", "clip_name"),
               ("LoadImage", "image"), ("LoadImageMask", "image"), ("LoadVideo", "file")}

# ComfyUI's repackaged Wan files (what its own templates use), with where they come from.
_WAN21 = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
_WAN22 = "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
MODEL_FILES = {
    "wan2.1_t2v_1.3B_fp16.safetensors": ("diffusion_models", _WAN21),
    "wan2.1_t2v_14B_fp16.safetensors": ("diffusion_models", _WAN21),
    "wan2.2_ti2v_5B_fp16.safetensors": ("diffusion_models", _WAN22),
    "wan_2.1_vae.safetensors": ("vae", _WAN21),
    "wan2.2_vae.safetensors": ("vae", _WAN22),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": ("text_encoders", _WAN21),
}

# Wan's usual negative prompt (as in ComfyUI's own Wan templates)
NEGATIVE_PROMPT = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，"
                   "最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，"
                   "画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
                   "杂乱的背景，三条腿，背景人很多，倒着走")


# ------------------------------------------------------------------------------ node definitions


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON: {type(value).__name__}")


def object_info() -> dict:
    """ComfyUI's /object_info for every registered node, computed in-process (as server.py's
    node_info does), after loading ComfyUI and this pack once."""
    from .inprocess import load_comfy_with_pack

    load_comfy_with_pack()
    from comfy_api.internal import _ComfyNodeInternal

    import nodes

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
POSITIVE_COLOR = ("#232", "#353")
NEGATIVE_COLOR = ("#322", "#533")


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


_TALL = {"LoadImage": 320, "LoadImageMask": 320, "LoadVideo": 360, "PreviewImage": 260, "SaveVideo": 300}


def to_ui(graph: Graph, info: dict) -> dict:
    """UI format (what the frontend saves): nodes laid out in columns by depth, a links table."""
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
        models = [values[node.id].get(k) for k in ("unet_name", "vae_name", "clip_name")]
        models = [m for m in models if m in MODEL_FILES]
        if models:
            props["models"] = [{"name": m, "directory": MODEL_FILES[m][0],
                                "url": f"{MODEL_FILES[m][1]}/{MODEL_FILES[m][0]}/{m}?download=true"}
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


# ------------------------------------------------------------------------------ workflow pieces


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    build: Callable[[], Graph]
    # frames of the saved video, from the (adapted) API prompt and the frame count of the input clips
    output_frames: Callable[[dict, int], int]


WORKFLOWS: dict[str, Workflow] = {}


def _inputs_of(prompt: dict, class_type: str) -> list[dict]:
    return [n["inputs"] for _, n in sorted(prompt.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit()
                                           else 1 << 30) if n["class_type"] == class_type]


def canvas(prompt: dict) -> tuple[int, int, int]:
    """(width, height, length) of the VideoCanvas sampler (or conditioning) node of a prompt."""
    for kind in ("VideoCanvasSampler", "VideoCanvasConditioning"):
        for inputs in _inputs_of(prompt, kind):
            return inputs["width"], inputs["height"], inputs["length"]
    raise KeyError("no VideoCanvasSampler / VideoCanvasConditioning in this prompt")


def _frames_length(prompt: dict, clip_frames: int) -> int:
    return canvas(prompt)[2]


def workflow(name: str, title: str, output_frames=_frames_length):
    def register(build: Callable[[], Graph]) -> Callable[[], Graph]:
        WORKFLOWS[name] = Workflow(name, title, build, output_frames)
        return build
    return register


W, H, LENGTH, FPS, STEPS, CFG, SEED = 832, 480, 81, 16, 30, 5.0, 42
def models_note(unet: str = "wan2.1_t2v_1.3B_fp16.safetensors", vae: str = "wan_2.1_vae.safetensors") -> str:
    other = ("Wan 2.2 TI2V-5B works too: diffusion_models/wan2.2_ti2v_5B_fp16.safetensors with "
             "vae/wan2.2_vae.safetensors (48-channel latents; sizes multiples of 32)."
             if unet.startswith("wan2.1") else
             "Wan 2.1 T2V works too: diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors (or 14B) with "
             "vae/wan_2.1_vae.safetensors, e.g. 832x480, 81 frames at 16 fps.")
    big = (" (or wan2.1_t2v_14B_fp16.safetensors: same graph, better quality, e.g. 1280x720)"
           if unet == "wan2.1_t2v_1.3B_fp16.safetensors" else "")
    return (
        "Models (ComfyUI's repackaged Wan files, in ComfyUI/models/...):\n"
        f"- diffusion_models/{unet}{big}\n"
        f"- vae/{vae}\n"
        "- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors (Load CLIP, type wan)\n"
        f"{other} No public Wan checkpoint has been fine-tuned the VideoCanvas way yet: a stock T2V "
        "model reads the conditions zero-shot (loose adherence); a VideoCanvas-trained model follows "
        "them. The pack's bundled toy model runs with VideoCanvas Null Prompt in place of umt5.\n"
        "Frames are pixel frames 0..length-1 (-1 = the last); length must be 4k+1; every condition "
        "frame adds a full latent frame of tokens, so cost grows with their number.")


MODELS_NOTE = models_note()


@dataclass
class Wan:
    """The usual front of every workflow: models, prompts, the RoPE-interpolating model patch."""

    model: Out
    vae: Out
    positive: Out
    negative: Out


def wan_models(g: Graph, prompt: str, unet: str = "wan2.1_t2v_1.3B_fp16.safetensors",
               vae: str = "wan_2.1_vae.safetensors") -> Wan:
    unet_node = g.add("UNETLoader", title="Load Wan diffusion model", unet_name=unet, weight_dtype="default")
    vae_node = g.add("VAELoader", title="Load Wan VAE", vae_name=vae)
    clip = g.add("CLIPLoader", title="Load umt5 text encoder",
                 clip_name="umt5_xxl_fp8_e4m3fn_scaled.safetensors", type="wan", device="default")
    pos = g.add("CLIPTextEncode", title="Positive prompt", ui_color=POSITIVE_COLOR, text=prompt,
                clip=clip.out)
    neg = g.add("CLIPTextEncode", title="Negative prompt", ui_color=NEGATIVE_COLOR, text=NEGATIVE_PROMPT,
                clip=clip.out)
    model = g.add("VideoCanvasRoPEInterpolator", model=unet_node.out, position_policy="interpolate",
                  paradigm="in_context")
    return Wan(model.out, vae_node.out, pos.out, neg.out)


def sample_decode(g: Graph, wan: Wan, conditions: Out, width=W, height=H, length=LENGTH,
                  paste_back=False) -> Out:
    """VideoCanvas Sampler (+ a preview of its layout strip) and VideoCanvas Decode; returns the frames."""
    sampler = g.add("VideoCanvasSampler", model=wan.model, positive=wan.positive, negative=wan.negative,
                    vae=wan.vae, width=width, height=height, length=length, batch_size=1, seed=SEED,
                    steps=STEPS, cfg=CFG, sampler_name="euler", scheduler="simple", denoise=1.0,
                    conditions=conditions)
    g.add("PreviewImage", title="Layout: where and when each condition sits", images=sampler[1])
    decode = g.add("VideoCanvasDecode", vae=wan.vae, latent=sampler[0], tile_size=0, paste_back=paste_back,
                   feather=4.0, conditions=conditions)
    return decode.out


def save_video(g: Graph, images: Out, name: str, fps: float = FPS) -> None:
    video = g.add("CreateVideo", images=images, fps=float(fps))
    g.add("SaveVideo", video=video.out, filename_prefix=f"video/videocanvas_{name}", format="auto",
          codec="auto")


def load_image(g: Graph, filename: str, title: str) -> Node:
    return g.add("LoadImage", title=title, image=filename)


def load_clip(g: Graph, filename: str, title: str) -> Out:
    video = g.add("LoadVideo", title=title, file=filename)
    return g.add("GetVideoComponents", video=video.out)[0]


def full_frame(g: Graph, image: Out, title: str | None = None) -> Out:
    return g.add("VideoCanvasPatchPlacer", title=title, image=image, x=0.0, y=0.0, width=1.0, height=1.0,
                 unit="fraction", fit="cover", feather=0.0).out


def at_frames(g: Graph, patch: Out, frames: str, conditions: Out | None = None, title=None) -> Out:
    extra = {"conditions": conditions} if conditions is not None else {}
    return g.add("VideoCanvasTimestampConditioner", title=title, patch=patch, frames=frames, unit="frames",
                 fps=float(FPS), strength=1.0, **extra).out


def scaled_clip(g: Graph, clip: Out, width=W, height=H) -> Out:
    return g.add("ImageScale", title="Clip to the output size", image=clip, upscale_method="bilinear",
                 width=width, height=height, crop="center").out


def frames_from(g: Graph, images: Out, first: int, title: str, length: int = 4096) -> Out:
    return g.add("ImageFromBatch", title=title, image=images, batch_index=first, length=length).out


# ----------------------------------------------------------------------------------- the tasks


@workflow("01_i2v_any_frame", "Image to video at any frame")
def i2v_any_frame() -> Graph:
    g = Graph("01_i2v_any_frame")
    g.note("Image-to-video at ANY frame: one image held at frame 40 of 81 (not only the first). "
           "VideoCanvas encodes it on its own and gives its tokens the fractional temporal position "
           "40 / 4 = 10, so the model generates what leads up to it and what follows.\n\n"
           "Change the frame in the Timestamp Conditioner ('0', '40', '-1', 'middle', or seconds).\n\n"
           + MODELS_NOTE)
    wan = wan_models(g, "a red fox trotting through fresh snow in a quiet pine forest, soft morning light, "
                        "tracking shot")
    image = load_image(g, "videocanvas_keyframe.png", "Keyframe image")
    conditions = at_frames(g, full_frame(g, image.out), "40", title="Hold it at frame 40")
    save_video(g, sample_decode(g, wan, conditions), "i2v_any_frame")
    return g


@workflow("02_first_last_frame", "First and last frame (KSampler path)")
def first_last_frame() -> Graph:
    g = Graph("02_first_last_frame")
    g.note("First-last-frame to video, with ComfyUI's own KSampler: VideoCanvas Conditioning encodes the "
           "two keyframes (each on its own, as a single image), attaches them to both prompts and makes "
           "the empty video latent; the model must go through VideoCanvas RoPE Interpolator. The same "
           "conditions work with KSamplerAdvanced and SamplerCustomAdvanced (e.g. Wan 2.2 A14B: patch "
           "both experts).\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a paper boat drifting down a rain-soaked street, the camera slowly following it")
    first = load_image(g, "videocanvas_first.png", "First frame")
    last = load_image(g, "videocanvas_last.png", "Last frame")
    conditions = at_frames(g, full_frame(g, first.out), "0", title="First frame at 0")
    conditions = at_frames(g, full_frame(g, last.out), "-1", conditions, title="Last frame at -1")
    cond = g.add("VideoCanvasConditioning", positive=wan.positive, negative=wan.negative, vae=wan.vae,
                 width=W, height=H, length=LENGTH, batch_size=1, conditions=conditions)
    g.add("PreviewImage", title="Layout: where and when each condition sits", images=cond[3])
    latent = g.add("KSampler", model=wan.model, seed=SEED, steps=STEPS, cfg=CFG, sampler_name="uni_pc",
                   scheduler="simple", positive=cond[0], negative=cond[1], latent_image=cond[2], denoise=1.0)
    decode = g.add("VideoCanvasDecode", vae=wan.vae, latent=latent.out, tile_size=0, paste_back=False,
                   feather=4.0, conditions=conditions)
    save_video(g, decode.out, "first_last_frame")
    return g


@workflow("03_keyframes", "Keyframes at frames 0, 40 and the last")
def keyframes() -> Graph:
    g = Graph("03_keyframes")
    g.note("Multi-keyframe video: three images at frames 0, 40 and the last (-1). Chain one Timestamp "
           "Conditioner per keyframe to add more; any frame works, not only multiples of 4 (frame 41 "
           "sits at temporal position 10.25).\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a hot air balloon rising over a valley at sunrise, drifting across the frame")
    conditions = None
    for filename, frames, label in (("videocanvas_key_start.png", "0", "Start"),
                                    ("videocanvas_key_middle.png", "40", "Middle"),
                                    ("videocanvas_key_end.png", "-1", "End")):
        image = load_image(g, filename, f"{label} keyframe")
        conditions = at_frames(g, full_frame(g, image.out), frames, conditions,
                               title=f"{label} keyframe at frame {frames}")
    save_video(g, sample_decode(g, wan, conditions), "keyframes")
    return g


@workflow("04_patch_to_video", "Patches to video: a cut-out and a crop")
def patch_to_video() -> Graph:
    g = Graph("04_patch_to_video")
    g.note("Patch-to-video: partial patches at chosen places and times; the model completes everything "
           "else.\n- An object cut-out (a PNG with transparency: LoadImage's MASK is 1 where transparent, "
           "so Invert Mask keeps the object) on the left at frame 0 and on the right at the last frame: "
           "the object crosses the scene.\n- A crop of a photo (Image Crop, in the photo's pixels) as "
           "the top strip at frame 40.\nBoxes are fractions of the output canvas (unit 'px' for "
           "pixels).\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a small yellow rubber duck floating across a pond, ripples on the water, "
                        "overcast sky")
    obj = load_image(g, "videocanvas_object.png", "Object cut-out (PNG with alpha)")
    keep = g.add("InvertMask", title="Object = 1", mask=obj[1])
    left = g.add("VideoCanvasPatchPlacer", title="Object, left box", image=obj[0], x=0.05, y=0.35,
                 width=0.3, height=0.5, unit="fraction", fit="contain", feather=2.0, mask=keep.out)
    right = g.add("VideoCanvasPatchPlacer", title="Object, right box", image=obj[0], x=0.65, y=0.35,
                  width=0.3, height=0.5, unit="fraction", fit="contain", feather=2.0, mask=keep.out)
    photo = load_image(g, "videocanvas_keyframe.png", "Photo to crop from")
    crop = g.add("ImageCrop", title="Crop (photo pixels)", image=photo[0], width=832, height=160, x=0, y=0)
    strip = g.add("VideoCanvasPatchPlacer", title="Crop, top strip", image=crop.out, x=0.0, y=0.0,
                  width=1.0, height=0.33, unit="fraction", fit="cover", feather=4.0)
    conditions = at_frames(g, left.out, "0", title="Object at frame 0")
    conditions = at_frames(g, right.out, "-1", conditions, title="Object at the last frame")
    conditions = at_frames(g, strip.out, "40", conditions, title="Crop at frame 40")
    save_video(g, sample_decode(g, wan, conditions), "patch_to_video")
    return g


@workflow("05_inpaint", "Video inpainting")
def inpaint() -> Graph:
    g = Graph("05_inpaint")
    g.note("Video inpainting: every kept frame of the clip is a condition holding what the mask leaves; "
           "the model generates the hole (mask: white = hole, at the clip's own size; one mask for all "
           "frames). The clip is used from its first frame, at most 81 frames (Image From Batch); use "
           "a clip with the output's aspect. every_nth 1 conditions every frame (the paper; the costly "
           "case: each condition adds a full frame of tokens), 2 or 4 is much cheaper. Paste-back keeps "
           "the untouched area of the conditioned frames bit-exact.\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a quiet street, empty pavement, parked bicycles, afternoon light")
    clip = frames_from(g, load_clip(g, "videocanvas_clip.mp4", "Clip to inpaint"), 0,
                       "At most 81 frames", length=LENGTH)
    mask = g.add("LoadImageMask", title="Hole mask (white = generate)", image="videocanvas_mask.png",
                 channel="red")
    conditions = g.add("VideoCanvasInpaint", video=clip, mask=mask.out, start_frame=0, every_nth=2,
                       strength=1.0).out
    save_video(g, sample_decode(g, wan, conditions, paste_back=True), "inpaint")
    return g


@workflow("06_outpaint", "Video outpainting")
def outpaint() -> Graph:
    g = Graph("06_outpaint")
    g.note("Video outpainting: each kept frame of the clip is placed in the middle box of the wider "
           "canvas (x, y, width, height: fractions of the output); the model completes the "
           "surroundings. A square or portrait clip becomes a 832x480 landscape video. every_nth 2 "
           "conditions every other frame (1 = every frame, the paper's dense setting, costlier).\n\n"
           + MODELS_NOTE)
    wan = wan_models(g, "a wide view of a harbour at dusk, boats, lights reflecting on the water")
    clip = frames_from(g, load_clip(g, "videocanvas_clip.mp4", "Clip to outpaint"), 0,
                       "At most 81 frames", length=LENGTH)
    conditions = g.add("VideoCanvasOutpaint", video=clip, x=0.25, y=0.0, width=0.5, height=1.0,
                       fit="contain", feather=8.0, start_frame=0, every_nth=2, strength=1.0).out
    save_video(g, sample_decode(g, wan, conditions), "outpaint")
    return g


@workflow("07_camera_pan", "Camera pan from one image")
def camera_pan() -> Graph:
    g = Graph("07_camera_pan")
    g.note("Camera pan: one image seen through a window that moves from left to right (centre x 0.65 -> "
           "0.35 of the canvas at zoom 1.6, so the image always covers it), as conditions on every 8th "
           "frame; the model fills the motion in between and what the window uncovers. Choose "
           "every_nth dividing length - 1 for an even speed.\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a mountain lake panorama, snowy peaks, slow sideways camera pan")
    image = load_image(g, "videocanvas_keyframe.png", "Image to pan across")
    conditions = g.add("VideoCanvasCameraMove", image=image.out, start_x=0.65, start_y=0.5, start_zoom=1.6,
                       end_x=0.35, end_y=0.5, end_zoom=1.6, easing="ease_in_out", every_nth=8, feather=0.0,
                       strength=1.0).out
    save_video(g, sample_decode(g, wan, conditions), "camera_pan")
    return g


@workflow("08_camera_zoom", "Camera zoom-out with Wan 2.2 TI2V-5B")
def camera_zoom() -> Graph:
    g = Graph("08_camera_zoom")
    g.note("Camera zoom-out, on Wan 2.2 TI2V-5B (48-channel latents: its own VAE, sizes multiples of 32, "
           "1280x704 at 24 fps, 121 frames): the image starts filling the frame (zoom 1.2) and shrinks to "
           "half (0.5); the model paints the widening surroundings. Conditions on every 8th frame.\n\n"
           + models_note("wan2.2_ti2v_5B_fp16.safetensors", "wan2.2_vae.safetensors"))
    wan = wan_models(g, "a lighthouse on a cliff above the sea, the camera slowly pulling back to reveal "
                        "the coast", unet="wan2.2_ti2v_5B_fp16.safetensors", vae="wan2.2_vae.safetensors")
    image = load_image(g, "videocanvas_keyframe.png", "Image to zoom out from")
    conditions = g.add("VideoCanvasCameraMove", image=image.out, start_x=0.5, start_y=0.5, start_zoom=1.2,
                       end_x=0.5, end_y=0.5, end_zoom=0.5, easing="linear", every_nth=8, feather=4.0,
                       strength=1.0).out
    save_video(g, sample_decode(g, wan, conditions, width=1280, height=704, length=121), "camera_zoom",
               fps=24)
    return g


def _transition_frames(prompt: dict, clip_frames: int) -> int:
    (t,) = _inputs_of(prompt, "VideoCanvasTransition")
    return clip_frames + (canvas(prompt)[2] - t["frames_a"]) + (clip_frames - t["frames_b"])


@workflow("09_transition", "Scene transition between two clips", _transition_frames)
def transition() -> Graph:
    g = Graph("09_transition")
    g.note("Scene transition: clip A's last 9 frames open the output and clip B's first 9 close it; the "
           "model generates the change of scene between them. The saved video is the whole cut: clip A, "
           "the new frames (the output without its first 9), then clip B without its first 9. If you "
           "change frames_a / frames_b, set the matching 'Drop ...' batch_index to the same number.\n\n"
           + MODELS_NOTE)
    wan = wan_models(g, "a smooth cinematic transition from a beach at noon to a city street at night")
    a = scaled_clip(g, load_clip(g, "videocanvas_clip_a.mp4", "Clip A (before)"))
    b = scaled_clip(g, load_clip(g, "videocanvas_clip_b.mp4", "Clip B (after)"))
    conditions = g.add("VideoCanvasTransition", clip_a=a, clip_b=b, frames_a=9, frames_b=9,
                       strength=1.0).out
    new = frames_from(g, sample_decode(g, wan, conditions), 9, "Drop the output's first frames_a (= A's end)")
    b_rest = frames_from(g, b, 9, "Drop B's first frames_b (already in the output)")
    whole = g.add("ImageBatch", title="A + transition", image1=a, image2=new)
    whole = g.add("ImageBatch", title="... + B", image1=whole.out, image2=b_rest)
    save_video(g, whole.out, "transition")
    return g


def _extend_frames(prompt: dict, clip_frames: int) -> int:
    (e,) = _inputs_of(prompt, "VideoCanvasExtend")
    return clip_frames + canvas(prompt)[2] - e["context_frames"]


@workflow("10_extend", "Extend a clip forwards", _extend_frames)
def extend() -> Graph:
    g = Graph("10_extend")
    g.note("Video extension: the clip's last 9 frames open the output, so the new 81 frames continue it. "
           "The saved video is the clip followed by the new frames (the output without its first 9). "
           "Direction 'backward' generates what comes before the clip instead (then put the output "
           "first). Feed the result back in for a very long video, one window at a time. If you change "
           "context_frames, set the 'Drop ...' batch_index to the same number.\n\n" + MODELS_NOTE)
    wan = wan_models(g, "the same scene continues: waves rolling onto the shore, seagulls flying past")
    clip = scaled_clip(g, load_clip(g, "videocanvas_clip.mp4", "Clip to extend"))
    conditions = g.add("VideoCanvasExtend", video=clip, context_frames=9, direction="forward",
                       strength=1.0).out
    new = frames_from(g, sample_decode(g, wan, conditions), 9, "Drop the output's first context_frames")
    whole = g.add("ImageBatch", title="Clip + continuation", image1=clip, image2=new)
    save_video(g, whole.out, "extend")
    return g


def _loop_frames(prompt: dict, clip_frames: int) -> int:
    (lp,) = _inputs_of(prompt, "VideoCanvasLoop")
    n = lp["context_frames"]
    return (clip_frames - n) + (canvas(prompt)[2] - n)


@workflow("11_loop", "Seamless loop", _loop_frames)
def loop() -> Graph:
    g = Graph("11_loop")
    g.note("Seamless loop: the bridge opens with the clip's last 9 frames and closes with its first 9, "
           "and the model generates the way back. The saved video is clip[9:] followed by bridge[9:]: "
           "its end runs into its start without a cut, so it plays in a loop. (Equivalently: the whole "
           "clip, then the bridge without its first and last 9.) If you change context_frames, set both "
           "'Drop ...' batch_index to the same number.\n\n" + MODELS_NOTE)
    wan = wan_models(g, "a campfire burning at night, sparks rising, gentle flicker")
    clip = scaled_clip(g, load_clip(g, "videocanvas_clip.mp4", "Clip to loop"))
    conditions = g.add("VideoCanvasLoop", video=clip, context_frames=9, strength=1.0).out
    bridge = frames_from(g, sample_decode(g, wan, conditions), 9, "Drop the bridge's first context_frames")
    clip_rest = frames_from(g, clip, 9, "Drop the clip's first context_frames")
    whole = g.add("ImageBatch", title="Clip + bridge", image1=clip_rest, image2=bridge)
    save_video(g, whole.out, "loop")
    return g


# --------------------------------------------------------------------------------- build, load


def build_all(info: dict | None = None) -> dict[str, tuple[dict, dict]]:
    """{name: (ui, api)} for every workflow."""
    info = info if info is not None else object_info()
    out = {}
    for name, wf in WORKFLOWS.items():
        graph = wf.build()
        out[name] = (to_ui(graph, info), to_api(graph, info))
    return out


def dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def write_all(built: dict[str, tuple[dict, dict]], folder: Path = WORKFLOWS_DIR) -> list[Path]:
    api = folder / "api"
    api.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (ui, prompt) in built.items():
        for path, obj in ((folder / f"{name}.json", ui), (api / f"{name}.json", prompt)):
            path.write_text(dumps(obj), encoding="utf-8")
            written.append(path)
    return written


def load_api(name: str) -> dict:
    return json.loads((API_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_ui(name: str) -> dict:
    return json.loads((WORKFLOWS_DIR / f"{name}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------- adapt

# Inputs that count pixel frames of the output (or of a clip, in step with them): rescaled with the
# length. Each is (class_type, input) -> "spec" (a frame list string) or "count" (an int).
FRAME_INPUTS = {
    ("VideoCanvasTimestampConditioner", "frames"): "spec",
    ("VideoCanvasInpaint", "start_frame"): "count",
    ("VideoCanvasOutpaint", "start_frame"): "count",
    ("VideoCanvasExtend", "context_frames"): "count",
    ("VideoCanvasTransition", "frames_a"): "count",
    ("VideoCanvasTransition", "frames_b"): "count",
    ("VideoCanvasLoop", "context_frames"): "count",
    ("ImageFromBatch", "batch_index"): "count",
}
# Nodes whose width/height (when equal to the canvas) and length (when equal to it) are the canvas's.
CANVAS_SIZED = {"VideoCanvasSampler", "VideoCanvasConditioning", "VideoCanvasLayoutPreview", "ImageScale"}
CANVAS_LONG = {"VideoCanvasSampler", "VideoCanvasConditioning", "VideoCanvasLayoutPreview", "ImageFromBatch"}
INPUT_FILES = {"LoadImage": "image", "LoadImageMask": "image", "LoadVideo": "file"}


def _scale_frames(value: int, old_length: int, new_length: int) -> int:
    """A frame index or count at old_length, at new_length: 0 stays 0, the last frame stays the last,
    anything else keeps its place in time (at least 1)."""
    if value == 0 or old_length == new_length:
        return value
    return max(1, round(value * (new_length - 1) / (old_length - 1)))


def _scale_spec(spec: str, old_length: int, new_length: int) -> str:
    def one(token: str) -> str:
        if re.fullmatch(r"\d+", token):
            return str(_scale_frames(int(token), old_length, new_length))
        return token
    return ", ".join(one(t) for t in re.split(r"[\s,]+", spec.strip()) if t)


def input_files(prompt: dict) -> dict[str, str]:
    """{file name: kind} of the files a prompt loads: 'image', 'rgba' (an image whose alpha MASK is
    used), 'mask' (LoadImageMask) or 'video'."""
    used_masks = {(ref[0], ref[1]) for node in prompt.values() for ref in node["inputs"].values()
                  if isinstance(ref, list)}
    out = {}
    for node_id, node in prompt.items():
        kind = node["class_type"]
        if kind not in INPUT_FILES:
            continue
        name = node["inputs"][INPUT_FILES[kind]]
        if kind == "LoadVideo":
            out[name] = "video"
        elif kind == "LoadImageMask":
            out[name] = "mask"
        else:
            out[name] = "rgba" if (node_id, 1) in used_masks else out.get(name, "image")
    return out


def adapt(api_prompt: dict, *, unet: str, vae: str, size: tuple[int, int] | None = None,
          length: int | None = None, steps: int | None = None, cfg: float | None = None,
          inputs: dict[str, str] | None = None, seed: int | None = None) -> dict:
    """A copy of an API-format workflow that runs on other (tiny or bundled) models, smaller.

    - every UNETLoader / VAELoader loads `unet` / `vae`;
    - the umt5 text path (CLIPLoader -> CLIPTextEncode) is replaced by one VideoCanvas Null Prompt
      (no tiny text encoder can exist: CLIPLoader type wan always builds the full 5.7B umt5);
    - size=(w, h): the canvas size everywhere it appears (sampler, conditioning, layout, ImageScale);
    - length: the canvas length, with every frame index/count of FRAME_INPUTS moved along in time
      (frame 40 of 81 -> 4 of 9; -1 stays the last frame);
    - steps, cfg, seed: the samplers' settings;
    - inputs={old file name: new file name}: what LoadImage / LoadImageMask / LoadVideo load.
    """
    prompt = copy.deepcopy(api_prompt)
    old_w, old_h, old_length = canvas(prompt)
    new_length = length or old_length
    text_nodes = {i for i, n in prompt.items() if n["class_type"] in ("CLIPLoader", "CLIPTextEncode")}
    null_id = None
    if text_nodes:
        null_id = str(max(int(i) for i in prompt if i.isdigit()) + 1)
        for i in text_nodes:
            del prompt[i]
        prompt[null_id] = {"class_type": "VideoCanvasNullPrompt", "inputs": {},
                           "_meta": {"title": "Null prompt (replaces the umt5 text path)"}}
    for node in prompt.values():
        kind, values = node["class_type"], node["inputs"]
        for name, value in list(values.items()):
            if isinstance(value, list) and value and value[0] in text_nodes:
                values[name] = [null_id, 0]
        if kind == "UNETLoader":
            values["unet_name"] = unet
        elif kind == "VAELoader":
            values["vae_name"] = vae
        if kind in INPUT_FILES and inputs:
            key = INPUT_FILES[kind]
            values[key] = inputs.get(values[key], values[key])
        if size and kind in CANVAS_SIZED and (values.get("width"), values.get("height")) == (old_w, old_h):
            values["width"], values["height"] = size
        if kind in CANVAS_LONG and values.get("length") == old_length:
            values["length"] = new_length
        for (k, name), how in FRAME_INPUTS.items():
            if k == kind and name in values and not isinstance(values[name], list):
                if how == "spec":
                    values[name] = _scale_spec(str(values[name]), old_length, new_length)
                else:
                    values[name] = _scale_frames(int(values[name]), old_length, new_length)
        if kind in ("VideoCanvasSampler", "KSampler", "KSamplerAdvanced"):
            for name, new in (("steps", steps), ("cfg", cfg), ("seed", seed), ("noise_seed", seed)):
                if new is not None and name in values:
                    values[name] = new
    return prompt


# ------------------------------------------------------------------------------- input files


def _palette(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    import hashlib

    h = hashlib.sha256(name.encode()).digest()
    return (h[0], h[1], h[2]), (255 - h[0], 255 - h[1] // 2, h[3])


def _scene(name: str, width: int, height: int, t: float = 0.0):
    """A procedural RGB picture: a vertical gradient between two colours from the name, a disc
    moving with t in [0, 1] and a bar (so every file and frame differs)."""
    import numpy as np
    from PIL import Image, ImageDraw

    top, bottom = _palette(name)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (np.array(top) * (1 - ramp) + np.array(bottom) * ramp).repeat(width, axis=1)
    img = Image.fromarray(pixels.astype("uint8"), "RGB")
    draw = ImageDraw.Draw(img)
    r = max(2, min(width, height) // 5)
    cx, cy = int((0.2 + 0.6 * t) * width), height // 2
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=bottom[::-1])
    draw.rectangle([0, int(0.8 * height), width, height], fill=top[::-1])
    return img


def write_input_files(prompt: dict, folder: Path, prefix: str = "vc_", frames: int = 9,
                      video_size: tuple[int, int] = (96, 64), image_size: tuple[int, int] = (832, 480),
                      fps: int = 16) -> dict[str, str]:
    """Write a procedural stand-in for every file the prompt loads into `folder` (ComfyUI's input
    folder) and return {original name: written name} for `adapt(inputs=...)`.

    Images are PNGs of image_size; object cut-outs (an image whose alpha MASK is used) are RGBA with a
    transparent surround; masks (LoadImageMask) are video_size with a white hole in the middle, so they
    match the clips; videos are H.264 MP4s of `frames` frames at video_size."""
    from PIL import Image, ImageDraw

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for name, kind in input_files(prompt).items():
        stem, ext = Path(name).stem, Path(name).suffix
        target = folder / f"{prefix}{stem}{ext}"
        if kind == "video":
            _write_video(target, stem, frames, video_size, fps)
        elif kind == "mask":
            w, h = video_size
            mask = Image.new("L", (w, h), 0)
            ImageDraw.Draw(mask).rectangle([w // 4, h // 4, 3 * w // 4 - 1, 3 * h // 4 - 1], fill=255)
            mask.convert("RGB").save(target)
        elif kind == "rgba":
            w, h = image_size[1] // 2, image_size[1] // 2
            img = _scene(stem, w, h).convert("RGBA")
            alpha = Image.new("L", (w, h), 0)
            ImageDraw.Draw(alpha).ellipse([w // 8, h // 8, 7 * w // 8, 7 * h // 8], fill=255)
            img.putalpha(alpha)
            img.save(target)
        else:
            _scene(stem, *image_size).save(target)
        mapping[name] = target.name
    return mapping


def _write_video(path: Path, name: str, frames: int, size: tuple[int, int], fps: int) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = np.asarray(_scene(name, *size, t=i / max(1, frames - 1)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
