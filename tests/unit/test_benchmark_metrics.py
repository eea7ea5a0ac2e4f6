"""The fidelity benchmark's metrics, cases-file contract and statistics (benchmarks/evaluate.py,
benchmarks/stats.py)."""

import pytest
import torch

from benchmarks.evaluate import (
    METRICS,
    box_mask,
    case_metrics,
    case_summary,
    cell,
    clip_seeds,
    free_mask,
    motion_energy,
    parse_weights,
    psnr,
    ssim,
)
from benchmarks.stats import (
    bootstrap_interval,
    group_summary,
    motion_threshold,
    paired_by_case,
    paired_interval,
    paired_summary,
    stratified_interval,
    vae_gap_summary,
)


def test_psnr_of_a_uniform_0_1_error_is_20_db_and_the_mask_restricts_it():
    a = torch.zeros(8, 8, 3)
    b = torch.full((8, 8, 3), 0.1)
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)
    b[:4] = 0.01  # top half: 40 dB
    mask = torch.zeros(8, 8)
    mask[:4] = 1
    assert psnr(a, b, mask) == pytest.approx(40.0, abs=1e-3)


def test_free_pixels_are_those_no_condition_covers_at_its_frame_and_a_hole_is_free():
    """free_psnr's region: an inpainting condition (the frame minus a hole) leaves the hole free, an
    outpainting one (a box) leaves the border free, a frame without a condition is free whole."""
    from types import SimpleNamespace

    box = box_mask((0.25, 0.25, 0.5, 0.5), 8)
    assert box.sum() == 16 and torch.equal(box[2:6, 2:6], torch.ones(4, 4))
    inpaint = torch.ones(8, 8) * (1 - box)
    plan = SimpleNamespace(masks=[inpaint, box, box], frames=[0, 1, 1])
    free = free_mask(plan, 3, 8)
    assert torch.equal(free[0], box)  # the hole
    assert torch.equal(free[1], 1 - box)  # the border (two conditions at one frame: their union)
    assert torch.equal(free[2], torch.ones(8, 8))


def test_paired_differences_per_case_resample_the_clip_pairs():
    results = [{"case": "a", "frames": [0], "clip_source_motion": [0.1, 0.2, 0.3],
                "variants": {
                    "icc": {"clips": {"cond_psnr": [20.0, 21.0, 22.0], "free_psnr": [15.0, 15.0, 16.0]}},
                    "vace": {"clips": {"cond_psnr": [19.0, 20.0, 20.0], "free_psnr": [16.0, 15.0, 16.0]}}}}]
    (row,) = paired_by_case(results)
    assert row["case"] == "a" and row["variant"] == "icc - vace" and row["n"] == 3
    assert row["cond_psnr"] == pytest.approx(4 / 3) and row["free_psnr"] == pytest.approx(-1 / 3)
    assert row["cond_psnr_ci"] == paired_interval([20.0, 21.0, 22.0], [19.0, 20.0, 20.0])
    assert row["cond_psnr_ci"][0] >= 1.0 and row["cond_psnr_ci"][1] <= 2.0
    assert "exact_peak_rate" not in row


def test_ssim_of_identical_images_is_one():
    img = torch.rand(16, 16, 3, generator=torch.Generator().manual_seed(0))
    assert ssim(img, img, torch.ones(16, 16)) == pytest.approx(1.0, abs=1e-4)


def test_motion_energy_is_the_mean_absolute_frame_difference():
    still = torch.full((5, 4, 4, 3), 0.3)
    flicker = torch.stack([torch.full((4, 4, 3), float(i % 2)) for i in range(5)])
    assert motion_energy(still) == 0.0
    assert motion_energy(flicker) == 1.0


def test_cases_choose_metrics_and_unknown_ones_are_refused_by_name():
    assert case_metrics({"name": "a"}) == METRICS
    assert case_metrics({"name": "a", "metrics": ["cond_psnr", "motion"]}) == ("cond_psnr", "motion")
    with pytest.raises(ValueError, match=r"case 'b'.*\['fvd'\].*allowed"):
        case_metrics({"name": "b", "metrics": ["cond_psnr", "fvd"]})


