"""Progress and state events for API clients (`teachbox.on(event, callback)`): pure, the delivery is injected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.errors import TeachboxError

EVENTS = ("progress", "trained", "dataset", "cancelled", "project", "storage", "settings", "restored")


class Emitter:
    """Keeps listeners per event; `deliver(callback, payload)` does the actual (JS) call."""

    def __init__(self, deliver: Callable[[Any, dict[str, Any]], None]) -> None:
        self._deliver = deliver
        self._listeners: dict[str, list[Any]] = {name: [] for name in EVENTS}

    def on(self, event: str, callback: Any) -> Callable[[], None]:
        """Register a listener; returns a function that removes it again."""
        if event not in self._listeners:
            raise TeachboxError("bad_option", f"Unknown event {event!r}; events are {', '.join(EVENTS)}.")
        self._listeners[event].append(callback)
        return lambda: self._listeners[event].remove(callback) if callback in self._listeners[event] else None

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        for callback in list(self._listeners[event]):
            self._deliver(callback, {"type": event, **payload})
