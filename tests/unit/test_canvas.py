"""Specification of vc_core.canvas: how patches become full-size VideoCanvas condition frames."""

from __future__ import annotations

import pytest
import torch

from vc_core.canvas import (
    FIT_MODES,
    VAE_ZERO,
    Box,
    CanvasError,
    PlacedPatch,
    camera_path,
    place_patch,
    warp_onto_canvas,
)


def rand_image(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def const_image(h: int, w: int, value: float = 0.25, c: int = 3) -> torch.Tensor:
    return torch.full((h, w, c), value)


def covered(placed: PlacedPatch, frame: int = 0) -> torch.Tensor:
    """Boolean map of canvas pixels the patch gives (mask > 0)."""
    return placed.mask[frame] > 0


def composed(mask: torch.Tensor, colour: float) -> torch.Tensor:
    """The canvas formula for a single-colour patch: mask*colour + (1-mask)*VAE_ZERO, as [H, W, 3]."""
    return (mask * colour + (1 - mask) * VAE_ZERO)[..., None].expand(*mask.shape, 3)


def rect(canvas_hw: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    out = torch.zeros(canvas_hw, dtype=torch.bool)
    out[y0:y1, x0:x1] = True
    return out


# ------------------------------------------------------------------------------------------ the zero


def test_vae_zero_is_the_wan_vae_zero():
    # the Wan VAE sees 2x - 1: the canvas fill must land on exactly 0 in its input range
    assert VAE_ZERO == 0.5
    assert 2 * VAE_ZERO - 1 == 0


# --------------------------------------------------------------------------------------------- boxes


def test_full_canvas_stretch_of_same_size_image_is_identity():
    image = rand_image(2, 6, 8, 3)
    placed = place_patch(image, canvas_size=(6, 8))
    assert torch.equal(placed.pixels, image)
    assert torch.equal(placed.mask, torch.ones(2, 6, 8))
    assert placed.num_frames == 2


def test_single_hwc_image_gives_one_frame_on_its_own_size_by_default():
    image = rand_image(6, 8, 3)
    placed = place_patch(image)
    assert placed.pixels.shape == (1, 6, 8, 3)
    assert placed.mask.shape == (1, 6, 8)
    assert torch.equal(placed.pixels[0], image)


def test_pixel_box_puts_patch_exactly_there():
    image = rand_image(3, 4, 3)
    placed = place_patch(image, canvas_size=(8, 10), box=Box(x=2, y=1, w=4, h=3))
    inside = rect((8, 10), 1, 4, 2, 6)
    assert torch.equal(placed.pixels[0, 1:4, 2:6], image)
    assert torch.all(placed.pixels[0][~inside] == VAE_ZERO)
    assert torch.equal(placed.mask[0], inside.float())


def test_fraction_box_resolves_to_the_equivalent_pixel_box():
    frac = Box(0.25, 0.5, 0.5, 0.25, unit="fraction")
    px = Box(3, 4, 6, 2)
    assert frac.resolve(8, 12) == px.resolve(8, 12) == (3, 4, 6, 2)
    image = rand_image(2, 6, 3)
    a = place_patch(image, canvas_size=(8, 12), box=frac)
    b = place_patch(image, canvas_size=(8, 12), box=px)
    assert torch.equal(a.pixels, b.pixels)
    assert torch.equal(a.mask, b.mask)


def test_fraction_boxes_that_tile_the_canvas_tile_it_in_pixels():
    # edges are rounded, not sizes: two halves of an odd width abut with no gap or overlap
    left = Box(0, 0, 0.5, 1, unit="fraction").resolve(4, 9)
    right = Box(0.5, 0, 0.5, 1, unit="fraction").resolve(4, 9)
    assert left[0] + left[2] == right[0]
    assert right[0] + right[2] == 9


def test_full_box_and_no_box_cover_the_whole_canvas():
    assert Box.full().resolve(480, 832) == (0, 0, 832, 480)
    placed = place_patch(const_image(3, 5), canvas_size=(6, 10))
    assert torch.equal(placed.mask, torch.ones(1, 6, 10))
    torch.testing.assert_close(placed.pixels, torch.full((1, 6, 10, 3), 0.25))


def test_stretch_fills_the_box_with_the_resampled_image():
    placed = place_patch(const_image(3, 5, 0.8), canvas_size=(16, 16), box=Box(2, 4, 10, 6), fit="stretch")
    inside = rect((16, 16), 4, 10, 2, 12)
    assert torch.equal(covered(placed), inside)
    assert torch.all(placed.mask[0][inside] == 1)
    torch.testing.assert_close(placed.pixels[0][inside], torch.full((60, 3), 0.8))


def test_downscaling_is_antialiased():
    # a 1-px checkerboard shrunk 4x averages to grey instead of aliasing to black or white
    checker = ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2).float()
    image = checker[..., None].expand(32, 32, 3)
    placed = place_patch(image, canvas_size=(8, 8))
    assert torch.all((placed.pixels - 0.5).abs() < 0.1)


# ------------------------------------------------------------------------------------------ fit modes


def test_contain_wide_image_covers_a_centred_band():
    placed = place_patch(rand_image(4, 8, 3), canvas_size=(8, 8), fit="contain")
    assert torch.equal(covered(placed), rect((8, 8), 2, 6, 0, 8))
    assert int(placed.mask.sum()) == 32
    assert torch.all(placed.pixels[0, :2] == VAE_ZERO) and torch.all(placed.pixels[0, 6:] == VAE_ZERO)


def test_contain_tall_image_covers_a_centred_column_band():
    placed = place_patch(rand_image(8, 4, 3), canvas_size=(8, 8), fit="contain")
    assert torch.equal(covered(placed), rect((8, 8), 0, 8, 2, 6))


def test_contain_upscales_to_touch_the_box():
    placed = place_patch(rand_image(2, 4, 3), canvas_size=(8, 16), box=Box(4, 0, 8, 8), fit="contain")
    assert torch.equal(covered(placed), rect((8, 16), 2, 6, 4, 12))
    assert int(placed.mask.sum()) == 32


def test_cover_fills_the_whole_box():
    placed = place_patch(rand_image(4, 8, 3), canvas_size=(8, 8), fit="cover")
    assert int(placed.mask.sum()) == 64


def test_cover_crops_the_centre_of_the_overflow():
    # 8x16 into an 8x8 box: scale 1, so the crop is exact: source columns 4..11
    image = rand_image(8, 16, 3)
    placed = place_patch(image, canvas_size=(8, 8), fit="cover")
    assert torch.equal(placed.pixels[0], image[:, 4:12])
    assert torch.equal(placed.mask[0], torch.ones(8, 8))


def test_none_keeps_pixel_size_and_centres_small_patch():
    image = rand_image(2, 4, 3)
    placed = place_patch(image, canvas_size=(8, 8), fit="none")
    assert torch.equal(covered(placed), rect((8, 8), 3, 5, 2, 6))
    assert int(placed.mask.sum()) == 8
    assert torch.equal(placed.pixels[0, 3:5, 2:6], image)


def test_none_crops_large_patch_to_the_box_centre():
    image = rand_image(12, 12, 3)
    placed = place_patch(image, canvas_size=(10, 10), box=Box(1, 1, 8, 8), fit="none")
    assert torch.equal(covered(placed), rect((10, 10), 1, 9, 1, 9))
    assert torch.equal(placed.pixels[0, 1:9, 1:9], image[2:10, 2:10])


@pytest.mark.parametrize("fit", FIT_MODES)
def test_every_fit_of_a_same_size_image_is_exact(fit):
    image = rand_image(4, 6, 3)
    placed = place_patch(image, canvas_size=(8, 8), box=Box(1, 2, 6, 4), fit=fit)
    assert torch.equal(placed.pixels[0, 2:6, 1:7], image)
    assert torch.equal(covered(placed), rect((8, 8), 2, 6, 1, 7))


# --------------------------------------------------------------------------------------- image masks


def test_image_mask_is_carried_through():
    image = rand_image(4, 6, 3)
    mask = torch.zeros(4, 6)
    mask[:, 3:] = 1
    placed = place_patch(image, mask, canvas_size=(4, 6))
    assert torch.equal(placed.mask[0], mask)
    assert torch.equal(placed.pixels[0, :, 3:], image[:, 3:])
    assert torch.all(placed.pixels[0, :, :3] == VAE_ZERO)


def test_soft_mask_blends_towards_vae_zero():
    image = const_image(2, 2, 1.0)
    mask = torch.full((2, 2), 0.25)
    placed = place_patch(image, mask, canvas_size=(2, 2))
    torch.testing.assert_close(placed.pixels, torch.full((1, 2, 2, 3), 0.25 * 1.0 + 0.75 * VAE_ZERO))


def test_mask_is_resampled_with_the_image_into_the_box():
    mask = torch.zeros(4, 4)
    mask[:, 2:] = 1
    placed = place_patch(const_image(4, 4), mask, canvas_size=(8, 16), box=Box(4, 0, 8, 8))
    assert torch.all(placed.mask[0, :, :4] == 0) and torch.all(placed.mask[0, :, 12:] == 0)
    torch.testing.assert_close(placed.mask[0, :, 9:12], torch.ones(8, 3))  # right of the box: kept
    assert torch.all(placed.mask[0, :, 4:7] == 0)  # left of the box: masked out


def test_colour_under_mask_zero_does_not_bleed():
    # garbage (0) under mask 0, white under mask 1: after upscaling, every kept pixel is still white
    image = torch.zeros(4, 4, 3)
    image[:, 2:] = 1
    mask = (image[..., 0] > 0).float()
    placed = place_patch(image, mask, canvas_size=(16, 16))
    torch.testing.assert_close(placed.pixels[0], composed(placed.mask[0], 1.0))


def test_one_mask_is_shared_by_all_frames_and_a_mask_clip_animates_one_image():
    mask = torch.zeros(4, 4)
    mask[1:3, 1:3] = 1
    clip = place_patch(rand_image(3, 4, 4, 3), mask, canvas_size=(4, 4))
    assert clip.num_frames == 3 and torch.equal(clip.mask, mask.expand(3, 4, 4))
    masks = torch.stack([mask, 1 - mask])
    still = place_patch(rand_image(4, 4, 3), masks, canvas_size=(4, 4))
    assert still.num_frames == 2 and torch.equal(still.mask, masks)


# -------------------------------------------------------------------------------------------- feather


def feathered(feather: float) -> tuple[PlacedPatch, PlacedPatch]:
    kwargs = dict(canvas_size=(40, 40), box=Box(10, 10, 20, 20))
    soft = place_patch(const_image(20, 20), feather=feather, **kwargs)
    return soft, place_patch(const_image(20, 20), **kwargs)


def test_feather_softens_inwards_only():
    soft, hard = feathered(4.0)
    assert torch.all(soft.mask <= hard.mask)
    assert torch.all(soft.mask[0][hard.mask[0] == 0] == 0)


def test_feather_is_one_deep_inside_and_below_one_at_the_edge():
    soft, _ = feathered(4.0)
    assert torch.all(soft.mask[0, 15:25, 15:25] == 1)  # more than ceil(4) px from the box edge
    assert torch.all(soft.mask[0, 10, 10:30] < 1)  # first row of the box
    assert torch.all(soft.mask[0, 10:30, 29] < 1)  # last column of the box
    assert soft.mask[0, 10, 20] > 0


def test_feather_ramp_is_monotone_from_edge_to_centre():
    soft, _ = feathered(6.0)
    row = soft.mask[0, 20, 10:21]  # left edge of the box to its centre
    assert torch.all(row[1:] >= row[:-1])
    assert row[0] < row[-1] == 1


def test_feather_pixels_fade_to_vae_zero_with_the_mask():
    soft, _ = feathered(4.0)
    torch.testing.assert_close(soft.pixels[0], composed(soft.mask[0], 0.25))


def test_zero_feather_is_the_hard_mask_and_canvas_border_is_not_an_edge():
    soft, hard = feathered(0.0)
    assert torch.equal(soft.mask, hard.mask)
    full = place_patch(const_image(12, 12), canvas_size=(12, 12), feather=5.0)
    assert torch.equal(full.mask, torch.ones(1, 12, 12))


# --------------------------------------------------------------------------------------------- warps


def translation(tx: float, ty: float, frames: int = 1) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0, tx], [0.0, 1.0, ty]]).expand(frames, 2, 3).clone()


