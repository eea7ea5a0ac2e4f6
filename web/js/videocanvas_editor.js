// VideoCanvas visual editor for the ComfyUI frontend.
//
// - Patch Placer: the canvas (its aspect from the VideoCanvas Canvas node) with the patch image in its
//   box; drag the box to move it, a corner to resize it.
// - Timestamp Conditioner: a timeline of the output's frames; click to add a frame, drag a marker to
//   move it, click a marker to remove it.
// - Canvas / Layout Preview: a live layout strip of every condition in the graph, redrawn as widgets
//   change, without sampling.
//
// The node widgets stay the source of truth: the editors draw from widget values on every redraw and
// write only widget values (x, y, width, height; frames), so saving, sharing, reloading and running
// over the API see exactly what the user set. Editor widgets are never serialized.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import {
  FALLBACK_CANVAS, boxToFractions, dragBox, fitRect, formatFrames, frameAt, frameX,
  fractionsToBox, resolveFrames, wrapLabel,
} from "./videocanvas_core.js";

const CANVAS_NODE = "VideoCanvasCanvas";
const PLACER = "VideoCanvasPatchPlacer";
const CONDITIONER = "VideoCanvasTimestampConditioner";
const STRIP_HOSTS = [CANVAS_NODE, "VideoCanvasLayoutPreview"];
// Task nodes decide their frames from their clip at run time: the strip lists them by title.
const TASK_NODES = ["VideoCanvasInpaint", "VideoCanvasOutpaint", "VideoCanvasExtend",
  "VideoCanvasTransition", "VideoCanvasCameraMove", "VideoCanvasLoop"];
const ACTIVE = 0; // LiteGraph mode ALWAYS; muted (2) and bypassed (4) nodes add no condition

const COLORS = { bg: "#1b1b1f", canvas: "#2b2b33", grid: "#3a3a44", text: "#c8c8d0", dim: "#80808c",
  box: "#4fc3f7", handle: "#ffffff", marker: "#ffb74d", bad: "#ef5350" };

// ------------------------------------------------------------------------------- graph reading

const widget = (node, name) => node?.widgets?.find((w) => w.name === name);
const value = (node, name) => widget(node, name)?.value;

function linkById(graph, id) {
  const links = graph?.links;
  if (!links) return null;
  return typeof links.get === "function" ? links.get(id) : links[id];
}

// The node feeding `node`'s input `name`, through frontend Reroute nodes; null when unlinked.
function upstream(node, name) {
  let cur = node;
  let slot = node?.inputs?.findIndex((i) => i.name === name) ?? -1;
  for (let hops = 0; slot >= 0 && hops < 64; hops++) {
    const linkId = cur.inputs?.[slot]?.link;
    if (linkId == null) return null;
    const graph = cur.graph ?? app.graph;
    const link = linkById(graph, linkId);
    const origin = link && graph.getNodeById(link.origin_id);
    if (!origin) return null;
    if (origin.type !== "Reroute") return origin;
    cur = origin;
    slot = 0;
  }
  return null;
}

function graphNodes(node) {
  const graph = node?.graph ?? app.graph;
  return graph?._nodes ?? graph?.nodes ?? [];
}

