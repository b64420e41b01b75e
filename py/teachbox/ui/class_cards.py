"""Class cards: name, count, paged thumbnails, and every edit a person makes to a class or a sample.

The cards mirror `Api.project()` and `Api.samples()` and are refreshed from the API's `dataset` event, so they stay
right whoever changed the data (this UI, the console, or a script calling window.teachbox). A card keeps its DOM
(and so the keyboard focus) across refreshes; only a page of thumbnails whose samples changed is redrawn.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import is_nullish
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.camera import Capture
from teachbox.ui.feedback import Feedback
from teachbox.ui.folders import next_class_name
from teachbox.ui.intake import DataOps, plural, quoted
from teachbox.ui.thumb_grid import ThumbGrid
from teachbox.ui.undo_toast import UndoToast

PAGE_SIZE = 24
ONE_ROW = 5  # thumbnails a phone shows in a collapsed card's row without scrolling: more get a "Show all" toggle
DEFAULT_CLASSES = ("Class 1", "Class 2")
_card_ids = itertools.count(1)


class ClassList:
    """The list of class cards and the Add class button."""

    def __init__(self, api: Api, feedback: Feedback, data: DataOps, capture: Capture, undo: UndoToast) -> None:
        self.api = api
        self.feedback = feedback
        self.data = data
        self.capture = capture
        self.undo = undo
        self.root = dom.by_id("class-list")
        self.add_button = dom.by_id("add-class")
        self.cards: dict[str, ClassCard] = {}
        self._by_id: dict[str, ClassCard] = {}
        self._refresh_queued = False
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.add_button, "click", lambda _e: self.add_class())
        api.on("dataset", lambda _payload: self.schedule_refresh())

    def ensure_defaults(self) -> None:
        """A first visit starts with two empty classes to fill, as the smallest useful classifier has two."""
        if not self.api.project()["classes"]:
            for label in DEFAULT_CLASSES:
                self.api.add_class(label)
        self.refresh()

    def add_class(self) -> None:
        label = next_class_name(self.api.project()["classes"])
        self.api.add_class(label)
        self.refresh()
        card = self.cards[label]
        card.begin_rename()
        self.feedback.say(f"Added the class {quoted(label)}; type its name and press Enter.")

    def schedule_refresh(self) -> None:
        """Coalesce bursts of dataset events (a CSV load, several edits) into one refresh."""
        if not self._refresh_queued:
            self._refresh_queued = True
            dom.spawn(self._refresh_soon(), self.feedback.failure)

    async def _refresh_soon(self) -> None:
        await asyncio.sleep(0)
        self._refresh_queued = False
        self.refresh()

    def refresh(self) -> None:
        project = self.api.project()
        labels, counts = project["classes"], project["counts"]
        for label in [label for label in self.cards if label not in labels]:
            card = self.cards.pop(label)
            self._by_id.pop(card.card_id, None)
            card.destroy()
        for position, label in enumerate(labels):
            card = self.cards.get(label)
            if card is None:
                card = ClassCard(self, label)
                self.cards[label] = card
                self._by_id[card.card_id] = card
            children = self.root.children
            if position >= int(children.length) or not children[position].isSameNode(card.node):
                reference = children[position] if position < int(children.length) else None
                self.root.insertBefore(card.node, reference)
            card.update(int(counts.get(label, 0)))

    def renamed(self, card: ClassCard, old: str, new: str) -> None:
        """Keep the card (its page, its focus) under its new name."""
        self.cards.pop(old, None)
        self.cards[new] = card

    def _restored_card(self, result: dict[str, Any]) -> ClassCard | None:
        """The card of what an undo (Api.undo's `result`) put back: its class, as named now (renamed since?)."""
        self.refresh()
        back = result["restored"]
        labels = back["classes"] or back["labels"]
        return self.cards.get(labels[0]) if labels else None

    def show_sample(self, result: dict[str, Any], uid: str) -> None:
        """An undo put the image `uid` back: its card turns to its page and focuses it."""
        card = self._restored_card(result)
        if card is not None:
            card.show_sample(uid)

    def focus_card(self, result: dict[str, Any], button: str) -> None:
        """An undo put back a class (or its images): the focus goes to the button that removed them."""
        card = self._restored_card(result)
        if card is not None:
            (card.delete_button if button == "delete" else card.clear_button).focus()

    def card_for(self, node: Any) -> ClassCard | None:
        """The card a DOM node belongs to (drop targets)."""
        found = node.closest("[data-card]") if not is_nullish(node) else None
        if found is None or is_nullish(found):
            return None
        return self._by_id.get(str(found.dataset.card))


class ClassCard:
    """One class: header (name, count, rename/clear/delete), add buttons, the webcam capture when opened here,
    paged thumbnails."""

    def __init__(self, owner: ClassList, label: str) -> None:
        self.owner = owner
        self.api = owner.api
        self.label = label
        self.count = 0
        self.offset = 0
        self.card_id = str(next(_card_ids))
        self._shown: list[str] = []
        self.listeners = owner.feedback.listeners_for_actions()
        self.renaming = False

        self.name = dom.el("span", cls="class-name-text", text=label)
        self.heading = dom.el("h3", self.name, cls="class-name", id=f"class-{self.card_id}-name")
        self.count_text = dom.el("span", cls="count")
        self.rename_button = dom.el("button", "Rename", type="button", cls="small-button")
        self.clear_button = dom.el("button", "Clear", type="button", cls="small-button")
        self.delete_button = dom.el("button", "Delete", type="button", cls="small-button danger-text")
        self.file_input = dom.el("input", type="file", multiple=True, accept="image/*", hidden=True,
                                 cls="class-files")
        self.add_button = dom.el("button", "Add images…", type="button", cls="add-images")
        self.webcam_button = dom.el("button", "Webcam", type="button", cls="webcam", aria_expanded="false")
        self.capture_slot = dom.el("div", cls="capture-slot")
        self.grid = ThumbGrid(self.listeners, self._remove, self._page)
        self.grid.node.id = f"class-{self.card_id}-thumbs"
        # On a phone a card shows one scrolling row of its thumbnails, so Train is near (app.css); this shows all.
        self.rows_button = dom.el("button", "Show all", type="button", cls="small-button rows-toggle",
                                  aria_expanded="false", aria_controls=self.grid.node.id)
        self.prev_button = dom.el("button", "‹ Prev", type="button", cls="small-button")
        self.next_button = dom.el("button", "Next ›", type="button", cls="small-button")
        self.page_text = dom.el("span", cls="page-text")
        self.pager = dom.el("nav", self.prev_button, self.page_text, self.next_button, cls="pager")
        self.empty_text = dom.el("p", "No images yet. Add some, or drop files or folders here.", cls="empty muted")
        self.node = dom.el(
            "li",
            dom.el("div", self.heading, self.count_text,
                   dom.el("div", self.rename_button, self.clear_button, self.delete_button, cls="card-actions"),
                   cls="card-head"),
            dom.el("div", self.add_button, self.file_input, self.webcam_button, cls="card-add"),
            self.capture_slot, self.empty_text, self.grid.node, self.rows_button, self.pager,
            cls="class-card", data_card=self.card_id, aria_labelledby=f"class-{self.card_id}-name",
        )
        self._name_buttons()

        on = self.listeners.on
        on(self.add_button, "click", lambda _e: self.file_input.click())
        on(self.file_input, "change", lambda _e: self._files_chosen())
        on(self.webcam_button, "click", lambda _e: owner.capture.toggle(self))
        on(self.rename_button, "click", lambda _e: self.begin_rename())
        on(self.clear_button, "click", lambda _e: self._clear())
        on(self.delete_button, "click", lambda _e: self._delete())
        on(self.prev_button, "click", lambda _e: self._page_button(-1))
        on(self.next_button, "click", lambda _e: self._page_button(1))
        on(self.rows_button, "click", lambda _e: self._toggle_rows())

    # -- state -> DOM --------------------------------------------------------------------------------------------
    def _name_buttons(self) -> None:
        """Icon-like and repeated buttons say which class they act on."""
        for button, verb in ((self.rename_button, "Rename"), (self.clear_button, "Remove all images of"),
                             (self.delete_button, "Delete"), (self.add_button, "Add images to"),
                             (self.webcam_button, "Record from the webcam into")):
            button.setAttribute("aria-label", f"{verb} class {self.label}")
        self.pager.setAttribute("aria-label", f"Pages of {self.label}")
        self.grid.named(self.label)
        self.owner.capture.named(self)

    def update(self, count: int) -> None:
        self.count = count
        self.count_text.textContent = plural(count, "image")
        self.clear_button.disabled = count == 0
        last_page = max(0, (count - 1) // PAGE_SIZE) * PAGE_SIZE
        self.offset = min(self.offset, last_page)
        self.pager.hidden = count <= PAGE_SIZE
        self.prev_button.disabled = self.offset == 0
        self.next_button.disabled = self.offset + PAGE_SIZE >= count
        if count:
            self.page_text.textContent = f"{self.offset + 1}–{min(count, self.offset + PAGE_SIZE)} of {count}"
        self.empty_text.hidden = count > 0
        page = self.api.samples({"label": self.label, "offset": self.offset, "limit": PAGE_SIZE})
        self.rows_button.hidden = len(page) <= ONE_ROW
        uids = [sample["uid"] for sample in page]
        if uids != self._shown:
            self._shown = uids
            self.grid.show(page)

    def _toggle_rows(self) -> None:
        expanded = not self.node.classList.contains("expanded")
        self.node.classList.toggle("expanded", expanded)
        self.rows_button.setAttribute("aria-expanded", "true" if expanded else "false")
        self.rows_button.textContent = "Show one row" if expanded else "Show all"

    # -- actions -------------------------------------------------------------------------------------------------
    async def _files_chosen(self) -> None:
        files = dom.js_list(self.file_input.files)
        self.file_input.value = ""  # choosing the same files again must fire `change` again
        await self.owner.data.add(self.label, files, self.owner.feedback)

    def _page(self, step: int) -> bool:
        """Show the previous (-1) or next (1) page; False when there is none."""
        offset = max(0, self.offset + step * PAGE_SIZE)
        if offset == self.offset or offset >= self.count:
            return False
        self.offset = offset
        self.update(self.count)
        return True

    def _page_button(self, step: int) -> None:
        self._page(step)
        pressed, other = (self.prev_button, self.next_button) if step < 0 else (self.next_button, self.prev_button)
        if pressed.disabled:  # first or last page reached: keep the keyboard focus on a usable button
            other.focus()

    def _remove(self, uid: str, index: int) -> None:
        """Remove one image (its × or the Delete key); the focus stays in the grid at the same place."""
        result = self.api.remove_samples([uid])
        self.owner.refresh()
        if not self.grid.focus_at(index):
            self.add_button.focus()
        self.owner.undo.offer(result["undo"], f"Removed an image from {quoted(self.label)}.",
                              lambda restored: self.owner.show_sample(restored, uid))

    def _clear(self) -> None:
        if not self.count:
            return
        uids = [sample["uid"] for sample in self.api.samples({"label": self.label, "offset": 0, "limit": self.count})]
        result = self.api.remove_samples(uids)
        self.owner.refresh()
        self.add_button.focus()
        self.owner.undo.offer(result["undo"], f"Removed {plural(len(uids), 'image')} from {quoted(self.label)}.",
                              lambda restored: self.owner.focus_card(restored, "clear"))

    def _delete(self) -> None:
        label = self.label
        result = self.api.delete_class(label)
        self.owner.refresh()
        self.owner.add_button.focus()
        self.owner.undo.offer(result["undo"], f"Deleted the class {quoted(label)}.",
                              lambda restored: self.owner.focus_card(restored, "delete"))

    def show_sample(self, uid: str) -> None:
        """Turn to the page that holds the image `uid` and focus it (an undo brought it back)."""
        uids = [s["uid"] for s in self.api.samples({"label": self.label, "offset": 0, "limit": self.count})]
        if uid in uids:
            self.offset = uids.index(uid) // PAGE_SIZE * PAGE_SIZE
            self.update(self.count)
            self.grid.focus_uid(uid)

    # -- inline rename ------------------------------------------------------------------------------------------
    def begin_rename(self) -> None:
        """Swap the name for a text field: Enter saves, Escape cancels, leaving the field saves."""
        if self.renaming:
            return
        self.renaming = True
        field = dom.el("input", type="text", cls="rename-input", value=self.label, maxlength="100",
                       aria_label=f"New name for class {self.label}", spellcheck="false", autocomplete="off")
        field_listeners = self.owner.feedback.listeners_for_actions()

        def finish(save: bool, keep_open_on_error: bool = True) -> None:
            if not self.renaming:
                return
            if save and str(field.value).strip() != self.label:
                try:
                    self._rename(str(field.value))
                except TeachboxError as error:
                    self.owner.feedback.error(error.message)
                    if keep_open_on_error:
                        field.focus()
                        return
            self.renaming = False
            field_listeners.clear()
            self.heading.replaceChildren(self.name)
            if keep_open_on_error:
                self.rename_button.focus()

        def key(event: Any) -> None:
            if str(event.key) == "Enter":
                event.preventDefault()
                finish(True)
            elif str(event.key) == "Escape":
                event.preventDefault()
                finish(False)

        field_listeners.on(field, "keydown", key)
        # Leaving the field saves; a name that cannot be used then falls back to the old one (no focus trap).
        field_listeners.on(field, "blur", lambda _e: finish(True, keep_open_on_error=False))
        self.heading.replaceChildren(field)
        field.focus()
        field.select()

    def _rename(self, new: str) -> None:
        old = self.label
        self.api.rename_class(old, new)
        self.label = new.strip()  # the core keeps labels exactly as given, trimmed (labels_csv.check_label)
        self.owner.renamed(self, old, self.label)
        self.name.textContent = self.label
        self._name_buttons()
        self.owner.feedback.say(f"Renamed {quoted(old)} to {quoted(self.label)}.")

    def destroy(self) -> None:
        self.grid.show([])  # stops drawing
        if self.owner.capture.is_open_in(self):
            self.owner.capture.close()
        self.listeners.clear()
        self.node.remove()
