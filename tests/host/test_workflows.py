"""The templates (example_workflows/), end to end through a real ComfyUI server's HTTP API.

Each task has two templates: one for the bundled toy model, which must run exactly as shipped (its
API twin from example_workflows/api/, unedited, with the example inputs the pack copied into
ComfyUI's input folder when it loaded) and save its video; and one for real Wan, which is run on the
tiny random checkpoints (hostkit.adapt: tiny Wan + tiny VAE, VideoCanvas Null Prompt for the
umt5 text path, 48x32, 9 frames, 2 steps). The UI file must describe the same graph as the API
file (converted with the server's /object_info), the JSON must be what scripts/build_workflows.py
generates, and the template browser must list the UI files (not the API twins) with their
thumbnails, where the frontends 1.32.9 / 1.35.9 fetch them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import ROOT
from hostkit.adapt import adapt, input_files
from hostkit.setup import PACK_LINK_NAME, comfy_dir
from templates import recipes as wf
from templates.graph import (
    API_DIR,
    FRONTEND_ONLY,
    INPUTS_DIR,
    WORKFLOWS_DIR,
    dumps,
    load_api,
    load_ui,
    to_api,
    to_ui,
    ui_to_api,
    widget_layout,
)
from toy_models import example_inputs


def _listing_order():
    """vc_nodes/template_order.listing_order, read from its file (the vc_nodes package imports
    relatively, as ComfyUI loads it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_template_order", ROOT / "vc_nodes" / "template_order.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.listing_order


listing_order = _listing_order()

# in the template browser's order (vc_nodes/template_order.py: by number, the bundled models' first)
NAMES = sorted((p.stem for p in WORKFLOWS_DIR.glob("*.json")), key=listing_order)
TOY = [n for n in NAMES if wf.WORKFLOWS[n].bundled]
# Templates for Wan 2.1 I2V 480p (36 channels): run on a tiny I2V checkpoint, CLIP vision dropped
I2V = [n for n in NAMES if wf.WORKFLOWS[n].models.unet in wf.I2V_UNETS]
# Templates for Wan 2.1 VACE: run on a tiny VACE checkpoint (ComfyUI's WAN21_Vace)
VACE = [n for n in NAMES if wf.WORKFLOWS[n].models.unet in wf.VACE_UNETS]
# Templates for LTX-Video 2B: run on a tiny LTX-Video checkpoint (model and VAE in one file)
LTX = [n for n in NAMES if wf.WORKFLOWS[n].models.family == "ltx"]
WAN = [n for n in NAMES if not wf.WORKFLOWS[n].bundled and n not in I2V + VACE + LTX]
SIZE = (48, 32)  # not square: catches a width/height swap
LENGTH = 9
STEPS = 2
CLIP_FRAMES = example_inputs.FRAMES  # every shipped clip has 17 frames


def require_registered(node_types, info: dict) -> None:
    """Fail (never skip) when the server lacks a node type the workflows use: a pack that failed to
    import, or a node left out of vc_nodes/__init__.py, must not turn these tests into skips."""
    missing = sorted(set(node_types) - set(info))
    if missing:
        pytest.fail(f"node types not registered on the server: {missing}. Either the pack failed to "
                    f"import (see 'IMPORT FAILED' in the server log) or vc_nodes/__init__.py does not "
                    f"list them", pytrace=False)


def test_an_unregistered_node_type_fails_rather_than_skips(object_info):
    with pytest.raises(pytest.fail.Exception, match=r"not registered on the server: \['NoSuchNode'\]"):
        require_registered(["VideoCanvasSampler", "NoSuchNode"], object_info)
    require_registered(["VideoCanvasSampler", "KSampler"], object_info)


def count_frames(path: Path) -> tuple[int, int, int]:
    """(frames, width, height) of a saved video, by decoding it."""
    import av

    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    return len(frames), frames[0].width, frames[0].height


def run_and_check_video(server, name: str, prompt: dict, size: tuple[int, int]) -> None:
    entry = server.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]
    (save_id,) = [i for i, n in prompt.items() if n["class_type"] == "SaveVideo"]
    (saved,) = outputs[save_id]["images"]
    path = Path(server.output_dir) / saved["subfolder"] / saved["filename"]
    frames, width, height = count_frames(path)
    expected = wf.WORKFLOWS[name].output_frames(prompt, CLIP_FRAMES)
    assert (frames, width, height) == (expected, *size), f"{name}: saved {path.name}"
    previews = [i for i, n in prompt.items() if n["class_type"] == "PreviewImage"]
    assert previews and all(outputs[i]["images"] for i in previews), "the layout strip was not shown"


