"""The page's boot glue (site/boot.js) as Python sees it: the status line, the log, `teachbox.ready`, and the
state of the offline copy and of Python's start."""

from __future__ import annotations

import js  # type: ignore[import-not-found]

from teachbox.browser.convert import to_js, to_py


class Boot:
    """window.teachboxBoot, made by boot.js before Python starts."""

    def __init__(self) -> None:
        self._glue = js.window.teachboxBoot

    def status(self, text: str, fraction: float | None = None) -> None:
        """The start-up's status line: what is happening, and how far (0–1) when that is known."""
        self._glue.status(text, fraction)

    def log(self, text: str) -> None:
        self._glue.log(text)

    def ready(self, info: dict) -> None:
        self._glue.ready(to_js(info))

    def fail(self, message: str) -> None:
        self._glue.fail(message)

    def offline_state(self) -> dict:
        """The offline copy's state as boot.js tracks it: {serviceWorker, controlled, build, files, bytes,
        persisted}. It changes after `ready` (precaching starts then), so it is read on every call."""
        return to_py(self._glue.offlineState())

    def interpreter_state(self) -> dict:
        """How Python started ({start: "snapshot" | "fresh", loadMs, snapshot, note}: site/interpreter.mjs); the
        snapshot entry changes after `ready` (one is made then), so it is read on every call."""
        return to_py(self._glue.interpreterState())
