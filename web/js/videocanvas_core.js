// VideoCanvas editor: pure geometry and frame-list helpers (no DOM, no ComfyUI), shared by the
// editor widgets in videocanvas_editor.js and checked from the browser tests.
// The frontend loads every .js under WEB_DIRECTORY as an extension module; this one only exports.

// The canvas the graph renders when no VideoCanvas Canvas node can be found (Wan 2.1's 480p default).
export const FALLBACK_CANVAS = Object.freeze({ width: 832, height: 480, length: 81, fps: 16, source: "default" });

const FRAME_WORDS = { first: (n) => 0, middle: (n) => Math.floor((n - 1) / 2), last: (n) => n - 1 };
// What vc_core/timing.py splits a frame spec on and reads as a number: Python's whitespace (its
// str.isspace(), which JS's \s differs from: U+001C-U+001F and U+0085 in, U+FEFF out) and commas;
// ASCII decimals with an optional sign, point and exponent.
const SEPARATORS = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000,]+/;
const ASCII_NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

// Python's round(): ties to even, as vc_core/timing.py converts seconds to frames.
export function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// The frame spec resolved as the sampler will (vc_core.timing.parse_frames), for drawing only:
// [{token, frame}] with frame null for an entry that this length cannot take (drawn as an error).
export function resolveFrames(spec, length, unit = "frames", fps = 16) {
  const tokens = String(spec ?? "").split(SEPARATORS).filter((t) => t);
  return tokens.map((token) => {
    const word = token.toLowerCase();
    let index;
    if (Object.hasOwn(FRAME_WORDS, word)) {
      index = FRAME_WORDS[word](length);
    } else {
      // Number() also reads '0x10', '0b11' and '0o7'; the sampler reads ASCII decimals only
      const value = ASCII_NUMBER.test(token) ? Number(token) : NaN;
      if (!Number.isFinite(value)) return { token, frame: null };
      if (unit === "seconds") index = roundHalfEven(value * fps);
      else if (Number.isInteger(value)) index = value;
      else return { token, frame: null };
    }
    if (index < 0) index += length;
    return { token, frame: index >= 0 && index < length ? index : null };
  });
}

// The text the timeline writes: frames ascending, each once, the last frame as the length-free
// "-1" (unit frames) or "last" (unit seconds, where -1 would mean one second before the end), so a
// marker at the end stays there when the length changes. Seconds to 3 decimals: round(t*fps) gives
// the frame back for any fps up to 240.
export function formatFrames(frames, length, unit = "frames", fps = 16) {
  const unique = [...new Set(frames.map((f) => Math.round(f)))]
    .filter((f) => f >= 0 && f < length)
    .sort((a, b) => a - b);
  return unique
    .map((f) => {
      if (f === length - 1 && length > 1) return unit === "seconds" ? "last" : "-1";
      if (unit !== "seconds") return String(f);
      return String(Number((f / fps).toFixed(3)));
    })
    .join(", ");
}

// Frame under a point of a timeline whose first frame sits at x0 and last at x0 + w.
export function frameAt(x, x0, w, length) {
  if (length <= 1 || w <= 0) return 0;
  return Math.min(length - 1, Math.max(0, Math.round(((x - x0) / w) * (length - 1))));
}

export function frameX(frame, x0, w, length) {
  return length <= 1 ? x0 + w / 2 : x0 + (frame / (length - 1)) * w;
}

// ---------------------------------------------------------------------------------- boxes

// A placer's box in canvas fractions (what the editor draws and edits), from its widget values.
export function boxToFractions(box, canvas) {
  if (box.unit === "px") {
    return { x: box.x / canvas.width, y: box.y / canvas.height,
             w: box.width / canvas.width, h: box.height / canvas.height };
  }
  return { x: box.x, y: box.y, w: box.width, h: box.height };
}