# ----------------------------------------------------------------------------------- the runs


# Tasks shown on the bundled toy model only: a long video's point is its length, which the tiny
# random checkpoints' twin run (9 frames) could not show.
TOY_ONLY = {"12_long_video"}


def test_each_task_has_a_bundled_model_template_and_a_real_wan_twin():
    keys = {w.key for w in wf.WORKFLOWS.values()}
    assert len(keys) == 13
    for key in keys:
        twins = sorted((w.bundled, w.models.unet) for w in wf.WORKFLOWS.values() if w.key == key
                       and w.models.unet not in wf.VACE_UNETS | {wf.TOY_VACE.unet}  # VACE: 4 tasks
                       and w.models.family == "wan")  # LTX-Video: tasks 01-11
        assert [b for b, _ in twins] == ([True] if key in TOY_ONLY else [False, True]), key
    # the VACE tasks have a toy VACE template (runs as shipped) and a Wan 2.1 VACE twin
    toy_vace = [n for n in TOY if wf.WORKFLOWS[n].models.unet == wf.TOY_VACE.unet]
    assert [wf.WORKFLOWS[n].key for n in toy_vace] == [wf.WORKFLOWS[n].key for n in VACE]
    assert (len(TOY), len(WAN), len(I2V), len(VACE), len(LTX)) == (17, 11, 1, 4, 11)


def test_the_pack_put_the_example_inputs_where_the_loaders_look(object_info):
    """Every file a template loads ships in example_workflows/inputs/, and the pack copied it into
    ComfyUI's input folder as it loaded: LoadImage and LoadVideo list it, unchanged."""
    loaded = {f for name in NAMES for f in input_files(load_api(name))}
    assert loaded == set(example_inputs.FILES)
    images = object_info["LoadImage"]["input"]["required"]["image"][0]
    videos = object_info["LoadVideo"]["input"]["required"]["file"]
    videos = videos[0] if isinstance(videos[0], list) else videos[1]["options"]
    for f in loaded:
        assert f in (videos if f.endswith(".mp4") else images), f
        assert (comfy_dir() / "input" / f).read_bytes() == (INPUTS_DIR / f).read_bytes(), f


def test_the_copy_at_pack_load_fills_in_missing_files_and_keeps_the_users(pack, tmp_path):
    """Into an empty input folder every shipped file is copied; run again, nothing is; a file of the
    user's with a shipped name is left as it is."""
    import folder_paths

    copy = pack.vc_nodes.example_inputs.copy_example_inputs
    before = folder_paths.get_input_directory()
    folder_paths.set_input_directory(str(tmp_path))
    try:
        (tmp_path / "videocanvas_keyframe.png").write_bytes(b"the user's own picture")
        assert copy() == sorted(set(example_inputs.FILES) - {"videocanvas_keyframe.png"})
        assert copy() == []
        assert (tmp_path / "videocanvas_keyframe.png").read_bytes() == b"the user's own picture"
        assert (tmp_path / "videocanvas_mask.png").read_bytes() == \
            (INPUTS_DIR / "videocanvas_mask.png").read_bytes()
    finally:
        folder_paths.set_input_directory(before)


def test_example_inputs_are_generated_by_the_project():
    """The PNGs are byte for byte what toy_models/example_inputs.py renders from the procedural
    generator (the clips depend on the host's H.264 encoder: checked for size and length)."""
    assert example_inputs.stale() == []
    for name, (kind, _, _) in example_inputs.FILES.items():
        if kind == "video":
            assert count_frames(INPUTS_DIR / name) == (example_inputs.FRAMES, example_inputs.CLIP,
                                                       example_inputs.CLIP), name


