"""The progress line's wording and the throttle that keeps screen readers from hearing every batch."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from teachbox.ui import progress_text
from teachbox.ui.progress_text import ANNOUNCE_EVERY_S, Announcer, time_left


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""), (math.inf, ""), (0.4, " — almost done"), (42.2, " — about 42 s left"), (600, " — about 10 min left")])
def test_time_left_reads_as_the_end_of_a_sentence(seconds: float | None, text: str) -> None:
    assert time_left(seconds) == text


def test_announcer_lets_a_line_through_at_most_every_few_seconds_unless_forced(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_text.time, "monotonic", lambda: clock[0])
    live = SimpleNamespace(textContent="")
    announcer = Announcer(live)
    announcer.say("1 of 10")
    assert live.textContent == "1 of 10", "the first line is heard at once"
    clock[0] += ANNOUNCE_EVERY_S / 2
    announcer.say("2 of 10")
    assert live.textContent == "1 of 10", "a line soon after is shown but not announced"
    announcer.say("Stopped.", force=True)
    assert live.textContent == "Stopped."
    clock[0] += ANNOUNCE_EVERY_S
    announcer.say("3 of 10")
    assert live.textContent == "3 of 10"
