"""Small line charts on <canvas>: training and validation curves per epoch, drawn from progress events.

Hand-written (about a hundred lines) instead of a chart library: the page ships no third-party UI code, the CSP
forbids the inline styles most chart libraries inject, and two lines with axes and a legend are all that is needed.
This module only calls methods on the canvas it is given, so the tick arithmetic runs under CPython too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TRAIN_COLOUR = "#2457c5"
VALIDATION_COLOUR = "#c2410c"
AXIS_COLOUR = "#5b6476"
GRID_COLOUR = "#e4e7ee"
BEST_COLOUR = "#15803d"
FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 × 10^k steps) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def epoch_ticks(epochs: int, count: int = 6) -> list[int]:
    """Whole-number epoch ticks from 1 to `epochs`, at most about `count` of them."""
    step = max(1, math.ceil(epochs / count))
    ticks = list(range(1, epochs + 1, step))
    if ticks[-1] != epochs:
        if len(ticks) > 1 and epochs - ticks[-1] <= step / 2:
            ticks.pop()  # "11 12" would print on top of each other: the last epoch's label wins
        ticks.append(epochs)
    return ticks


@dataclass
class Series:
    name: str
    colour: str
    values: Sequence[float | None]
    dashed: bool = False


class LineChart:
    """One chart: y axis fixed to [0, 1] (`percent=True`) or fitted to the data (loss)."""

    def __init__(self, canvas: Any, percent: bool) -> None:
        self.canvas = canvas
        self.percent = percent

    def clear(self) -> None:
        """Blank the canvas (another project is open: the previous one's curves are not this one's)."""
        self.canvas.getContext("2d").clearRect(0, 0, int(self.canvas.width), int(self.canvas.height))

    def draw(self, series: list[Series], epochs: int, best_epoch: int | None, pixel_ratio: float) -> None:
        canvas = self.canvas
        width_css, height_css = int(canvas.clientWidth), int(canvas.clientHeight)
        if width_css <= 0 or height_css <= 0:
            return  # hidden (e.g. collapsed panel): drawn on the next event
        ratio = max(1.0, pixel_ratio)
        if int(canvas.width) != round(width_css * ratio) or int(canvas.height) != round(height_css * ratio):
            canvas.width, canvas.height = round(width_css * ratio), round(height_css * ratio)
        ctx = canvas.getContext("2d")
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0)
        ctx.clearRect(0, 0, width_css, height_css)
        ctx.font = FONT

        left, right, top, bottom = 44, 10, 26, 24
        plot_w, plot_h = width_css - left - right, height_css - top - bottom
        if plot_w < 20 or plot_h < 20:
            return
        values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
        if self.percent:
            y_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
        else:
            y_ticks = nice_ticks(0.0, max(values) if values else 1.0, 5)
        y_max = y_ticks[-1] or 1.0
        span = max(1, epochs - 1)

        def x_of(epoch: float) -> float:
            return left + (epoch - 1) / span * plot_w

        def y_of(value: float) -> float:
            return top + plot_h - min(max(value, 0.0), y_max) / y_max * plot_h

        ctx.lineWidth = 1
        ctx.textAlign, ctx.textBaseline = "right", "middle"
        for tick in y_ticks:
            y = round(y_of(tick)) + 0.5
            ctx.strokeStyle = GRID_COLOUR
            _line(ctx, left, y, left + plot_w, y)
            ctx.fillStyle = AXIS_COLOUR
            ctx.fillText(f"{tick * 100:.0f}%" if self.percent else f"{tick:g}", left - 6, y)
        ctx.textAlign, ctx.textBaseline = "center", "top"
        for tick in epoch_ticks(max(1, epochs)):
            half = float(ctx.measureText(str(tick)).width) / 2
            # The last epoch's label sits on the plot's right edge: kept whole inside the canvas, not cut in half.
            ctx.fillText(str(tick), min(x_of(tick), width_css - half - 1), top + plot_h + 6)
        ctx.strokeStyle = AXIS_COLOUR
        _line(ctx, left + 0.5, top, left + 0.5, top + plot_h)
        _line(ctx, left, top + plot_h + 0.5, left + plot_w, top + plot_h + 0.5)

        if best_epoch:
            ctx.strokeStyle = BEST_COLOUR
            ctx.setLineDash(_dash([2, 3]))
            x = round(x_of(best_epoch)) + 0.5
            _line(ctx, x, top, x, top + plot_h)
            ctx.setLineDash(_dash([]))

        ctx.lineWidth = 2
        for item in series:
            ctx.strokeStyle = item.colour
            ctx.setLineDash(_dash([6, 4] if item.dashed else []))
            ctx.beginPath()
            drawing = False
            points = [(i + 1, v) for i, v in enumerate(item.values) if v is not None and math.isfinite(v)]
            for epoch, value in points:
                if drawing:
                    ctx.lineTo(x_of(epoch), y_of(value))
                else:
                    ctx.moveTo(x_of(epoch), y_of(value))
                    drawing = True
            ctx.stroke()
            if len(points) == 1:  # one epoch is a point, not a line
                ctx.fillStyle = item.colour
                ctx.fillRect(x_of(points[0][0]) - 2, y_of(points[0][1]) - 2, 4, 4)
        ctx.setLineDash(_dash([]))

        ctx.textAlign, ctx.textBaseline = "left", "middle"
        x = left
        for item in series:
            ctx.strokeStyle = item.colour
            ctx.setLineDash(_dash([6, 4] if item.dashed else []))
            _line(ctx, x, 11, x + 18, 11)
            ctx.setLineDash(_dash([]))
            ctx.fillStyle = AXIS_COLOUR
            ctx.fillText(item.name, x + 22, 11)
            x += 22 + float(ctx.measureText(item.name).width) + 14


def _line(ctx: Any, x1: float, y1: float, x2: float, y2: float) -> None:
    ctx.beginPath()
    ctx.moveTo(x1, y1)
    ctx.lineTo(x2, y2)
    ctx.stroke()


def _dash(pattern: list[float]) -> Any:
    """setLineDash wants a JS array; converted lazily so this module imports without a browser."""
    from teachbox.browser.convert import to_js

    return to_js(pattern)