def test_weights_override_names_a_known_variant_and_an_existing_file(tmp_path):
    f = tmp_path / "n.safetensors"
    f.write_bytes(b"x")
    assert parse_weights(f"nearest={f}") == {"nearest": str(f)}
    assert parse_weights("") == {}
    with pytest.raises(ValueError, match=r"'cfg=.*'.*\['icc', 'nearest', 'replace', 'concat', 'vace'\]"):
        parse_weights(f"cfg={f}")
    with pytest.raises(ValueError, match=r"--weights icc: no file at /nope"):
        parse_weights("icc=/nope")


def test_summary_groups_cases_by_slot_alignment_and_averages_each_variant():
    def case(frames, icc, nearest, motion=True):
        m = lambda v: {"cond_psnr": v, **({"motion": v / 10} if motion else {})}  # noqa: E731
        return {"frames": frames, "variants": {"icc": m(icc), "nearest": m(nearest)}}

    results = [case([8], 20.0, 19.0), case([3], 18.0, 14.0), case([6], 16.0, 12.0, motion=False),
               case([0, 16], 21.0, 21.0)]
    rows = {(r["group"][:12], r["variant"]): r for r in group_summary(results)}
    on, off = rows[("one frame on", "icc")], rows[("one frame be", "nearest")]
    assert (on["cases"], on["cond_psnr"], on["motion"]) == (1, 20.0, 2.0)
    assert (off["cases"], off["cond_psnr"]) == (2, 13.0)
    assert "motion" not in off  # not every case in the group reports it
    assert rows[("several anch", "icc")]["cond_psnr"] == 21.0
    assert rows[("all cases", "icc")]["cond_psnr"] == pytest.approx(75.0 / 4)


def test_clips_replace_a_procedural_cases_seeds_with_held_out_ones_and_files_keep_theirs():
    procedural = {"source": {"seed": 1000000}, "seeds": [1000000, 1000001]}
    assert clip_seeds(procedural, None) == [1000000, 1000001]
    assert clip_seeds(procedural, 3) == [1000000, 1000001, 1000002]
    assert clip_seeds({"source": {"seed": 7}}, None) == [7]
    assert clip_seeds({"source": {"frames": "dir"}}, 32) == [0]


def test_bootstrap_interval_of_constant_values_is_that_value():
    assert bootstrap_interval([17.5] * 8) == (17.5, 17.5)
    assert stratified_interval([[2.0] * 3, [4.0] * 5]) == (3.0, 3.0)  # the mean of the two means