def test_identity_warp_equals_stretch_placement():
    image = rand_image(2, 6, 8, 3)
    warped = warp_onto_canvas(image, translation(0, 0, 2), canvas_size=(6, 8))
    placed = place_patch(image, canvas_size=(6, 8))
    torch.testing.assert_close(warped.pixels, placed.pixels)
    assert torch.equal(warped.mask, placed.mask)


def test_whole_pixel_translation_shifts_exactly():
    image = rand_image(6, 8, 3)
    warped = warp_onto_canvas(image, translation(3, 2), canvas_size=(12, 16))
    inside = rect((12, 16), 2, 8, 3, 11)
    torch.testing.assert_close(warped.pixels[0, 2:8, 3:11], image, atol=1e-5, rtol=0)
    assert torch.equal(warped.mask[0], inside.float())
    assert torch.all(warped.pixels[0][~inside] == VAE_ZERO)


def test_translation_off_the_canvas_crops():
    image = rand_image(6, 8, 3)
    warped = warp_onto_canvas(image, translation(-2, -1), canvas_size=(6, 8))
    torch.testing.assert_close(warped.pixels[0, :5, :6], image[1:, 2:], atol=1e-5, rtol=0)
    assert torch.equal(warped.mask[0], rect((6, 8), 0, 5, 0, 6).float())


