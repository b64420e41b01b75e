"""The Undo toast: a delete made in the page can be taken back for a while, so deleting asks no question first.

One toast at a time: the next delete replaces it. It says what was removed in a status region (screen readers
read it), stays SHOW_S seconds, and longer while the pointer or the keyboard focus is on it. Its Undo button, like
Ctrl+Z (⌘Z) anywhere outside a text field, puts back exactly what was removed (Api.undo: the images at their places,
their class, their embeddings) and hands the focus to what came back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from teachbox.api import Api
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.intake import plural, quoted

SHOW_S = 10.0  # long enough to notice and reach the button; the toast stays while it is hovered or focused
SAID_S = 4.0  # how long "Put back …" stays after an undo
EDITABLE = ("INPUT", "TEXTAREA", "SELECT")

Restored = Callable[[dict[str, Any]], None]


class UndoToast:
    """index.html's #undo-toast, offered by each place that deletes (class cards, Results)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.node = dom.by_id("undo-toast")
        self.text = dom.by_id("undo-text")
        self.button = dom.by_id("undo-button")
        self._token: str | None = None
        self._restored: Restored | None = None
        self._generation = 0
        self._expired = False
        self._hovered = False
        self.listeners = dom.Listeners(self._failed)
        on = self.listeners.on
        on(self.button, "click", lambda _e: self.undo())
        on(dom.document, "keydown", self._key)
        on(self.node, "pointerenter", lambda _e: self._hover(True))
        on(self.node, "pointerleave", lambda _e: self._hover(False))
        on(self.node, "focusout", lambda _e: dom.spawn(self._left()))

    def offer(self, token: str | None, message: str, restored: Restored) -> None:
        """Show `message` with Undo for the deletion `token` (from removeSamples/deleteClass); `restored(result)`
        puts the focus on what an undo brings back."""
        if token is None:
            return
        self._token, self._restored = token, restored
        self.text.textContent = message
        self.button.hidden = False
        self._show(SHOW_S)

    def hide(self) -> None:
        """Another project is open: its deletions are final, so there is nothing left to offer."""
        self._generation += 1
        self._token = self._restored = None
        self.node.hidden = True

    def undo(self) -> None:
        token, restored = self._token, self._restored
        if token is None or restored is None:
            return
        result = self.api.undo(token)  # refused (busy: a training runs)? The offer stays, to try again
        self._token = self._restored = None
        back = result["restored"]
        what = plural(back["samples"], "image")
        if back["classes"]:
            label = quoted(back["classes"][0])
            what = f"the class {label} with {what}" if back["samples"] else f"the class {label}"
        self.button.hidden = True
        self.text.textContent = f"Put back {what}."
        restored(result)
        self._show(SAID_S)

    # -- showing and hiding --------------------------------------------------------------------------------------
    def _show(self, seconds: float) -> None:
        self._generation += 1
        self._expired = False
        self.node.hidden = False
        dom.spawn(self._expire(self._generation, seconds))

    async def _expire(self, generation: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if generation == self._generation:
            self._expired = True
            self._hide_if_free()

    def _hide_if_free(self) -> None:
        if self._expired and not self._hovered and not self.node.contains(dom.document.activeElement):
            self.hide()

    def _hover(self, inside: bool) -> None:
        self._hovered = inside
        self._hide_if_free()

    async def _left(self) -> None:
        await asyncio.sleep(0)  # focusout fires before the focus lands elsewhere
        self._hide_if_free()

    def _key(self, event: Any) -> None:
        """Ctrl+Z / ⌘Z undoes the offered deletion, except in a text field (which has its own undo)."""
        if str(event.key).lower() != "z" or not (event.ctrlKey or event.metaKey) or event.shiftKey or event.altKey:
            return
        target = event.target
        if self._token is None or str(target.tagName) in EDITABLE or target.isContentEditable:
            return
        event.preventDefault()
        self.undo()

    def _failed(self, error: BaseException) -> None:
        """An undo that cannot be done is said in the toast, where the person pressed Undo; Undo stays while the
        deletion can still be undone (e.g. after a training that was running)."""
        if isinstance(error, TeachboxError) and error.code == "nothing_to_undo":
            self._token = self._restored = None
        self.button.hidden = self._token is None
        self.text.textContent = error.message if isinstance(error, TeachboxError) else \
            f"The deletion could not be undone ({type(error).__name__})."
        self._show(SHOW_S)