@pytest.mark.parametrize("name", TOY)
def test_bundled_model_template_runs_as_shipped(name, server, object_info):
    """The API twin exactly as shipped: the bundled toy model, the example inputs, no edits."""
    prompt = load_api(name)
    require_registered((n["class_type"] for n in prompt.values()), object_info)
    run_and_check_video(server, name, prompt, (wf.TOY.width, wf.TOY.height))


@pytest.mark.parametrize("name", WAN)
def test_real_wan_template_runs_on_tiny_models(name, server, checkpoints, object_info):
    prompt = adapt(load_api(name), unet=checkpoints["wan21_t2v_tiny"],
                   vae=checkpoints["wan21_vae_tiny"], size=SIZE, length=LENGTH, steps=STEPS)
    require_registered((n["class_type"] for n in prompt.values()), object_info)
    run_and_check_video(server, name, prompt, SIZE)


@pytest.mark.parametrize("name", I2V)
def test_i2v_model_template_runs_on_the_tiny_i2v_model(name, server, checkpoints, object_info):
    """The Wan 2.1 I2V 480p template on a tiny 36-channel Wan I2V checkpoint (ComfyUI's WAN21_I2V),
    its CLIP-vision path dropped (no tiny CLIP vision can exist), over the HTTP API."""
    prompt = adapt(load_api(name), unet=checkpoints["wan21_i2v_480p_tiny"],
                   vae=checkpoints["wan21_vae_tiny"], size=SIZE, length=LENGTH, steps=STEPS)
    kinds = {n["class_type"] for n in prompt.values()}
    assert not kinds & {"CLIPVisionLoader", "CLIPVisionEncode"}
    (sampler,) = [n["inputs"] for n in prompt.values() if n["class_type"] == "VideoCanvasSampler"]
    assert "clip_vision_output" not in sampler
    require_registered(kinds, object_info)
    run_and_check_video(server, name, prompt, SIZE)


@pytest.mark.parametrize("name", VACE)
def test_vace_model_template_runs_on_the_tiny_vace_model(name, server, checkpoints, object_info):
    """The Wan 2.1 VACE twins on a tiny Wan 2.1 VACE checkpoint (one control block), over the HTTP
    API: the conditions reach it as VACE's control video and mask."""
    prompt = adapt(load_api(name), unet=checkpoints["wan21_vace_tiny"],
                   vae=checkpoints["wan21_vae_tiny"], size=SIZE, length=LENGTH, steps=STEPS)
    require_registered((n["class_type"] for n in prompt.values()), object_info)
    run_and_check_video(server, name, prompt, SIZE)


LTX_SIZE = (96, 64)  # LTX-Video's 32-pixel cells, not square (the tiny VAE decodes 2 cells or more)


@pytest.mark.parametrize("name", LTX)
def test_ltx_template_runs_on_the_tiny_ltx_checkpoint(name, server, checkpoints, object_info):
    """The LTX-Video 2B twins on a tiny LTX-Video checkpoint (CheckpointLoaderSimple: its transformer
    and VAE in one file), T5-XXL replaced by VideoCanvas Null Prompt, 96x64, 9 frames (2 latent frames
    of 8), 2 steps, over the HTTP API: the conditions reach it as its own guides."""
    prompt = adapt(load_api(name), checkpoint=checkpoints["ltxv_full_tiny"], size=LTX_SIZE, length=LENGTH,
                   steps=STEPS)
    kinds = {n["class_type"] for n in prompt.values()}
    assert {"CheckpointLoaderSimple", "LTXVConditioning", "ModelSamplingLTXV"} <= kinds
    assert not kinds & {"CLIPLoader", "CLIPTextEncode", "VideoCanvasRoPEInterpolator"}
    require_registered(kinds, object_info)
    run_and_check_video(server, name, prompt, LTX_SIZE)