def test_one_image_with_f_matrices_gives_f_frames():
    matrices = torch.stack([translation(i, 0)[0] for i in range(3)])
    warped = warp_onto_canvas(const_image(4, 4), matrices, canvas_size=(4, 8))
    assert warped.num_frames == 3
    for i in range(3):
        assert torch.equal(covered(warped, i), rect((4, 8), 0, 4, i, i + 4))


def test_f_frames_with_f_matrices_warp_frame_by_frame():
    clip = torch.stack([const_image(4, 4, v) for v in (0.1, 0.2, 0.3)])
    matrices = torch.stack([translation(2 * i, 0)[0] for i in range(3)])
    warped = warp_onto_canvas(clip, matrices, canvas_size=(4, 8))
    for i, v in enumerate((0.1, 0.2, 0.3)):
        torch.testing.assert_close(warped.pixels[i, :, 2 * i : 2 * i + 4], torch.full((4, 4, 3), v))
        assert torch.equal(covered(warped, i), rect((4, 8), 0, 4, 2 * i, 2 * i + 4))


def test_warp_carries_the_image_mask():
    mask = torch.zeros(4, 4)
    mask[:, :2] = 1
    warped = warp_onto_canvas(const_image(4, 4), translation(4, 0), canvas_size=(4, 8), mask=mask)
    assert torch.equal(covered(warped), rect((4, 8), 0, 4, 4, 6))


