"""VACE control (vc_core/paradigms/vace_control.py): the streams and the mask a VACE model reads, and
the latent mask rule that keeps every condition known in the latent frame holding it."""

from __future__ import annotations

import pytest
import torch

from vc_core.paradigms.vace_control import (
    VaceControlError,
    control_streams,
    latent_frame_slots,
    latent_mask,
    native_latent_mask,
)


def test_the_streams_split_the_control_video_by_the_mask_around_grey():
    video = torch.tensor([0.0, 0.25, 1.0]).reshape(1, 1, 3, 1).expand(1, 1, 3, 3).clone()  # [L, H, W, 3]
    generate = torch.tensor([[[0.0, 1.0, 0.5]]])  # known, generated, half known
    inactive, reactive = control_streams(video, generate)
    assert inactive[0, 0, :, 0].tolist() == [0.0, 0.5, 0.75]  # known pixels stay, generated ones grey
    assert reactive[0, 0, :, 0].tolist() == [0.5, 0.25, 0.75]
    assert torch.equal(inactive + reactive - 0.5, video)  # the two streams add back to the video


def test_latent_frames_hold_pixel_frames_as_a_causal_vae_packs_them():
    assert [list(s) for s in latent_frame_slots(9)] == [[0], [1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(VaceControlError, match="length must be 4k\\+1; got 10"):
        latent_frame_slots(10)


def test_the_mask_puts_each_pixel_of_an_8x8_block_in_its_own_channel():
    generate = torch.zeros(1, 16, 8)
    generate[0, 9, 3] = 1.0  # latent cell (1, 0), pixel (dy, dx) = (1, 3)
    mask = latent_mask(generate)
    assert mask.shape == (1, 64, 1, 2, 1)
    assert mask.nonzero().tolist() == [[0, 1 * 8 + 3, 0, 1, 0]]


def test_a_mask_the_same_at_every_frame_gives_the_native_mask_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    hole = (torch.rand(1, 32, 48, generator=g) > 0.5).float().expand(81, -1, -1)
    assert torch.equal(latent_mask(hole), native_latent_mask(hole))


@pytest.mark.parametrize("frame", [0, 41, 42, 43, 44, 80])
def test_a_single_known_frame_is_known_in_the_latent_frame_that_holds_it(frame):
    """81 frames, one known frame: native nearest-exact resampling reads pixel frames 1, 5, 9, 13, 17,
    21, 25, 28, 32, 36, 40, 44, ... 79 (one per latent frame; latent frame 0 reads pixel frame 1), so of
    these it sees frame 44 only; this rule sees every one, in the latent frame that holds it."""
    generate = torch.ones(81, 8, 8)
    generate[frame] = 0.0
    slot = 0 if frame == 0 else (frame - 1) // 4 + 1
    ours, native = latent_mask(generate), native_latent_mask(generate)
    assert ours[0, :, slot].eq(0).all() and ours[0, :, [s for s in range(21) if s != slot]].eq(1).all()
    native_sees = bool(native[0, :, slot].eq(0).all())
    assert native_sees == (frame == 44), f"native sees frame {frame}: {native_sees}"