def test_ltx_templates_are_every_task_but_long_video_and_the_wan_i2v_channels():
    """Tasks 01 to 11 have an LTX-Video 2B twin: Lightricks' checkpoint and T5-XXL by their ComfyUI file
    names, with their download links; 768x512, 97 frames at 25 fps, the Canvas's fps on both prompts."""
    assert [wf.WORKFLOWS[n].key[:2] for n in LTX] == [f"{k:02d}" for k in range(1, 12)]
    for name in LTX:
        ui, api = load_ui(name), load_api(name)
        (ckpt,) = [n for n in ui["nodes"] if n["type"] == "CheckpointLoaderSimple"]
        assert ckpt["widgets_values"] == ["ltx-video-2b-v0.9.5.safetensors"]
        assert ckpt["properties"]["models"] == [{
            "name": "ltx-video-2b-v0.9.5.safetensors", "directory": "checkpoints",
            "url": "https://huggingface.co/Lightricks/LTX-Video/resolve/main/ltx-video-2b-v0.9.5.safetensors"
                   "?download=true"}]
        (clip,) = [n["inputs"] for n in api.values() if n["class_type"] == "CLIPLoader"]
        assert (clip["clip_name"], clip["type"]) == ("t5xxl_fp16.safetensors", "ltxv")
        (size,) = [n["inputs"] for n in api.values() if n["class_type"] == "VideoCanvasCanvas"]
        assert (size["width"], size["height"], size["length"], size["fps"]) == (768, 512, 97, 25.0)
        (rate,) = [n["inputs"] for n in api.values() if n["class_type"] == "LTXVConditioning"]
        assert api[rate["frame_rate"][0]]["class_type"] == "VideoCanvasCanvas"


def test_vace_model_templates_name_the_real_files():
    """Inpainting, outpainting, extension and first + last frame (through KSampler) have a Wan 2.1
    VACE 1.3B twin: ComfyUI's repackaged VACE file, the Wan 2.1 VAE and umt5, the same graph and
    settings as the Wan 2.1 twin but for the model file."""
    assert [wf.WORKFLOWS[n].key for n in VACE] == ["02_first_last_frame", "05_inpaint", "06_outpaint",
                                                    "10_extend"]
    for name in VACE:
        api = load_api(name)
        twin = load_api(name.replace("(Wan 2.1 VACE 1.3B)", "(Wan 2.1 1.3B)"))
        unets = [n["inputs"]["unet_name"] for n in api.values() if n["class_type"] == "UNETLoader"]
        assert unets == ["wan2.1_vace_1.3B_fp16.safetensors"], name
        for node in twin.values():
            if node["class_type"] == "UNETLoader":
                node["inputs"]["unet_name"] = "wan2.1_vace_1.3B_fp16.safetensors"
        assert api == twin, name


def test_i2v_model_template_names_the_real_files():
    """ComfyUI's repackaged Wan 2.1 I2V 480p files, CLIP vision of the first frame into the sampler
    as in ComfyUI's own I2V template, and no RoPE Interpolator (the sampler patches the model)."""
    assert I2V == ["VideoCanvas 13 First and last frame on a Wan I2V model (Wan 2.1 I2V 480p)"]
    api = load_api(I2V[0])
    by_kind = {}
    for node_id, node in api.items():
        by_kind.setdefault(node["class_type"], []).append((node_id, node["inputs"]))
    assert [i["unet_name"] for _, i in by_kind["UNETLoader"]] == ["wan2.1_i2v_480p_14B_fp16.safetensors"]
    assert [i["vae_name"] for _, i in by_kind["VAELoader"]] == ["wan_2.1_vae.safetensors"]
    assert [i["clip_name"] for _, i in by_kind["CLIPVisionLoader"]] == ["clip_vision_h.safetensors"]
    assert [i["clip_name"] for _, i in by_kind["CLIPLoader"]] == ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"]
    ((encode_id, encode),) = by_kind["CLIPVisionEncode"]
    ((_, sampler),) = by_kind["VideoCanvasSampler"]
    assert sampler["clip_vision_output"] == [encode_id, 0] and encode["crop"] == "none"
    assert (sampler["steps"], sampler["cfg"]) == (30, 5.0)
    assert sampler["model"] == [by_kind["UNETLoader"][0][0], 0]
    assert "VideoCanvasRoPEInterpolator" not in by_kind
    assert wf.canvas(api) == (832, 480, 81)
    frames = [i["frames"] for _, i in by_kind["VideoCanvasTimestampConditioner"]]
    assert sorted(frames) == ["-1", "0"]


