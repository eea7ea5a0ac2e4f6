"""Specification of the procedural training-video generator (toy_models/procedural.py)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from toy_models.procedural import (
    CAMERAS,
    HELD_OUT_SEEDS,
    SHAPE_KINDS,
    SHAPE_TEXTURES,
    TRAIN_SEEDS,
    SceneSpec,
    _main,
    cut_range,
    describe_clip,
    generate_batch,
    generate_clip,
    render_description,
    split_of,
)

SEEDS = list(range(24))
CUT = SceneSpec(scene_cut=True)


def frame_diffs(clip: torch.Tensor) -> np.ndarray:
    """Mean absolute difference between consecutive frames: [F - 1]."""
    x = clip.numpy()
    return np.abs(x[1:] - x[:-1]).mean(axis=(1, 2, 3))


@pytest.fixture(scope="module")
def clips() -> dict[int, torch.Tensor]:
    return {s: generate_clip(s) for s in SEEDS}


@pytest.fixture(scope="module")
def cut_clips() -> dict[int, tuple[torch.Tensor, dict]]:
    return {s: (generate_clip(s, CUT), describe_clip(s, CUT)) for s in SEEDS}


# --- format -------------------------------------------------------------------------------------


def test_clip_is_a_comfyui_image_batch_in_unit_range(clips):
    x = clips[0]
    assert x.shape == (17, 64, 64, 3) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0
    assert x.is_contiguous()


@pytest.mark.parametrize("frames,height,width", [(1, 64, 64), (9, 48, 80), (33, 64, 32), (5, 96, 96)])
def test_other_sizes_and_lengths(frames, height, width):
    x = generate_clip(5, SceneSpec(frames, height, width, scene_cut=frames > 1))
    assert x.shape == (frames, height, width, 3) and x.dtype == torch.float32
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_content_does_not_depend_on_resolution():
    """The same seed at 128x128 is the 64x64 clip drawn at twice the resolution."""
    small = generate_clip(3)
    big = generate_clip(3, SceneSpec(height=128, width=128))
    pooled = torch.nn.functional.avg_pool2d(big.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    assert (small - pooled).abs().mean() < 0.01


def test_invalid_specs_and_seeds_are_refused():
    with pytest.raises(ValueError):
        SceneSpec(frames=0)
    with pytest.raises(ValueError):
        SceneSpec(scene_cut=1.5)
    with pytest.raises(ValueError):
        SceneSpec(frames=1, scene_cut=True)
    with pytest.raises(ValueError):
        generate_clip(-1)


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_a_bit_identical_clip(clips):
    assert torch.equal(generate_clip(0), clips[0])
    assert describe_clip(0) == describe_clip(0)
    assert torch.equal(generate_clip(7, CUT), generate_clip(7, CUT))


def test_batch_is_the_stack_of_single_clips(clips):
    batch = generate_batch([2, 0, 9], SceneSpec())
    assert batch.shape == (3, 17, 64, 64, 3) and batch.dtype == torch.float32
    for b, s in enumerate([2, 0, 9]):
        assert torch.equal(batch[b], clips[s])
    assert generate_batch([], SceneSpec(frames=5)).shape == (0, 5, 64, 64, 3)


def test_generation_leaves_global_rng_state_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    generate_clip(11, CUT)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state, strict=True))


def test_description_is_json_and_renders_exactly_the_clip():
    desc = describe_clip(4, CUT)
    text = json.dumps(desc)
    assert torch.equal(render_description(json.loads(text)), generate_clip(4, CUT))


def test_different_seeds_give_different_clips(clips):
    first = [clips[s].numpy() for s in SEEDS[:10]]
    for i in range(10):
        for j in range(i + 1, 10):
            assert np.abs(first[i] - first[j]).mean() > 0.03, (i, j)
    assert len({json.dumps(describe_clip(s)["scenes"]) for s in SEEDS}) == len(SEEDS)


def test_scenes_are_varied():
    scenes = [describe_clip(s)["scenes"][0] for s in range(80)]
    shapes = [sh for sc in scenes for sh in sc["shapes"]]
    assert {sh["kind"] for sh in shapes} == set(SHAPE_KINDS)
    assert {sh["texture"]["kind"] for sh in shapes} == set(SHAPE_TEXTURES)
    assert {sh["motion"] for sh in shapes} == {"linear", "curved", "wave"}
    assert {sc["camera"]["kind"] for sc in scenes} == set(CAMERAS)
    assert {len(sc["shapes"]) for sc in scenes} == {1, 2, 3, 4}
    assert {sc["background"]["field"]["kind"] for sc in scenes} >= {"linear_gradient", "noise"}
    assert any(sh["aimed_at_other"] for sh in shapes)  # occlusions are staged
    assert any(sh["spin"] != 0 for sh in shapes) and any(sh["scale_rate"] != 0 for sh in shapes)


# --- motion ----------------------------------------------------------------------------------------


def test_motion_is_visible_in_most_clips(clips):
    moving = [frame_diffs(clips[s]).mean() > 0.003 for s in SEEDS]
    assert np.mean(moving) >= 0.9


def test_motion_is_smooth_without_a_cut(clips):
    """No frame difference spikes: the largest step is within 4x the median step."""
    for s in SEEDS:
        d = frame_diffs(clips[s])
        assert d.max() <= 4.0 * np.median(d) + 1e-3, (s, d)


def test_motion_is_a_few_pixels_per_frame():
    """At 64x64 a shape or the camera moves at most ~3 pixels per frame (speeds in the description)."""
    px = 2.0 / 64
    for s in SEEDS:
        scene = describe_clip(s)["scenes"][0]
        assert np.hypot(*scene["camera"]["velocity"]) <= 2.0 * px + 1e-6
        for sh in scene["shapes"]:
            assert np.hypot(*sh["velocity"]) <= 2.4 * px + 1e-6


# --- scene cuts ------------------------------------------------------------------------------------


def test_cut_is_the_largest_frame_difference(cut_clips):
    for s, (x, desc) in cut_clips.items():
        cut = desc["cut_frame"]
        d = frame_diffs(x)
        assert int(np.argmax(d)) + 1 == cut, (s, cut, d)
        others = np.delete(d, cut - 1)
        assert d[cut - 1] >= 2.0 * others.max() and d[cut - 1] >= 2.0 * np.median(d), (s, d)


def test_cut_frame_is_in_the_middle_third():
    assert cut_range(17) == (6, 11)
    lo, hi = cut_range(17)
    cuts = {describe_clip(s, CUT)["cut_frame"] for s in range(60)}
    assert cuts <= set(range(lo, hi + 1)) and len(cuts) >= 4
    assert all(len(describe_clip(s, CUT)["scenes"]) == 2 for s in range(5))


def test_no_cut_unless_asked_and_probability_is_respected():
    assert all(describe_clip(s)["cut_frame"] is None for s in range(20))
    assert all(len(describe_clip(s)["scenes"]) == 1 for s in range(20))
    half = SceneSpec(scene_cut=0.5)
    rate = np.mean([describe_clip(s, half)["cut_frame"] is not None for s in range(200)])
    assert 0.35 < rate < 0.65


def test_first_scene_does_not_depend_on_the_cut(cut_clips):
    for s in SEEDS[:8]:
        x, desc = cut_clips[s]
        cut = desc["cut_frame"]
        assert torch.equal(x[:cut], generate_clip(s)[:cut])


# --- seeds -----------------------------------------------------------------------------------------


def test_train_and_held_out_seeds_never_overlap():
    assert max(TRAIN_SEEDS) < min(HELD_OUT_SEEDS)
    assert all(split_of(s) == "train" and s not in HELD_OUT_SEEDS for s in TRAIN_SEEDS[::997])
    assert all(split_of(s) == "held_out" and s not in TRAIN_SEEDS for s in HELD_OUT_SEEDS[::997])
    assert split_of(0) == split_of(TRAIN_SEEDS[-1]) == "train"
    assert split_of(HELD_OUT_SEEDS[0]) == split_of(HELD_OUT_SEEDS[-1]) == split_of(10**9) == "held_out"
    assert describe_clip(1_000_000)["split"] == "held_out"
    with pytest.raises(ValueError):
        split_of(-3)


# --- speed and the viewer ----------------------------------------------------------------------------


def test_a_17x64x64_clip_takes_well_under_200_ms():
    generate_clip(100)
    times = []
    for s in range(101, 111):
        t0 = time.perf_counter()
        generate_clip(s)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.2


def test_contact_sheet_script_writes_a_png(tmp_path, capsys):
    # The sheet is written with Pillow (a ComfyUI dependency, in every host venv), not a vc_core one.
    Image = pytest.importorskip("PIL.Image")

    out = tmp_path / "sheet.png"
    _main(["--seed", "7", "--rows", "2", "--frames", "5", "--scale", "1", "--scene-cut", "1",
           "--out", str(out)])
    img = Image.open(out)
    assert img.mode == "RGB" and img.width > 5 * 64 and img.height > 2 * 64
    assert "seed 7" in capsys.readouterr().out