def test_one_image_with_a_mask_clip_and_f_matrices():
    masks = torch.zeros(2, 4, 4)
    masks[0, :, :2] = 1
    masks[1, :, 2:] = 1
    warped = warp_onto_canvas(const_image(4, 4), translation(2, 0, 2), canvas_size=(4, 8), mask=masks)
    assert torch.equal(covered(warped, 0), rect((4, 8), 0, 4, 2, 4))
    assert torch.equal(covered(warped, 1), rect((4, 8), 0, 4, 4, 6))


def test_subpixel_warp_keeps_colour_and_mask_consistent():
    warped = warp_onto_canvas(const_image(4, 4, 1.0), translation(2.5, 1.25), canvas_size=(8, 8))
    assert ((warped.mask > 0) & (warped.mask < 1)).any()  # a soft edge exists
    torch.testing.assert_close(warped.pixels[0], composed(warped.mask[0], 1.0))


# --------------------------------------------------------------------------------------- camera path


def apply(matrix: torch.Tensor, x: float, y: float) -> tuple[float, float]:
    out = matrix.double() @ torch.tensor([x, y, 1.0], dtype=torch.float64)
    return float(out[0]), float(out[1])


def test_camera_path_endpoints_match_requested_centre_and_zoom():
    # image 100x200 on a 60x80 canvas: "contain" scale is min(60/100, 80/200) = 0.4
    path = camera_path(5, (100, 200), (60, 80), start=(0.25, 0.5, 2.0), end=(0.75, 0.4, 0.5))
    assert path.shape == (5, 2, 3) and path.dtype == torch.float32
    image_centre = ((200 - 1) / 2, (100 - 1) / 2)
    assert apply(path[0], *image_centre) == pytest.approx((0.25 * 80 - 0.5, 0.5 * 60 - 0.5), abs=1e-4)
    assert apply(path[-1], *image_centre) == pytest.approx((0.75 * 80 - 0.5, 0.4 * 60 - 0.5), abs=1e-4)
    assert float(path[0, 0, 0]) == pytest.approx(0.4 * 2.0) and float(path[0, 1, 1]) == pytest.approx(0.8)
    assert float(path[-1, 0, 0]) == pytest.approx(0.4 * 0.5)
    assert float(path[0, 0, 1]) == 0 and float(path[0, 1, 0]) == 0  # no rotation or shear