// Width, height, length and fps of the video `node` contributes to: the Canvas node linked to its
// `canvas` input; else the graph's only Canvas node (an unlinked Patch Placer takes the sampler's);
// else Wan's default, said in the caption.
export function canvasOf(node) {
  let src = upstream(node, "canvas");
  if (src?.type !== CANVAS_NODE) {
    const canvases = graphNodes(node).filter((n) => n.type === CANVAS_NODE);
    src = node?.type === CANVAS_NODE ? node : canvases.length === 1 ? canvases[0] : null;
  }
  if (!src) return { ...FALLBACK_CANVAS };
  const num = (name, fallback) => {
    const v = Number(value(src, name));
    return Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return {
    width: num("width", FALLBACK_CANVAS.width), height: num("height", FALLBACK_CANVAS.height),
    length: Math.round(num("length", FALLBACK_CANVAS.length)), fps: num("fps", FALLBACK_CANVAS.fps),
    source: "canvas",
  };
}

// A /view URL for a LoadImage-style combo value ("name.png", "sub/name.png [input]").
function viewUrl(v) {
  let name = String(v);
  let type = "input";
  const m = name.match(/^(.*) \[(input|output|temp)\]$/);
  if (m) [, name, type] = m;
  let subfolder = "";
  const k = name.lastIndexOf("/");
  if (k >= 0) [subfolder, name] = [name.slice(0, k), name.slice(k + 1)];
  const q = new URLSearchParams({ filename: name, type, subfolder });
  return api.apiURL(`/view?${q}`);
}

// The image a node shows or loads, {url, crop: [x, y, w, h] in its pixels or null}: its preview if
// drawn, else its image combo's file; else the first IMAGE input's source, cut by a core ImageCrop on
// the way (other nodes between, e.g. a resize, are drawn as their source).
function imageOf(node, depth = 0) {
  if (!node || depth > 6) return null;
  const shown = node.imgs?.[0]?.src;
  if (shown) return { url: shown, crop: null };
  const file = widget(node, "image");
  if (file && typeof file.value === "string" && file.value && Array.isArray(file.options?.values)) {
    return { url: viewUrl(file.value), crop: null };
  }
  const input = node.inputs?.find((i) => i.type === "IMAGE" && i.link != null);
  const src = input ? imageOf(upstream(node, input.name), depth + 1) : null;
  if (src && node.type === "ImageCrop" && !src.crop) {
    const [x, y, w, h] = ["x", "y", "width", "height"].map((k) => Number(value(node, k)) || 0);
    return { url: src.url, crop: [x, y, w, h] };
  }
  return src;
}

const images = new Map(); // url -> HTMLImageElement (shared by every editor)
function loadImage(url, onload) {
  if (!url) return null;
  let img = images.get(url);
  if (!img) {
    img = new Image();
    img.addEventListener("load", () => onload());
    img.src = url;
    images.set(url, img);
  } else if (!img.complete) {
    img.addEventListener("load", () => onload(), { once: true });
  }
  return img.complete && img.naturalWidth > 0 ? img : null;
}

// Set a widget as the user would: value, then its callback (other extensions, linked primitives),
// then a redraw; ComfyUI's change tracker records it for undo and unsaved-changes.
function setWidget(node, name, v) {
  const w = widget(node, name);
  if (!w || w.value === v) return;
  w.value = v;
  w.callback?.(v, app.canvas, node);
  node.setDirtyCanvas?.(true, true);
}

function changed() {
  app.graph?.setDirtyCanvas?.(true, true);
  app.graph?.change?.();
}

// Undo: each gesture on an editor (a click, a drag) is one step of ComfyUI's change tracker. The
// editors take the pointer (preventDefault on pointerdown), so the browser sends no mouseup, which
// is where the tracker otherwise records a step: without this, a click and the next drag were
// undone together. The frontend's canvas events "before-change" / "after-change" hold the tracker
// during the gesture and record its end state once, as LiteGraph does for its own drags.
function trackerCall(phase) {
  const canvas = app.canvas;
  const emit = phase === "before" ? canvas?.emitBeforeChange : canvas?.emitAfterChange;
  if (typeof emit === "function") return emit.call(canvas);
  const graph = app.graph;
  return (phase === "before" ? graph?.beforeChange : graph?.afterChange)?.call(graph);
}

// No step is recorded at the start: frontend 1.48 folds the graph as it is 50 ms after any
// recording into that step ("squash"), which mid-drag would make the undo target a half-dragged box.
function beginEdit() {
  trackerCall("before");
}

function endEdit() {
  changed();
  trackerCall("after");
}

// --------------------------------------------------------------------------------- DOM widgets

// Redraw checks of every editor; also polled, since frontends that render nodes as Vue components
// do not call onDrawForeground. A check compares a short key and draws only when it changed.
const editors = new Set();
setInterval(() => editors.forEach((redraw) => redraw()), 300);

// A canvas element in a DOM widget; `draw(ctx, w, h)` runs when `key()` changes (checked each time
// LiteGraph redraws the node) or on demand. Editor widgets are not serialized: the node's own
// widgets hold every value.
function addCanvasWidget(node, name, { height, key, draw }) {
  const el = document.createElement("div");
  el.className = `videocanvas-editor videocanvas-${name}`;
  el.style.cssText = "width:100%;height:100%;position:relative;";
  const cv = document.createElement("canvas");
  cv.style.cssText = "width:100%;height:100%;display:block;touch-action:none;";
  el.appendChild(cv);
  const w = node.addDOMWidget(name, "videocanvas_editor", el, {
    serialize: false, hideOnZoom: false, getValue: () => undefined, setValue: () => {},
    getMinHeight: height, getHeight: height,
  });
  w.serialize = false;
  if (w.options) w.options.serialize = false;
  let last = null;
  const redraw = (force = false) => {
    if (!el.isConnected || !el.clientWidth || !el.clientHeight) return; // hidden: drawn when shown
    const cssW = el.clientWidth, cssH = el.clientHeight;
    const k = `${cssW}x${cssH}|${key()}`;
    if (!force && k === last) return;
    last = k;
    const dpr = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(cssW * dpr) || cv.height !== Math.round(cssH * dpr)) {
      cv.width = Math.round(cssW * dpr);
      cv.height = Math.round(cssH * dpr);
    }
    const ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    draw(ctx, cssW, cssH);
    cv.dataset.drawn = "1";
  };
  // Mouse positions in the element's own CSS pixels, whatever zoom the graph canvas applies.
  const local = (e) => {
    const r = cv.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * cv.clientWidth) / r.width,
             y: ((e.clientY - r.top) * cv.clientHeight) / r.height };
  };
  const prevDraw = node.onDrawForeground;
  node.onDrawForeground = function (...args) {
    const r = prevDraw?.apply(this, args);
    redraw();
    return r;
  };
  new ResizeObserver(() => redraw()).observe(el);
  editors.add(redraw);
  const prevRemoved = node.onRemoved;
  node.onRemoved = function (...args) {
    editors.delete(redraw);
    return prevRemoved?.apply(this, args);
  };
  return { el, cv, widget: w, redraw, local };
}

