"""What the person is told: one alert region for failures, one status line for progress, one confirm dialog.

Every failure of an action ends here as a sentence. TeachboxError carries a message written for people, so it is
shown as it is; anything else is a bug or a browser refusal, shown as a short line (the traceback goes to the
developer console only). Keeping it in one place means no panel can forget to catch, and no traceback ever reaches
the page.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

from teachbox.browser.convert import JsException, js_message
from teachbox.errors import TeachboxError
from teachbox.ui import dom


class Feedback:
    """The alert region (role=alert, for failures) and the notice line (role=status, for progress and results)."""

    def __init__(self) -> None:
        self.box = dom.by_id("alert-box")
        self.alert = dom.by_id("alert")
        self.notice = dom.by_id("notice")
        self.listeners = dom.Listeners()
        self.listeners.on(dom.by_id("alert-dismiss"), "click", lambda _e: self.clear_error())

    def error(self, message: str) -> None:
        """Show a failure. The text is replaced (not appended) so screen readers announce the new message."""
        self.alert.textContent = message
        self.box.hidden = False

    def clear_error(self) -> None:
        self.alert.textContent = ""
        self.box.hidden = True

    def say(self, message: str) -> None:
        """A polite status update: what just happened or what is going on."""
        self.notice.textContent = message

    def failure(self, error: BaseException) -> None:
        """Turn any exception from an action into a sentence for the person."""
        if isinstance(error, TeachboxError):
            if error.code == "cancelled":
                self.say(error.message)
            else:
                self.error(error.message)
            return
        dom.console_error("".join(traceback.format_exception(error)))
        if isinstance(error, JsException):
            self.error(f"The browser refused: {js_message(error)}")
        else:
            self.error(f"Something went wrong inside Teachbox ({type(error).__name__}: {error}). "
                       "The details are in the browser's developer console.")


class ConfirmDialog:
    """An in-page <dialog> for destructive actions (window.confirm blocks the page and cannot be styled or tested)."""

    def __init__(self) -> None:
        self.dialog = dom.by_id("confirm-dialog")
        self.title = dom.by_id("confirm-title")
        self.text = dom.by_id("confirm-text")
        self.ok = dom.by_id("confirm-ok")
        self._pending: asyncio.Future | None = None
        self.listeners = dom.Listeners()
        self.listeners.on(self.ok, "click", lambda _e: self.dialog.close("ok"))
        self.listeners.on(dom.by_id("confirm-cancel"), "click", lambda _e: self.dialog.close("cancel"))
        self.listeners.on(self.dialog, "close", self._closed)

    async def ask(self, title: str, text: str, ok_label: str = "Delete") -> bool:
        """Show the dialog and wait for the answer; Escape, Cancel or a second question count as no."""
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(False)
        self.title.textContent = title
        self.text.textContent = text
        self.ok.textContent = ok_label
        self.dialog.returnValue = ""
        self._pending = asyncio.get_event_loop().create_future()
        if not self.dialog.open:
            self.dialog.showModal()
        return await self._pending

    def _closed(self, _event: Any) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(str(self.dialog.returnValue) == "ok")