def test_camera_path_zoom_one_centred_is_contain():
    path = camera_path(1, image_size=(6, 8), canvas_size=(6, 8))
    torch.testing.assert_close(path, translation(0, 0))
    # same aspect, twice the size: the image edges land on the canvas edges
    path = camera_path(1, image_size=(3, 4), canvas_size=(6, 8))
    assert apply(path[0], -0.5, -0.5) == pytest.approx((-0.5, -0.5))
    assert apply(path[0], 3.5, 2.5) == pytest.approx((7.5, 5.5))


def test_camera_path_pans_linearly_and_zooms_geometrically():
    path = camera_path(3, (10, 10), (10, 10), start=(0.2, 0.5, 1.0), end=(0.8, 0.5, 4.0))
    assert apply(path[1], 4.5, 4.5)[0] == pytest.approx(0.5 * 10 - 0.5, abs=1e-5)
    assert float(path[1, 0, 0]) == pytest.approx(2.0)  # geometric mean of zoom 1 and 4


def test_camera_path_ease_in_out_starts_and_ends_slowly():
    kwargs = dict(image_size=(10, 10), canvas_size=(10, 10), start=(0.0, 0.5, 1.0), end=(1.0, 0.5, 1.0))
    linear = camera_path(11, easing="linear", **kwargs)
    eased = camera_path(11, easing="ease_in_out", **kwargs)
    torch.testing.assert_close(eased[[0, -1]], linear[[0, -1]])
    torch.testing.assert_close(eased[5], linear[5])  # symmetric: same midpoint
    assert eased[1, 0, 2] - eased[0, 0, 2] < linear[1, 0, 2] - linear[0, 0, 2]


def test_camera_path_drives_warp_onto_canvas():
    path = camera_path(4, (6, 8), (6, 8), start=(0.5, 0.5, 1.0), end=(0.5, 0.5, 0.5))
    warped = warp_onto_canvas(rand_image(6, 8, 3), path, canvas_size=(6, 8))
    assert warped.num_frames == 4
    assert torch.equal(warped.mask[0], torch.ones(6, 8))  # frame 0: the whole canvas
    assert warped.mask[-1].sum() < 0.3 * 48  # zoomed out to half size: a quarter of the canvas
    assert torch.all(warped.mask[-1, 0] == 0)  # the uncovered border is for the model to fill


# -------------------------------------------------------------------------------------------- errors

IMG = const_image(4, 4)

