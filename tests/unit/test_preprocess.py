"""Crop geometry: boxes in cropAndResize's normalised coordinates, checked against TF's sampling formula in numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from teachbox.errors import TeachboxError
from teachbox.preprocess import CROP_MODES, INPUT_SIZE, MIN_SIDE, Preprocessing, crop_box


def crop_and_resize(image: np.ndarray, box: tuple[float, float, float, float], size: int,
                    extrapolation: float = 0.0) -> np.ndarray:
    """tf.image.cropAndResize (bilinear) for one 2-D image and one box, as tfjs-backend-cpu computes it."""
    height, width = image.shape
    y1, x1, y2, x2 = box
    out = np.full((size, size), extrapolation, dtype=np.float64)
    height_scale = (y2 - y1) * (height - 1) / (size - 1) if size > 1 else 0.0
    width_scale = (x2 - x1) * (width - 1) / (size - 1) if size > 1 else 0.0
    for i in range(size):
        in_y = y1 * (height - 1) + i * height_scale if size > 1 else 0.5 * (y1 + y2) * (height - 1)
        if in_y < 0 or in_y > height - 1:
            continue
        top, bottom = math.floor(in_y), math.ceil(in_y)
        y_lerp = in_y - top
        for j in range(size):
            in_x = x1 * (width - 1) + j * width_scale if size > 1 else 0.5 * (x1 + x2) * (width - 1)
            if in_x < 0 or in_x > width - 1:
                continue
            left, right = math.floor(in_x), math.ceil(in_x)
            x_lerp = in_x - left
            top_value = image[top, left] + (image[top, right] - image[top, left]) * x_lerp
            bottom_value = image[bottom, left] + (image[bottom, right] - image[bottom, left]) * x_lerp
            out[i, j] = top_value + (bottom_value - top_value) * y_lerp
    return out


@pytest.mark.parametrize("side", [MIN_SIDE, 224, 500])
@pytest.mark.parametrize("mode", CROP_MODES)
def test_square_image_uses_the_whole_image_in_every_mode(side: int, mode: str) -> None:
    assert crop_box(side, side, mode) == (0.0, 0.0, 1.0, 1.0)


def test_landscape_center_crop() -> None:
    y1, x1, y2, x2 = crop_box(300, 200, "center-crop")
    assert (y1, y2) == (0.0, 1.0)
    assert x1 == pytest.approx(50 / 299) and x2 == pytest.approx(249 / 299)


def test_portrait_center_crop() -> None:
    y1, x1, y2, x2 = crop_box(200, 300, "center-crop")
    assert (x1, x2) == (0.0, 1.0)
    assert y1 == pytest.approx(50 / 299) and y2 == pytest.approx(249 / 299)


def test_default_mode_is_center_crop() -> None:
    assert crop_box(300, 200) == crop_box(300, 200, "center-crop")
    assert Preprocessing().mode == "center-crop" and Preprocessing().size == INPUT_SIZE


def test_squash_always_uses_the_whole_image() -> None:
    assert crop_box(300, 200, "squash") == (0.0, 0.0, 1.0, 1.0)
    assert crop_box(17, 900, "squash") == (0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize("width, height", [(300, 200), (200, 300), (640, 480), (1001, 10), (9, 8)])
def test_pad_extends_symmetrically_outside_the_image(width: int, height: int) -> None:
    y1, x1, y2, x2 = crop_box(width, height, "pad")
    short = "y" if height < width else "x"
    lo, hi = (y1, y2) if short == "y" else (x1, x2)
    other = (x1, x2) if short == "y" else (y1, y2)
    assert other == pytest.approx((0.0, 1.0))
    assert lo < 0 < 1 < hi
    assert lo == pytest.approx(1 - hi)  # as much padding before as after
    extent = min(width, height)
    assert (hi - lo) * (extent - 1) + 1 == pytest.approx(max(width, height))


@pytest.mark.parametrize("width, height", [(300, 200), (200, 300), (301, 200), (640, 480), (8, 9), (4000, 3000),
                                           (1000, 8)])
def test_center_crop_covers_exactly_the_short_side(width: int, height: int) -> None:
    y1, x1, y2, x2 = crop_box(width, height, "center-crop")
    side = min(width, height)
    assert (x2 - x1) * (width - 1) + 1 == pytest.approx(side)
    assert (y2 - y1) * (height - 1) + 1 == pytest.approx(side)
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    assert x1 == pytest.approx(1 - x2) and y1 == pytest.approx(1 - y2)  # centred


@pytest.mark.parametrize("width, height", [(7, 100), (100, 7), (1, 1), (0, 0), (7, 7)])
@pytest.mark.parametrize("mode", CROP_MODES)
def test_tiny_images_are_refused(width: int, height: int, mode: str) -> None:
    with pytest.raises(TeachboxError) as caught:
        crop_box(width, height, mode)
    assert caught.value.code == "too_small"
    assert f"{width}×{height}" in caught.value.message and f"{MIN_SIDE}×{MIN_SIDE}" in caught.value.message


def test_smallest_allowed_image() -> None:
    assert crop_box(MIN_SIDE, MIN_SIDE + 4) == pytest.approx((2 / 11, 0.0, 9 / 11, 1.0))


@pytest.mark.parametrize("mode", ["stretch", "", "CENTER-CROP", "center_crop"])
def test_unknown_mode_is_a_bad_option(mode: str) -> None:
    with pytest.raises(TeachboxError) as caught:
        crop_box(300, 200, mode)
    assert caught.value.code == "bad_option"
    assert all(known in caught.value.message for known in CROP_MODES)
    with pytest.raises(TeachboxError) as caught:
        Preprocessing(mode=mode)
    assert caught.value.code == "bad_option"


@pytest.mark.parametrize("mode", CROP_MODES)
def test_preprocessing_json_round_trip(mode: str) -> None:
    original = Preprocessing(mode=mode)
    data = json.loads(json.dumps(original.to_json()))
    assert data == {"mode": mode, "size": 224, "resize": "bilinear", "color": "RGB", "scale": "x / 127.5 - 1"}
    assert Preprocessing(**data) == original


# --- the boxes, fed through TF's cropAndResize formula ---------------------------------------------------------


def test_center_crop_samples_a_ramp_over_exactly_the_centre_square() -> None:
    width, height, size = 300, 200, 24
    ramp = np.tile(np.arange(width, dtype=np.float64), (height, 1))  # pixel value = its x
    out = crop_and_resize(ramp, crop_box(width, height), size)
    expected = 50 + np.arange(size) * 199 / (size - 1)  # columns 50 .. 249: the 200 centre columns
    assert np.allclose(out, np.tile(expected, (size, 1)))
    assert out.min() == pytest.approx(50) and out.max() == pytest.approx(249)

    vertical = np.tile(np.arange(height, dtype=np.float64)[:, None], (1, width))
    out = crop_and_resize(vertical, crop_box(width, height), size)
    assert np.allclose(out, np.tile((np.arange(size) * 199 / (size - 1))[:, None], (1, size)))


def test_center_crop_at_native_size_is_the_numpy_slice() -> None:
    rng = np.random.default_rng(7)
    image = rng.random((20, 30))
    out = crop_and_resize(image, crop_box(30, 20), 20)
    assert np.allclose(out, image[:, 5:25], atol=1e-9)
    tall = rng.random((32, 12))
    out = crop_and_resize(tall, crop_box(12, 32), 12)
    assert np.allclose(out, tall[10:22, :], atol=1e-9)


def test_pad_samples_black_bars_of_equal_size() -> None:
    width, height, size = 30, 20, 24  # in_y = -5 + i * 29/23: no sample lands exactly on an image edge
    image = np.ones((height, width))
    out = crop_and_resize(image, crop_box(width, height, "pad"), size)
    black = np.flatnonzero(out.sum(axis=1) == 0)
    assert list(black) == [0, 1, 2, 3, 20, 21, 22, 23]
    assert np.allclose(out[4:20], 1.0)
    assert np.allclose(out.sum(axis=0), 16)  # every column is inside the image horizontally


@pytest.mark.xfail(strict=True, reason="known issue: TF.js compares in_y > H-1 after rounding, so for ~5% of sizes "
                                       "the last row/column of a box ending exactly on the image edge is "
                                       "extrapolated (black); crop_box would have to pull box ends inward slightly")
@pytest.mark.parametrize("width, height, mode", [(32, 32, "squash"), (400, 32, "center-crop"), (30, 20, "pad")])
def test_edge_samples_stay_inside_the_image(width: int, height: int, mode: str) -> None:
    size = INPUT_SIZE if mode != "pad" else 30
    out = crop_and_resize(np.ones((height, width)), crop_box(width, height, mode), size)
    expected_black = 0 if mode != "pad" else 10  # pad: in_y = -5 + i, rows 0-4 and 25-29 are outside
    assert int((out.sum(axis=1) == 0).sum()) == expected_black


def test_squash_samples_the_corners() -> None:
    image = np.arange(300 * 200, dtype=np.float64).reshape(200, 300)
    out = crop_and_resize(image, crop_box(300, 200, "squash"), 16)
    assert out[0, 0] == image[0, 0] and out[-1, -1] == pytest.approx(image[-1, -1])
    assert out[0, -1] == pytest.approx(image[0, -1]) and out[-1, 0] == pytest.approx(image[-1, 0])
