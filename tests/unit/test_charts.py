"""The Train panel's line charts drawn on a recording canvas (CPython): every axis label stays inside the canvas."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from teachbox.ui import charts
from teachbox.ui.charts import LineChart, Series, epoch_ticks

CHAR_PX = 7  # the recording context's width of one character


class RecordingContext:
    """A 2D context that keeps what fillText wrote, where, and with which alignment."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, float, str]] = []
        self.textAlign = "start"

    def fillText(self, text: str, x: float, _y: float) -> None:
        self.texts.append((text, x, self.textAlign))

    def measureText(self, text: str) -> Any:
        return SimpleNamespace(width=CHAR_PX * len(text))

    def __getattr__(self, _name: str) -> Any:
        return lambda *_args: None  # every other drawing call: nothing to record


class RecordingCanvas:
    def __init__(self, width: int, height: int) -> None:
        self.clientWidth, self.clientHeight = width, height
        self.width, self.height = width, height
        self.context = RecordingContext()

    def getContext(self, _kind: str) -> RecordingContext:
        return self.context


@pytest.mark.parametrize("epochs", [9, 50, 120, 1000])
def test_the_last_epoch_label_is_inside_the_canvas(monkeypatch: pytest.MonkeyPatch, epochs: int) -> None:
    monkeypatch.setattr(charts, "_dash", lambda pattern: pattern)  # no JS array off the browser
    canvas = RecordingCanvas(320, 180)
    values = [1 / (i + 1) for i in range(epochs)]
    LineChart(canvas, percent=False).draw([Series("training", "#000", values)], epochs, 3, 1.0)
    labels = [(text, x) for text, x, align in canvas.context.texts if align == "center"]
    assert [text for text, _ in labels] == [str(tick) for tick in epoch_ticks(epochs)]
    for text, x in labels:
        half = CHAR_PX * len(text) / 2
        assert x - half >= 0 and x + half <= canvas.clientWidth, f"label {text} at {x} is cut off"