// Letterboxed rectangle of the canvas aspect inside a w x h area, with a margin.
function canvasArea(canvas, w, h, margin = 6, top = 16) {
  const aw = w - 2 * margin, ah = h - top - margin;
  const s = Math.min(aw / canvas.width, ah / canvas.height);
  const cw = canvas.width * s, ch = canvas.height * s;
  return { x: margin + (aw - cw) / 2, y: top + (ah - ch) / 2, w: cw, h: ch };
}

const LABEL_FONT = "11px sans-serif";
const LABEL_LINE = 12; // px between two lines of a label

function label(ctx, text, x, y, color = COLORS.dim, align = "left") {
  ctx.fillStyle = color;
  ctx.font = LABEL_FONT;
  ctx.textAlign = align;
  ctx.textBaseline = "middle";
  ctx.fillText(text, x, y);
}

function canvasCaption(canvas) {
  const where = { canvas: "", default: " (no Canvas node: default)" };
  return `${canvas.width}×${canvas.height} · ${canvas.length} frames @ ${canvas.fps} fps${where[canvas.source]}`;
}

// ------------------------------------------------------------------------------ patch box editor

const HANDLE = 7; // px: half the size of a corner grip

function boxOf(node) {
  return { x: Number(value(node, "x")) || 0, y: Number(value(node, "y")) || 0,
           width: Number(value(node, "width")) || 0, height: Number(value(node, "height")) || 0,
           unit: value(node, "unit") ?? "fraction" };
}

