"""What the person is told, where they acted: each panel has its own status line (polite) and error line
(assertive), the page's header one pair for global events (projects, storage), and one confirm dialog.

Every failure of an action ends in a `Feedback` as a sentence. TeachboxError carries a message written for people,
so it is shown as it is; anything else is a bug or a browser refusal, shown as a short line (the traceback goes to
the developer console only). Keeping it in one class means no panel can forget to catch, and no traceback ever
reaches the page. A message in the panel acted on is seen where the eyes are, which a line at the top of the page
is not once the person has scrolled to the Train or Results panel.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from teachbox.browser.convert import JsException, js_message
from teachbox.errors import TeachboxError
from teachbox.ui import dom

if TYPE_CHECKING:
    from teachbox.api import Api


class Feedback:
    """One place's status line (aria-live polite: progress and results) and error line (role=alert, assertive)."""

    def __init__(self, notice: dom.Node, alert: dom.Node, box: dom.Node, dismiss: dom.Node) -> None:
        self.notice, self.alert, self.box = notice, alert, box
        self.listeners = dom.Listeners()
        self.listeners.on(dismiss, "click", lambda _e: self.clear_error())

    @classmethod
    def page(cls) -> Feedback:
        """The header's notice and alert: for global events, and failures no panel owns."""
        return cls(dom.by_id("notice"), dom.by_id("alert"), dom.by_id("alert-box"), dom.by_id("alert-dismiss"))

    @classmethod
    def panel(cls, holder_id: str) -> Feedback:
        """A panel's own lines, built inside its `<div class="panel-messages" id=…>` (index.html places it)."""
        notice = dom.el("p", cls="panel-notice", aria_live="polite")
        alert = dom.el("p", role="alert", aria_live="assertive")
        dismiss = dom.el("button", "×", type="button", cls="icon-button", aria_label="Dismiss the message")
        box = dom.el("div", alert, dismiss, cls="panel-alert", hidden=True)
        dom.append(dom.by_id(holder_id), notice, box)
        return cls(notice, alert, box, dismiss)

    def listeners_for_actions(self) -> dom.Listeners:
        """Listeners whose handlers' failures are shown here."""
        return dom.Listeners(self.failure)

    def follow(self, api: Api, event: str, handler: Callable[[Any], Any]) -> None:
        """Subscribe to an API event with failures shown here. The API calls its listeners inside the operation
        that emits (a training, opening a project), which a failing panel must not fail."""
        api.on(event, lambda payload: dom.call_handler(handler, payload, report=self.failure))

    def error(self, message: str) -> None:
        """Show a failure. The text is replaced (not appended) so screen readers announce the new message."""
        self.alert.textContent = message
        self.box.hidden = False

    def clear_error(self) -> None:
        self.alert.textContent = ""
        self.box.hidden = True

    def say(self, message: str) -> None:
        """A polite status update: what just happened or what is going on. It replaces an earlier failure here: the
        person has moved on."""
        self.clear_error()
        self.notice.textContent = message

    def clear(self) -> None:
        """Forget both lines (another project is open: what was said was about the previous one)."""
        self.clear_error()
        self.notice.textContent = ""

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
