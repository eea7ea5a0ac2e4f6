"""Procedural training videos: textured shapes moving over textured backgrounds under a moving camera.

Every clip is a pure function of `(seed, SceneSpec)`. `describe_clip` samples the scene parameters with
`numpy.random.Generator(PCG64([seed, stream]))` (no global RNG state is read or written) and returns
them as a JSON-serialisable dict; `render_description` turns such a dict into pixels; `generate_clip`
is the two together. The pixels are evaluated analytically per pixel and per frame (signed distances
and texture fields in continuous coordinates, one-pixel anti-aliased edges), so sub-pixel motion of
the camera and of the shapes is rendered smoothly and nothing is pasted at integer offsets.

Scene model (units: the shorter frame side spans 2 units at zoom 1; a "reference pixel" is 2/64
units, i.e. one pixel of a 64-pixel frame, and speeds below are quoted in reference pixels):
- background: a linear or radial two-colour gradient, low-frequency noise, or soft stripes / checker,
  plus (often) a faint mid-frequency luminance texture so that camera motion is visible; it lives on
  an unbounded world plane;
- 1-4 shapes (disc, rectangle, triangle, polygon, star, ring), each with its own texture (solid,
  stripes at an angle, checker, smooth noise, two-colour gradient) attached to the shape, a
  trajectory (linear, curved or wavy; 0.4-2.4 ref px / frame), a rotation speed and a scale rate;
  they are drawn back to front (later shapes occlude earlier ones, and nearer shapes get a little
  camera parallax); in about half of the multi-shape scenes a shape is aimed at another one so that
  occlusions actually happen;
- camera: static, pan (any direction, optionally curved), zoom in/out, or pan + zoom; the frame is
  a moving window on the world plane;
- scene cut (`SceneSpec.scene_cut`): two independent scenes, the second starting at `cut_frame`, an
  integer in the middle third of the clip; the second scene's background is forced to look different.
  The first scene of a seed is the same whether or not a cut happens.

The content is resolution independent: the same seed at 128x128 is the 64x64 clip at twice the
resolution (only the aspect ratio and the frame count change what is sampled).

Seed convention: seeds 0 .. 999_999 are training seeds, seeds >= 1_000_000 are held out for
evaluation (`split_of`, `TRAIN_SEEDS`, `HELD_OUT_SEEDS`); different seeds draw independent PCG64
streams, so held-out clips are new content.

Look at the data:  python -m toy_models.procedural --seed 7 --out /tmp/x.png [--rows 4 --scene-cut 1]
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import operator
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = [
    "SceneSpec",
    "HELD_OUT_SEEDS",
    "HELD_OUT_START",
    "TRAIN_SEEDS",
    "contact_sheet",
    "describe_clip",
    "generate_batch",
    "generate_clip",
    "render_description",
    "split_of",
]

# ----------------------------------------------------------------------------------------------
# Seeds

HELD_OUT_START = 1_000_000
#: Seeds used for training. Every seed below HELD_OUT_START is a training seed.
TRAIN_SEEDS = range(0, HELD_OUT_START)
#: The conventional evaluation pool. Every seed >= HELD_OUT_START is held out, this range is just
#: the first million of them.
HELD_OUT_SEEDS = range(HELD_OUT_START, 2 * HELD_OUT_START)


def split_of(seed: int) -> str:
    """'train' for seeds 0 .. 999_999, 'held_out' for seeds >= 1_000_000 (never used in training)."""
    seed = _check_seed(seed)
    return "train" if seed < HELD_OUT_START else "held_out"


def _check_seed(seed: int) -> int:
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seeds are non-negative integers, got {seed}")
    return seed


# ----------------------------------------------------------------------------------------------
# Spec


@dataclass(frozen=True)
class SceneSpec:
    """Clip size. `scene_cut`: False, True, or a probability in [0, 1] that the clip has a cut."""

    frames: int = 17
    height: int = 64
    width: int = 64
    scene_cut: bool | float = False

    def __post_init__(self):
        for name in ("frames", "height", "width"):
            if operator.index(getattr(self, name)) < 1:
                raise ValueError(f"SceneSpec.{name} must be >= 1, got {getattr(self, name)}")
        p = float(self.scene_cut)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SceneSpec.scene_cut must be a bool or a probability, got {self.scene_cut}")
        if self.scene_cut is True and self.frames < 2:
            raise ValueError("a scene cut needs at least 2 frames")


def cut_range(frames: int) -> tuple[int, int]:
    """Inclusive range of possible cut frames (first frame of the second scene): the middle third."""
    lo = max(1, -(-frames // 3))
    hi = max(lo, min(frames - 1, (2 * frames) // 3))
    return lo, hi


# ----------------------------------------------------------------------------------------------
# Sampling

REF_PX = 2.0 / 64.0  # world units per reference pixel (one pixel of a 64-pixel frame at zoom 1)
SHAPE_KINDS = ("disc", "rectangle", "triangle", "polygon", "star", "ring")
SHAPE_TEXTURES = ("solid", "stripes", "checker", "noise", "linear_gradient")
BACKGROUNDS = ("linear_gradient", "radial_gradient", "noise", "stripes", "checker")
CAMERAS = ("static", "pan", "zoom", "pan_zoom")

_STREAM_CUT, _STREAM_A, _STREAM_B = 0, 1, 2


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, stream]))


def _unit(angle: float) -> list[float]:
    return [math.cos(angle), math.sin(angle)]


def _hsv(h: float, s: float, v: float) -> list[float]:
    return list(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def _dist(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def _sample_field(rng: np.random.Generator, kind: str, period: tuple[float, float], px: float,
                  sharp: tuple[float, float], extent: tuple[float, float]) -> dict:
    """A scalar field in [0, 1] over some plane. `period` in the plane's units, `px` = plane units per
    reference pixel (to keep stripe edges at least ~1.2 reference pixels wide: no aliasing)."""
    f: dict = {"kind": kind}
    if kind == "solid":
        return f
    if kind == "linear_gradient":
        f.update(angle=rng.uniform(0, 2 * math.pi), offset=rng.uniform(-0.3, 0.3) * extent[0],
                 extent=rng.uniform(*extent))
        return f
    if kind == "radial_gradient":
        f.update(center=rng.uniform(-1.0, 1.0, 2) * extent[0], extent=rng.uniform(*extent))
        return f
    p = rng.uniform(*period)
    max_sharp = max(1.0, (p / px) / (1.2 * math.pi))
    if kind == "stripes":
        f.update(angle=rng.uniform(0, math.pi), period=p, phase=rng.uniform(0, 2 * math.pi),
                 sharpness=min(rng.uniform(*sharp), max_sharp))
    elif kind == "checker":
        f.update(angle=rng.uniform(0, math.pi / 2), period=p, phase=rng.uniform(0, 2 * math.pi, 2),
                 sharpness=min(rng.uniform(*sharp), max_sharp))
    elif kind == "noise":
        k = int(rng.integers(4, 7))
        angles = rng.uniform(0, 2 * math.pi, k)
        mags = 2 * math.pi / (p * rng.uniform(0.7, 1.6, k))
        amps = rng.uniform(0.5, 1.0, k)
        amps = amps / math.sqrt(float(np.sum(amps**2)) / 2)  # unit standard deviation of the sum
        f.update(freqs=np.stack([mags * np.cos(angles), mags * np.sin(angles)], 1),
                 phases=rng.uniform(0, 2 * math.pi, k), amps=amps, gain=rng.uniform(0.3, 0.6))
    else:
        raise ValueError(kind)
    return f


def _sample_background(rng: np.random.Generator, avoid: list[float] | None) -> dict:
    """Two colours and a field mixing them. `avoid`: a mean colour the result must differ from."""
    for _ in range(30):
        h, s, v = rng.uniform(), rng.uniform(0.15, 0.85), rng.uniform(0.25, 0.9)
        v2 = v + rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.45)
        if not 0.08 <= v2 <= 0.97:
            v2 = v - (v2 - v)
        if avoid is not None:  # after a cut: the opposite brightness and a distant hue
            h = colorsys.rgb_to_hsv(*avoid)[0] + rng.uniform(0.25, 0.75)
            dark = max(avoid) > 0.55
            v = rng.uniform(0.12, 0.32) if dark else rng.uniform(0.72, 0.95)
            v2 = v + (1.0 if dark else -1.0) * rng.uniform(0.1, 0.25)
        c0 = _hsv(h, s, v)
        c1 = _hsv(h + rng.uniform(-0.2, 0.2), s + rng.uniform(-0.3, 0.3), v2)
        mean = [(a + b) / 2 for a, b in zip(c0, c1, strict=True)]
        if avoid is None or _dist(mean, avoid) > 0.35:
            break
    kind = str(rng.choice(BACKGROUNDS, p=[0.3, 0.15, 0.3, 0.125, 0.125]))
    field = _sample_field(rng, kind, period=(0.8, 2.0) if kind != "noise" else (1.2, 3.0), px=REF_PX,
                          sharp=(0.6, 1.6), extent=(1.0, 3.0))
    bg = {"colors": [c0, c1], "mean_color": mean, "field": field, "detail": None}
    if rng.uniform() < 0.7:
        bg["detail"] = {"amplitude": rng.uniform(0.03, 0.1),
                        "field": _sample_field(rng, "noise", (0.15, 0.4), REF_PX, (1, 1), (1, 1))}
    return bg


def _sample_camera(rng: np.random.Generator, frames: int) -> dict:
    span = max(frames - 1, 1)
    tm = (frames - 1) / 2
    kind = str(rng.choice(CAMERAS, p=[0.25, 0.35, 0.2, 0.2]))
    cam = {"kind": kind, "center": rng.uniform(-0.3, 0.3, 2), "zoom": math.exp(rng.uniform(-0.2, 0.2)),
           "velocity": [0.0, 0.0], "accel": [0.0, 0.0], "zoom_rate": 0.0}
    if kind in ("pan", "pan_zoom"):
        speed = min(rng.uniform(0.5, 2.0) * REF_PX, 1.4 / span)
        direction = rng.uniform(0, 2 * math.pi)
        cam["velocity"] = [speed * c for c in _unit(direction)]
        if rng.uniform() < 0.5:
            a = rng.uniform(-0.06, 0.06) * speed
            a = math.copysign(min(abs(a), 0.5 * speed / max(tm, 1.0)), a)
            cam["accel"] = [a * c for c in _unit(direction + math.pi / 2)]
    if kind in ("zoom", "pan_zoom"):
        rate = min(rng.uniform(0.012, 0.035), 0.7 / span)
        cam["zoom_rate"] = rate * rng.choice([-1.0, 1.0])  # > 0: zoom out (the window grows)
    return cam


def _sample_shape(rng: np.random.Generator, frames: int, view: tuple[float, float], camera: dict,
                  bg_mean: list[float], others: list[dict]) -> dict:
    span = max(frames - 1, 1)
    tm = (frames - 1) / 2
    kind = str(rng.choice(SHAPE_KINDS))
    geom: dict = {}
    if kind == "rectangle":
        geom["half"] = [1.0, rng.uniform(0.35, 1.0)][:: int(rng.choice([-1, 1]))]
        geom["round"] = rng.uniform(0.0, 0.25)
    elif kind in ("triangle", "polygon"):
        geom["n"] = 3 if kind == "triangle" else int(rng.integers(4, 9))
        geom["m"] = 2.0
    elif kind == "star":
        n = int(rng.integers(4, 8))
        geom["n"] = n
        geom["m"] = 2.0 + rng.uniform(0.25, 0.7) * (n - 2)
    elif kind == "ring":
        geom["inner"] = rng.uniform(0.45, 0.75)
    size = rng.uniform(0.2, 0.55)  # radius in world units at the middle frame (6-18 ref px)

    # Colours: contrast with the background, and a second texture colour that differs from the first.
    for _ in range(30):
        ca = _hsv(rng.uniform(), rng.uniform(0.35, 1.0), rng.uniform(0.3, 1.0))
        if _dist(ca, bg_mean) > 0.35:
            break
    for _ in range(30):
        hsv = colorsys.rgb_to_hsv(*ca)
        cb = _hsv(hsv[0] + rng.uniform(0.1, 0.5) * rng.choice([-1, 1]), rng.uniform(0.2, 1.0),
                  rng.uniform(0.15, 1.0))
        if _dist(cb, ca) > 0.3:
            break
    tex_kind = str(rng.choice(SHAPE_TEXTURES, p=[0.15, 0.25, 0.2, 0.2, 0.2]))
    # Texture lives in shape-local units (radius 1), so it turns and scales with the shape.
    texture = _sample_field(rng, tex_kind, period=(0.12 / size, 0.35 / size), px=REF_PX / size,
                            sharp=(1.5, 4.0), extent=(0.8, 1.5))

    # Trajectory, centred on the middle frame so the shape is around the view mid-clip.
    half_w, half_h = view
    mid = [camera["center"][0] + rng.uniform(-0.65, 0.65) * half_w,
           camera["center"][1] + rng.uniform(-0.65, 0.65) * half_h]
    aimed = bool(others) and rng.uniform() < 0.5
    if aimed:  # cross another (deeper) shape near the middle of the clip: an occlusion
        target = others[int(rng.integers(len(others)))]
        off = rng.uniform(0, 0.6) * (size + target["size"]) * np.asarray(_unit(rng.uniform(0, 2 * math.pi)))
        mid = [target["mid"][0] + off[0], target["mid"][1] + off[1]]
    static_cam = camera["kind"] == "static"
    speed = min(rng.uniform(0.9 if static_cam else 0.4, 2.4) * REF_PX, 1.6 / span)
    direction = rng.uniform(0, 2 * math.pi)
    motion = str(rng.choice(["linear", "curved", "wave"], p=[0.4, 0.35, 0.25]))
    accel = [0.0, 0.0]
    wave = {"amplitude": 0.0, "omega": 0.0, "phase": 0.0}
    normal = _unit(direction + math.pi / 2)
    if motion == "curved":
        a_perp = rng.uniform(0.04, 0.12) * speed * rng.choice([-1, 1])
        a_along = rng.uniform(-0.04, 0.04) * speed
        limit = 0.8 * speed / max(tm, 1.0)
        a_perp = math.copysign(min(abs(a_perp), limit), a_perp)
        a_along = math.copysign(min(abs(a_along), limit), a_along)
        d = _unit(direction)
        accel = [a_along * d[0] + a_perp * normal[0], a_along * d[1] + a_perp * normal[1]]
    elif motion == "wave":
        wave = {"amplitude": rng.uniform(1.5, 5.0) * REF_PX, "omega": rng.uniform(0.2, 0.5),
                "phase": rng.uniform(0, 2 * math.pi)}
    spin = 0.0 if rng.uniform() < 0.2 else rng.uniform(0.02, 0.12) * rng.choice([-1, 1])
    scale_rate = 0.0 if rng.uniform() < 0.4 else rng.uniform(0.01, 0.03) * rng.choice([-1, 1])
    scale_rate = math.copysign(min(abs(scale_rate), 0.6 / span), scale_rate)
    return {
        "kind": kind, "geometry": geom, "size": size, "scale_rate": scale_rate,
        "angle": rng.uniform(0, 2 * math.pi), "spin": spin,
        "motion": motion, "aimed_at_other": aimed, "mid": mid,
        "velocity": [speed * c for c in _unit(direction)], "accel": accel,
        "wave": wave, "wave_normal": normal,
        "texture": texture, "colors": [ca, cb],
    }


def _sample_scene(rng: np.random.Generator, frames: int, aspect: float, avoid: list[float] | None) -> dict:
    background = _sample_background(rng, avoid)
    camera = _sample_camera(rng, frames)
    # Half extents of the view at the middle frame, in world units.
    view = (camera["zoom"] * max(aspect, 1.0), camera["zoom"] * max(1.0 / aspect, 1.0))
    n = int(rng.choice([1, 2, 3, 4], p=[0.2, 0.3, 0.3, 0.2]))
    shapes: list[dict] = []
    for i in range(n):
        shape = _sample_shape(rng, frames, view, camera, background["mean_color"], shapes)
        # Back to front; nearer shapes move a little more than the background under a pan.
        shape["depth_rank"] = i
        shape["parallax"] = 1.0 + 0.08 * i + rng.uniform(0.0, 0.08)
        shapes.append(shape)
    return {"background": background, "camera": camera, "shapes": shapes}


def _jsonable(obj):
    """numpy -> python, floats rounded to 6 decimals (the renderer reads the rounded values)."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 6)
    return obj