function drawBoxThumb(ctx, canvas, area, box, fit, img, crop = null) {
  ctx.fillStyle = COLORS.canvas;
  ctx.fillRect(area.x, area.y, area.w, area.h);
  const f = boxToFractions(box, canvas);
  const px = (r) => ({ x: area.x + r.x * area.w, y: area.y + r.y * area.h, w: r.w * area.w, h: r.h * area.h });
  const b = px(f);
  if (img) {
    // ImageCrop clamps its box to the image, as here
    const sx = crop ? Math.min(crop[0], img.naturalWidth - 1) : 0;
    const sy = crop ? Math.min(crop[1], img.naturalHeight - 1) : 0;
    const sw = crop ? Math.max(1, Math.min(crop[2], img.naturalWidth - sx)) : img.naturalWidth;
    const sh = crop ? Math.max(1, Math.min(crop[3], img.naturalHeight - sy)) : img.naturalHeight;
    const r = px(fitRect(f, fit, sw, sh, canvas));
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.x, b.y, b.w, b.h);
    ctx.clip();
    ctx.drawImage(img, sx, sy, sw, sh, r.x, r.y, r.w, r.h);
    ctx.restore();
  } else {
    ctx.fillStyle = "rgba(79,195,247,0.25)";
    ctx.fillRect(b.x, b.y, b.w, b.h);
  }
  ctx.strokeStyle = COLORS.box;
  ctx.lineWidth = 1.5;
  ctx.strokeRect(b.x, b.y, b.w, b.h);
  return b;
}

function setupPlacer(node) {
  let drag = null;
  const state = () => {
    const canvas = canvasOf(node);
    const image = imageOf(upstream(node, "image"));
    return { canvas, image, box: boxOf(node), fit: value(node, "fit") ?? "stretch" };
  };
  const ed = addCanvasWidget(node, "box_editor", {
    height: () => 170,
    key: () => JSON.stringify(state()),
    draw(ctx, w, h) {
      const s = state();
      const area = canvasArea(s.canvas, w, h);
      ed.area = area;
      label(ctx, canvasCaption(s.canvas), 6, 8);
      const img = loadImage(s.image?.url, () => ed.redraw(true));
      const b = drawBoxThumb(ctx, s.canvas, area, s.box, s.fit, img, s.image?.crop);
      ctx.fillStyle = COLORS.handle;
      for (const [cx, cy] of [[b.x, b.y], [b.x + b.w, b.y], [b.x, b.y + b.h], [b.x + b.w, b.y + b.h]]) {
        ctx.fillRect(cx - 3, cy - 3, 6, 6);
      }
      ed.cv.dataset.area = JSON.stringify(area);
      ed.cv.dataset.box = JSON.stringify(b);
    },
  });
  const hit = (p) => {
    const s = state();
    const a = ed.area;
    if (!a) return null;
    const f = boxToFractions(s.box, s.canvas);
    const x0 = a.x + f.x * a.w, y0 = a.y + f.y * a.h, x1 = x0 + f.w * a.w, y1 = y0 + f.h * a.h;
    const corners = { nw: [x0, y0], ne: [x1, y0], sw: [x0, y1], se: [x1, y1] };
    for (const [name, [cx, cy]] of Object.entries(corners)) {
      if (Math.abs(p.x - cx) <= HANDLE && Math.abs(p.y - cy) <= HANDLE) return name;
    }
    return p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1 ? "move" : null;
  };
  ed.cv.addEventListener("pointermove", (e) => {
    if (!drag) {
      const h = hit(ed.local(e));
      ed.cv.style.cursor = { move: "move", nw: "nwse-resize", se: "nwse-resize",
        ne: "nesw-resize", sw: "nesw-resize" }[h] ?? "default";
      return;
    }
    const p = ed.local(e);
    const a = ed.area;
    const f = dragBox(drag.start, drag.handle, (p.x - drag.p.x) / a.w, (p.y - drag.p.y) / a.h);
    const box = fractionsToBox(f, drag.unit, drag.canvas);
    for (const k of ["x", "y", "width", "height"]) setWidget(node, k, box[k]);
    ed.redraw();
    e.stopPropagation();
  });
  ed.cv.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const p = ed.local(e);
    const handle = hit(p);
    if (!handle) return;
    const s = state();
    drag = { handle, p, start: boxToFractions(s.box, s.canvas), unit: s.box.unit, canvas: s.canvas };
    beginEdit();
    ed.cv.setPointerCapture(e.pointerId);
    e.preventDefault();
    e.stopPropagation();
  });
  const end = (e) => {
    if (!drag) return;
    drag = null;
    if (ed.cv.hasPointerCapture?.(e.pointerId)) ed.cv.releasePointerCapture(e.pointerId);
    endEdit();
  };
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) ed.cv.addEventListener(type, end);
}

