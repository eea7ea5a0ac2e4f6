"""The fidelity benchmark's metrics and cases-file contract (benchmarks/evaluate.py)."""

import pytest
import torch

from benchmarks.evaluate import METRICS, case_metrics, group_summary, motion_energy, parse_weights, psnr, ssim


def test_psnr_of_a_uniform_0_1_error_is_20_db_and_the_mask_restricts_it():
    a = torch.zeros(8, 8, 3)
    b = torch.full((8, 8, 3), 0.1)
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)
    b[:4] = 0.01  # top half: 40 dB
    mask = torch.zeros(8, 8)
    mask[:4] = 1
    assert psnr(a, b, mask) == pytest.approx(40.0, abs=1e-3)


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
    with pytest.raises(ValueError, match=r"'cfg=.*'.*\['icc', 'nearest', 'replace'\]"):
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
