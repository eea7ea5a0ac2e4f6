"""The editor's frame parser (web/js/videocanvas_core.js resolveFrames, which draws the Timestamp
Conditioner's markers) and the sampler's (vc_core.timing.parse_frames) read one table of specs the
same way: every entry resolves to the same frame, or is refused (drawn red) by both.

Each row gives, per entry, the frame both must resolve it to (None: refused). On the Python side
every entry is checked on its own, and the whole spec too: parse_frames accepts it exactly when it
has at least one entry, every entry resolves and no two resolve to one frame (the editor draws an
empty spec as no marker and a duplicate as two markers on one frame; only the sampler refuses those).
The JS runs once for the whole table in the system `node`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from vc_core.timing import TimingError, parse_frames

ROOT = Path(__file__).resolve().parents[2]
CORE_JS = ROOT / "web" / "js" / "videocanvas_core.js"

F = "frames"
S = "seconds"

# (id, spec, length, unit, fps, [(entry, frame or None)])
CASES = [
    # ASCII numbers, separators, whitespace
    ("single", "0", 17, F, 16, [("0", 0)]),
    ("list", "0, 8, 16", 17, F, 16, [("0", 0), ("8", 8), ("16", 16)]),
    ("spaces-only", "0 8 16", 17, F, 16, [("0", 0), ("8", 8), ("16", 16)]),
    ("whitespace-around", "  \t 3 ,\n 5  ", 17, F, 16, [("3", 3), ("5", 5)]),
    ("empty-entries", "1,,2, ,3,", 17, F, 16, [("1", 1), ("2", 2), ("3", 3)]),
    ("ideographic-space", "1\u30002", 17, F, 16, [("1", 1), ("2", 2)]),
    ("no-break-space", "1\u00a02", 17, F, 16, [("1", 1), ("2", 2)]),
    ("plus-sign", "+5", 17, F, 16, [("+5", 5)]),
    ("trailing-point", "5.", 17, F, 16, [("5.", 5)]),
    ("whole-float", "4.0", 17, F, 16, [("4.0", 4)]),
    ("exponent", "1e1", 17, F, 16, [("1e1", 10)]),
    ("leading-zeros", "007", 17, F, 16, [("007", 7)]),
    ("minus-zero", "-0", 17, F, 16, [("-0", 0)]),
    # negatives count from the end
    ("minus-one", "-1", 17, F, 16, [("-1", 16)]),
    ("minus-length", "-17", 17, F, 16, [("-17", 0)]),
    ("negatives", "0, -9, -1", 17, F, 16, [("0", 0), ("-9", 8), ("-1", 16)]),
    # words, any case, frames in either unit
    ("words", "first middle last", 17, F, 16, [("first", 0), ("middle", 8), ("last", 16)]),
    ("words-upper", "FIRST, Middle, LaSt", 81, F, 16,
     [("FIRST", 0), ("Middle", 40), ("LaSt", 80)]),
    ("middle-even-length", "middle", 10, F, 16, [("middle", 4)]),
    ("length-one", "first, middle", 1, F, 16, [("first", 0), ("middle", 0)]),
    ("last-in-seconds", "0, last", 77, S, 15, [("0", 0), ("last", 76)]),
    # out of range
    ("past-end", "17", 17, F, 16, [("17", None)]),
    ("before-start", "-18", 17, F, 16, [("-18", None)]),
    ("huge", "99999999999999999999999", 17, F, 16, [("99999999999999999999999", None)]),
    ("past-float", "1e400", 17, F, 16, [("1e400", None)]),
    ("one-bad-of-three", "0, 40, -1", 17, F, 16, [("0", 0), ("40", None), ("-1", 16)]),
    # fractions need unit seconds
    ("fraction-in-frames", "2.5", 17, F, 16, [("2.5", None)]),
    ("point-five-in-frames", ".5", 17, F, 16, [(".5", None)]),
    # seconds at fps, Python's round (half to even), negatives from the end
    ("seconds", "0, 2.5, -0.1", 77, S, 15, [("0", 0), ("2.5", 38), ("-0.1", 75)]),
    ("seconds-integers", "1, -1", 77, S, 15, [("1", 15), ("-1", 62)]),
    ("seconds-half-to-even-down", "0.5", 17, S, 5, [("0.5", 2)]),  # 2.5 -> 2
    ("seconds-half-to-even-up", "0.7", 17, S, 5, [("0.7", 4)]),  # 3.5 -> 4
    ("seconds-point-five", ".5", 33, S, 16, [(".5", 8)]),
    ("seconds-fractional-fps", "1", 81, S, 23.976, [("1", 24)]),
    ("seconds-past-end", "2.5", 17, S, 16, [("2.5", None)]),
    ("seconds-before-start", "-2", 17, S, 16, [("-2", None)]),
    # ranges are not a syntax of either
    ("range-dash", "0-8", 17, F, 16, [("0-8", None)]),
    ("range-dots", "0..8", 17, F, 16, [("0..8", None)]),
    ("range-colon", "0:8", 17, F, 16, [("0:8", None)]),
    # malformed: what int()/float() or Number() would take but nobody means as a frame
    ("underscore", "1_0", 17, F, 16, [("1_0", None)]),
    ("fullwidth-digit", "\uff18", 17, F, 16, [("\uff18", None)]),
    ("arabic-indic-digit", "\u0663", 17, F, 16, [("\u0663", None)]),
    ("nan", "nan", 17, F, 16, [("nan", None)]),
    ("inf", "inf", 17, F, 16, [("inf", None)]),
    ("Infinity", "Infinity", 17, F, 16, [("Infinity", None)]),
    ("word-typo", "lats", 17, F, 16, [("lats", None)]),
    ("object-key", "constructor", 17, F, 16, [("constructor", None)]),
    ("letters-after-number", "5f", 17, F, 16, [("5f", None)]),
    ("double-sign", "--1", 17, F, 16, [("--1", None)]),
    ("semicolon", "1;2", 17, F, 16, [("1;2", None)]),
    ("hex", "0x10", 17, F, 16, [("0x10", None)]),
    ("binary", "0b11", 17, F, 16, [("0b11", None)]),
    ("octal", "0o7", 17, F, 16, [("0o7", None)]),
    ("proto", "__proto__", 17, F, 16, [("__proto__", None)]),
    ("bom-between", "1\ufeff2", 17, F, 16, [("1\ufeff2", None)]),
    ("info-separator-between", "1\x1c2", 17, F, 16, [("1", 1), ("2", 2)]),
    # no entry at all: nothing drawn; the sampler refuses it
    ("empty", "", 17, F, 16, []),
    ("only-separators", " , ,\t", 17, F, 16, []),
    # a frame twice: two markers on one frame; the sampler refuses it
    ("duplicate", "0, first", 17, F, 16, [("0", 0), ("first", 0)]),
    ("duplicate-seconds", "1, 16", 17, S, 1, [("1", 1), ("16", 16)]),
    ("duplicate-negative", "16, -1", 17, F, 16, [("16", 16), ("-1", 16)]),
]

IDS = [case[0] for case in CASES]
assert len(set(IDS)) == len(IDS)

_JS = """
const { resolveFrames } = await import(process.argv[1]);
let text = "";
for await (const chunk of process.stdin) text += chunk;
const out = JSON.parse(text).map(([spec, length, unit, fps]) => {
  try {
    return { result: resolveFrames(spec, length, unit, fps) };
  } catch (err) {
    return { error: String(err) };
  }
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js_results():
    node = shutil.which("node")
    if node is None:
        pytest.skip("`node` (Node.js) is not on PATH: the JS side of the frame-parser table cannot run")
    cases = [[spec, length, unit, fps] for _, spec, length, unit, fps, _ in CASES]
    proc = subprocess.run(
        [node, "--input-type=module", "-e", _JS, CORE_JS.as_uri()],
        input=json.dumps(cases), capture_output=True, text=True, encoding="utf-8", timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(zip(IDS, json.loads(proc.stdout), strict=True))


PARAMS = [pytest.param(*case[1:6], id=case[0]) for case in CASES]


@pytest.mark.parametrize("spec, length, unit, fps, expected", PARAMS)
def test_js_resolve_frames(js_results, request, spec, length, unit, fps, expected):
    got = js_results[request.node.callspec.id]
    assert "error" not in got, f"resolveFrames({spec!r}) threw {got.get('error')}"
    assert [(r["token"], r["frame"]) for r in got["result"]] == expected


@pytest.mark.parametrize("spec, length, unit, fps, expected", PARAMS)
def test_python_parse_frames(spec, length, unit, fps, expected):
    def parse(text):
        return parse_frames(text, length, fps=fps, unit=unit)

    for entry, frame in expected:  # each entry on its own
        if frame is None:
            with pytest.raises(TimingError):
                parse(entry)
        else:
            assert parse(entry) == [frame], entry
    frames = [frame for _, frame in expected]
    if frames and None not in frames and len(set(frames)) == len(frames):
        assert parse(spec) == frames
    else:  # no entry, an entry refused, or a frame twice
        with pytest.raises(TimingError):
            parse(spec)


def test_the_table_covers_both_units_and_every_word():
    units = {case[3] for case in CASES}
    words = {entry.lower() for case in CASES for entry, _ in case[5]}
    assert units == {F, S}
    assert {"first", "middle", "last"} <= words