// ---------------------------------------------------------------------------------- timeline

const TL = { left: 10, right: 10, top: 18, bar: 22 };

function conditionerTiming(node) {
  const canvas = canvasOf(node);
  const unit = value(node, "unit") ?? "frames";
  return { canvas, unit, fps: canvas.fps, spec: String(value(node, "frames") ?? "") };
}

function drawTimeline(ctx, x0, y, w, h, length, entries, color = COLORS.marker) {
  ctx.fillStyle = COLORS.canvas;
  ctx.fillRect(x0, y, w, h);
  ctx.strokeStyle = COLORS.grid;
  ctx.lineWidth = 1;
  // latent frame boundaries: Wan's VAE packs frame 0 alone, then 4 frames per latent
  for (let f = 4; f < length - 1; f += 4) {
    const x = Math.round(frameX(f + 0.5, x0, w, length)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, y + h * 0.6);
    ctx.lineTo(x, y + h);
    ctx.stroke();
  }
  for (const e of entries) {
    if (e.frame == null) continue;
    const x = frameX(e.frame, x0, w, length);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.moveTo(x, y + h);
    ctx.lineTo(x - 5, y + h * 0.35);
    ctx.lineTo(x + 5, y + h * 0.35);
    ctx.closePath();
    ctx.fill();
    ctx.fillRect(x - 1, y, 2, h);
  }
}

function setupConditioner(node) {
  let drag = null;
  const geometry = (w) => ({ x0: TL.left, w: w - TL.left - TL.right, y: TL.top, h: TL.bar });
  const ed = addCanvasWidget(node, "timeline", {
    height: () => 64,
    key: () => JSON.stringify(conditionerTiming(node)),
    draw(ctx, w, h) {
      const t = conditionerTiming(node);
      const g = geometry(w);
      const entries = resolveFrames(t.spec, t.canvas.length, t.unit, t.fps);
      const bad = entries.filter((e) => e.frame == null).map((e) => e.token);
      label(ctx, bad.length ? `not in 0..${t.canvas.length - 1}: ${bad.join(", ")}`
        : canvasCaption(t.canvas), 6, 8, bad.length ? COLORS.bad : COLORS.dim);
      drawTimeline(ctx, g.x0, g.y, g.w, g.h, t.canvas.length, entries);
      label(ctx, "0", g.x0, g.y + g.h + 9);
      label(ctx, String(t.canvas.length - 1), g.x0 + g.w, g.y + g.h + 9, COLORS.dim, "right");
      const shown = [...new Set(entries.filter((e) => e.frame != null).map((e) => e.frame))];
      for (const f of shown) {
        if (f === 0 || f === t.canvas.length - 1) continue;
        label(ctx, String(f), frameX(f, g.x0, g.w, t.canvas.length), g.y + g.h + 9, COLORS.text, "center");
      }
      ed.cv.dataset.timeline = JSON.stringify({ ...g, length: t.canvas.length });
    },
  });
  const framesNow = (t) =>
    resolveFrames(t.spec, t.canvas.length, t.unit, t.fps).filter((e) => e.frame != null).map((e) => e.frame);
  const write = (t, frames) => setWidget(node, "frames", formatFrames(frames, t.canvas.length, t.unit, t.fps));
  ed.cv.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const t = conditionerTiming(node);
    const g = geometry(ed.cv.clientWidth);
    const p = ed.local(e);
    if (p.y < g.y - 4 || p.y > g.y + g.h + 4) return;
    const frames = framesNow(t);
    const L = t.canvas.length;
    beginEdit();
    const near = frames.findIndex((f) => Math.abs(frameX(f, g.x0, g.w, L) - p.x) <= 5);
    if (near >= 0) {
      drag = { t, frames, index: near, moved: false, p, added: false };
    } else {
      frames.push(frameAt(p.x, g.x0, g.w, L));
      drag = { t, frames, index: frames.length - 1, moved: false, p, added: true };
      write(t, frames);
    }
    ed.cv.setPointerCapture(e.pointerId);
    e.preventDefault();
    e.stopPropagation();
  });
  ed.cv.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const p = ed.local(e);
    if (!drag.moved && Math.abs(p.x - drag.p.x) < 3) return;
    drag.moved = true;
    const g = geometry(ed.cv.clientWidth);
    drag.frames[drag.index] = frameAt(p.x, g.x0, g.w, drag.t.canvas.length);
    write(drag.t, drag.frames);
    ed.redraw();
    e.stopPropagation();
  });
  const end = (e) => {
    if (!drag) return;
    // A click on a marker (no drag) removes it; the last frame stays, a conditioner needs one.
    if (!drag.moved && !drag.added && drag.frames.length > 1) {
      drag.frames.splice(drag.index, 1);
      write(drag.t, drag.frames);
    }
    drag = null;
    if (ed.cv.hasPointerCapture?.(e.pointerId)) ed.cv.releasePointerCapture(e.pointerId);
    ed.redraw();
    endEdit();
  };
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) ed.cv.addEventListener(type, end);
}

