"""A page of a class's thumbnails as one keyboard stop: a grid whose cells are the images (roving tabindex).

Why: with a focusable × on every thumbnail, reaching the Train panel took ~72 Tabs with two classes of images. Here
Tab enters the grid once (at the image focused last) and the next Tab leaves it; Arrow keys move among the images
(Up and Down by a row of the layout), Home and End go to the first and last, Page Up and Page Down turn the page,
and Delete or Backspace removes the focused image (the card offers undo). The × on each image is for pointers: it
shows on hover and focus, and always on devices without hover (app.css), and is no Tab stop of its own. A grid
(one row of cells, wrapped by the layout) rather than a listbox: a cell may hold a button, so a screen reader
on a touch screen, which has no Delete key, still finds each image's Remove button.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.browser.convert import is_nullish
from teachbox.ui import dom, thumbs

KEYS_HINT = "thumbs-keys"  # index.html's hidden sentence that says which keys work in a grid


class ThumbGrid:
    """The thumbnails of one page. `remove(uid, index)` is asked to delete an image (by × or key); `turn(step)`
    to show the previous (-1) or next (1) page."""

    def __init__(self, listeners: dom.Listeners, remove: Callable[[str, int], None],
                 turn: Callable[[int], bool]) -> None:
        self.row = dom.el("div", cls="thumbs-row", role="row")
        self.node = dom.el("div", self.row, cls="thumbs", role="grid", aria_describedby=KEYS_HINT)
        self._remove = remove
        self._turn = turn
        self._label = ""
        self._current: str | None = None  # uid of the image that holds the grid's one tab stop
        self._generation = 0
        listeners.on(self.node, "click", self._clicked)
        listeners.on(self.node, "keydown", self._key)
        listeners.on(self.node, "focusin", self._focused)

    def named(self, label: str) -> None:
        self.node.setAttribute("aria-label", f"Images of {label}")
        self._label = label

    # -- drawing -------------------------------------------------------------------------------------------------
    def show(self, page: list[dict[str, Any]]) -> None:
        """Replace the thumbnails with this page's; drawing runs in the background, newest page wins."""
        self._generation += 1
        generation = self._generation
        dom.clear(self.row)
        canvases = []
        for sample in page:
            name = str(sample["name"])
            canvas = thumbs.canvas(name)
            remove = dom.el("button", "×", type="button", cls="thumb-remove", tabindex="-1",
                            aria_label=f"Remove {name} from {self._label}")
            self.row.append(dom.el("div", canvas, remove, cls="thumb-item", role="gridcell", title=name,
                                   data_uid=sample["uid"], tabindex="-1", aria_selected="false"))
            canvases.append((canvas, sample["source"]))
        uids = [str(sample["uid"]) for sample in page]
        self._rove(self._current if self._current in uids else (uids[0] if uids else None))

        async def paint() -> None:
            for canvas, source in canvases:
                if generation != self._generation:
                    return
                await thumbs.draw(canvas, source)

        dom.spawn(paint())

    def _items(self) -> list[Any]:
        return dom.js_list(self.row.children)

    def _rove(self, uid: str | None) -> Any:
        """Make the image `uid` the grid's tab stop (and its selected cell); returns its item."""
        self._current = uid
        found = None
        for item in self._items():
            mine = str(item.dataset.uid) == uid
            item.tabIndex = 0 if mine else -1
            item.setAttribute("aria-selected", "true" if mine else "false")
            found = item if mine else found
        return found

    # -- focus ---------------------------------------------------------------------------------------------------
    def focus_at(self, index: int) -> bool:
        """Focus the image at `index` of the page (clamped); False when the page is empty."""
        items = self._items()
        if not items:
            return False
        item = items[max(0, min(index, len(items) - 1))]
        self._rove(str(item.dataset.uid)).focus()  # focus scrolls it into view (a collapsed row scrolls sideways)
        return True

    def focus_uid(self, uid: str) -> bool:
        """Focus the image `uid` if this page shows it."""
        uids = [str(item.dataset.uid) for item in self._items()]
        return uid in uids and self.focus_at(uids.index(uid))

    def _focused(self, event: Any) -> None:
        item = event.target.closest("[role=gridcell]")
        if not is_nullish(item):
            self._rove(str(item.dataset.uid))

    # -- input ---------------------------------------------------------------------------------------------------
    def _clicked(self, event: Any) -> None:
        button = event.target.closest(".thumb-remove")
        if is_nullish(button):
            return
        item = button.closest("[role=gridcell]")
        self._remove(str(item.dataset.uid), self._index(item))

    def _index(self, item: Any) -> int:
        return next(i for i, other in enumerate(self._items()) if other.isSameNode(item))

    def _columns(self, items: list[Any]) -> int:
        """Images per row as laid out now (a phone's collapsed card shows one scrolling row)."""
        top = items[0].offsetTop
        return sum(1 for item in items if item.offsetTop == top)

    def _key(self, event: Any) -> None:
        item = event.target.closest("[role=gridcell]")
        if is_nullish(item) or event.altKey or event.ctrlKey or event.metaKey:
            return
        key = str(event.key)
        items = self._items()
        index = self._index(item)
        moves = {"ArrowLeft": index - 1, "ArrowRight": index + 1, "Home": 0, "End": len(items) - 1}
        if key in ("ArrowUp", "ArrowDown"):
            columns = self._columns(items)
            moves[key] = index + (columns if key == "ArrowDown" else -columns)
        if key in moves:
            target = moves[key]
            if 0 <= target < len(items):
                self.focus_at(target)
        elif key in ("PageUp", "PageDown"):
            if self._turn(-1 if key == "PageUp" else 1):
                self.focus_at(0)
        elif key in ("Delete", "Backspace"):
            self._remove(str(item.dataset.uid), index)
        else:
            return
        event.preventDefault()