// Back to widget values: fractions snapped to the widgets' 0.01 step, pixels to whole pixels,
// so a drag writes the numbers a user could have typed.
export function fractionsToBox(f, unit, canvas) {
  if (unit === "px") {
    return { x: Math.round(f.x * canvas.width), y: Math.round(f.y * canvas.height),
             width: Math.round(f.w * canvas.width), height: Math.round(f.h * canvas.height) };
  }
  const r = (v) => Math.round(v * 100) / 100;
  return { x: r(f.x), y: r(f.y), width: r(f.w), height: r(f.h) };
}

const MIN_SIZE = 0.01; // the smallest box a drag makes: one widget step

// The box after dragging `handle` ("move", "nw", "ne", "sw", "se") by (dx, dy) canvas fractions:
// moves keep the box inside the canvas (x, y >= 0 as the widgets require); corners move only
// themselves, the opposite corner stays put.
export function dragBox(start, handle, dx, dy) {
  const b = { ...start };
  if (handle === "move") {
    b.x = Math.min(Math.max(0, start.x + dx), Math.max(0, 1 - start.w));
    b.y = Math.min(Math.max(0, start.y + dy), Math.max(0, 1 - start.h));
    return b;
  }
  let x0 = start.x, y0 = start.y, x1 = start.x + start.w, y1 = start.y + start.h;
  if (handle.includes("w")) x0 = Math.min(Math.max(0, x0 + dx), x1 - MIN_SIZE);
  if (handle.includes("e")) x1 = Math.max(Math.min(1, x1 + dx), x0 + MIN_SIZE);
  if (handle.includes("n")) y0 = Math.min(Math.max(0, y0 + dy), y1 - MIN_SIZE);
  if (handle.includes("s")) y1 = Math.max(Math.min(1, y1 + dy), y0 + MIN_SIZE);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

// Where an image of iw x ih pixels lands inside box b (canvas fractions) for a placer fit mode,
// as vc_core.canvas places it: stretch fills, contain fits inside, cover fills and crops (the
// caller clips to the box), none keeps the image's own pixels, centred in the box.
export function fitRect(b, fit, iw, ih, canvas) {
  const bw = b.w * canvas.width, bh = b.h * canvas.height;
  if (fit === "stretch" || !(iw > 0 && ih > 0)) return { ...b };
  let w = iw, h = ih;
  if (fit === "contain" || fit === "cover") {
    const s = fit === "contain" ? Math.min(bw / iw, bh / ih) : Math.max(bw / iw, bh / ih);
    w = iw * s; h = ih * s;
  }
  const fw = w / canvas.width, fh = h / canvas.height;
  return { x: b.x + (b.w - fw) / 2, y: b.y + (b.h - fh) / 2, w: fw, h: fh };
}

// ---------------------------------------------------------------------------------- labels

// A label broken into at most `maxLines` lines no wider than `maxWidth` (as `measure(text)` says):
// at spaces where it can, inside a word that alone is too wide; when the text needs more lines, the
// last one ends in "…". Returns {lines, cut}.
export function wrapLabel(text, maxWidth, measure, maxLines = 2) {
  const words = String(text ?? "").trim().split(/\s+/).filter((w) => w);
  const lines = [];
  let line = "";
  const fits = (t) => measure(t) <= maxWidth;
  const pushWord = (word) => {
    const joined = line ? `${line} ${word}` : word;
    if (fits(joined)) { line = joined; return; }
    if (line) { lines.push(line); line = ""; }
    // a word wider than the column: as many characters as fit, the rest on the next line
    let rest = word;
    while (!fits(rest)) {
      let n = rest.length - 1;
      while (n > 1 && !fits(rest.slice(0, n))) n--;
      lines.push(rest.slice(0, n));
      rest = rest.slice(n);
    }
    line = rest;
  };
  words.forEach(pushWord);
  if (line) lines.push(line);
  if (lines.length <= maxLines) return { lines, cut: false };
  const kept = lines.slice(0, maxLines);
  let last = `${kept[maxLines - 1]} ${lines.slice(maxLines).join(" ")}`;
  while (last.length > 1 && !fits(`${last}…`)) last = last.slice(0, -1);
  kept[maxLines - 1] = `${last.trimEnd()}…`;
  return { lines: kept, cut: true };
}
