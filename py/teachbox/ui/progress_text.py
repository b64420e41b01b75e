"""How a progress line reads, shared by the Train panel and the Data panel's line (ui/load_progress.py)."""

from __future__ import annotations

import math

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
