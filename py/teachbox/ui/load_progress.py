"""The Data panel's progress line while images are added: how far, how long is left, and Stop.

Why in the Data panel as well as the Train panel's bar (which shows every embedding, whoever started it): a person
importing a folder of 30,000 images acted in the Data panel and looks there, and a Stop out of sight is no Stop.
The line sticks to the top of the panel while it scrolls. It shows only the UI's own additions (DataOps wraps each
in `running`; a script's `loadDataset` has its own `cancel()`), and only those of SHOW_FROM images or more: a few
camera frames or dropped files are read before a line could be read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import to_py
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback
from teachbox.ui.progress_text import Announcer, time_left

SHOW_FROM = 100


class LoadProgress:
    """`<div id="data-progress">`: a bar, a line of text, a live region for screen readers and a Stop button."""

    def __init__(self, api: Api, feedback: Feedback) -> None:
        self.api = api
        self.box = dom.by_id("data-progress")
        self.bar = dom.by_id("data-progress-bar")
        self.text = dom.by_id("data-progress-text")
        self.announcer = Announcer(dom.by_id("data-progress-live"))
        self.stop_button = dom.by_id("data-stop")
        self.what = ""
        self.active = False
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.stop_button, "click", lambda _e: self.stop())
        feedback.follow(api, "progress", self._progress)

    @contextlib.asynccontextmanager
    async def running(self, what: str) -> AsyncIterator[None]:
        """Follow the block's additions (shown once SHOW_FROM images are on their way); `what` names them
        ("Reading images for “Cats”")."""
        self.what, self.active = what, True
        self.stop_button.disabled = False
        try:
            yield
        finally:
            self.active = False
            self.box.hidden = True

    def stop(self) -> None:
        if self.api.cancel():
            self.stop_button.disabled = True
            self._say("Stopping after this batch; the images already in the project stay.", force=True)

    def _progress(self, payload: Any) -> None:
        event = to_py(payload)
        phase = str(event.get("phase", ""))
        total = int(event.get("total", 0))
        if not self.active or self.stop_button.disabled or total < SHOW_FROM:
            return
        self.box.hidden = False
        if phase == "saving":
            self.bar.removeAttribute("value")
            self._say(f"Saving {total:,} images in this browser…", force=True)
        elif phase == "embedding":
            done = int(event.get("done", 0))
            self.bar.max, self.bar.value = max(1, total), done
            self._say(f"{self.what}: {done:,} of {total:,}{time_left(event.get('eta_s'))}", force=done == total)

    def _say(self, text: str, force: bool = False) -> None:
        """The visible line on every batch; screen readers hear it throttled (progress_text.Announcer)."""
        self.text.textContent = text
        self.announcer.say(text, force)
