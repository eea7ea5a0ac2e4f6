"""LTX guides (vc_core/paradigms/ltx_guides.py): where each single-image condition's tokens sit for
LTX-Video's RoPE, the mask rows that give them their timestep, and appending / cropping them. The host
test (tests/host/test_ltx_models.py) checks the same against native LTXVAddGuide on every ComfyUI."""

from __future__ import annotations

import pytest
import torch

from vc_core.paradigms.ltx_guides import (
    LtxGuideError,
    append_guides,
    crop_guides,
    guide_coords,
    guide_mask_rows,
)


def test_a_guide_s_tokens_start_at_its_pixel_frame_and_cover_their_32_pixel_cells():
    """Frame 13 of a 2x3-cell latent: 6 tokens in raster order, each (t, y, x) from (13, 32 i, 32 j)
    to (14, 32 (i + 1), 32 (j + 1)): one pixel frame long, any frame (not only 8k + 1)."""
    coords = guide_coords([13], (2, 3))
    assert coords.shape == (1, 3, 6, 2)
    assert coords[0, :, :, 0].tolist() == [[13] * 6, [0, 0, 0, 32, 32, 32], [0, 32, 64, 0, 32, 64]]
    assert coords[0, :, :, 1].tolist() == [[14] * 6, [32, 32, 32, 64, 64, 64], [32, 64, 96, 32, 64, 96]]
    assert torch.equal(guide_coords([13], (2, 3), start_end=False), coords[..., 0])


def test_guides_follow_each_other_in_the_order_of_their_frames_as_given():
    coords = guide_coords([16, 0, 5], (1, 1), batch=2)
    assert coords.shape == (2, 3, 3, 2)
    assert coords[1, 0, :, 0].tolist() == [16, 0, 5]
    assert guide_coords([], (2, 2)).shape == (1, 3, 0, 2)
    with pytest.raises(LtxGuideError, match=r"frames must be resolved pixel frames >= 0; got \[3, -1\]"):
        guide_coords([3, -1], (2, 2))


def test_a_guide_s_mask_row_is_one_minus_its_strength():
    assert guide_mask_rows([1.0, 0.25, 0.0]).flatten().tolist() == [0.0, 0.75, 1.0]
    assert guide_mask_rows([1.0], batch=3).shape == (3, 1, 1, 1, 1)


def test_guides_append_after_the_video_and_crop_back_off():
    latent = torch.randn(2, 4, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    guides = torch.full((1, 4, 2, 2, 2), 5.0)
    samples, mask = append_guides(latent, None, guides, [1.0, 0.5])
    assert samples.shape == (2, 4, 5, 2, 2) and torch.equal(samples[:, :, :3], latent)
    assert samples[:, :, 3:].eq(5).all()
    assert mask.shape == (2, 1, 5, 1, 1) and mask.flatten(1).tolist() == [[1, 1, 1, 0, 0.5]] * 2
    assert torch.equal(crop_guides(samples, 2), latent) and crop_guides(latent, 0) is latent
    with pytest.raises(LtxGuideError, match="cannot crop 3 guides off a latent of 3 frames"):
        crop_guides(latent, 3)
    spatial = torch.ones(2, 1, 3, 2, 2)  # a mask per latent cell keeps its shape
    assert append_guides(latent, spatial, guides, [1.0, 0.5])[1].shape == (2, 1, 5, 2, 2)
    with pytest.raises(LtxGuideError, match=r"guides \(1, 4, 2, 2, 2\) do not fit the latent "
                                            r"\(2, 4, 3, 2, 2\) with 1 strengths"):
        append_guides(latent, None, guides, [1.0])


# --- in place (vc_core/paradigms/ltx_in_place.py): LTXVImgToVideo's way ---------------------------

def test_in_place_a_condition_replaces_the_latent_frame_that_holds_its_frame():
    """Frames 0, 5 and 16 of 17 (3 latent frames: 0 | 1..8 | 9..16): slots 0, 1, 2."""
    from vc_core.paradigms.ltx_in_place import in_place_slots

    assert in_place_slots([0, 5, 16], 3) == [0, 1, 2]
    assert in_place_slots([8, 9], 3) == [1, 2]


def test_in_place_two_conditions_in_one_latent_frame_are_refused_by_name():
    from vc_core.paradigms.ltx_in_place import in_place_slots

    with pytest.raises(LtxGuideError, match=r"b \(at frame 6\) and a \(at frame 3\) fall in the same latent "
                                            r"frame 1 \(pixel frames 1 to 8\)"):
        in_place_slots([3, 6], 3, origins=["a", "b"])


def test_in_place_writes_the_image_and_its_mask_row_as_ltxv_img_to_video():
    """The image's latent in its slot, that row of the (per latent frame) noise mask 1 - strength, the
    rest untouched; the latent given is not changed."""
    from vc_core.paradigms.ltx_in_place import write_in_place

    latent = torch.zeros(2, 4, 3, 2, 2)
    image = torch.randn(1, 4, 1, 2, 2)
    out, mask = write_in_place(latent, None, image, [0], [0.75])
    assert torch.equal(out[:, :, 0], image[:, :, 0].expand(2, -1, -1, -1)) and not out[:, :, 1:].any()
    assert mask.shape == (2, 1, 3, 1, 1) and mask[0, 0, :, 0, 0].tolist() == [0.25, 1.0, 1.0]
    assert not latent.any()