def describe_clip(seed: int, spec: SceneSpec = SceneSpec()) -> dict:
    """The sampled scene parameters of a clip (JSON-serialisable). `render_description` of this dict
    is `generate_clip(seed, spec)`. Keys: seed, split, spec, cut_frame (int, the first frame of the
    second scene, or None) and scenes (one or two dicts with background, camera and shapes)."""
    seed = _check_seed(seed)
    p_cut = float(spec.scene_cut)
    rc = _rng(seed, _STREAM_CUT)
    u, lo_hi = rc.uniform(), cut_range(spec.frames)
    cut_at = int(rc.integers(lo_hi[0], lo_hi[1] + 1))
    has_cut = spec.frames >= 2 and u < p_cut
    aspect = spec.width / spec.height
    scenes = [_sample_scene(_rng(seed, _STREAM_A), spec.frames, aspect, None)]
    if has_cut:
        avoid = scenes[0]["background"]["mean_color"]
        scenes.append(_sample_scene(_rng(seed, _STREAM_B), spec.frames, aspect, avoid))
    return _jsonable({
        "seed": seed,
        "split": split_of(seed),
        "spec": asdict(spec),
        "cut_frame": cut_at if has_cut else None,
        "scenes": scenes,
    })


# ----------------------------------------------------------------------------------------------
# Rendering


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def _clip01(a: np.ndarray) -> np.ndarray:
    return np.clip(a, 0.0, 1.0, out=a)


