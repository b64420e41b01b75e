"""The "why" overlay: an explain() map (Grad-CAM, model/classifier.py) drawn over a thumbnail.

Thumbnails (thumbs.py) show an image's centred square; the map covers the crop the model saw (`box`, fractions of
the image as cropAndResize takes them). The map is drawn into a canvas of its own size (7 × 7 for MobileNet) and
scaled onto the thumbnail with smoothing, placed where that crop falls on it, so the overlay is exact for the
default centre crop and still in the right place for "pad" and "squash".
"""

from __future__ import annotations

from typing import Any

OPACITY = 0.55  # of the hottest cell; cold cells are transparent so the image stays readable


def colour(value: float) -> str:
    """Cold → transparent blue, hot → opaque red-yellow: a map reads at a glance without hiding the image."""
    v = min(1.0, max(0.0, value))
    red = round(255 * min(1.0, 2 * v))
    green = round(255 * max(0.0, 2 * v - 1))
    blue = round(255 * max(0.0, 1 - 2 * v))
    return f"rgba({red}, {green}, {blue}, {OPACITY * v:.3f})"


def placement(box: list[float], width: int, height: int, size: int) -> tuple[float, float, float, float]:
    """(x, y, w, h) on a `size`-px thumbnail of the image's centred square where the model's crop `box` falls."""
    y1, x1, y2, x2 = box
    side = min(width, height)
    scale = size / side
    left, top = x1 * (width - 1), y1 * (height - 1)
    right, bottom = x2 * (width - 1), y2 * (height - 1)
    return ((left - (width - side) / 2) * scale, (top - (height - side) / 2) * scale,
            (right - left + 1) * scale, (bottom - top + 1) * scale)


def draw(target: Any, explained: dict[str, Any]) -> None:
    """Overlay `explained` (an explain() result) on the thumbnail already drawn in the canvas `target`."""
    from teachbox.ui import dom  # here, not above: colour() and placement() are unit-tested on CPython

    heat = explained["map"]
    rows, cols = len(heat), len(heat[0]) if heat else 0
    if not rows or not cols:
        return
    small = dom.el("canvas", width=str(cols), height=str(rows))
    cells = dom.context_2d(small)
    for i, row in enumerate(heat):
        for j, value in enumerate(row):
            cells.fillStyle = colour(float(value))
            cells.fillRect(j, i, 1, 1)
    x, y, w, h = placement(explained["box"], int(explained["width"]), int(explained["height"]), int(target.width))
    context = dom.context_2d(target)
    context.imageSmoothingEnabled = True
    context.drawImage(small, x, y, w, h)
