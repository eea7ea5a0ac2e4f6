"""Fractional 3-axis RoPE: identical to ComfyUI Wan's own table on integer grids, exact k'·theta
rotations at fractional positions, positions never rounded by the model's dtype."""

import math

import pytest
import torch

from vc_core.rope import axis_frequencies, grid_positions, rope_table, wan_axes_dims


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


# ----------------------------------------------------------------- the per-plan table cache


class RecordingWan:
    """The parts of a WanModel the VideoCanvas forward uses, recording the table it is given."""

    def __init__(self, wan):
        self.wan, self.patch_size, self.rope_embedder = wan, wan.patch_size, wan.rope_embedder
        self.tables = []

    def forward_orig(self, x, t, context, freqs=None, **kwargs):
        self.tables.append(freqs)
        return self.wan.forward_orig(x, t, context, freqs=freqs, **kwargs)


def forward(rec, frames=(41,), steps=(700.0,), **kwargs):
    from vc_core.paradigms.in_context import in_context_forward
    from vc_core.wan_forward import ConditionLatents

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, 3, 4, 4, generator=g)
    cond = ConditionLatents(torch.randn(1, 16, len(frames), 4, 4, generator=g), tuple(frames))
    for step in steps:
        in_context_forward(rec, x, torch.tensor([step]), torch.zeros(1, 1, 4096), cond, **kwargs)


def test_the_same_plan_reuses_its_table_and_another_plan_does_not(wan):
    from vc_core.rope import ROPE_TABLES

    ROPE_TABLES.clear()
    rec = RecordingWan(wan)
    forward(rec, steps=(900.0, 500.0))  # two steps of one run
    assert rec.tables[0] is rec.tables[1] and len(ROPE_TABLES) == 1
    forward(rec, frames=(44,))                        # another condition frame
    forward(rec, policy="nearest")                    # another position policy
    forward(rec, transformer_options={"rope_options": {"scale_t": 2.0}})  # ScaleROPE
    forward(rec, steps=(300.0,))                      # the first plan again
    assert all(t is not rec.tables[0] for t in rec.tables[2:5]) and rec.tables[5] is rec.tables[0]
    assert len({id(t) for t in rec.tables}) == 4
    # exact: the cached table is the plain float64-angle table of the plan's positions
    pos = grid_positions(torch.tensor([0.0, 1.0, 2.0, 10.25]), 2, 2)
    assert torch.equal(rec.tables[0], rope_table(pos, wan.rope_embedder.axes_dim, wan.rope_embedder.theta))


def test_the_cache_is_a_small_lru_bounded_in_entries_and_bytes():
    from vc_core.rope import RopeTableCache

    built = []

    def build(n):
        def make():
            built.append(n)
            return torch.zeros(n, 256)  # n KiB
        return make

    cache = RopeTableCache(max_entries=2, max_bytes=10 * 1024)
    a = cache.get("a", build(1))
    cache.get("b", build(1))
    assert cache.get("a", build(1)) is a          # a hit refreshes "a"
    cache.get("c", build(1))                      # evicts the least recently used: "b"
    assert cache.get("a", build(1)) is a and built == [1, 1, 1]
    cache.get("b", build(1))
    assert built == [1, 1, 1, 1] and len(cache) == 2
    cache.get("big", build(10))                   # 10 KiB + any other entry > 10 KiB: alone
    assert len(cache) == 1


def test_tables_built_while_comfyui_samples_in_inference_mode_still_serve_training():
    from vc_core.rope import RopeTableCache

    cache = RopeTableCache()
    with torch.inference_mode():
        table = cache.get("k", lambda: rope_table(grid_positions(torch.arange(2), 1, 1), (44, 42, 42)))
    assert not table.is_inference()
    q = torch.ones(1, 2, 1, 64, 1, 2, requires_grad=True)
    (table[..., 0] * q).sum().backward()  # an inference tensor could not be saved for backward
    assert q.grad is not None


@pytest.mark.parametrize("attention", ["two-way", "cached"])
def test_a_training_batch_puts_each_row_at_its_own_condition_positions(wan, attention):
    """row_frames (training): one forward over rows whose conditions sit at different frames gives
    each row what a forward of that row alone gives (float32 reassociation only)."""
    from vc_core.paradigms.in_context import in_context_forward
    from vc_core.wan_forward import ConditionLatents

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 16, 5, 4, 4, generator=g)
    cond = torch.randn(3, 16, 2, 4, 4, generator=g)
    t = torch.tensor([900.0, 400.0, 50.0])
    rows = ((0, 16), (3, 6), (9, 14))
    ctx = torch.zeros(3, 1, 4096)
    batched = in_context_forward(wan, x, t, ctx, ConditionLatents(cond, rows[0], row_frames=rows),
                                 condition_attention=attention)
    for i, frames in enumerate(rows):
        alone = in_context_forward(wan, x[i:i + 1], t[i:i + 1], ctx[:1],
                                   ConditionLatents(cond[i:i + 1], frames), condition_attention=attention)
        torch.testing.assert_close(batched[i:i + 1], alone, rtol=1e-5, atol=1e-5)
    # the positions matter: the same rows all at row 0's frames give another output for rows 1, 2
    shared = in_context_forward(wan, x, t, ctx, ConditionLatents(cond, rows[0]),
                                condition_attention=attention)
    assert (shared[1:] - batched[1:]).abs().max() > 1e-3


def test_row_frames_must_give_one_tuple_per_row_starting_with_frames():
    from vc_core.wan_forward import ConditionLatents

    cond = torch.zeros(2, 16, 2, 4, 4)
    with pytest.raises(ValueError, match="one tuple of 2 frames per batch row"):
        ConditionLatents(cond, (0, 4), row_frames=((0, 4),))
    with pytest.raises(ValueError, match="the first equal to frames"):
        ConditionLatents(cond, (0, 4), row_frames=((0, 8), (0, 4)))