def test_bootstrap_interval_is_reproducible_and_holds_the_mean():
    sample = [1.0, 2.0, 3.0, 4.0, 5.0]
    lo, hi = bootstrap_interval(sample)
    assert bootstrap_interval(sample) == (lo, hi)  # fixed seed
    assert 1.0 <= lo < 3.0 < hi <= 5.0
    # of two values the resampled means are 0, 0.5 and 1 (1/4, 1/2, 1/4): the 2.5 % and 97.5 %
    # points of 2000 of them are the extremes
    assert bootstrap_interval([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_interval_width_matches_the_normal_approximation_for_a_large_sample():
    lo, hi = bootstrap_interval([float(i % 2) for i in range(400)])  # mean 0.5, sd 0.5
    assert (lo + hi) / 2 == pytest.approx(0.5, abs=0.01)
    assert hi - lo == pytest.approx(2 * 1.96 * 0.5 / 400 ** 0.5, rel=0.15)


def test_stratified_interval_resamples_each_stratum_on_its_own():
    # the second case never varies: the group mean runs from (0 + 10) / 2 to (1 + 10) / 2
    assert stratified_interval([[0.0, 1.0], [10.0, 10.0]]) == (5.0, 5.5)
    with pytest.raises(ValueError, match="every stratum needs a value"):
        stratified_interval([[1.0], []])


def test_paired_interval_is_of_the_per_clip_difference():
    a = [18.0, 20.0, 19.0]
    assert paired_interval(a, a) == (0.0, 0.0)
    # unpaired, these would overlap; paired, every clip gains exactly 2 dB
    assert paired_interval(a, [16.0, 18.0, 17.0]) == (2.0, 2.0)
    with pytest.raises(ValueError, match="same clips; got 3 and 2"):
        paired_interval(a, [1.0, 2.0])


def test_case_summary_means_clips_and_keeps_them_with_intervals():
    def row(psnr_db, peak_distance, ratio):
        return {"cond_psnr": psnr_db, "peak_distance": peak_distance, "motion_ratio": ratio,
                "curve": [psnr_db, 0.0]}

    s = case_summary([row(18.0, 0, 0.5), row(20.0, 2, None)],
                     ("cond_psnr", "peak_distance", "exact_peak_rate", "motion_ratio"))
    assert (s["cond_psnr"], s["peak_distance"], s["exact_peak_rate"]) == (19.0, 1.0, 0.5)
    assert s["motion_ratio"] == 0.5  # the still clip has no ratio
    assert s["clips"] == {"cond_psnr": [18.0, 20.0], "peak_distance": [0, 2],
                          "exact_peak_rate": [1.0, 0.0], "motion_ratio": [0.5, None]}
    assert s["cond_psnr_ci"] == (18.0, 20.0) and s["exact_peak_rate_ci"] == (0.0, 1.0)
    assert "motion_ratio_ci" not in s  # one clip has a ratio: no interval
    assert s["curve"] == [19.0, 0.0]
    assert "cond_psnr_ci" not in case_summary([row(18.0, 0, 0.5)], ("cond_psnr",))


def test_a_value_is_written_with_its_interval():
    m = {"cond_psnr": 17.4812, "cond_psnr_ci": (17.11, 17.93), "motion": 0.01834}
    assert cell(m, "cond_psnr", ".2f", ".1f") == "17.48 [17.1, 17.9]"
    assert cell(m, "motion", ".4f") == "0.0183"
    assert cell(m, "cond_ssim", ".3f") == "-"


def clip_results():
    """Two single-frame cases on the same four clips (source motions 0.01..0.04), icc and nearest."""
    def case(frames, icc, nearest):
        return {"frames": frames, "clip_source_motion": [0.01, 0.03, 0.02, 0.04],
                "variants": {v: {"clips": {"cond_psnr": psnrs, "exact_peak_rate": peaks}}
                             for v, (psnrs, peaks) in (("icc", icc), ("nearest", nearest))}}

    return [case([3], ([10.0, 20.0, 12.0, 22.0], [0.0, 1.0, 0.0, 1.0]),
                 ([9.0, 18.0, 11.0, 21.0], [0.0, 0.0, 0.0, 1.0])),
            case([8], ([14.0, 24.0, 14.0, 24.0], [1.0, 1.0, 1.0, 1.0]),
                 ([14.0, 24.0, 14.0, 24.0], [1.0, 1.0, 1.0, 1.0]))]


def test_clips_split_at_the_median_source_motion_the_median_itself_above():
    results = clip_results()
    threshold = motion_threshold(results)
    assert threshold == pytest.approx(0.025)
    rows = {(r["group"][:12], r["split"][:15], r["variant"]): r for r in group_summary(results, threshold)}
    low, high = "source motion <", "source motion >"
    assert rows[("one frame be", low, "icc")]["cond_psnr"] == 11.0  # clips 0.01 and 0.02
    assert rows[("one frame be", high, "icc")]["cond_psnr"] == 21.0  # clips 0.03 and 0.04
    assert rows[("one frame be", "all clips", "icc")]["cond_psnr"] == 16.0
    assert rows[("one frame be", high, "nearest")]["exact_peak_rate"] == 0.5
    assert rows[("one frame be", low, "icc")]["clip_count"] == 2
    assert rows[("one frame on", low, "icc")]["cond_psnr_ci"] == (14.0, 14.0)
    assert rows[("all cases", high, "icc")]["cond_psnr"] == 22.5  # (21 + 24) / 2: cases weigh equally
    assert motion_threshold([{"clip_source_motion": [0.01, 0.02, 0.03]}]) == 0.02
    at = group_summary(results, 0.02)  # a clip at the threshold goes above it
    assert {r["split"] for r in at} == {"all clips", "source motion < 0.0200 (median)",
                                        "source motion >= 0.0200 (median)"}
    assert next(r["cond_psnr"] for r in at if r["group"].startswith("one frame between")
                and r["split"].startswith("source motion >=")) == 18.0  # clips 0.03, 0.02, 0.04


def test_a_run_without_per_clip_values_has_only_the_all_clips_split():
    rows = group_summary([{"frames": [3], "variants": {"icc": {"cond_psnr": 17.0}}}])
    assert [(r["group"][:12], r["split"], r["cond_psnr"]) for r in rows] == [
        ("one frame be", "all clips", 17.0), ("all cases", "all clips", 17.0)]
    assert "cond_psnr_ci" not in rows[0]  # one value per case: nothing to resample


def test_paired_summary_is_icc_minus_each_other_variant_on_the_same_clips():
    rows = {(r["group"][:12], r["split"][:15]): r for r in paired_summary(clip_results(), 0.025)}
    between = rows[("one frame be", "all clips")]
    assert between["variant"] == "icc - nearest"
    assert (between["cond_psnr"], between["exact_peak_rate"]) == (1.25, 0.25)  # diffs 1, 2, 1, 1
    assert rows[("one frame be", "source motion <")]["cond_psnr_ci"] == (1.0, 1.0)
    on_slot = rows[("one frame on", "all clips")]  # the same numbers from both variants
    assert (on_slot["cond_psnr"], on_slot["cond_psnr_ci"]) == (0.0, (0.0, 0.0))


def test_vae_gap_per_conditioned_frame_of_single_condition_cases():
    def case(frames, cond, vae):
        return {"frames": frames, "clip_source_motion": [0.01, 0.02],
                "variants": {"icc": {"clips": {"cond_psnr": cond, "vae_cond_psnr": vae}}}}

    rows = vae_gap_summary([case([3], [18.0, 20.0], [19.0, 19.0]), case([0, 8], [30.0, 30.0], [1.0, 1.0]),
                            case([0], [17.0, 17.0], [18.0, 20.0])])
    assert [(r["frame"], r["cond_psnr"], r["vae_cond_psnr"], r["gap"], r["gap_ci"]) for r in rows] == [
        (0, 17.0, 19.0, -2.0, (-3.0, -1.0)), (3, 19.0, 19.0, 0.0, (-1.0, 1.0))]


def evaluate_run(variant_lists: str, seeds=(1, 2, 3, 4)) -> dict:
    """clip_results' icc (or nearest) numbers as the `icc` variant of a results.json."""
    cases = [{**c, "case": f"case{i}", "seeds": list(seeds), "source_motion": 0.025,
              "variants": {"icc": c["variants"][variant_lists]}} for i, c in enumerate(clip_results())]
    return {"command": f"python -m benchmarks.evaluate  # {variant_lists}", "steps": 20, "size": 64,
            "frames": 17, "clips": 4, "results": cases}


def test_compare_pairs_two_runs_of_one_variant_clip_by_clip_and_case_by_name():
    from benchmarks.compare import compare

    old = evaluate_run("nearest")
    old["results"].reverse()  # cases pair by name, not by order
    content, lines = compare(evaluate_run("icc"), old, "icc", ("retrained", "bundled"),
                             "python -m benchmarks.compare a b")
    expected = paired_summary(clip_results(), 0.025)  # the same numbers as icc - nearest in one run
    got = content["paired"]
    assert [r["variant"] for r in got] == ["retrained - bundled"] * len(expected)
    assert [{k: v for k, v in r.items() if k != "variant"} for r in got] == [
        {k: v for k, v in r.items() if k != "variant"} for r in expected]
    between = next(r for r in got if r["group"].startswith("one frame between") and r["split"] == "all clips")
    assert (between["cond_psnr"], between["exact_peak_rate"]) == (1.25, 0.25)  # diffs 1, 2, 1, 1
    assert content["motion_threshold"] == pytest.approx(0.025)
    assert content["runs"] == {"retrained": "python -m benchmarks.evaluate  # icc",
                               "bundled": "python -m benchmarks.evaluate  # nearest"}
    assert any(line.startswith("| one frame between slots (tau % 4 != 0) | all clips | retrained - bundled")
               for line in lines)


def test_compare_refuses_runs_that_would_not_pair():
    from benchmarks.compare import compare

    def refused(new, old, match, variant="icc"):
        with pytest.raises(ValueError, match=match):
            compare(new, old, variant, ("a", "b"), "")

    refused(evaluate_run("icc"), evaluate_run("icc", seeds=(5, 6, 7, 8)),
            "'case0': the runs differ in its clips")
    other_clip = evaluate_run("icc")
    other_clip["results"][1]["clip_source_motion"][2] += 0.001  # same seeds, another clip (a file case)
    refused(evaluate_run("icc"), other_clip, "'case1': the runs differ in its clips")
    longer = {**evaluate_run("icc"), "frames": 33, "steps": 30}
    refused(evaluate_run("icc"), longer, r"the runs differ in frames \(17 and 33\), steps \(20 and 30\)")
    with_nearest = evaluate_run("icc")
    for r in with_nearest["results"]:
        r["variants"]["nearest"] = r["variants"]["icc"]
    refused(with_nearest, evaluate_run("icc"), "the b run has no variant 'nearest'", variant="nearest")
    short = evaluate_run("icc")
    short["results"].pop()
    refused(evaluate_run("icc"), short, r"different cases: only in a: \['case1'\]; only in b: \[\]")
    twice = evaluate_run("icc")
    twice["results"][1]["case"] = "case0"
    refused(twice, evaluate_run("icc"), "the a run names a case twice")
    old_format = evaluate_run("icc")
    del old_format["results"][0]["clip_source_motion"]
    refused(evaluate_run("icc"), old_format, "the b run was written by an older benchmarks.evaluate")


def test_a_camera_source_is_what_the_camera_move_task_gives_at_its_condition_frames():
    """benchmarks/cases/camera.json's pan: its frames 0, 4, .., 16 are exactly the conditions
    VideoCanvas Camera Move (template 07's settings) renders from the same still."""
    from benchmarks.evaluate import camera_clip, load_source
    from toy_models.procedural import SceneSpec, generate_clip
    from vc_core.tasks import camera_move_sources

    pan = {"start": [0.65, 0.5, 1.6], "end": [0.35, 0.5, 1.6], "easing": "ease_in_out"}
    clip = load_source({"seed": 1_000_003, "camera": pan}, 64, 17)
    assert clip.shape == (17, 64, 64, 3)
    still = generate_clip(1_000_003, SceneSpec(17, 128, 128))[8]
    (source,) = camera_move_sources(still, tuple(pan["start"]), tuple(pan["end"]), pan["easing"], every_nth=4)
    given = source.patch.render((64, 64), [0, 4, 8, 12, 16])
    assert torch.equal(given.pixels, clip[[0, 4, 8, 12, 16]])
    assert bool((given.mask == 1).all())  # zoom 1.6: the still covers the whole frame all the way
    assert motion_energy(clip) > 0.01  # it moves
    with pytest.raises(ValueError, match=r"source camera: needs 'start' and 'end'.*got \['end', 'speed'\]"):
        camera_clip(1, {"end": [0.5, 0.5, 1.0], "speed": 2}, 64, 17)
