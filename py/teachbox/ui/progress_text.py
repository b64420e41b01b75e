"""How a progress line reads, shared by the Train panel and the Data panel's line (ui/load_progress.py)."""

from __future__ import annotations

import math
import time
from typing import Any

ANNOUNCE_EVERY_S = 2.0  # screen readers hear a progress line at most this often


def time_left(seconds: float | None) -> str:
    """` — about 3 min left`: the `eta_s` of a progress event as the end of a sentence ("" before there is one)."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 1:
        return " — almost done"
    if seconds < 90:
        return f" — about {seconds:.0f} s left"
    return f" — about {seconds / 60:.0f} min left"


class Announcer:
    """A live region that hears a progress line at most every ANNOUNCE_EVERY_S: a screen reader reading every batch
    would never finish a sentence. `force` for the lines that must be heard (a start, an end, a stop)."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self._last = 0.0

    def say(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= ANNOUNCE_EVERY_S:
            self._last = now
            self.live.textContent = text
