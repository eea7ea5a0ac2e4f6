"""Fractional 3-axis RoPE: identical to ComfyUI Wan's own table on integer grids, exact k'·theta
rotations at fractional positions, positions never rounded by the model's dtype."""

import math

import pytest
import torch

from hostkit.tiny_models import TinyWan
from vc_core.rope import axis_frequencies, grid_positions, rope_table, wan_axes_dims


@pytest.fixture(scope="module")
def wan():
    return TinyWan(dim=128, num_layers=1).build(seed=0)


def test_wan_head_dim_128_splits_44_42_42():
    assert wan_axes_dims(128) == (44, 42, 42)


def test_grid_positions_are_frame_major_like_patch_embedding_flatten():
    pos = grid_positions(torch.tensor([0.0, 10.25]), height=2, width=3)
    assert pos.dtype == torch.float64 and pos.shape == (12, 3)
    assert pos[:6, 0].tolist() == [0.0] * 6 and pos[6:, 0].tolist() == [10.25] * 6
    assert pos[:6, 1].tolist() == [0, 0, 0, 1, 1, 1]
    assert pos[:6, 2].tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("frames,h,w", [(1, 2, 2), (3, 4, 5), (21, 6, 4)])
def test_table_matches_comfyui_rope_encode_on_integer_grids(wan, frames, h, w):
    # rope_encode takes latent sizes (before the 1x2x2 patch), we take token grid sizes
    theirs = wan.rope_encode(frames, 2 * h, 2 * w, dtype=torch.float32)
    ours = rope_table(grid_positions(torch.arange(frames), h, w), wan.rope_embedder.axes_dim,
                      wan.rope_embedder.theta)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == torch.float32
    assert (ours - theirs).abs().max().item() <= 1e-6


def test_fractional_position_rotates_by_exactly_k_prime_theta():
    table = rope_table(torch.tensor([[10.25, 0.0, 0.0]]), (44, 42, 42))
    theta = axis_frequencies(44)
    for j in (0, 1, 7, 21):
        angle = 10.25 * theta[j].item()
        expected = torch.tensor([[math.cos(angle), -math.sin(angle)],
                                 [math.sin(angle), math.cos(angle)]], dtype=torch.float32)
        assert torch.allclose(table[0, 0, 0, j], expected, atol=1e-6, rtol=0)


def test_fractional_table_equals_comfyui_embedder_fed_float32_positions(wan):
    pos = grid_positions(torch.tensor([0.0, 1.0, 10.25, 19.0]), 2, 2)
    theirs = wan.rope_embedder(pos.float().unsqueeze(0)).movedim(1, 2)
    ours = rope_table(pos, wan.rope_embedder.axes_dim, wan.rope_embedder.theta)
    assert (ours - theirs).abs().max().item() <= 1e-6


def test_positions_survive_whatever_the_model_dtype():
    # ComfyUI's own grid is built in x.dtype; bf16 keeps 8 significant bits and rounds 76.25 to 76
    assert torch.tensor(76.25, dtype=torch.bfloat16).item() == 76.0
    pos = grid_positions(torch.tensor([76.25]), 1, 1)
    assert pos[0, 0].item() == 76.25
    rounded = rope_table(grid_positions(torch.tensor([76.0]), 1, 1), (44, 42, 42))
    assert not torch.equal(rope_table(pos, (44, 42, 42)), rounded)


def test_shape_errors_name_the_expected_layout():
    with pytest.raises(ValueError, match=r"positions must be \[L, 3\]"):
        rope_table(torch.zeros(4, 2), (44, 42, 42))
    with pytest.raises(ValueError, match="must be even"):
        axis_frequencies(43)