// ------------------------------------------------------------------------------- layout strip

// Every active Timestamp Conditioner with its placer's box; task nodes by title.
function layoutRows(host) {
  const rows = [];
  for (const n of graphNodes(host)) {
    if ((n.mode ?? ACTIVE) !== ACTIVE) continue;
    if (n.type === CONDITIONER) {
      const t = conditionerTiming(n);
      const placer = upstream(n, "patch");
      rows.push({ title: n.title || "Timestamp Conditioner", id: n.id, t,
                  entries: resolveFrames(t.spec, t.canvas.length, t.unit, t.fps),
                  box: placer?.type === PLACER ? boxOf(placer) : null,
                  fit: placer ? value(placer, "fit") ?? "stretch" : "stretch",
                  image: placer ? imageOf(upstream(placer, "image")) : null });
    } else if (TASK_NODES.includes(n.type)) {
      rows.push({ title: n.title || n.type, id: n.id, task: true });
    }
  }
  return rows.sort((a, b) => a.id - b.id);
}

const ROW = 30;

function setupStrip(node) {
  const height = () => 24 + Math.max(1, layoutRows(node).length) * ROW;
  let rowsShown = -1;
  const ed = addCanvasWidget(node, "layout_strip", {
    height,
    key: () => JSON.stringify({ c: canvasOf(node), r: layoutRows(node) }),
    draw(ctx, w) {
      const canvas = canvasOf(node);
      const rows = layoutRows(node);
      label(ctx, canvasCaption(canvas), 6, 8);
      const thumbW = Math.round((ROW - 6) * canvas.width / canvas.height);
      // a label column a third of the strip wide, each title on up to two lines (long titles that
      // differ only at their end, "When the object is on the left / right", stay readable), cut
      // with "…" past that; the full title is the row's tooltip
      const labelW = Math.min(200, Math.max(80, w * 0.34));
      const x0 = 6 + labelW + thumbW + 8, tw = w - x0 - 10;
      if (!rows.length) label(ctx, "no conditions in this graph yet", 6, 24 + ROW / 2);
      const labels = [];
      rows.forEach((r, i) => {
        const y = 20 + i * ROW;
        ctx.font = LABEL_FONT;
        const measure = (t) => ctx.measureText(t).width;
        const { lines, cut } = wrapLabel(r.title, labelW - 8, measure);
        ctx.save();
        ctx.beginPath();
        ctx.rect(0, y, labelW, ROW);
        ctx.clip();
        const top = y + ROW / 2 - ((lines.length - 1) * LABEL_LINE) / 2;
        lines.forEach((t, k) => label(ctx, t, 6, top + k * LABEL_LINE, COLORS.text));
        ctx.restore();
        labels.push({ id: r.id, title: r.title, lines, cut, column: labelW - 8,
                      width: Math.max(0, ...lines.map(measure)), y, h: ROW });
        if (r.task) {
          label(ctx, "frames from its clip, set at run time", x0, y + ROW / 2);
          return;
        }
        if (r.box) {
          const img = loadImage(r.image?.url, () => ed.redraw(true));
          drawBoxThumb(ctx, canvas, { x: 6 + labelW, y: y + 3, w: thumbW, h: ROW - 6 }, r.box, r.fit, img,
            r.image?.crop);
        }
        drawTimeline(ctx, x0, y + 4, tw, ROW - 8, canvas.length, r.entries);
        const bad = r.entries.filter((e) => e.frame == null);
        if (bad.length) label(ctx, `not in 0..${canvas.length - 1}: ${bad.map((e) => e.token).join(", ")}`,
          x0 + 4, y + ROW / 2, COLORS.bad);
      });
      ed.labels = labels;
      ed.labelW = labelW;
      // the row labels as drawn (lines, whether cut, widths in CSS px against the column's)
      ed.cv.dataset.labels = JSON.stringify(labels);
      // what is drawn, for tests and tools: frames per condition (null: not on this canvas), boxes
      // in canvas fractions
      ed.cv.dataset.rows = JSON.stringify(rows.filter((r) => !r.task).map((r) => {
        const f = r.box && boxToFractions(r.box, canvas);
        return { id: r.id, frames: r.entries.map((e) => e.frame), box: f && [f.x, f.y, f.w, f.h] };
      }));
      if (rows.length !== rowsShown) {
        rowsShown = rows.length;
        // grow the node to fit a new row; never shrink what the user sized
        const need = node.computeSize?.();
        if (need && need[1] > node.size[1]) node.setSize([node.size[0], need[1]]);
      }
    },
  });
  // the full title of the row under the pointer, as the browser's tooltip
  ed.cv.addEventListener("pointermove", (e) => {
    const p = ed.local(e);
    const row = p.x <= (ed.labelW ?? 0) ? ed.labels?.find((l) => p.y >= l.y && p.y < l.y + l.h) : null;
    const tip = row ? row.title : "";
    if (ed.cv.title !== tip) ed.cv.title = tip;
  });
}