ERROR_CASES = {
    "box outside": (lambda: place_patch(IMG, canvas_size=(8, 8), box=Box(6, 0, 4, 4)), ["box", "8x8"]),
    "box negative x": (lambda: Box(-1, 0, 4, 4).resolve(8, 8), ["box", "8x8"]),
    "box fraction outside": (lambda: Box(0.5, 0, 0.6, 1, "fraction").resolve(8, 8), ["box", "8x8"]),
    "box w <= 0": (lambda: place_patch(IMG, canvas_size=(8, 8), box=Box(0, 0, 0, 4)), ["box", "w=0", "8x8"]),
    "box h <= 0": (lambda: Box(0, 0, 4, -2).resolve(8, 8), ["box", "h=-2", "8x8"]),
    "box unit": (lambda: Box(0, 0, 4, 4, unit="cm").resolve(8, 8), ["box unit", "'cm'", "fraction"]),
    "box below a pixel": (lambda: Box(0, 0, 0.01, 1, "fraction").resolve(8, 8), ["box", "8x8"]),
    "mask size": (lambda: place_patch(IMG, torch.ones(3, 5)), ["mask", "(3, 5)", "(4, 4)"]),
    "mask dims": (lambda: place_patch(IMG, torch.ones(1, 4, 4, 1), canvas_size=(8, 8)), ["mask"]),
    "mask frames": (
        lambda: place_patch(torch.ones(2, 4, 4, 3), torch.ones(3, 4, 4), canvas_size=(8, 8)),
        ["image has 2", "mask has 3"],
    ),
    "unknown fit": (lambda: place_patch(IMG, canvas_size=(8, 8), fit="fill"), ["fit", "'fill'", "contain"]),
    "negative feather": (lambda: place_patch(IMG, canvas_size=(8, 8), feather=-1.0), ["feather", "-1.0"]),
    "nan feather": (lambda: place_patch(IMG, canvas_size=(8, 8), feather=float("nan")), ["feather"]),
    "canvas size zero": (lambda: place_patch(IMG, canvas_size=(0, 8)), ["canvas size", "(0, 8)"]),
    "canvas size three": (lambda: place_patch(IMG, canvas_size=(8, 8, 3)), ["canvas size"]),
    "canvas size float": (lambda: place_patch(IMG, canvas_size=(8.0, 8)), ["canvas size"]),
    "image dims": (lambda: place_patch(torch.ones(4, 4), canvas_size=(8, 8)), ["image", "(4, 4)"]),
    "image dtype": (lambda: place_patch(torch.ones(4, 4, 3, dtype=torch.uint8)), ["image", "uint8"]),
    "matrices shape": (lambda: warp_onto_canvas(IMG, torch.eye(3), (8, 8)), ["matrices", "(3, 3)"]),
    "matrices frames": (
        lambda: warp_onto_canvas(torch.ones(2, 4, 4, 3), translation(0, 0, 3), (8, 8)),
        ["image has 2", "matrices has 3"],
    ),
    "warp mask frames": (
        lambda: warp_onto_canvas(IMG, translation(0, 0, 3), (8, 8), mask=torch.ones(2, 4, 4)),
        ["matrices has 3", "mask has 2"],
    ),
    "warp mask size": (lambda: warp_onto_canvas(IMG, translation(0, 0), (8, 8), torch.ones(4, 5)), ["mask"]),
    "warp canvas size": (lambda: warp_onto_canvas(IMG, translation(0, 0), (8, -8)), ["canvas size"]),
    "warp feather": (lambda: warp_onto_canvas(IMG, translation(0, 0), (8, 8), feather=-2), ["feather"]),
    "camera frames": (lambda: camera_path(0, (4, 4), (8, 8)), ["num_frames", "0"]),
    "camera zoom": (lambda: camera_path(2, (4, 4), (8, 8), end=(0.5, 0.5, 0.0)), ["end", "zoom"]),
    "camera start": (lambda: camera_path(2, (4, 4), (8, 8), start=(0.5, 0.5)), ["start"]),
    "camera easing": (lambda: camera_path(2, (4, 4), (8, 8), easing="bounce"), ["easing", "'bounce'"]),
    "camera image size": (lambda: camera_path(2, (0, 4), (8, 8)), ["image size"]),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=list(ERROR_CASES))
