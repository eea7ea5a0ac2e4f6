"""The pack in a real browser: Debian's Chromium, driven by Playwright, against a real ComfyUI server.

What a user does with the mouse, checked through the frontend the host pins (1.32.9 on 0.3.75, 1.35.9
on 0.7.0, 1.48.7 on 0.33.0), in LiteGraph's canvas ("classic") and, on the frontend that advertises it
(1.48.7), also in "Nodes 2.0" (nodes as Vue components; the setting Comfy.VueNodes.Enabled, set
through the settings API before the page loads; see both_renderers()):
- every template opens from the template browser (Templates -> EXTENSIONS -> the pack) with all its
  node types known (no missing-node dialog), fitted to the canvas a user sees (none under the
  sidebar; in Nodes 2.0 one task's templates per model family); searching the browser for
  "videocanvas" finds every one; the bundled-model templates run
  from the Run button unedited and leave their video in the server's output (in Nodes 2.0, one per
  path through the pack's nodes); an LTX-Video template runs from it on the tiny LTX checkpoint;
- every UI template, loaded into the frontend, exports (app.graphToPrompt) its API twin's inputs;
- the Patch Placer's box editor: dragging the box and a corner writes exact x/y/width/height
  (fractions snapped to the widgets' 0.01 step, pixels to whole pixels), and those values survive the
  API export, a save + reload and a page reload (the widgets are the source of truth);
- the Timestamp Conditioner's timeline: clicks and drags write the normalised `frames` text;
- each click and drag is one undo step (Ctrl+Z);
- the layout strip redraws from the widgets, without sampling, and shows long titles readably;
- a node's help opens without a 404 on the way.

Screenshots go to out/browser/<host>/<renderer>/ (git-ignored) as test artefacts. Chromium and
Playwright come from the project's set-up (hostkit/setup.py); the tests skip only where Chromium could
not be installed, with set-up's reason.

VIDEOCANVAS_FRONT_END_ROOT=<a frontend package's static folder> runs the same tests against another
frontend (ComfyUI's --front-end-root; screenshots then go to out/browser/<host>-front-end-root/).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import ROOT
from hostkit.setup import CHROMIUM, PACK_LINK_NAME, chromium_unavailable_file, host_name

FRONT_END_ROOT = os.environ.get("VIDEOCANVAS_FRONT_END_ROOT")
ARTEFACTS = ROOT / "out" / "browser" / (host_name() + ("-front-end-root" if FRONT_END_ROOT else ""))
# The flags that run Chromium headless here: no sandbox (root), no GPU, nothing fetched from outside.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APP = "window.comfyAPI.app.app"
# Settings of a fresh profile: no first-run templates dialog; Wan templates name model files a test
# machine lacks, and the missing-models dialog would cover the page (missing *nodes* still show).
SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False}
# the bundled toy models: text-to-video, and its 36-channel image-to-video twin (template 13)
BUNDLED_UNETS = ("videocanvas_toy_t2v.safetensors", "videocanvas_toy_i2v.safetensors",
                 "videocanvas_toy_vace.safetensors")


# Where ComfyUI's /workflow_templates looks in a pack, in its order (app/custom_node_manager.py): it
# lists the *.json of all of them, and serves a name from the first folder that has it.
TEMPLATE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")


def template_files() -> list[Path]:
    return [p for folder in TEMPLATE_FOLDERS for p in sorted((ROOT / folder).glob("*.json"))]


def templates() -> dict[str, dict]:
    """name -> the workflow the browser loads for it."""
    out: dict[str, dict] = {}
    for p in template_files():
        out.setdefault(p.stem, json.loads(p.read_text()))
    return out


def is_bundled(workflow: dict) -> bool:
    return any(n.get("type") == "UNETLoader" and (n.get("widgets_values") or [None])[0] in BUNDLED_UNETS
               for n in workflow["nodes"])


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        note = chromium_unavailable_file()
        reason = note.read_text() if note.exists() else "run `python3 -m hostkit.setup` to install it"
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: {reason}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, chromium_path):
    """A ComfyUI server of its own: fresh user, temp, input and output folders."""
    from hostkit.server import ComfyServer

    shutil.rmtree(ARTEFACTS, ignore_errors=True)  # this run's screenshots only, none of a renamed template
    ARTEFACTS.mkdir(parents=True)
    base = tmp_path_factory.mktemp("browser")
    for name in ("user", "temp", "input", "output"):
        (base / name).mkdir()
    (base / "user" / "default").mkdir()
    (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps(SETTINGS))
    write_test_image(base / "input" / "vc_test_patch.png")
    args = ["--user-directory", str(base / "user"), "--temp-directory", str(base / "temp"),
            "--input-directory", str(base / "input")]
    if FRONT_END_ROOT:
        args += ["--front-end-root", FRONT_END_ROOT]
    with ComfyServer(log_path=ARTEFACTS / "server.log", output_dir=base / "output",
                     extra_args=args) as srv:
        srv.output_dir = base / "output"
        yield srv


def write_test_image(path: Path) -> None:
    """A 160x90 PNG: red left half, blue right half (the editor draws it inside the box)."""
    from PIL import Image

    img = Image.new("RGB", (160, 90), (220, 40, 40))
    img.paste((40, 80, 220), (80, 0, 160, 90))
    img.save(path)


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def frontend_static() -> Path | None:
    """The static folder of the frontend the server serves (the host's package, or --front-end-root)."""
    if FRONT_END_ROOT:
        return Path(FRONT_END_ROOT)
    try:
        import comfyui_frontend_package
    except ImportError:  # the tests run with another python than the host's: read its venv
        from hostkit.setup import venv_python
        found = sorted(venv_python().parent.parent.glob("lib/python*/site-packages/comfyui_frontend_package"))
        return found[0] / "static" if found else None
    return Path(comfyui_frontend_package.__file__).parent / "static"


def frontend_has_nodes2() -> bool:
    """Whether the frontend offers "Nodes 2.0" (the Vue node renderer): it defines the setting."""
    static = frontend_static()
    if static is None:
        return False
    return any(VUE_NODES.encode() in p.read_bytes() for p in (static / "assets").glob("*.js"))


def both_renderers() -> bool:
    """Nodes 2.0 runs where the frontend advertises it on start-up (1.48.7, ComfyUI 0.33.0); the
    older frontends, where it is a setting only, run the classic canvas, which keeps three hosts'
    suite within its time (VIDEOCANVAS_ALL_RENDERERS=1 runs both wherever the frontend has it:
    52 of 52 passed on 1.32.9 and 1.35.9 too when the tests were written)."""
    if not frontend_has_nodes2():
        return False
    if os.environ.get("VIDEOCANVAS_ALL_RENDERERS") or os.environ.get("VIDEOCANVAS_FRONT_END_ROOT"):
        return True
    from importlib.metadata import version

    return tuple(int(p) for p in version("comfyui-frontend-package").split(".")[:2]) >= (1, 48)


# The node renderers the tests run in: LiteGraph's canvas ("classic"), and "Nodes 2.0" (nodes as Vue
# components; the editors' canvases are then DOM inside them) as both_renderers() says.
VUE_NODES = "Comfy.VueNodes.Enabled"
RENDERERS = ("classic", "nodes2") if both_renderers() else ("classic",)
SHOWN = {"renderer": RENDERERS[0]}  # the renderer of the page open now (for screenshots' folder)


@pytest.fixture(params=RENDERERS)
def renderer(request) -> str:
    return request.param


@pytest.fixture
def page(browser, ui_server, renderer):
    """The ComfyUI app in the given renderer, loaded, in a fresh browser profile; page errors fail
    the test."""
    SHOWN["renderer"] = renderer
    if len(RENDERERS) > 1:  # the renderer is a user setting, read when the app loads
        status, _ = ui_server.request(f"/settings/{VUE_NODES}", renderer == "nodes2")
        assert status == 200
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(ui_server.base)
    # ready once the pack's nodes are registered and the start-up workflow (the default graph of a
    # fresh profile) is in: a graph built before that would be replaced by it
    pg.wait_for_function("!!(window.LiteGraph?.registered_node_types?.VideoCanvasSampler && "
                         "window.comfyAPI?.app?.app?.graph?._nodes?.length)", timeout=90_000)
    wait_until_interactive(pg)
    if len(RENDERERS) > 1:
        shown = pg.evaluate(f"() => !!{APP}.ui.settings.getSettingValue('{VUE_NODES}')")
        assert shown == (renderer == "nodes2"), f"the app did not load in the {renderer} renderer"
    yield pg
    context.close()
    ours = [e for e in errors if "videocanvas" in e.lower()]
    assert not ours, f"the pack's scripts raised in the page: {ours}"


def wait_until_interactive(pg) -> None:
    """Until the start-up spinner's full-page mask is gone (frontend 1.48 keeps it a moment after
    the graph is in; a mouse press on it reaches no node)."""
    pg.wait_for_function("!document.querySelector('.p-blockui-mask-document')", timeout=30_000)


def shot(pg, name: str) -> None:
    """A screenshot as a test artefact; under out/browser/<host>/<renderer>/ where there are two."""
    folder = ARTEFACTS / SHOWN["renderer"] if len(RENDERERS) > 1 else ARTEFACTS
    folder.mkdir(exist_ok=True)
    pg.screenshot(path=str(folder / f"{name}.png"))


# ----------------------------------------------------------------------------------- templates


def open_template_browser(pg):
    """Templates, as a user finds them: the sidebar's Templates button, then EXTENSIONS -> the pack."""
    pg.locator(".side-bar-button", has_text="Templates").first.click()
    # the pack's entry in the browser's navigation (Nodes 2.0 also shows the name on each node)
    pg.get_by_role("dialog").get_by_text(PACK_LINK_NAME, exact=True).first.click()
    return pg.locator('[data-testid^="template-workflow-"]')


def render_all_cards(pg, count: int, until=None):
    """The template browser renders cards as they scroll into view (24 at first on frontend 1.32.9):
    scroll to the last one rendered until `count` are there (or the `until` locator is) or no more
    come."""
    cards = pg.locator('[data-testid^="template-workflow-"]')
    cards.first.wait_for()
    for _ in range(20):
        shown = cards.count()
        if shown >= count or (until is not None and until.count()):
            break
        cards.nth(shown - 1).scroll_into_view_if_needed()
        pg.wait_for_timeout(500)
    return cards


def template_card(pg, name: str):
    open_template_browser(pg)
    card = pg.locator(f'[data-testid="template-workflow-{name}"]')
    render_all_cards(pg, len(template_files()), until=card)
    return card


# In the second renderer: the templates of task 02 (one per model family: toy, toy VACE, LTX-Video,
# Wan, Wan VACE) and the two graphs of their own (Long Video, the Wan I2V channels).
SECOND_RENDERER_OPENS = ("VideoCanvas 02 ", "VideoCanvas 12 ", "VideoCanvas 13 ")


def test_each_template_opens_from_the_template_browser_with_every_node_known(page):
    expected = templates()
    open_template_browser(page)
    cards = render_all_cards(page, len(expected))
    shot(page, "template_browser")
    names = sorted(c.get_attribute("data-testid").removeprefix("template-workflow-")
                   for c in cards.all())
    # each once: a name in two folders would be listed twice and load only one of them
    assert names == sorted(p.stem for p in template_files()) == sorted(expected)
    if SHOWN["renderer"] != RENDERERS[0]:  # the node types are the renderer's to draw, not to know
        names = [n for n in names if n.startswith(SECOND_RENDERER_OPENS)]
    for name in names:
        card = page.locator(f'[data-testid="template-workflow-{name}"]')
        if not card.count() or not card.is_visible():
            card = template_card(page, name)
        card.click()
        wait_for_graph(page, expected[name], name)
        loaded = page.evaluate(f"""() => {APP}.graph._nodes.map(n => [n.id, n.type,
                                   !!window.LiteGraph.registered_node_types[n.type]])""")
        assert all(known for *_, known in loaded), f"{name}: unknown node types {loaded}"
        assert page.get_by_text("Missing Node Types").count() == 0, f"{name}: missing-node dialog"
        wait_until_fitted(page, name)  # opened fitted to the view, none under the sidebar
        shot(page, f"template_{name}")


# Screen boxes of the nodes that are not wholly inside the part of the graph canvas a user sees: the
# canvas element's rectangle in the window, less the left sidebar's icon bar that lies over it.
NODES_OUT_OF_VIEW = f"""() => {{
  const app = {APP}, c = app.canvas, r = c.canvas.getBoundingClientRect();
  let left = Math.max(r.left, 0);
  const top = Math.max(r.top, 0), right = Math.min(r.right, innerWidth);
  const bottom = Math.min(r.bottom, innerHeight);
  for (const bar of document.querySelectorAll(".side-tool-bar-container")) {{
    const b = bar.getBoundingClientRect();
    if (b.width && b.height && b.left <= left + 1) left = Math.max(left, b.right);
  }}
  const out = [];
  for (const n of app.graph._nodes) {{
    const [x, y, w, h] = n.getBounding();  // graph units, title bar included
    const [x0, y0] = c.ds.convertOffsetToCanvas([x, y]);
    const [x1, y1] = c.ds.convertOffsetToCanvas([x + w, y + h]);
    const box = [r.left + x0, r.top + y0, r.left + x1, r.top + y1].map(Math.round);
    if (box[0] < left || box[1] < top || box[2] > right || box[3] > bottom) out.push([n.id, n.title, box]);
  }}
  return out.length ? {{view: [left, top, right, bottom].map(Math.round), out}} : null;
}}"""


def wait_until_fitted(pg, name: str, timeout: float = 5.0) -> None:
    """Until every node of the graph lies inside the visible canvas (the view is fitted a frame or
    two after a template loads)."""
    deadline = time.monotonic() + timeout
    while (outside := pg.evaluate(NODES_OUT_OF_VIEW)) is not None:
        assert time.monotonic() < deadline, f"{name}: nodes outside the visible canvas {outside}"
        pg.wait_for_timeout(100)


def wait_for_graph(pg, workflow: dict, name: str) -> None:
    """Until the canvas holds this workflow's nodes (ids and types; newer frontends use string ids),
    not the graph shown before the click."""
    want = sorted(f"{n['id']}:{n['type']}" for n in workflow["nodes"])
    try:
        pg.wait_for_function(f"""want => JSON.stringify({APP}.graph._nodes.map(n => `${{n.id}}:${{n.type}}`)
                                 .sort()) === JSON.stringify(want)""", arg=want, timeout=30_000)
    except Exception:
        shown = pg.evaluate(f"() => {APP}.graph._nodes.map(n => `${{n.id}}:${{n.type}}`).sort()")
        raise AssertionError(f"{name}: the canvas shows {shown}, not the template's {want}") from None


def test_searching_videocanvas_in_the_template_browser_finds_every_template(page):
    """The browser's search box (every tested frontend has one) searches a custom node template by
    its name only: each of the pack's names holds the word."""
    page.locator(".side-bar-button", has_text="Templates").first.click()
    search = page.get_by_role("dialog").get_by_placeholder("Search", exact=False).first
    search.fill("videocanvas")
    want = sorted(templates())
    deadline = time.monotonic() + 15
    while True:  # the search runs as the text settles; cards render as they scroll into view
        found = sorted(page.evaluate("""() => { const cards = [...document.querySelectorAll(
            '[data-testid^="template-workflow-"]')]; cards.at(-1)?.scrollIntoView();
            return cards.map(c => c.dataset.testid.replace('template-workflow-', '')); }"""))
        if set(want) <= set(found) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(300)
    shot(page, "template_search")
    assert set(want) <= set(found), f"searching 'videocanvas' finds {found}"
    assert all(name.split()[0] == "VideoCanvas" for name in found if name in want)


BUNDLED = [name for name, wf in templates().items() if is_bundled(wf)]
# The run itself is the server's and the same in both renderers (the exports test checks every
# template's prompt in both): in the second renderer, one template per path through the pack's nodes
# (VideoCanvas Sampler; Conditioning + KSampler on a VACE model; Long Video; a Wan I2V model's channels).
SECOND_RENDERER_RUNS = ("VideoCanvas 01 ", "VideoCanvas 02 First and last frame (KSampler) (Toy model, VACE)",
                        "VideoCanvas 12 ", "VideoCanvas 13 ")
RUNS = [(name, renderer) for name in BUNDLED for renderer in RENDERERS
        if renderer == RENDERERS[0] or name.startswith(SECOND_RENDERER_RUNS)]


@pytest.mark.skipif(not BUNDLED, reason="no bundled-model templates yet")
@pytest.mark.parametrize("name, renderer", RUNS)
def test_bundled_template_runs_from_the_run_button_unedited(page, ui_server, name):
    template_card(page, name).click()
    wait_for_graph(page, templates()[name], name)
    run_from_the_run_button(page, ui_server, name)


# Template 02's LTX-Video twin: VideoCanvas Conditioning's guides, KSampler, VideoCanvas Decode's crop
LTX_TEMPLATE = "VideoCanvas 02 First and last frame (KSampler) (LTX-Video 2B)"


# What a user edits to run it without the real files: the tiny LTX-Video checkpoint in the loader,
# VideoCanvas Null Prompt in place of the T5-XXL text path, a small canvas, 2 steps.
ON_TINY_CHECKPOINT = """({ckpt, width, height, length, steps}) => {
  const app = window.comfyAPI.app.app, LG = window.LiteGraph, g = app.graph;
  const of = type => g._nodes.filter(n => n.type === type);
  const set = (n, values) => Object.entries(values).forEach(([k, v]) => {
    n.widgets.find(w => w.name === k).value = v; });
  set(of("CheckpointLoaderSimple")[0], {ckpt_name: ckpt});
  set(of("VideoCanvasCanvas")[0], {width, height, length});
  for (const sampler of of("KSampler")) set(sampler, {steps});
  const rate = of("LTXVConditioning")[0];
  const none = LG.createNode("VideoCanvasNullPrompt");
  none.pos = [rate.pos[0] - 400, rate.pos[1]];
  g.add(none);
  for (const name of ["positive", "negative"]) {
    none.connect(0, rate, rate.inputs.findIndex(i => i.name === name)); }
  for (const type of ["CLIPTextEncode", "CLIPLoader"]) for (const n of of(type)) g.remove(n);
  g.setDirtyCanvas(true, true);
}"""


@pytest.mark.parametrize("renderer", RENDERERS[:1])  # the run is the server's; one renderer shows it
def test_an_ltx_template_runs_on_the_tiny_checkpoint_from_the_run_button(page, ui_server, checkpoints):
    """The LTX-Video 2B twin of template 02, opened from the template browser and edited as a user
    without the real files would (the tiny LTX-Video checkpoint, transformer and VAE in one file, in
    the loader; VideoCanvas Null Prompt for T5-XXL; 96x64, 9 frames, 2 steps), runs from the Run
    button: VideoCanvas Conditioning's guides, KSampler, VideoCanvas Decode's crop, a saved video."""
    template_card(page, LTX_TEMPLATE).click()
    wait_for_graph(page, templates()[LTX_TEMPLATE], LTX_TEMPLATE)
    page.evaluate(ON_TINY_CHECKPOINT, {"ckpt": checkpoints["ltxv_full_tiny"], "width": 96, "height": 64,
                                       "length": 9, "steps": 2})
    kinds = page.evaluate(f"() => {APP}.graph._nodes.map(n => n.type)")
    assert "VideoCanvasNullPrompt" in kinds and "CLIPLoader" not in kinds
    run_from_the_run_button(page, ui_server, f"{LTX_TEMPLATE} on the tiny checkpoint")


def run_from_the_run_button(page, ui_server, name: str) -> None:
    """Press Run; the prompt must succeed and leave a non-empty video in the server's output."""
    before = set(ui_server.get("/history"))
    t0 = time.monotonic()
    page.get_by_role("button", name="Run", exact=True).first.click()
    entry = wait_for_new_history(ui_server, before, timeout=300)
    seconds = time.monotonic() - t0
    assert entry["status"]["status_str"] == "success", entry["status"]
    files = [f for out in entry["outputs"].values() for key in ("images", "gifs", "videos", "animated")
             for f in out.get(key, []) if isinstance(f, dict) and f.get("type") == "output"]
    videos = [f for f in files if Path(f["filename"]).suffix in (".mp4", ".webm", ".webp", ".gif")]
    assert videos, f"{name}: no video among the outputs {entry['outputs']}"
    for f in videos:
        path = ui_server.output_dir / f.get("subfolder", "") / f["filename"]
        assert path.stat().st_size > 0, path
    (ARTEFACTS / f"run_{name}.json").write_text(json.dumps({"seconds": round(seconds, 1),
                                                             "videos": videos}))
    shot(page, f"run_{name}")


def wait_for_new_history(server, before: set, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = server.get("/history")
        for prompt_id, entry in history.items():
            if prompt_id not in before and entry.get("status", {}).get("completed") is not None:
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
        time.sleep(0.5)
    raise TimeoutError(f"no prompt finished within {timeout}s; queue: {server.get('/queue')}")


# --------------------------------------------------------------------------------- the editors

# A graph of its own: image -> Patch Placer -> Timestamp Conditioner -> Layout Preview, each linked to
# a Canvas node of 640x360, 49 frames at 16 fps. Node ids are returned by name.
BUILD_GRAPH = """({canvas}) => {
  const app = window.comfyAPI.app.app, LG = window.LiteGraph;
  app.graph.clear();
  const add = (type, pos) => { const n = LG.createNode(type); n.pos = pos; app.graph.add(n); return n; };
  const link = (a, out, b, name) => a.connect(out, b, b.inputs.findIndex(i => i.name === name));
  const set = (n, values) => Object.entries(values).forEach(([k, v]) => {
    n.widgets.find(w => w.name === k).value = v; });
  const ids = {};
  const image = add("LoadImage", [20, 40]); set(image, {image: "vc_test_patch.png"});
  const placer = add("VideoCanvasPatchPlacer", [360, 40]);
  link(image, 0, placer, "image");
  const cond = add("VideoCanvasTimestampConditioner", [720, 40]);
  link(placer, 0, cond, "patch");
  const preview = add("VideoCanvasLayoutPreview", [720, 360]);
  link(cond, 0, preview, "conditions");
  const size = add("VideoCanvasCanvas", [20, 420]);
  set(size, canvas);
  for (const n of [placer, cond, preview]) link(size, 0, n, "canvas");
  set(placer, {x: 0.1, y: 0.2, width: 0.4, height: 0.5, unit: "fraction", fit: "stretch"});
  set(cond, {frames: "0", unit: "frames"});
  Object.assign(ids, {image: image.id, placer: placer.id, cond: cond.id, preview: preview.id,
                      canvas: size.id});
  app.canvas.ds.scale = 1;
  app.canvas.ds.offset = [0, 0];
  app.graph.setDirtyCanvas(true, true);
  return ids;
}"""
CANVAS = {"width": 640, "height": 360, "length": 49, "fps": 16}


def center_on(pg, node_id: int) -> None:
    """Centres the view on a node, then waits until the node's DOM widgets have followed: the
    frontend moves them on its next frames, and a mouse press at their old place misses them."""
    pg.evaluate(f"id => {APP}.canvas.centerOnNode({APP}.graph.getNodeById(id))", node_id)
    pg.evaluate(f"""async id => {{
        const frame = () => new Promise(r => requestAnimationFrame(r));
        const el = () => {APP}.graph.getNodeById(id).widgets?.find(w => w.element)?.element;
        const where = () => JSON.stringify(el()?.getBoundingClientRect());
        {APP}.graph.setDirtyCanvas(true, true);
        let last = where();
        for (let i = 0, still = 0; i < 60 && still < 3; i++) {{
            await frame();
            const now = where();
            still = now === last ? still + 1 : 0;
            last = now;
        }} }}""", node_id)


def widgets(pg, node_id: int) -> dict:
    return pg.evaluate(f"""id => Object.fromEntries({APP}.graph.getNodeById(id).widgets
                           .filter(w => w.serialize !== false).map(w => [w.name, w.value]))""", node_id)


def set_widgets(pg, node_id: int, values: dict) -> None:
    pg.evaluate(f"""([id, values]) => {{ const n = {APP}.graph.getNodeById(id);
        for (const [k, v] of Object.entries(values)) n.widgets.find(w => w.name === k).value = v;
        {APP}.graph.setDirtyCanvas(true, true); }}""", [node_id, values])


def editor(pg, node_id: int, kind: str) -> dict:
    """An editor's geometry once drawn: its data (CSS px of the element) and the element's screen
    rectangle; `scale` turns element px into screen px (the graph's zoom)."""
    pg.wait_for_function(f"""([id, kind]) => {{
        const n = {APP}.graph.getNodeById(id);
        const w = n.widgets.find(w => w.name === kind);
        const cv = w?.element?.querySelector('canvas');
        return cv && cv.getBoundingClientRect().width > 0 && cv.dataset.drawn; }}""",
                         arg=[node_id, kind], timeout=10_000)
    return pg.evaluate(f"""([id, kind]) => {{
        const cv = {APP}.graph.getNodeById(id).widgets.find(w => w.name === kind).element
                   .querySelector('canvas');
        const r = cv.getBoundingClientRect();
        return {{ data: Object.fromEntries(Object.entries(cv.dataset).map(([k, v]) => [k, JSON.parse(v)])),
                  left: r.left, top: r.top, scale: r.width / cv.clientWidth }}; }}""", [node_id, kind])


def screen(ed: dict, x: float, y: float) -> tuple[float, float]:
    return ed["left"] + x * ed["scale"], ed["top"] + y * ed["scale"]


def drag(pg, start: tuple[float, float], end: tuple[float, float]) -> None:
    pg.mouse.move(*start)
    pg.mouse.down()
    pg.mouse.move(*end, steps=6)
    pg.mouse.up()


def redrawn(pg, node_id: int, kind: str, before: dict) -> dict:
    """The editor's geometry after it has redrawn from changed widgets."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ed = editor(pg, node_id, kind)
        if ed["data"] != before["data"]:
            return ed
        time.sleep(0.05)
    raise AssertionError(f"{kind} of node {node_id} did not redraw")


def box_drawn_at(pg, node_id: int, fractions: tuple) -> dict:
    """The box editor once it draws the box at these canvas fractions (x, y, w, h): it redraws
    within moments of a widget change; fails with where it last drew the box."""
    deadline = time.monotonic() + 5
    while True:
        ed = editor(pg, node_id, "box_editor")
        a, b = ed["data"]["area"], ed["data"]["box"]
        drawn = ((b["x"] - a["x"]) / a["w"], (b["y"] - a["y"]) / a["h"], b["w"] / a["w"], b["h"] / a["h"])
        if drawn == pytest.approx(fractions, abs=1e-9):
            return ed
        assert time.monotonic() < deadline, f"the box is drawn at {drawn}, not {fractions}"
        time.sleep(0.05)


def strip_rows(pg, node_id: int, expected: list) -> list:
    """The strip's rows once it has redrawn to `expected` (it redraws within moments of a widget
    change, one change at a time); fails with what it last drew."""
    deadline = time.monotonic() + 5
    while (rows := editor(pg, node_id, "layout_strip")["data"]["rows"]) != expected:
        assert time.monotonic() < deadline, f"the layout strip still shows {rows}, not {expected}"
        time.sleep(0.05)
    return rows


@pytest.fixture
def graph(page):
    ids = page.evaluate(BUILD_GRAPH, {"canvas": CANVAS})
    center_on(page, ids["placer"])
    return ids


def test_dragging_the_patch_box_writes_exact_fractions_that_survive_export_save_and_reload(page, graph):
    placer = graph["placer"]
    ed = editor(page, placer, "box_editor")
    area, box = ed["data"]["area"], ed["data"]["box"]
    # the box is drawn where the widgets put it, on a canvas of the Canvas node's 16:9 aspect
    assert area["w"] / area["h"] == pytest.approx(640 / 360, abs=1e-9)
    assert box == pytest.approx({"x": area["x"] + 0.1 * area["w"], "y": area["y"] + 0.2 * area["h"],
                                 "w": 0.4 * area["w"], "h": 0.5 * area["h"]}, abs=1e-9)
    shot(page, "box_editor_before")

    # move: grab the middle, drag by a quarter of the canvas width and a fifth of its height
    centre = (box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    drag(page, screen(ed, *centre), screen(ed, centre[0] + 0.25 * area["w"], centre[1] + 0.2 * area["h"]))
    assert widgets(page, placer) == {"x": 0.35, "y": 0.4, "width": 0.4, "height": 0.5,
                                          "unit": "fraction", "fit": "stretch", "feather": 0.0}
    ed = redrawn(page, placer, "box_editor", ed)
    box = ed["data"]["box"]

    # resize: the bottom-right corner, up-left by a tenth of the canvas; the top-left stays put
    corner = (box["x"] + box["w"], box["y"] + box["h"])
    drag(page, screen(ed, *corner), screen(ed, corner[0] - 0.1 * area["w"], corner[1] - 0.1 * area["h"]))
    after = widgets(page, placer)
    assert [after[k] for k in ("x", "y", "width", "height")] == [0.35, 0.4, 0.3, 0.4]

    # a move past the canvas edge stops at the edge (x + width = 1)
    ed = redrawn(page, placer, "box_editor", ed)
    box = ed["data"]["box"]
    centre = (box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    drag(page, screen(ed, *centre), screen(ed, centre[0] + area["w"], centre[1]))
    assert [widgets(page, placer)[k] for k in ("x", "y", "width", "height")] == [0.7, 0.4, 0.3, 0.4]
    shot(page, "box_editor_after")

    # the widgets are the source of truth: the API prompt carries them and no editor state ...
    prompt = page.evaluate(f"async () => (await {APP}.graphToPrompt()).output")
    inputs = prompt[str(placer)]["inputs"]
    assert {k: v for k, v in inputs.items() if not isinstance(v, list)} == {  # links are [id, slot]
        "x": 0.7, "y": 0.4, "width": 0.3, "height": 0.4, "unit": "fraction", "fit": "stretch",
        "feather": 0.0}
    # ... the saved workflow holds exactly the node's own widget values ...
    saved = page.evaluate(f"() => {APP}.graph.serialize()")
    node = next(n for n in saved["nodes"] if str(n["id"]) == str(placer))
    assert node["widgets_values"] == [0.7, 0.4, 0.3, 0.4, "fraction", "stretch", 0.0]
    # ... which a reload of that JSON restores, with the box drawn there again
    page.evaluate(f"wf => {APP}.loadGraphData(wf)", saved)
    center_on(page, placer)
    assert [widgets(page, placer)[k] for k in ("x", "y", "width", "height")] == [0.7, 0.4, 0.3, 0.4]
    box_drawn_at(page, placer, (0.7, 0.4, 0.3, 0.4))  # in the node's area as now laid out
    # and a page reload (the frontend restores the open workflow) keeps them too
    page.reload()
    page.wait_for_function(f"!!window.comfyAPI?.app?.app?.graph?.getNodeById({placer})?.widgets",
                           timeout=90_000)
    assert [widgets(page, placer)[k] for k in ("x", "y", "width", "height")] == [0.7, 0.4, 0.3, 0.4]


def test_dragging_in_pixels_writes_whole_output_pixels(page, graph):
    placer = graph["placer"]
    set_widgets(page, placer, {"unit": "px", "x": 64, "y": 36, "width": 320, "height": 180})
    ed = box_drawn_at(page, placer, (0.1, 0.1, 0.5, 0.5))  # 64/640, 36/360, 320/640, 180/360
    area, box = ed["data"]["area"], ed["data"]["box"]
    centre = (box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    # a quarter of the canvas is 160 x 90 output pixels
    drag(page, screen(ed, *centre), screen(ed, centre[0] + 0.25 * area["w"], centre[1] + 0.25 * area["h"]))
    assert [widgets(page, placer)[k] for k in ("x", "y", "width", "height")] == [224, 126, 320, 180]
    ed = redrawn(page, placer, "box_editor", ed)
    box = ed["data"]["box"]
    drag(page, screen(ed, box["x"], box["y"]), screen(ed, box["x"] - 0.25 * area["w"], box["y"]))
    assert [widgets(page, placer)[k] for k in ("x", "y", "width", "height")] == [64, 126, 480, 180]


def test_timeline_clicks_and_drags_write_the_frames_text(page, graph):
    cond = graph["cond"]
    center_on(page, cond)
    ed = editor(page, cond, "timeline")
    tl = ed["data"]["timeline"]
    assert tl["length"] == 49

    def at(frame):  # the screen point of a frame on the bar
        return screen(ed, tl["x0"] + frame / (tl["length"] - 1) * tl["w"], tl["y"] + tl["h"] / 2)

    def click(frame):
        page.mouse.click(*at(frame))

    def frames():
        return widgets(page, cond)["frames"]

    click(24)
    assert frames() == "0, 24"
    click(48)  # the last frame is written length-free
    assert frames() == "0, 24, -1"
    drag(page, at(24), at(12))
    assert frames() == "0, 12, -1"
    click(12)  # a click on a marker removes it
    assert frames() == "0, -1"
    shot(page, "timeline")
    # in seconds, at the canvas's 16 fps: frame 40 is 2.5 s, the end is the word 'last' ('-1' would
    # be one second before the end)
    set_widgets(page, cond, {"unit": "seconds", "frames": "0, last"})
    click(40)
    assert frames() == "0, 2.5, last"
    # the API prompt carries the text as written
    prompt = page.evaluate(f"async () => (await {APP}.graphToPrompt()).output")
    assert prompt[str(cond)]["inputs"]["frames"] == "0, 2.5, last"


def test_layout_strip_follows_the_widgets_without_sampling(page, graph):
    preview, cond, placer = graph["preview"], graph["cond"], graph["placer"]
    center_on(page, preview)
    ed = editor(page, preview, "layout_strip")
    assert ed["data"]["rows"] == [{"id": cond, "frames": [0], "box": [0.1, 0.2, 0.4, 0.5]}]
    set_widgets(page, cond, {"frames": "0, middle, -1"})
    set_widgets(page, placer, {"x": 0.5})
    assert strip_rows(page, preview, [{"id": cond, "frames": [0, 24, 48], "box": [0.5, 0.2, 0.4, 0.5]}])
    # a frame this canvas cannot hold is shown as an error, before any run
    set_widgets(page, cond, {"frames": "0, 60"})
    assert strip_rows(page, preview, [{"id": cond, "frames": [0, None], "box": [0.5, 0.2, 0.4, 0.5]}])
    # and a longer canvas, set once on the Canvas node, takes it
    set_widgets(page, graph["canvas"], {"length": 81})
    assert strip_rows(page, preview, [{"id": cond, "frames": [0, 60], "box": [0.5, 0.2, 0.4, 0.5]}])
    shot(page, "layout_strip")


def undo(pg) -> None:
    """Ctrl+Z as a user presses it (the frontend's change tracker listens on the window)."""
    pg.keyboard.press("Control+z")


def until(pg, read, want, what: str, timeout: float = 5.0):
    """Polls `read()` until it equals `want` (an undo reloads the graph a moment later)."""
    def attempt():
        try:
            return read()
        except Exception as err:  # e.g. the node is not in the graph the undo restored
            return f"unreadable ({str(err).splitlines()[0]})"

    deadline = time.monotonic() + timeout
    while (got := attempt()) != want:
        assert time.monotonic() < deadline, f"{what}: {got}, not {want}"
        pg.wait_for_timeout(50)
    return got


def test_each_timeline_click_and_box_drag_is_one_undo_step(page, graph):
    placer, cond = graph["placer"], graph["cond"]
    # the graph built by script opened as a saved workflow is (Nodes 2.0 rescales a graph it loads
    # that a classic canvas laid out, an undo included), and recorded as the step to come back to
    page.evaluate(f"async () => {{ await {APP}.loadGraphData({APP}.graph.serialize());"
                  f"{APP}.canvas.emitBeforeChange(); {APP}.canvas.emitAfterChange(); }}")
    center_on(page, cond)
    ed = editor(page, cond, "timeline")
    tl = ed["data"]["timeline"]

    def at(frame):
        return screen(ed, tl["x0"] + frame / (tl["length"] - 1) * tl["w"], tl["y"] + tl["h"] / 2)

    def frames():
        return widgets(page, cond)["frames"]

    def box():
        return [widgets(page, placer)[k] for k in ("x", "y", "width", "height")]

    # gestures a user's moment apart (frontend 1.48 folds what changes within 50 ms of a recorded
    # step into that step)
    page.mouse.click(*at(24))
    page.wait_for_timeout(150)
    page.mouse.click(*at(48))
    page.wait_for_timeout(150)
    drag(page, at(48), at(36))
    page.wait_for_timeout(150)
    assert frames() == "0, 24, 36"
    center_on(page, placer)
    ed = editor(page, placer, "box_editor")
    area, b = ed["data"]["area"], ed["data"]["box"]
    centre = (b["x"] + b["w"] / 2, b["y"] + b["h"] / 2)
    drag(page, screen(ed, *centre), screen(ed, centre[0] + 0.2 * area["w"], centre[1]))
    assert box() == [0.3, 0.2, 0.4, 0.5]
    # one Ctrl+Z per gesture, newest first: the box drag, the marker drag, then each click
    undo(page)
    until(page, box, [0.1, 0.2, 0.4, 0.5], "the box after one undo")
    assert frames() == "0, 24, 36"
    undo(page)
    until(page, frames, "0, 24, -1", "the frames after undoing the marker drag")
    undo(page)
    until(page, frames, "0, 24", "the frames after undoing the second click")
    undo(page)
    until(page, frames, "0", "the frames after undoing the first click")
    assert box() == [0.1, 0.2, 0.4, 0.5]


# ---------------------------------------------------------------------------------- help pages


def click_title(pg, node_id) -> None:
    """Selects a node as a user does: a click on its title bar."""
    x, y = pg.evaluate(f"""id => {{
        const n = {APP}.graph.getNodeById(id), c = {APP}.canvas, r = c.canvas.getBoundingClientRect();
        const [x, y] = c.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] * 0.6,
                                                   n.pos[1] - window.LiteGraph.NODE_TITLE_HEIGHT / 2]);
        return [r.left + x, r.top + y]; }}""", node_id)
    pg.mouse.click(x, y)


def test_opening_a_nodes_help_requests_no_missing_page(page, graph):
    """The selection toolbox's info button shows the node's page, found at the first place the
    frontend looks (docs/<NodeId>/en.md): no 404 on the way."""
    responses = []
    page.on("response", lambda r: responses.append((r.status, r.url)))
    center_on(page, graph["cond"])
    click_title(page, graph["cond"])
    page.locator('[data-testid="info-button"]').first.click()
    # the page's own first paragraph, rendered
    page.get_by_text("Says when a patch holds", exact=False).first.wait_for(timeout=10_000)
    shot(page, "help")
    docs = [(status, url) for status, url in responses if "/docs/" in url]
    assert docs and all(status == 200 for status, _ in docs), docs
    assert docs[0][1].endswith("/docs/VideoCanvasTimestampConditioner/en.md"), docs
    missing = [(status, url) for status, url in responses if status == 404]
    assert not missing, missing


def strip_labels(pg, node_id: int, titles: list[str]) -> list[dict]:
    """The strip's row labels once it draws these titles, in row order."""
    deadline = time.monotonic() + 5
    while True:
        labels = editor(pg, node_id, "layout_strip")["data"]["labels"]
        if [lab["title"] for lab in labels] == titles:
            return labels
        assert time.monotonic() < deadline, f"the layout strip labels rows {labels}, not {titles}"
        time.sleep(0.05)


def test_layout_strip_labels_show_long_titles_whole_or_cut_with_the_full_title_on_hover(page, graph):
    preview, cond, placer = graph["preview"], graph["cond"], graph["placer"]
    # two conditions whose titles differ only at their end (template 04's), as a user retitles them
    second = page.evaluate(f"""([placer, canvas]) => {{
        const app = {APP}, g = app.graph;
        const n = window.LiteGraph.createNode("VideoCanvasTimestampConditioner");
        n.pos = [720, 700]; g.add(n);
        g.getNodeById(placer).connect(0, n, n.inputs.findIndex(i => i.name === "patch"));
        g.getNodeById(canvas).connect(0, n, n.inputs.findIndex(i => i.name === "canvas"));
        n.title = "When the object is on the right";
        g.getNodeById({cond}).title = "When the object is on the left";
        g.setDirtyCanvas(true, true);
        return n.id; }}""", [placer, graph["canvas"]])
    center_on(page, preview)
    titles = ["When the object is on the left", "When the object is on the right"]
    labels = strip_labels(page, preview, titles)
    shot(page, "layout_strip_labels")
    for lab in labels:  # whole, on at most two lines inside the label column
        assert " ".join(lab["lines"]) == lab["title"] and not lab["cut"], lab
        assert 1 <= len(lab["lines"]) <= 2 and lab["width"] <= lab["column"], lab
    # a title too long for two lines is cut with an ellipsis, and reads whole as the row's tooltip
    long = "When the object is on the far right of the canvas, just before it leaves the frame for good"
    page.evaluate(f"([id, t]) => {{ {APP}.graph.getNodeById(id).title = t; }}", [second, long])
    labels = strip_labels(page, preview, [titles[0], long])
    lab = labels[1]
    assert lab["cut"] and len(lab["lines"]) == 2 and lab["lines"][1].endswith("…"), lab
    assert lab["width"] <= lab["column"], lab
    assert long.startswith(" ".join(lab["lines"])[:-1].rstrip()), lab
    ed = editor(page, preview, "layout_strip")
    page.mouse.move(*screen(ed, 20, lab["y"] + lab["h"] / 2))
    tip = page.evaluate(f"""id => {APP}.graph.getNodeById(id).widgets.find(w => w.name === "layout_strip")
                           .element.querySelector("canvas").title""", preview)
    assert tip == long


# ------------------------------------------------------------------ templates' values, per frontend

API_TWINS = ROOT / "example_workflows" / "api"


@pytest.fixture(scope="module")
def object_info(ui_server) -> dict:
    return ui_server.get("/object_info")


def input_default(spec: list):
    """The value a frontend gives a new widget of this /object_info input spec: its default, else a
    combo's first option; (False, None) where the spec names none."""
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if "default" in options:
        return True, options["default"]
    choices = spec[0] if isinstance(spec[0], list) else options.get("options")
    if isinstance(choices, list) and choices:
        return True, choices[0]
    return False, None


# Widgets a frontend adds to core nodes and exports with the API prompt though the node has no such
# input (frontend 1.48's LoadVideo preview, once its video loaded).
FRONTEND_WIDGETS = {"video-preview"}


def export_differences(exported: dict, twin: dict, object_info: dict) -> tuple[list[str], list[str]]:
    """What the frontend's API export of a template differs in from its API twin: (problems, inputs
    the host's core nodes gained, each at its /object_info default, which is allowed)."""
    problems, gained = [], []
    if sorted(exported) != sorted(twin):
        problems.append(f"nodes {sorted(exported)} exported, the twin has {sorted(twin)}")
    for node_id in sorted(set(exported) & set(twin), key=int):
        got, want = exported[node_id], twin[node_id]
        where = f"node {node_id} ({want['class_type']})"
        if got["class_type"] != want["class_type"]:
            problems.append(f"{where}: exported as {got['class_type']}")
            continue
        for key, value in want["inputs"].items():
            if key not in got["inputs"]:
                problems.append(f"{where}: input {key!r} missing")
            elif got["inputs"][key] != value and not (
                    isinstance(value, float) and got["inputs"][key] == pytest.approx(value, abs=1e-9)):
                problems.append(f"{where}: {key} = {got['inputs'][key]!r}, the twin has {value!r}")
        info = object_info.get(want["class_type"], {}).get("input", {})
        specs = {**info.get("required", {}), **info.get("optional", {})}
        for key in sorted(set(got["inputs"]) - set(want["inputs"])):
            if key in FRONTEND_WIDGETS and key not in specs:
                continue  # the frontend's own widget, no input of the node: the server ignores it
            known, default = input_default(specs[key]) if key in specs else (False, None)
            if known and got["inputs"][key] == default:
                gained.append(f"{want['class_type']}.{key}={default!r}")
            else:
                problems.append(f"{where}: input {key} = {got['inputs'][key]!r} is not in the twin "
                                f"and not this host's default ({default!r})" if known else
                                f"{where}: input {key} = {got['inputs'][key]!r} is not in the twin")
    return problems, gained


TWINNED = [name for name in templates() if (API_TWINS / f"{name}.json").exists()]


def test_each_template_loads_with_its_values_and_exports_its_api_twin(page, object_info):
    """Every UI template, loaded into this host's frontend, exports (the frontend's own
    app.graphToPrompt) exactly the inputs of its API twin; inputs that this host's core nodes gained
    since (e.g. CreateVideo's bit_depth) may come in addition, at the host's defaults."""
    assert TWINNED and len(TWINNED) == len(templates()), "a template without its API twin"
    problems, gained = {}, set()
    for name in TWINNED:
        twin = json.loads((API_TWINS / f"{name}.json").read_text())
        exported = page.evaluate(f"""async wf => {{ await {APP}.loadGraphData(wf);
                                     return (await {APP}.graphToPrompt()).output; }}""", templates()[name])
        bad, new = export_differences(exported, twin, object_info)
        if bad:
            problems[name] = bad
        gained.update(new)
    (ARTEFACTS / f"template_exports_{SHOWN['renderer']}.json").write_text(
        json.dumps({"inputs_gained_at_defaults": sorted(gained), "problems": problems}, indent=1))
    assert not problems, json.dumps(problems, indent=1)
