"""Crop geometry: boxes in cropAndResize's normalised coordinates, checked against TF's sampling formula in numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from teachbox.errors import TeachboxError
from teachbox.data.geometry import (
    CROP_MODES,
    EDGE_INSET,
    INPUT_SIZE,
    MIN_SIDE,
    SCALINGS,
    Preprocessing,
    auto_input_size,
    crop_box,
)

# Box ends sit EDGE_INSET (1/256) pixel inside the last pixel centre. FLOAT_SLACK (1/4096 pixel, a sixteenth of the
# inset) absorbs the box being rounded to float32, which moves a position by up to ~1.2e-4 pixel at 4096 pixels.
FLOAT_SLACK = 2 ** -12


def crop_and_resize(image: np.ndarray, box: tuple[float, float, float, float], size: int,
                    extrapolation: float = 0.0) -> np.ndarray:
    """tf.image.cropAndResize (bilinear) for one 2-D image and one box, as tfjs-backend-cpu computes it.

    The box arrives in a float32 tensor; the CPU kernel then does its arithmetic in JS doubles.
    """
    height, width = image.shape
    y1, x1, y2, x2 = (float(np.float32(value)) for value in box)
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


def end(extent: int, last_centre: float) -> float:
    """Normalised box end for a window whose last pixel centre is `last_centre`, pulled EDGE_INSET inside it."""
    return (last_centre - EDGE_INSET) / (extent - 1)


@pytest.mark.parametrize("side", [MIN_SIDE, 224, 500])
@pytest.mark.parametrize("mode", CROP_MODES)
def test_square_image_uses_the_whole_image_in_every_mode(side: int, mode: str) -> None:
    far = end(side, side - 1)
    assert crop_box(side, side, mode) == pytest.approx((0.0, 0.0, far, far), abs=1e-15)
    assert 1 - far == pytest.approx(EDGE_INSET / (side - 1))  # a 1/256-pixel inset, nothing more


def test_landscape_center_crop() -> None:
    y1, x1, y2, x2 = crop_box(300, 200, "center-crop")
    assert y1 == 0.0 and y2 == pytest.approx(end(200, 199))
    assert x1 == pytest.approx(50 / 299) and x2 == pytest.approx(end(300, 249))


def test_portrait_center_crop() -> None:
    y1, x1, y2, x2 = crop_box(200, 300, "center-crop")
    assert x1 == 0.0 and x2 == pytest.approx(end(200, 199))
    assert y1 == pytest.approx(50 / 299) and y2 == pytest.approx(end(300, 249))


def test_default_mode_pads_the_whole_image() -> None:
    assert crop_box(300, 200) == crop_box(300, 200, "pad") != crop_box(300, 200, "center-crop")
    assert Preprocessing().mode == "pad" and Preprocessing().size == INPUT_SIZE


def test_squash_always_uses_the_whole_image() -> None:
    assert crop_box(300, 200, "squash") == pytest.approx((0.0, 0.0, end(200, 199), end(300, 299)))
    assert crop_box(17, 900, "squash") == pytest.approx((0.0, 0.0, end(900, 899), end(17, 16)))
    y1, x1, y2, x2 = crop_box(17, 900, "squash")
    assert (x2 - x1) * 16 + 1 == pytest.approx(17, abs=EDGE_INSET) and x2 < 1
    assert (y2 - y1) * 899 + 1 == pytest.approx(900, abs=EDGE_INSET) and y2 < 1


@pytest.mark.parametrize("width, height", [(300, 200), (200, 300), (640, 480), (1001, 10), (9, 8)])
def test_pad_extends_symmetrically_outside_the_image(width: int, height: int) -> None:
    y1, x1, y2, x2 = crop_box(width, height, "pad")
    short = "y" if height < width else "x"
    lo, hi = (y1, y2) if short == "y" else (x1, x2)
    other = (x1, x2) if short == "y" else (y1, y2)
    extent, side = min(width, height), max(width, height)
    assert other == pytest.approx((0.0, end(side, side - 1)))
    assert lo < 0 < 1 < hi
    offset = (extent - side) / 2
    assert lo == pytest.approx(offset / (extent - 1))
    assert hi == pytest.approx(end(extent, offset + side - 1))
    # as much padding before as after, up to the inset: first centre at `offset`, last at `extent - 1 - offset - inset`
    assert lo * (extent - 1) == pytest.approx((extent - 1) - hi * (extent - 1) - EDGE_INSET)
    assert (hi - lo) * (extent - 1) + 1 == pytest.approx(side, abs=EDGE_INSET)


@pytest.mark.parametrize("width, height", [(300, 200), (200, 300), (301, 200), (640, 480), (8, 9), (4000, 3000),
                                           (1000, 8)])
def test_center_crop_covers_exactly_the_short_side(width: int, height: int) -> None:
    y1, x1, y2, x2 = crop_box(width, height, "center-crop")
    side = min(width, height)
    for lo, hi, extent in ((x1, x2, width), (y1, y2, height)):
        covered = (hi - lo) * (extent - 1) + 1
        assert covered == pytest.approx(side, abs=EDGE_INSET) and covered < side
        assert 0 <= lo < hi < 1
        offset = (extent - side) / 2
        assert lo == pytest.approx(offset / (extent - 1)) and hi == pytest.approx(end(extent, offset + side - 1))
        # centred: as far from the first pixel centre as from the last, less the inset
        assert lo * (extent - 1) == pytest.approx((extent - 1) - hi * (extent - 1) - EDGE_INSET)


@pytest.mark.parametrize("width, height", [(7, 100), (100, 7), (1, 1), (0, 0), (7, 7)])
@pytest.mark.parametrize("mode", CROP_MODES)
def test_tiny_images_are_refused(width: int, height: int, mode: str) -> None:
    with pytest.raises(TeachboxError) as caught:
        crop_box(width, height, mode)
    assert caught.value.code == "too_small"
    assert f"{width}×{height}" in caught.value.message and f"{MIN_SIDE}×{MIN_SIDE}" in caught.value.message


def test_smallest_allowed_image() -> None:
    assert crop_box(MIN_SIDE, MIN_SIDE + 4, "center-crop") == pytest.approx((2 / 11, 0.0, (9 - EDGE_INSET) / 11,
                                                               (7 - EDGE_INSET) / 7))


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
    assert data == {"mode": mode, "size": 224, "resize": "bilinear", "color": "RGB", "scaling": "tf",
                    "scale": "x / 127.5 - 1"}
    assert Preprocessing(**{key: value for key, value in data.items() if key != "scale"}) == original


@pytest.mark.parametrize("scaling", SCALINGS)
def test_every_keras_scaling_is_recorded_and_an_unknown_one_refused(scaling: str) -> None:
    assert Preprocessing(scaling=scaling).to_json()["scale"] == SCALINGS[scaling]
    with pytest.raises(TeachboxError) as caught:
        Preprocessing(scaling=scaling.upper())
    assert caught.value.code == "bad_option" and all(known in caught.value.message for known in SCALINGS)


# --- the boxes, fed through TF's cropAndResize formula ---------------------------------------------------------


def test_center_crop_samples_a_ramp_over_exactly_the_centre_square() -> None:
    width, height, size = 300, 200, 24
    step = 1.0  # the ramp rises by one per pixel
    ramp = np.tile(np.arange(width, dtype=np.float64) * step, (height, 1))  # pixel value = its x
    out = crop_and_resize(ramp, crop_box(width, height, "center-crop"), size)
    # the 200 centre columns 50 .. 249, the last sample EDGE_INSET before column 249's centre
    expected = 50 + np.arange(size) * (199 - EDGE_INSET) / (size - 1)
    assert np.allclose(out, np.tile(expected, (size, 1)), rtol=0, atol=step / 256)
    assert out.min() == pytest.approx(50, abs=FLOAT_SLACK)
    assert 249 - EDGE_INSET - FLOAT_SLACK <= out.max() < 249  # reaches the last centre column, up to the inset

    vertical = np.tile(np.arange(height, dtype=np.float64)[:, None] * step, (1, width))
    out = crop_and_resize(vertical, crop_box(width, height, "center-crop"), size)
    expected = np.arange(size) * (199 - EDGE_INSET) / (size - 1)
    assert np.allclose(out, np.tile(expected[:, None], (1, size)), rtol=0, atol=step / 256)
    assert out.min() == pytest.approx(0, abs=FLOAT_SLACK)
    assert 199 - EDGE_INSET - FLOAT_SLACK <= out.max() < 199


def test_center_crop_at_native_size_is_the_numpy_slice() -> None:
    # sample k lands k / (n - 1) * EDGE_INSET pixel before centre k on each axis; with values in [0, 1) that moves
    # it by less than EDGE_INSET per axis
    rng = np.random.default_rng(7)
    image = rng.random((20, 30))
    out = crop_and_resize(image, crop_box(30, 20, "center-crop"), 20)
    assert np.allclose(out, image[:, 5:25], rtol=0, atol=2 * EDGE_INSET + FLOAT_SLACK)
    assert out[0, 0] == pytest.approx(image[0, 5], abs=FLOAT_SLACK)
    tall = rng.random((32, 12))
    out = crop_and_resize(tall, crop_box(12, 32, "center-crop"), 12)
    assert np.allclose(out, tall[10:22, :], rtol=0, atol=2 * EDGE_INSET + FLOAT_SLACK)
    assert out[0, 0] == pytest.approx(tall[10, 0], abs=FLOAT_SLACK)


def test_pad_samples_black_bars_of_equal_size() -> None:
    width, height, size = 30, 20, 24  # in_y = -5 + i * (29 - inset)/23: no sample lands near an image edge
    image = np.ones((height, width))
    out = crop_and_resize(image, crop_box(width, height, "pad"), size)
    black = np.flatnonzero(out.sum(axis=1) == 0)
    assert list(black) == [0, 1, 2, 3, 20, 21, 22, 23]
    assert np.allclose(out[4:20], 1.0)
    assert np.allclose(out.sum(axis=0), 16)  # every column is inside the image horizontally


@pytest.mark.parametrize("width, height, mode", [(32, 32, "squash"), (400, 32, "center-crop"), (32, 400, "squash"),
                                                 (4000, 3000, "center-crop")])
def test_edge_rows_and_columns_are_real_pixels(width: int, height: int, mode: str) -> None:
    out = crop_and_resize(np.ones((height, width)), crop_box(width, height, mode), INPUT_SIZE)
    assert (out == 1.0).all()  # none extrapolated to black, the last row and column included


# --- TF.js's own float32 arithmetic, swept over image sizes ----------------------------------------------------

BACKENDS = ("cpu", "wasm", "webgl", "webgl-fma")


def tfjs_sample_positions(start: np.ndarray, stop: np.ndarray, extent: np.ndarray, size: int,
                          backend: str) -> np.ndarray:
    """Where TF.js cropAndResize samples along one axis (in pixel units): one row per box, one column per output.

    Every backend reads the box from a float32 tensor. Then `cpu` (tfjs-backend-cpu) works in JS doubles; `wasm`
    (CropAndResize.cc) in C floats, scale = (stop - start) * (extent - 1) / (size - 1); `webgl` (the
    CropAndResize shader) in GLSL floats, scale = (stop - start) * float(ratio) with ratio = (extent - 1) / (size - 1)
    computed in JS; `webgl-fma` is `webgl` with the final multiply-add rounded once, as GPU compilers may fuse it.
    A position p is extrapolated when p < 0 or p > extent - 1.
    """
    lo = np.asarray(start, dtype=np.float32)[:, None]
    hi = np.asarray(stop, dtype=np.float32)[:, None]
    last = np.asarray(extent)[:, None] - 1
    index = np.arange(size)[None, :]
    if backend == "cpu":
        scale = (hi.astype(np.float64) - lo.astype(np.float64)) * last / (size - 1)
        return lo.astype(np.float64) * last + index * scale
    last32, index32 = last.astype(np.float32), index.astype(np.float32)
    if backend == "wasm":
        scale = (hi - lo) * last32 / np.float32(size - 1)
        return (lo * last32 + index32 * scale).astype(np.float64)
    scale = (hi - lo) * (last / (size - 1)).astype(np.float32)
    if backend == "webgl":
        return (lo * last32 + index32 * scale).astype(np.float64)
    assert backend == "webgl-fma"
    fused = (lo * last32).astype(np.float64) + index * scale.astype(np.float64)  # index * scale is exact in doubles
    return fused.astype(np.float32).astype(np.float64)


def swept_axes(mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, stop, extent) of both axes of crop_box for every image side 8..4096, each with a few partner sides."""
    rng = np.random.default_rng(256)
    axes = set()
    for extent in range(MIN_SIDE, 4097):
        partners = {MIN_SIDE, max(MIN_SIDE, extent // 2), extent, min(4096, extent + 1), min(4096, 2 * extent),
                    int(rng.integers(MIN_SIDE, 4097))}
        for partner in partners:
            y1, x1, y2, x2 = crop_box(extent, partner, mode)
            axes.add((x1, x2, extent))
            axes.add((y1, y2, partner))
    start, stop, extent = (np.array(column) for column in zip(*sorted(axes)))
    return start, stop, extent.astype(np.int64)


@pytest.mark.parametrize("size", [96, 160, INPUT_SIZE, 299])
@pytest.mark.parametrize("mode", CROP_MODES)
def test_edge_samples_stay_inside_the_image(mode: str, size: int) -> None:
    start, stop, extent = swept_axes(mode)
    last = (extent - 1)[:, None].astype(np.float64)
    intended = start[:, None] * last + np.arange(size)[None, :] * ((stop - start)[:, None] * last / (size - 1))
    in_image = (start >= 0) & (stop <= 1)  # a crop axis; otherwise a padded one
    assert in_image.all() if mode != "pad" else (~in_image).any()
    inside = (intended >= 0) & (intended <= last)
    clear = ((intended >= EDGE_INSET) & (intended <= last - EDGE_INSET)) | (intended <= -EDGE_INSET) | (
        intended >= last + EDGE_INSET)
    for backend in BACKENDS:
        where = tfjs_sample_positions(start, stop, extent, size, backend)
        extrapolated = (where < 0) | (where > last)
        # a crop axis (every axis but pad's short one) has no extrapolated sample at all ...
        crop_rows = extrapolated[in_image]
        assert not crop_rows.any(), (backend, extent[in_image][crop_rows.any(axis=1)][:10])
        # ... its first sample is on the window's first pixel centre and its last EDGE_INSET before the last one
        # (up to float32 rounding: a few steps of a float32 the size of the image) ...
        first, final = where[in_image, 0], where[in_image, -1]
        ulp = np.spacing(last[in_image, 0].astype(np.float32)).astype(np.float64)
        assert (first >= 0).all() and (np.abs(first - intended[in_image, 0]) <= 4 * ulp).all(), backend
        assert (np.abs(final - intended[in_image, -1]) <= 4 * ulp).all(), backend
        # ... with room to spare: at least 8 float32 steps inside the edge (the inset alone is 16 at 4096 pixels)
        headroom = last[in_image, 0] - where[in_image].max(axis=1)
        assert (headroom >= 8 * ulp).all(), backend
        # a padded axis samples the image wherever its window covers it and black elsewhere; only samples within
        # EDGE_INSET of an image edge may land on either side
        assert (extrapolated[clear] == ~inside[clear]).all(), backend


@pytest.mark.parametrize("sides,expected", [
    ([], 224),  # nothing readable: the bases' native size
    ([124] * 9, 128),  # malaria cells (median short side 124 px)
    ([128, 128, 128], 128),  # exactly a published size: no upscaling needed
    ([129, 129, 129], 160),  # a pixel more: the next size up, never a downscale of the typical image
    ([150, 190, 160], 160),
    ([180, 191, 200], 192),
    ([300, 300], 224),  # rock-paper-scissors
    ([480, 3024, 720], 224),  # camera frames and phone photos
    ([20, 20, 20], 128),  # tiny icons: 128 is the smallest size offered
    ([100, 100, 100, 4000, 4000], 128),  # the median decides: a few big outliers do not
])
def test_auto_input_size_is_the_smallest_size_that_does_not_shrink_the_typical_image(sides: list[int],
                                                                                     expected: int) -> None:
    assert auto_input_size(sides) == expected
