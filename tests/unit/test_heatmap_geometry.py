"""Where the explain() overlay goes on a thumbnail, and its colours: ui/heatmap.py's pure parts (it imports the
DOM only when drawing)."""

from __future__ import annotations

import pytest
from teachbox.data.geometry import crop_box
from teachbox.ui import heatmap as heatmap_module


@pytest.fixture(scope="module")
def heatmap():  # noqa: ANN201
    return heatmap_module


@pytest.mark.parametrize("width,height", [(145, 154), (300, 200), (128, 128)])
def test_a_centre_crop_covers_the_whole_thumbnail(heatmap, width: int, height: int) -> None:  # noqa: ANN001
    x, y, w, h = heatmap.placement(list(crop_box(width, height, "center-crop")), width, height, 160)
    assert abs(x) < 0.5 and abs(y) < 0.5 and abs(w - 160) < 1 and abs(h - 160) < 1, (x, y, w, h)


def test_a_padded_crop_reaches_past_the_short_side(heatmap) -> None:  # noqa: ANN001
    x, y, w, h = heatmap.placement(list(crop_box(300, 200, "pad")), 300, 200, 160)
    assert w > 160 * 1.4 and y < -30 and abs(x + (w - 160) / 2) < 1 and abs(w - h) < 1, (x, y, w, h)


def test_colours_run_from_transparent_to_opaque_red(heatmap) -> None:  # noqa: ANN001
    assert heatmap.colour(0.0) == "rgba(0, 0, 255, 0.000)"
    assert heatmap.colour(1.0) == "rgba(255, 255, 0, 0.550)"
    assert heatmap.colour(2.0) == heatmap.colour(1.0) and heatmap.colour(-1) == heatmap.colour(0)