// ------------------------------------------------------------------------- templates open fitted

// The part of the graph canvas a user sees, in window px: the canvas element less the sidebar's
// icon bar (and an open sidebar panel) lying over its left or right edge.
function visibleRect(el) {
  const r = el.getBoundingClientRect();
  const v = { left: Math.max(r.left, 0), top: Math.max(r.top, 0),
              right: Math.min(r.right, window.innerWidth), bottom: Math.min(r.bottom, window.innerHeight) };
  const middle = (v.left + v.right) / 2;
  for (const bar of document.querySelectorAll(".side-tool-bar-container, .side-bar-panel")) {
    const b = bar.getBoundingClientRect();
    if (!b.width || !b.height || b.bottom <= v.top || b.top >= v.bottom) continue;
    if (b.right > v.left && b.right < middle) v.left = b.right;
    else if (b.left < v.right && b.left > middle) v.right = b.left;
  }
  return { canvas: r, view: v };
}

function graphBounds(graph) {
  const title = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  const add = (x, y, w, h) => {
    if (![x, y, w, h].every(Number.isFinite)) return;
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + h);
  };
  for (const n of graph?._nodes ?? graph?.nodes ?? []) {
    const b = n.getBounding?.();
    if (b) add(b[0], b[1], b[2], b[3]);
    else add(n.pos[0], n.pos[1] - title, n.size[0], n.size[1] + title);
  }
  for (const g of graph?._groups ?? graph?.groups ?? []) {
    const b = g._bounding ?? g.boundingRect;
    if (b) add(b[0], b[1], b[2], b[3]);
  }
  return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : null;
}

