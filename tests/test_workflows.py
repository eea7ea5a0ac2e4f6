"""The shareable workflows, end to end through a real ComfyUI server's HTTP API.

Every workflow in workflows/ (UI format; its API twin in workflows/api/) is adapted to the tiny random
checkpoints (hostkit.workflows.adapt: tiny Wan + tiny VAE, VideoCanvas Null Prompt for the umt5 text
path, 48x32, 9 frames, 2 steps), fed procedural input files written into ComfyUI's input folder, run
through POST /prompt, and must save a video with the expected number of frames and size. The UI file
must describe the same graph as the API file (converted with the server's /object_info), the JSON
must be what scripts/build_workflows.py generates, and the template browser must list the UI files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostkit import workflows as wf
from hostkit.setup import PACK_LINK_NAME, comfy_dir

NAMES = sorted(p.stem for p in wf.WORKFLOWS_DIR.glob("*.json"))
SIZE = (48, 32)  # not square: catches a width/height swap
LENGTH = 9
STEPS = 2
CLIP_FRAMES = 9  # frames of every generated input clip (inpainting needs clip <= output length)
INPUT_PREFIX = "vc_wf_"


@pytest.fixture(scope="module")
def input_files():
    """Procedural stand-ins for every file the workflows load, in ComfyUI's input folder."""
    folder = comfy_dir() / "input"
    mapping: dict[str, str] = {}
    for name in NAMES:
        prompt = wf.load_api(name)
        if set(wf.input_files(prompt)) - set(mapping):
            mapping |= wf.write_input_files(prompt, folder, prefix=INPUT_PREFIX, frames=CLIP_FRAMES)
    yield mapping
    for written in mapping.values():
        (folder / written).unlink(missing_ok=True)


def require_registered(node_types, info: dict) -> None:
    """Fail (never skip) when the server lacks a node type the workflows use: a pack that failed to
    import, or a node left out of nodes/__init__.py, must not turn these tests into skips."""
    missing = sorted(set(node_types) - set(info))
    if missing:
        pytest.fail(f"node types not registered on the server: {missing}. Either the pack failed to "
                    f"import (see 'IMPORT FAILED' in the server log) or nodes/__init__.py does not "
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


# ----------------------------------------------------------------------------------- the runs


@pytest.mark.parametrize("name", NAMES)
def test_workflow_runs_end_to_end(name, server, checkpoints, object_info, input_files):
    api = wf.load_api(name)
    prompt = wf.adapt(api, unet=checkpoints["wan21_t2v_tiny"], vae=checkpoints["wan21_vae_tiny"],
                      size=SIZE, length=LENGTH, steps=STEPS, inputs=input_files)
    require_registered((n["class_type"] for n in prompt.values()), object_info)
    entry = server.run(prompt, timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]

    (save_id,) = [i for i, n in prompt.items() if n["class_type"] == "SaveVideo"]
    (saved,) = outputs[save_id]["images"]
    path = Path(server.output_dir) / saved["subfolder"] / saved["filename"]
    frames, width, height = count_frames(path)
    expected = wf.WORKFLOWS[name].output_frames(prompt, CLIP_FRAMES)
    assert (frames, width, height) == (expected, *SIZE), f"{name}: saved {path.name}"

    previews = [i for i, n in prompt.items() if n["class_type"] == "PreviewImage"]
    assert previews and all(outputs[i]["images"] for i in previews), "the layout strip was not shown"


# ------------------------------------------------------------------------------- the formats


@pytest.mark.parametrize("name", NAMES)
def test_ui_and_api_files_describe_the_same_graph(name, object_info):
    ui, api = wf.load_ui(name), wf.load_api(name)
    require_registered((n["class_type"] for n in api.values()), object_info)
    assert wf.ui_to_api(ui, object_info) == api

    # the links table agrees with the nodes' sockets (what the frontend needs to load the file)
    nodes = {n["id"]: n for n in ui["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
        assert nodes[dst]["inputs"][dst_slot]["type"] == kind
        assert link_id in nodes[src]["outputs"][src_slot]["links"]
        assert object_info[nodes[src]["type"]]["output"][src_slot] == kind
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == len(ui["links"])
    assert any(n["type"] == "Note" for n in ui["nodes"]), "every workflow explains itself in a Note"


def test_files_are_generated_from_the_descriptions(object_info):
    """workflows/*.json are exactly what scripts/build_workflows.py writes, with this server's node
    definitions (so widget order and defaults follow the nodes, never a hand-edited copy)."""
    assert sorted(wf.WORKFLOWS) == NAMES
    assert sorted(p.stem for p in wf.API_DIR.glob("*.json")) == NAMES
    graphs = {name: w.build() for name, w in wf.WORKFLOWS.items()}
    require_registered({n.type for g in graphs.values() for n in g.nodes} - wf.FRONTEND_ONLY,
                       object_info)
    for name, graph in graphs.items():
        assert (wf.WORKFLOWS_DIR / f"{name}.json").read_text(encoding="utf-8") == \
            wf.dumps(wf.to_ui(graph, object_info)), f"{name}.json: run scripts/build_workflows.py"
        assert (wf.API_DIR / f"{name}.json").read_text(encoding="utf-8") == \
            wf.dumps(wf.to_api(graph, object_info)), f"api/{name}.json: run scripts/build_workflows.py"


def test_template_browser_lists_the_ui_files(server):
    templates = server.get("/workflow_templates")
    assert sorted(templates.get(PACK_LINK_NAME, [])) == NAMES  # the api/ subfolder is not listed
    status, body = server.request(f"/api/workflow_templates/{PACK_LINK_NAME}/{NAMES[0]}.json")
    assert status == 200
    body = json.loads(body) if isinstance(body, (bytes, str)) else body
    assert body == wf.load_ui(NAMES[0])


def test_real_model_names_and_defaults():
    """The shared files name ComfyUI's repackaged Wan files and realistic settings."""
    for name in NAMES:
        api = wf.load_api(name)
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
                "PreviewImage"} <= kinds, name
    kinds = [{n["class_type"] for n in wf.load_api(name).values()} for name in NAMES]
    assert any({"VideoCanvasConditioning", "KSampler"} <= k for k in kinds), "no core KSampler path"


def test_adapt_moves_frames_with_the_length():
    api = wf.load_api("03_keyframes")
    prompt = wf.adapt(api, unet="u.safetensors", vae="v.safetensors", size=(48, 32), length=9, steps=2,
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
    assert api == wf.load_api("03_keyframes"), "adapt must not change its argument"