def _norm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y)


# The renderer is numpy float32: single-threaded whatever torch's thread settings are (so it neither
# fights a training process for cores nor depends on them), and bit-identical run to run.


def _field(f: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Evaluate a field dict at coordinates x, y (broadcastable arrays); None for 'solid'."""
    kind = f["kind"]
    if kind == "solid":
        return None
    if kind == "linear_gradient":
        c, s = math.cos(f["angle"]), math.sin(f["angle"])
        k = 0.5 / f["extent"]
        return _clip01((x * (c * k) + y * (s * k)) + (0.5 - f["offset"] * k))
    if kind == "radial_gradient":
        cx, cy = f["center"]
        return _clip01(_norm(x - cx, y - cy) * (1.0 / f["extent"]))
    if kind == "stripes":
        c, s = math.cos(f["angle"]), math.sin(f["angle"])
        w = 2 * math.pi / f["period"]
        u = np.sin((x * (c * w) + y * (s * w)) + f["phase"])
        return _clip01(u * (0.5 * f["sharpness"]) + 0.5)
    if kind == "checker":
        c, s = math.cos(f["angle"]), math.sin(f["angle"])
        w = 2 * math.pi / f["period"]
        u = np.sin((x * (c * w) + y * (s * w)) + f["phase"][0])
        v = np.sin((y * (c * w) - x * (s * w)) + f["phase"][1])
        return _clip01(u * v * (0.5 * f["sharpness"]) + 0.5)
    if kind == "noise":
        total = None
        for (fx, fy), ph, a in zip(f["freqs"], f["phases"], f["amps"], strict=True):
            term = np.sin(x * fx + y * fy + ph)
            term *= a
            total = term if total is None else np.add(total, term, out=total)
        return _clip01(total * (0.5 * f["gain"]) + 0.5)
    raise ValueError(f"unknown field kind {kind!r}")


def _colorize(v: np.ndarray | None, colors: list) -> np.ndarray:
    """Channel-first colours [3, ...] (a leading channel axis broadcasts fast in numpy)."""
    ca, cb = _f32(colors[0]).reshape(3, 1, 1, 1), _f32(colors[1]).reshape(3, 1, 1, 1)
    if v is None:
        return ca
    return ca + v[None] * (cb - ca)


def _sdf(shape: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) in shape-local units, radius ~1."""
    kind, g = shape["kind"], shape["geometry"]
    if kind == "disc":
        return _norm(x, y) - 1.0
    if kind == "ring":
        inner = g["inner"]
        return np.abs(_norm(x, y) - (1.0 + inner) / 2) - (1.0 - inner) / 2
    if kind == "rectangle":
        r = g["round"]
        qx = np.abs(x) - (g["half"][0] - r)
        qy = np.abs(y) - (g["half"][1] - r)
        outside = _norm(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        return outside + np.minimum(np.maximum(qx, qy), 0.0) - r
    # Regular polygon (m = 2) or star, circumradius 1 (I. Quilez's sdStar).
    n, m = g["n"], g["m"]
    an, en = math.pi / n, math.pi / m
    acx, acy = math.cos(an), math.sin(an)
    ecx, ecy = math.cos(en), math.sin(en)
    a = np.arctan2(x, y) * (0.5 / an)
    bn = (a - np.floor(a)) * (2 * an) - an  # the angle folded into one sector, in [-an, an)
    r = _norm(x, y)
    px = r * np.cos(bn) - acx
    py = r * np.abs(np.sin(bn)) - acy
    h = np.clip(-(px * ecx + py * ecy), 0.0, acy / ecy)
    px += ecx * h
    py += ecy * h
    return _norm(px, py) * np.sign(px)


def _render_scene(scene: dict, frame_idx: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """Render frames `frame_idx` of a scene: channel-first [3, n, H, W] float32 (not clamped)."""
    tau = frame_idx.astype(np.float64) - (frames - 1) / 2  # time relative to the middle frame
    n = len(tau)
    half = min(height, width) / 2  # pixels per screen unit
    xs = _f32((np.arange(width) + 0.5 - width / 2) / half).reshape(1, 1, width)
    ys = _f32((np.arange(height) + 0.5 - height / 2) / half).reshape(1, height, 1)

    cam = scene["camera"]
    c_mid = np.asarray(cam["center"])
    cam_c = (c_mid + np.outer(tau, cam["velocity"]) + 0.5 * np.outer(tau**2, cam["accel"]))  # [n, 2]
    zoom = cam["zoom"] * np.exp(cam["zoom_rate"] * tau)  # world units per screen unit, [n]

    def col(a):  # per-frame scalar -> [n, 1, 1] float32
        return _f32(a).reshape(n, 1, 1)

    # Background on the world plane: world = camera centre + zoom * screen.
    wx = col(cam_c[:, 0]) + col(zoom) * xs  # [n, 1, W]
    wy = col(cam_c[:, 1]) + col(zoom) * ys  # [n, H, 1]
    bg = scene["background"]
    img = np.broadcast_to(_colorize(_field(bg["field"], wx, wy), bg["colors"]), (3, n, height, width))
    if bg["detail"] is not None:
        d = _field(bg["detail"]["field"], wx, wy)
        img = img + ((d - 0.5) * (2 * bg["detail"]["amplitude"]))[None]
    else:
        img = img.copy()

    for sh in scene["shapes"]:
        # Position (with parallax relative to the camera's middle-frame position), angle, size.
        wv = sh["wave"]
        pos = (np.asarray(sh["mid"]) + np.outer(tau, sh["velocity"]) + 0.5 * np.outer(tau**2, sh["accel"])
               + np.outer(wv["amplitude"] * np.sin(wv["omega"] * tau + wv["phase"]), sh["wave_normal"]))
        pos = pos + (1.0 - sh["parallax"]) * (cam_c - c_mid)
        theta = sh["angle"] + sh["spin"] * tau
        size = sh["size"] * np.exp(sh["scale_rate"] * tau)
        # local = R(-theta) (camera + zoom * screen - pos) / size, as an affine map of screen coords.
        cth, sth = np.cos(theta), np.sin(theta)
        dx, dy = cam_c[:, 0] - pos[:, 0], cam_c[:, 1] - pos[:, 1]
        k = zoom / size
        lx = col(cth * k) * xs + (col(sth * k) * ys + col((cth * dx + sth * dy) / size))
        ly = col(-sth * k) * xs + (col(cth * k) * ys + col((-sth * dx + cth * dy) / size))
        # One-pixel anti-aliased edge: signed distance converted to output pixels.
        alpha = _clip01(0.5 - _sdf(sh, lx, ly) * col(size / zoom * half))[None]
        color = _colorize(_field(sh["texture"], lx, ly), sh["colors"])
        img += alpha * (color - img)
    return img


def render_description(desc: dict) -> torch.Tensor:
    """Pixels of a `describe_clip` dict: float32 [F, H, W, 3] in [0, 1]."""
    spec = desc["spec"]
    frames, height, width = spec["frames"], spec["height"], spec["width"]
    idx = np.arange(frames)
    cut = desc["cut_frame"]
    if cut is None:
        out = _render_scene(desc["scenes"][0], idx, frames, height, width)
    else:
        out = np.concatenate([_render_scene(desc["scenes"][0], idx[:cut], frames, height, width),
                              _render_scene(desc["scenes"][1], idx[cut:], frames, height, width)], axis=1)
    out = np.ascontiguousarray(_clip01(out).transpose(1, 2, 3, 0), dtype=np.float32)  # [F, H, W, 3]
    return torch.from_numpy(out)


def generate_clip(seed: int, spec: SceneSpec = SceneSpec()) -> torch.Tensor:
    """A clip as a ComfyUI IMAGE batch: float32 [F, H, W, 3] in [0, 1], a pure function of (seed, spec)."""
    return render_description(describe_clip(seed, spec))


def generate_batch(seeds: Iterable[int], spec: SceneSpec = SceneSpec()) -> torch.Tensor:
    """Clips for several seeds: float32 [B, F, H, W, 3]; clip b is bit-identical to
    generate_clip(seeds[b], spec)."""
    clips = [generate_clip(s, spec) for s in seeds]
    if not clips:
        return torch.zeros(0, spec.frames, spec.height, spec.width, 3)
    return torch.stack(clips)


# ----------------------------------------------------------------------------------------------
# Looking at the data


def contact_sheet(clips: torch.Tensor, cut_frames: list[int | None] | None = None, scale: int = 2,
                  gap: int = 2):
    """PIL image with one row per clip ([F, H, W, 3] or [B, F, H, W, 3]) and the frames side by side;
    a red bar marks the first frame after a cut."""
    from PIL import Image

    if clips.dim() == 4:
        clips = clips.unsqueeze(0)
    b, f, h, w, _ = clips.shape
    bar = 3
    row_h, col_w = h * scale + bar + gap, w * scale + gap
    sheet = np.full((b * row_h + gap, f * col_w + gap, 3), 255, dtype=np.uint8)
    pix = (clips.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    pix = pix.repeat(scale, axis=2).repeat(scale, axis=3)
    for i in range(b):
        for j in range(f):
            y0, x0 = gap + i * row_h + bar, gap + j * col_w
            sheet[y0:y0 + h * scale, x0:x0 + w * scale] = pix[i, j]
            if cut_frames is not None and cut_frames[i] == j:
                sheet[y0 - bar:y0 - 1, x0:x0 + w * scale] = (220, 0, 0)
    return Image.fromarray(sheet)


def _main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Save a contact sheet of procedural clips.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=1, help="clips of seeds seed, seed+1, ... one per row")
    ap.add_argument("--out", required=True, help="PNG path")
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--scene-cut", type=float, default=0.0, help="probability of a scene cut")
    ap.add_argument("--scale", type=int, default=2, help="integer upscale for viewing")
    ap.add_argument("--describe", action="store_true", help="print the scene descriptions as JSON")
    args = ap.parse_args(argv)
    spec = SceneSpec(args.frames, args.height, args.width, args.scene_cut)
    seeds = list(range(args.seed, args.seed + args.rows))
    descs = [describe_clip(s, spec) for s in seeds]
    clips = torch.stack([render_description(d) for d in descs])
    contact_sheet(clips, [d["cut_frame"] for d in descs], scale=args.scale).save(args.out)
    if args.describe:
        print(json.dumps(descs, indent=1))
    for d in descs:
        print(f"seed {d['seed']} ({d['split']}): camera {d['scenes'][0]['camera']['kind']}, "
              f"{len(d['scenes'][0]['shapes'])} shapes "
              f"{[s['kind'] + '/' + s['texture']['kind'] for s in d['scenes'][0]['shapes']]}, "
              f"background {d['scenes'][0]['background']['field']['kind']}, cut {d['cut_frame']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    _main()
