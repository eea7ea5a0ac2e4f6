"""ComfyUI's ScaleROPE (transformer_options["rope_options"]) is honoured by the VideoCanvas forward
as WanModel.rope_encode honours it: grid index i on each axis -> shift + i * scale, and condition
positions p -> shift + p * scale on the same axes."""

from __future__ import annotations

import pytest
import torch

from helpers import Spy, vcn
from vc_core.rope import apply_rope_options, grid_positions, rope_options_key, rope_table

OPTIONS = {"scale_x": 2.0, "shift_x": 10.0, "scale_y": 1.5, "shift_y": -3.0, "scale_t": 0.5, "shift_t": 2.0}
# ComfyUI builds its positions with float32 linspace (rounding ~1e-6 at these magnitudes) before the
# angles; ours are float64. 2e-5 on cos/sin entries admits that and nothing else (a position off by
# one step moves entries by > 1e-2).
TABLE_TOL = 2e-5


def test_positions_map_to_shift_plus_scale_times_p_on_each_axis():
    pos = torch.tensor([[10.25, 1.0, 3.0]], dtype=torch.float64)
    assert apply_rope_options(pos, OPTIONS).tolist() == [[2.0 + 0.5 * 10.25, -3.0 + 1.5, 10.0 + 6.0]]
    assert apply_rope_options(pos, None) is pos
    # ComfyUI's defaults for keys a partial dict leaves out: scale 1, shift 0
    assert apply_rope_options(pos, {"scale_t": 2.0}).tolist() == [[20.5, 1.0, 3.0]]


def test_unknown_rope_options_are_refused_by_name():
    with pytest.raises(ValueError, match=r"rope_options \(ScaleROPE\).*\['scale_f'\]"):
        rope_options_key({"scale_t": 1.0, "scale_f": 2.0})


@pytest.mark.parametrize("frames,h,w", [(1, 2, 2), (5, 3, 4)])
def test_without_conditions_the_table_equals_comfyui_rope_encode_with_rope_options(wan, frames, h, w):
    from vc_core.paradigms.in_context import plan_rope_table

    theirs = wan.rope_encode(frames, 2 * h, 2 * w, dtype=torch.float32,
                             transformer_options={"rope_options": OPTIONS})
    ours = plan_rope_table(wan, frames, (h, w), (), 4, "interpolate", OPTIONS, "cpu")
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= TABLE_TOL
    plain = wan.rope_encode(frames, 2 * h, 2 * w, dtype=torch.float32)
    assert (ours - plain).abs().max().item() > 1e-2  # the options really moved the positions


# ------------------------------------------------------- through a real ComfyUI sampling run


def scale_rope(model, **options):
    """ComfyUI's own ScaleROPE node, as the executor runs it."""
    import nodes

    return nodes.NODE_CLASS_MAPPINGS["ScaleROPE"].execute(model, **options).result[0]


def sample(model, positive, negative, cfg=1.0, steps=2):
    import comfy.sample

    start = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return comfy.sample.sample(model, start, steps, cfg, "euler", "simple", positive, negative,
                               torch.zeros_like(start), seed=0, disable_pbar=True)


@pytest.mark.parametrize("scale_first", [False, True])
def test_scale_rope_positions_reach_the_model_scaled_for_video_and_conditions(pack, t2v, scale_first):
    mp = pack.vc_nodes.model_patch
    if scale_first:  # ScaleROPE before or after the RoPE Interpolator: the same model options
        model = mp.patch_model(scale_rope(t2v, **OPTIONS))
    else:
        model = scale_rope(mp.patch_model(t2v), **OPTIONS)
    spy = Spy(model)
    prompt = [[torch.zeros(1, 1, 4096), {}]]
    latents = torch.randn(1, 16, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    cond = vcn("conditions").attach_conditions(prompt, latents, [5], [1.0], 4)
    sample(spy.model, cond, cond, steps=2)
    wan = t2v.model.diffusion_model
    tables = [call["pe"] for call in spy.calls]
    pe = tables[0]
    # expected tables on the device the patch built its table on (the model's)
    video = wan.rope_encode(3, 4, 4, device=pe.device, dtype=torch.float32,
                            transformer_options={"rope_options": OPTIONS})
    assert (pe[:, :12] - video).abs().max().item() <= TABLE_TOL  # 3 frames x 2x2 tokens
    positions = apply_rope_options(grid_positions(torch.tensor([0.0, 1.0, 2.0, 1.25]), 2, 2), OPTIONS)
    expected = rope_table(positions, wan.rope_embedder.axes_dim, wan.rope_embedder.theta,
                          device=pe.device)
    assert torch.equal(pe, expected)  # condition at frame 5: t = 2 + 0.5 * 1.25
    # one table per plan, reused at the next step
    assert len(tables) == 2 and tables[1] is tables[0]


def test_scale_rope_without_conditions_stays_comfyui_native(pack, t2v):
    mp = pack.vc_nodes.model_patch
    prompt = [[torch.zeros(1, 1, 4096), {}]]
    native = sample(scale_rope(t2v, **OPTIONS), prompt, prompt)
    assert torch.equal(sample(scale_rope(mp.patch_model(t2v), **OPTIONS), prompt, prompt), native)
    assert not torch.equal(sample(t2v, prompt, prompt), native)