# ------------------------------------------------------------------------------- the formats


# Core nodes whose widgets changed upstream after ComfyUI 0.3.75, the host the files are generated
# on (0.33.0: CreateVideo gained bit_depth; SaveVideo's codec became a dynamic combo). Their saved
# values are the host's frontend's to read: tests/browser/test_browser.py loads every template in each
# host's real frontend and checks that its own export equals the API file.
CHANGED_UPSTREAM = {"CreateVideo", "SaveVideo"}


def nodes_read_otherwise(ui: dict, object_info: dict) -> set[int]:
    """Ids of the file's core nodes whose saved widget values do not match this host's widgets."""
    changed = {n["id"]: n["type"] for n in ui["nodes"] if n["type"] in object_info
               and len(n.get("widgets_values") or []) != len(widget_layout(object_info[n["type"]]))}
    assert set(changed.values()) <= CHANGED_UPSTREAM, changed  # never one of the pack's own nodes
    return set(changed)


@pytest.mark.parametrize("name", NAMES)
def test_ui_and_api_files_describe_the_same_graph(name, object_info):
    ui, api = load_ui(name), load_api(name)
    require_registered((n["class_type"] for n in api.values()), object_info)
    other = nodes_read_otherwise(ui, object_info)
    here = {**ui, "nodes": [n for n in ui["nodes"] if n["id"] not in other]}
    assert ui_to_api(here, object_info) == {k: v for k, v in api.items() if int(k) not in other}

    # the links table agrees with the nodes' sockets (what the frontend needs to load the file)
    nodes = {n["id"]: n for n in ui["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
        assert nodes[dst]["inputs"][dst_slot]["type"] == kind
        assert link_id in nodes[src]["outputs"][src_slot]["links"]
        assert object_info[nodes[src]["type"]]["output"][src_slot] == kind
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == len(ui["links"])
    notes = [n for n in ui["nodes"] if n["type"] == "Note"]
    assert notes and notes[0]["widgets_values"][0].startswith(wf.WORKFLOWS[name].description)


@pytest.mark.parametrize("name", NAMES)
def test_size_length_and_fps_are_set_once(name):
    """One VideoCanvas Canvas per template; every VideoCanvas node that needs the canvas, and every
    core node that needs its size, length or fps, is linked to it (no second typed copy)."""
    api = load_api(name)
    (canvas_id,) = [i for i, n in api.items() if n["class_type"] == "VideoCanvasCanvas"]
    linked = {
        "VideoCanvasTimestampConditioner": ["canvas"], "VideoCanvasSampler": ["canvas"],
        "VideoCanvasConditioning": ["canvas"], "VideoCanvasLayoutPreview": ["canvas"],
        "VideoCanvasInpaint": ["canvas"], "VideoCanvasOutpaint": ["canvas"],
        "VideoCanvasExtend": ["canvas"], "VideoCanvasTransition": ["canvas"],
        "VideoCanvasCameraMove": ["canvas"], "VideoCanvasLoop": ["canvas"],
        "VideoCanvasPatchPlacer": ["canvas"], "VideoCanvasLongVideo": ["canvas"], "CreateVideo": ["fps"],
        "ImageScale": ["width", "height"],
    }
    for node in api.values():
        for key in linked.get(node["class_type"], []):
            assert node["inputs"][key][0] == canvas_id, f"{name}: {node['class_type']}.{key}"


def test_titles_hold_no_values_that_can_go_stale():
    """Node titles name roles, never numbers (a frame, a size) that a widget may change later."""
    for name in NAMES:
        for node in load_ui(name)["nodes"]:
            title = node.get("title", "")
            assert not re.search(r"\b\d+\b", title), f"{name}: node title {title!r}"


def test_template_names_are_titles_in_order():
    """The frontends 1.32.9 and 1.35.9 show the file name as the card's title and list the files in
    the server's order unless sorted by name: numbered, the bundled-model templates before their twins."""
    assert NAMES[:8] == ["VideoCanvas 01 Image to video at any frame (Toy model)",
                         "VideoCanvas 01 Image to video at any frame (LTX-Video 2B)",
                         "VideoCanvas 01 Image to video at any frame (Wan 2.1 1.3B)",
                         "VideoCanvas 02 First and last frame (KSampler) (Toy model)",
                         "VideoCanvas 02 First and last frame (KSampler) (Toy model, VACE)",
                         "VideoCanvas 02 First and last frame (KSampler) (LTX-Video 2B)",
                         "VideoCanvas 02 First and last frame (KSampler) (Wan 2.1 1.3B)",
                         "VideoCanvas 02 First and last frame (KSampler) (Wan 2.1 VACE 1.3B)"]
    for name in NAMES:
        w = wf.WORKFLOWS[name]
        assert re.fullmatch(rf"VideoCanvas \d\d {re.escape(w.title)} \({re.escape(w.models.label)}\)", name)


def test_files_are_generated_from_the_descriptions(object_info):
    """example_workflows/*.json are exactly what scripts/build_workflows.py writes, with the node
    definitions of the host they are generated on, ComfyUI 0.3.75 (so widget order and defaults
    follow the nodes, never a hand-edited copy). Newer hosts load the same files: see
    test_ui_and_api_files_describe_the_same_graph and the browser test that exports them."""
    import comfyui_version

    from hostkit.setup import PINNED_HOST

    if comfyui_version.__version__ != PINNED_HOST:
        pytest.skip(f"the templates are generated on ComfyUI {PINNED_HOST}; this is "
                    f"{comfyui_version.__version__}")
    assert sorted(wf.WORKFLOWS) == sorted(NAMES)
    assert sorted(p.stem for p in API_DIR.glob("*.json")) == sorted(NAMES)
    graphs = {name: w.build() for name, w in wf.WORKFLOWS.items()}
    require_registered({n.type for g in graphs.values() for n in g.nodes} - FRONTEND_ONLY,
                       object_info)
    for name, graph in graphs.items():
        assert (WORKFLOWS_DIR / f"{name}.json").read_text(encoding="utf-8") == \
            dumps(to_ui(graph, object_info, wf.MODEL_FILES)), \
            f"{name}.json: run scripts/build_workflows.py"
        assert (API_DIR / f"{name}.json").read_text(encoding="utf-8") == \
            dumps(to_api(graph, object_info)), f"api/{name}.json: run scripts/build_workflows.py"


def test_template_browser_lists_the_ui_files_with_their_thumbnails(server):
    templates = server.get("/workflow_templates")
    # in their numbered order (the pack sorts its entry), the api/ subfolder not listed
    assert templates.get(PACK_LINK_NAME) == NAMES
    assert server.get("/api/workflow_templates").get(PACK_LINK_NAME) == NAMES
    base = f"/api/workflow_templates/{PACK_LINK_NAME}"
    status, body = server.request(f"{base}/{NAMES[0].replace(' ', '%20')}.json")
    assert status == 200
    body = json.loads(body) if isinstance(body, (bytes, str)) else body
    assert body == load_ui(NAMES[0])
    import urllib.parse
    import urllib.request

    from PIL import Image

    for name in NAMES:  # where the frontends fetch a custom template's thumbnail (mediaSubtype jpg)
        url = f"{server.base}{base}/{urllib.parse.quote(name)}.jpg"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and resp.read() == (WORKFLOWS_DIR / f"{name}.jpg").read_bytes()
        with Image.open(WORKFLOWS_DIR / f"{name}.jpg") as im:
            assert (im.format, im.size) == ("JPEG", (256, 256)), name


def test_real_model_names_and_defaults():
    """The real-Wan twins name ComfyUI's repackaged Wan files and realistic settings."""
    for name in WAN:
        api = load_api(name)
        unets = {n["inputs"]["unet_name"] for n in api.values() if n["class_type"] == "UNETLoader"}
        vaes = {n["inputs"]["vae_name"] for n in api.values() if n["class_type"] == "VAELoader"}
        clips = [n["inputs"] for n in api.values() if n["class_type"] == "CLIPLoader"]
        assert unets <= {"wan2.1_t2v_1.3B_fp16.safetensors", "wan2.2_ti2v_5B_fp16.safetensors"}, name
        assert vaes == ({"wan2.2_vae.safetensors"} if "wan2.2_ti2v_5B_fp16.safetensors" in unets
                        else {"wan_2.1_vae.safetensors"}), name
        assert clips == [{"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan",
                          "device": "default"}], name
        width, height, length = wf.canvas(api)
        assert width % 16 == 0 and height % 16 == 0 and (length - 1) % 4 == 0, name
        samplers = [n["inputs"] for n in api.values()
                    if n["class_type"] in ("VideoCanvasSampler", "KSampler")]
        assert [(s["steps"], s["cfg"]) for s in samplers] == [(30, 5.0)], name
        kinds = {n["class_type"] for n in api.values()}
        assert {"VideoCanvasRoPEInterpolator", "VideoCanvasDecode", "CreateVideo", "SaveVideo",
                "PreviewImage", "VideoCanvasCanvas"} <= kinds, name
    kinds = [{n["class_type"] for n in load_api(name).values()} for name in NAMES]
    assert any({"VideoCanvasConditioning", "KSampler"} <= k for k in kinds), "no core KSampler path"


def test_bundled_model_templates_use_the_bundled_files_and_no_text_encoder():
    for name in TOY:
        kinds = {n["class_type"]: n["inputs"] for n in load_api(name).values()}
        # the image-to-video template runs the toy's 36-channel (channel-concatenation) variant, the
        # VACE ones ("Toy model, VACE") the toy VACE model
        assert kinds["UNETLoader"]["unet_name"] == ("videocanvas_toy_i2v.safetensors"
                                                    if wf.WORKFLOWS[name].key == "13_i2v_model_channels"
                                                    else "videocanvas_toy_vace.safetensors"
                                                    if name.endswith("(Toy model, VACE)")
                                                    else "videocanvas_toy_t2v.safetensors")
        assert kinds["VAELoader"]["vae_name"] == "videocanvas_toy_vae.safetensors"
        assert "CLIPLoader" not in kinds and "VideoCanvasNullPrompt" in kinds
        # one window of the toy model, or (long video) 61 frames in its 17-frame windows
        assert wf.canvas(load_api(name)) == ((64, 64, 61) if wf.WORKFLOWS[name].key in TOY_ONLY
                                             else (64, 64, 17)), name


def test_adapt_moves_frames_with_the_length():
    name = "VideoCanvas 03 Keyframes (Wan 2.1 1.3B)"
    api = load_api(name)
    prompt = adapt(api, unet="u.safetensors", vae="v.safetensors", size=(48, 32), length=9, steps=2,
                   inputs={"videocanvas_key_middle.png": "m.png"})
    kinds = [n["class_type"] for n in prompt.values()]
    assert "CLIPLoader" not in kinds and "CLIPTextEncode" not in kinds
    assert kinds.count("VideoCanvasNullPrompt") == 1
    frames = [n["inputs"]["frames"] for n in prompt.values()
              if n["class_type"] == "VideoCanvasTimestampConditioner"]
    assert frames == ["0", "4", "-1"]  # frame 40 of 81 -> 4 of 9; -1 stays the last
    assert wf.canvas(prompt) == (48, 32, 9)
    images = sorted(n["inputs"]["image"] for n in prompt.values() if n["class_type"] == "LoadImage")
    assert "m.png" in images and "videocanvas_key_start.png" in images
    (null_id,) = [i for i, n in prompt.items() if n["class_type"] == "VideoCanvasNullPrompt"]
    (sampler,) = [n["inputs"] for n in prompt.values() if n["class_type"] == "VideoCanvasSampler"]
    assert sampler["positive"] == sampler["negative"] == [null_id, 0] and sampler["steps"] == 2
    assert api == load_api(name), "adapt must not change its argument"