def test_invalid_input_is_a_canvas_error_naming_the_input(case):
    call, expected = ERROR_CASES[case]
    with pytest.raises(CanvasError) as info:
        call()
    for fragment in expected:
        assert fragment in str(info.value)


def test_canvas_error_is_a_value_error():
    assert issubclass(CanvasError, ValueError)


# ---------------------------------------------------------------------------------- dtype and device

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_outputs_are_float32_on_the_input_device(device, dtype):
    image = rand_image(2, 4, 4, 3).to(device=device, dtype=dtype)
    mask = torch.ones(4, 4, dtype=torch.float64)  # any mask dtype / device is moved to the image's
    results = [
        place_patch(image, mask, canvas_size=(8, 8), box=Box(2, 2, 4, 4), feather=1.0),
        place_patch(image, canvas_size=(8, 8), fit="contain"),
        warp_onto_canvas(image, translation(1, 1, 2), canvas_size=(8, 8), mask=mask),
    ]
    for placed in results:
        for t in (placed.pixels, placed.mask):
            assert t.dtype == torch.float32
            assert t.device.type == device


def test_sequences_are_placed_identically_per_frame():
    clip = rand_image(5, 3, 4, 3)
    placed = place_patch(clip, canvas_size=(8, 8), box=Box(4, 5, 4, 3))
    assert placed.num_frames == 5
    assert torch.equal(placed.pixels[:, 5:8, 4:8], clip)
    assert torch.equal(placed.mask, rect((8, 8), 5, 8, 4, 8).float().expand(5, 8, 8))


def test_sizes_accept_any_integer_pair():
    import numpy as np

    image = rand_image(4, 4, 3)
    expected = place_patch(image, canvas_size=(8, 8))
    for size in ([8, 8], torch.Size([8, 8]), (np.int64(8), np.int32(8))):
        assert torch.equal(place_patch(image, canvas_size=size).pixels, expected.pixels)


# ------------------------------------------------------------------------------------- RGBA patches


def rgba(h: int = 4, w: int = 6, frames: int | None = None) -> torch.Tensor:
    """Colour noise with an alpha of 0, 0.25, 1 bands (columns 0-1, 2-3, 4-5)."""
    image = rand_image(*(() if frames is None else (frames,)), h, w, 4)
    image[..., 3] = torch.tensor([0.0, 0.0, 0.25, 0.25, 1.0, 1.0])
    return image


def test_rgba_alpha_is_the_mask_where_no_mask_is_given():
    image = rgba()
    placed = place_patch(image)
    alpha, rgb = image[..., 3], image[..., :3]
    assert placed.pixels.shape == (1, 4, 6, 3)  # the alpha channel becomes the mask, not a colour
    assert torch.equal(placed.mask[0], alpha)
    assert torch.equal(placed.pixels[0], rgb * alpha[..., None] + (1 - alpha[..., None]) * VAE_ZERO)


def test_rgba_alpha_and_a_mask_multiply():
    image = rgba()
    mask = torch.zeros(4, 6)
    mask[:2] = 1.0
    mask[2:, :] = 0.5
    placed = place_patch(image, mask)
    keep = mask * image[..., 3]
    assert torch.equal(placed.mask[0], keep)
    assert torch.equal(placed.pixels[0], image[..., :3] * keep[..., None] + (1 - keep[..., None]) * VAE_ZERO)


def test_rgba_clip_alpha_per_frame_and_warp_carries_alpha():
    clip = rgba(frames=2)
    clip[1, ..., 3] = 1.0 - clip[1, ..., 3]
    placed = place_patch(clip)
    assert torch.equal(placed.mask, clip[..., 3])
    warped = warp_onto_canvas(clip, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3), (4, 6))
    assert torch.equal(warped.mask, clip[..., 3])
    assert torch.allclose(warped.pixels, placed.pixels, atol=1e-6)


def test_rgb_images_are_unchanged_by_the_alpha_rule():
    image = rand_image(4, 6, 3)
    placed = place_patch(image)
    assert torch.equal(placed.pixels[0], image) and torch.equal(placed.mask[0], torch.ones(4, 6))
