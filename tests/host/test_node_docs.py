"""Node help pages: web/docs/<NodeId>.md and its English copy web/docs/<NodeId>/en.md, served by a
real ComfyUI where its frontend looks for them.

The frontends the hosts pin (1.32.9, 1.35.9, 1.48.7) fetch a custom node's help from
`/extensions/<pack>/docs/<NodeId>/<locale>.md`, then `/extensions/<pack>/docs/<NodeId>.md`, where
<pack> is the second part of the node's python_module ("custom_nodes.<pack>"), cut at '@'; 1.35.9
also rejects a page served as text/html. ComfyUI serves a pack's WEB_DIRECTORY at
`/extensions/<pack folder name>/`.

Each page is the node's reference: its title is the display name, and its Inputs and Outputs tables
list exactly the schema's sockets as /object_info reports them, in order, with their types and, for
numbers and choices, the exact range, default and options.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import ROOT
from hostkit.setup import PACK_LINK_NAME

DOCS = ROOT / "web" / "docs"
# Choice lists longer than this are ComfyUI's own (sampler, scheduler): the page names their source
# instead of copying lists that change with every ComfyUI release.
LISTED_OPTIONS_MAX = 8


@pytest.fixture(scope="module")
def ours(object_info) -> dict:
    nodes = {name: info for name, info in object_info.items()
             if info.get("python_module") == f"custom_nodes.{PACK_LINK_NAME}"}
    assert nodes, "the server lists none of this pack's nodes"
    return nodes


def help_url(info: dict) -> str:
    """The fallback URL the frontends fetch (their nodeHelpService.fetchCustomNodeHelp)."""
    pack = info["python_module"].split(".")[1].split("@")[0]
    return f"/extensions/{urllib.parse.quote(pack)}/docs/{info['name']}.md"


def fetch(server, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(server.base + path, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def sections(page: str) -> dict[str, str]:
    """'## Heading' -> its text; the page's '# Title' line under the key '#'."""
    out, key = {"#": ""}, "#"
    for line in page.splitlines():
        if line.startswith("## "):
            key = line[3:].strip()
            out[key] = ""
        else:
            out[key] += line + "\n"
    return out


def table(text: str) -> list[list[str]]:
    """Body rows of the markdown table in `text`, as stripped cells (header and rule dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return rows[2:]


def socket_name(cell: str, node: str) -> str:
    m = re.fullmatch(r"`([^`]+)`", cell)
    assert m, f"{node}: the first cell of each row must be a `name`; got {cell!r}"
    return m.group(1)


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?", text))


def number(value) -> str:
    """How the pages write a schema number: 16384.0 -> '16384', 0.05 -> '0.05'."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def combo_options(spec: list) -> list | None:
    """Options of a combo input in either /object_info form: ([...], {...}) or ("COMBO", {"options"})."""
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return spec[1]["options"]
    return None


def test_every_node_has_a_page_and_every_page_a_node(ours):
    assert {p.stem for p in DOCS.glob("*.md")} == set(ours)


def test_server_serves_each_page_where_the_frontend_looks(server, ours):
    for name, info in ours.items():
        url = help_url(info)
        assert url == f"/extensions/{PACK_LINK_NAME}/docs/{name}.md"
        status, ctype, body = fetch(server, url)
        assert status == 200, f"GET {url} -> {status}"
        assert "text/html" not in ctype, f"GET {url}: {ctype} (frontend 1.35.9 rejects html)"
        assert body == (DOCS / f"{name}.md").read_bytes(), url
        # The English page the frontends try first is served too, the same bytes (no 404 logged
        # on every help open); other locales fall back to <NodeId>.md.
        localised = url[:-len(".md")] + "/en.md"
        status, _, english = fetch(server, localised)
        assert status == 200 and english == body, localised


def test_each_page_documents_its_schema_exactly(ours):
    for name, info in ours.items():
        page = (DOCS / f"{name}.md").read_text()
        parts = sections(page)
        assert parts["#"].splitlines()[0] == f"# {info['display_name']}", name
        assert len(parts["#"].split()) > 40, f"{name}: the page says what the node does"
        assert parts.get("Tip", "").strip(), f"{name}: no Tip section"

        inputs = [(k, spec, section == "optional") for section in ("required", "optional")
                  for k, spec in info["input"].get(section, {}).items()]
        rows = table(parts["Inputs"])
        if not inputs:
            assert parts["Inputs"].strip() == "None.", name
        assert [socket_name(r[0], name) for r in rows] == [k for k, _, _ in inputs], name
        for row, (key, spec, optional) in zip(rows, inputs, strict=True):
            where = f"{name}.{key}"
            assert len(row) == 4 and row[3], f"{where}: | name | type | allowed | meaning |"
            kind, allowed = row[1], row[2]
            opts = spec[1] if len(spec) > 1 else {}
            options = combo_options(spec)
            assert kind == ("COMBO" if options is not None else spec[0]), where
            assert ("optional" in allowed) == optional, f"{where}: optional is said iff it is"
            if spec[0] in ("INT", "FLOAT"):
                shown = numbers_in(allowed)
                for field in ("min", "max", "default", "step"):
                    if field in opts:
                        assert number(opts[field]) in shown, f"{where}: {field} {opts[field]} in {allowed!r}"
            elif options is not None:
                assert f"`{opts['default']}`" in allowed, f"{where}: default"
                if len(options) <= LISTED_OPTIONS_MAX:
                    for option in options:
                        assert f"`{option}`" in allowed, f"{where}: option {option!r}"
                else:
                    assert "ComfyUI's" in allowed, f"{where}: names the list it takes"
            elif spec[0] == "BOOLEAN":
                assert f"default `{str(opts['default']).lower()}`" in allowed, where

        rows = table(parts["Outputs"])
        assert [socket_name(r[0], name) for r in rows] == info["output_name"], name
        assert [r[1] for r in rows] == info["output"], name
        assert all(len(r) == 3 and r[2] for r in rows), f"{name}: | name | type | meaning |"


def test_the_log_shows_the_pack_and_its_web_folder_loaded_cleanly(server, ours):
    # Start-up only: the session's server also logs the refusals other tests provoke on purpose.
    ready = "To see the GUI go to"
    assert ready in server.log()
    log = server.log().split(ready)[0]
    pack_lines = [line for line in log.splitlines() if f"custom_nodes/{PACK_LINK_NAME}" in line]
    assert pack_lines and not any("IMPORT FAILED" in line for line in pack_lines), pack_lines
    # ComfyUI reads every pack's pyproject.toml for a web folder in the same step that registers
    # WEB_DIRECTORY; a [tool.comfy] it cannot parse is logged here.
    assert "Unable to parse pyproject.toml" not in log
    # Registered once, under the folder name only (a second name would load its JS twice).
    assert "Automatically register web folder" not in log
    # ComfyUI's own audio nodes fail without torchaudio on these hosts: only tracebacks through
    # this pack count.
    tracebacks = re.findall(r"Traceback \(most recent call last\):\n(?:.+\n)+", log)
    ours_failed = [t for t in tracebacks
                   if PACK_LINK_NAME in t or str(ROOT) in t.replace(str(ROOT / ".host"), "")]
    assert not ours_failed, ours_failed