// Scale and offset that show the whole graph in the visible part of the canvas, with a margin;
// never zoomed in past 100 %. Returns the view set, or null when there is nothing to fit.
const FIT_MARGIN = 32;
function fitGraphToView() {
  const canvas = app.canvas;
  const el = canvas?.canvas, ds = canvas?.ds;
  const b = graphBounds(app.graph);
  if (!el || !ds || !b) return null;
  const { canvas: r, view: v } = visibleRect(el);
  const w = v.right - v.left - 2 * FIT_MARGIN, h = v.bottom - v.top - 2 * FIT_MARGIN;
  if (w <= 0 || h <= 0) return null;
  const scale = Math.max(0.05, Math.min(1, w / (b.x1 - b.x0), h / (b.y1 - b.y0)));
  const cx = (v.left + v.right) / 2 - r.left, cy = (v.top + v.bottom) / 2 - r.top;
  ds.scale = scale;
  ds.offset = [cx / scale - (b.x0 + b.x1) / 2, cy / scale - (b.y0 + b.y1) / 2];
  canvas.setDirty?.(true, true);
  return { key: JSON.stringify(b), scale, offset: [...ds.offset] };
}

// Fitted once the frontend has laid the graph out (its own fit, if any, runs on the next frame;
// Nodes 2.0 sizes nodes from their DOM a few frames later): refitted while the graph's bounds
// still change, for a second at most, unless the user moved the view meanwhile.
function fitWhenLaidOut() {
  let fitted = null, frames = 0;
  const step = () => {
    const ds = app.canvas?.ds;
    if (fitted && ds && (ds.scale !== fitted.scale || ds.offset[0] !== fitted.offset[0] ||
                         ds.offset[1] !== fitted.offset[1])) return; // the user moved the view
    const b = graphBounds(app.graph);
    if (!fitted || (b && JSON.stringify(b) !== fitted.key)) fitted = fitGraphToView() ?? fitted;
    if (++frames < 60) requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

const isPackGraph = (graph) => (graph?._nodes ?? graph?.nodes ?? []).some((n) =>
  String(n.comfyClass ?? n.type).startsWith("VideoCanvas"));

// The template browser opens a template with app.loadGraphData(..., {openSource: "template"}) on
// the frontends 1.32.9 to 1.48.7; the view a template was saved with (or the frontend's fit, which
// does not see the sidebar) leaves nodes under the sidebar, so the pack's templates are fitted to
// the visible canvas. Workflows opened otherwise keep the view they were saved with.
function fitTemplatesOnOpen() {
  const load = app.loadGraphData;
  if (typeof load !== "function" || load.videocanvasFit) return;
  const wrapped = async function (graphData, clean, restoreView, workflow, options, ...rest) {
    const result = await load.call(this, graphData, clean, restoreView, workflow, options, ...rest);
    try {
      if (options?.openSource === "template" && restoreView !== false && isPackGraph(app.graph)) {
        fitWhenLaidOut();
      }
    } catch (err) {
      console.warn("videocanvas: could not fit the template to the view", err);
    }
    return result;
  };
  wrapped.videocanvasFit = true;
  app.loadGraphData = wrapped;
}

// --------------------------------------------------------------------------------- registration

app.registerExtension({
  name: "videocanvas.editor",
  setup() {
    fitTemplatesOnOpen();
  },
  nodeCreated(node) {
    const type = node.comfyClass ?? node.type;
    if (typeof node.addDOMWidget !== "function") return;
    if (type === PLACER) setupPlacer(node);
    else if (type === CONDITIONER) setupConditioner(node);
    if (STRIP_HOSTS.includes(type)) setupStrip(node);
    if (type === PLACER || type === CONDITIONER || STRIP_HOSTS.includes(type)) {
      const [w, h] = node.computeSize();
      node.setSize([Math.max(node.size[0], STRIP_HOSTS.includes(type) ? 380 : 320), Math.max(node.size[1], h)]);
    }
  },
});
