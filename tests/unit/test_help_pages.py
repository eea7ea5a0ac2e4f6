"""Node help pages where the frontends look first: web/docs/<NodeId>/en.md.

The frontends (1.32.9, 1.35.9, 1.48.7) fetch a custom node's help from
`/extensions/<pack>/docs/<NodeId>/<locale>.md` first and fall back to `.../docs/<NodeId>.md`; an English
page only at the fallback made every help open log a 404 first. Each node's English page is therefore
shipped at both places, the same bytes (tests/host/test_node_docs.py checks the fallback page against the
node's schema; the browser test checks that opening help requests no missing page).
"""

from __future__ import annotations

from helpers import ROOT

DOCS = ROOT / "web" / "docs"


def test_each_page_is_also_the_english_page():
    pages = {p.stem: p for p in DOCS.glob("*.md")}
    assert pages
    english = {p.parent.name: p for p in DOCS.glob("*/en.md")}
    assert set(english) == set(pages), "a node's en.md without its <NodeId>.md, or the reverse"
    for name, page in pages.items():
        assert english[name].read_bytes() == page.read_bytes(), (
            f"{english[name].relative_to(ROOT)} differs from {page.relative_to(ROOT)}: copy it over")
