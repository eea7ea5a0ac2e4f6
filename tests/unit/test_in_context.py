"""In-context assembly and its inverse, per-token timesteps, the latent-replacement baseline."""

import pytest
import torch

from vc_core.paradigms.base import ParadigmError
from vc_core.paradigms.in_context import (
    InContextError,
    assemble,
    condition_noise,
    condition_noise_levels,
    drop_conditions,
    noise_conditions,
    per_frame_timesteps,
    plan_in_context,
)
from vc_core.paradigms.latent_replacement import clamp_replaced_velocity, replace_latent_slots


def video_and_conditions(b=2, c=16, f=5, h=4, w=6, k=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, c, f, h, w, generator=g), torch.randn(1, c, k, h, w, generator=g)


def test_assemble_appends_one_latent_frame_per_condition_with_timestep_zero():
    x, cond = video_and_conditions()
    x_cat, t_cat = assemble(x, cond, torch.tensor([700.0, 300.0]))
    assert x_cat.shape == (2, 16, 8, 4, 6)
    assert torch.equal(x_cat[:, :, :5], x)
    assert torch.equal(x_cat[:, :, 5:], cond.expand(2, -1, -1, -1, -1))
    assert t_cat.tolist() == [[700.0] * 5 + [0.0] * 3, [300.0] * 5 + [0.0] * 3]


def test_drop_conditions_restores_the_video_exactly():
    x, cond = video_and_conditions()
    x_cat, _ = assemble(x, cond, torch.tensor([1.0, 1.0]))
    assert torch.equal(drop_conditions(x_cat, 5), x)


def test_per_frame_video_timesteps_are_kept_as_given():
    x, cond = video_and_conditions(b=1, f=3, k=1)
    t = torch.tensor([[0.0, 500.0, 1000.0]])  # Wan 2.2 TI2V-5B: one timestep per latent frame
    assert assemble(x, cond, t)[1].tolist() == [[0.0, 500.0, 1000.0, 0.0]]
    assert per_frame_timesteps(torch.tensor(5.0), 2, 3).tolist() == [[5.0] * 3] * 2


def test_plan_positions_for_77_frames_and_conditions_at_0_41_76():
    plan = plan_in_context(20, (2, 3), [0, 41, 76], stride=4)
    pos = plan.positions()
    assert pos.shape == ((20 + 3) * 6, 3) and pos.dtype == torch.float64
    assert plan.video_t.tolist() == list(range(20))
    assert plan.condition_t.tolist() == [0.0, 10.25, 19.0]
    assert pos[20 * 6:, 0].tolist() == [0.0] * 6 + [10.25] * 6 + [19.0] * 6


def test_nearest_and_extrapolate_policies():
    assert plan_in_context(20, (1, 1), [41, 44], 4, "nearest").condition_t.tolist() == [11.0, 11.0]
    ext = plan_in_context(20, (1, 1), [41], 4, "extrapolate")
    assert ext.condition_t.tolist() == [41.0] and ext.video_t[:3].tolist() == [0.0, 4.0, 8.0]


def test_strength_scales_the_condition_timestep_and_strength_one_is_clean():
    t = torch.tensor([[800.0, 800.0], [400.0, 0.0]])
    assert condition_noise_levels(t, torch.tensor([1.0, 0.5, 0.0])).tolist() == [
        [0.0, 400.0, 800.0], [0.0, 200.0, 400.0]]
    _, cond = video_and_conditions(k=2)
    assert noise_conditions(cond, torch.zeros(1, 2), seed=0, steps=torch.tensor([800.0])) is cond
    noised = noise_conditions(cond, torch.tensor([[0.0, 1.0]]), seed=0, steps=torch.tensor([800.0]))
    assert torch.equal(noised[:, :, 0], cond[:, :, 0])
    assert torch.equal(noised[0, :, 1], condition_noise(0, 1, 800.0, cond.shape[1:2] + cond.shape[3:]))


def test_rope_options_move_video_and_condition_positions_alike():
    plan = plan_in_context(2, (1, 2), [41], stride=4)
    pos = plan.positions({"scale_t": 2.0, "shift_t": 1.0, "scale_x": 3.0, "shift_x": 0.5})
    assert pos[:, 0].tolist() == [1.0, 1.0, 3.0, 3.0, 21.5, 21.5]  # 1 + 2 * (0, 1, 10.25)
    assert pos[:, 1].tolist() == [0.0] * 6 and pos[:, 2].tolist() == [0.5, 3.5] * 3


def test_latent_replacement_overwrites_slots_and_keeps_them_clean_through_sampling():
    x, cond = video_and_conditions(b=1, f=5, k=2)
    x_rep, t = replace_latent_slots(x, torch.tensor([600.0]), cond, slots=[0, 3])
    assert torch.equal(x_rep[:, :, 0], cond[:, :, 0]) and torch.equal(x_rep[:, :, 3], cond[:, :, 1])
    assert torch.equal(x_rep[:, :, 1], x[:, :, 1])
    assert t.tolist() == [[0.0, 600.0, 600.0, 0.0, 600.0]]
    v = torch.randn_like(x)
    sigma = torch.tensor([0.6])
    v_fixed = clamp_replaced_velocity(v, x, sigma, cond, [0, 3])
    denoised = x - sigma.reshape(-1, 1, 1, 1, 1) * v_fixed  # what ComfyUI's flow sampling computes
    assert torch.allclose(denoised[:, :, 3], cond[:, :, 1], atol=1e-5)
    assert torch.equal(v_fixed[:, :, 2], v[:, :, 2])


def test_assembly_errors_name_what_disagrees():
    x, cond = video_and_conditions()
    with pytest.raises(InContextError, match="channels and size"):
        assemble(x, cond[:, :8], torch.tensor([1.0, 1.0]))
    with pytest.raises(InContextError, match="batch must be 1 or 2"):
        assemble(x, cond.expand(3, -1, -1, -1, -1), torch.tensor([1.0, 1.0]))
    with pytest.raises(InContextError, match=r"timestep must be \[B\] or \[B, 5\]"):
        assemble(x, cond, torch.ones(2, 4))
    with pytest.raises(ParadigmError, match="slot 9 is outside"):
        replace_latent_slots(x, torch.ones(2), cond[:, :, :1], [9])
