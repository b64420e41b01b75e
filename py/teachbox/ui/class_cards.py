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
from teachbox.ui import dom, thumbs
from teachbox.ui.camera import Capture
from teachbox.ui.feedback import ConfirmDialog, Feedback
from teachbox.ui.folders import next_class_name
from teachbox.ui.intake import DataOps, plural, quoted

PAGE_SIZE = 24
DEFAULT_CLASSES = ("Class 1", "Class 2")
_card_ids = itertools.count(1)


class ClassList:
    """The list of class cards and the Add class button."""

    def __init__(self, api: Api, feedback: Feedback, data: DataOps, capture: Capture, confirm: ConfirmDialog) -> None:
        self.api = api
        self.feedback = feedback
        self.data = data
        self.capture = capture
        self.confirm = confirm
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
        self._generation = 0
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
        self.thumbs = dom.el("ul", cls="thumbs")
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
            self.capture_slot, self.empty_text, self.thumbs, self.pager,
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
        on(self.prev_button, "click", lambda _e: self._page(-1))
        on(self.next_button, "click", lambda _e: self._page(1))
        on(self.thumbs, "click", self._thumb_clicked)

    # -- state -> DOM --------------------------------------------------------------------------------------------
    def _name_buttons(self) -> None:
        """Icon-like and repeated buttons say which class they act on."""
        for button, verb in ((self.rename_button, "Rename"), (self.clear_button, "Remove all images of"),
                             (self.delete_button, "Delete"), (self.add_button, "Add images to"),
                             (self.webcam_button, "Record from the webcam into")):
            button.setAttribute("aria-label", f"{verb} class {self.label}")
        self.pager.setAttribute("aria-label", f"Pages of {self.label}")
        self.thumbs.setAttribute("aria-label", f"Images of {self.label}")
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
        uids = [sample["uid"] for sample in page]
        if uids != self._shown:
            self._shown = uids
            self._draw(page)

    def _draw(self, page: list[dict[str, Any]]) -> None:
        """Replace the thumbnails of this page; drawing runs in the background, newest page wins."""
        self._generation += 1
        generation = self._generation
        dom.clear(self.thumbs)
        canvases = []
        for sample in page:
            name = str(sample["name"])
            canvas = thumbs.canvas(name)
            remove = dom.el("button", "×", type="button", cls="thumb-remove", data_uid=sample["uid"],
                            aria_label=f"Remove {name} from {self.label}")
            self.thumbs.append(dom.el("li", canvas, remove, cls="thumb-item", title=name))
            canvases.append((canvas, sample["source"]))

        async def paint() -> None:
            for canvas, source in canvases:
                if generation != self._generation:
                    return
                await thumbs.draw(canvas, source)

        dom.spawn(paint())

    # -- actions -------------------------------------------------------------------------------------------------
    async def _files_chosen(self) -> None:
        files = dom.js_list(self.file_input.files)
        self.file_input.value = ""  # choosing the same files again must fire `change` again
        await self.owner.data.add(self.label, files, self.owner.feedback)

    def _page(self, step: int) -> None:
        self.offset = max(0, self.offset + step * PAGE_SIZE)
        self.update(self.count)
        pressed, other = (self.prev_button, self.next_button) if step < 0 else (self.next_button, self.prev_button)
        if pressed.disabled:  # first or last page reached: keep the keyboard focus on a usable button
            other.focus()

    def _thumb_clicked(self, event: Any) -> None:
        button = event.target.closest("button[data-uid]")
        if is_nullish(button):
            return
        uid = str(button.dataset.uid)
        item = button.closest("li")
        following = item.nextElementSibling or item.previousElementSibling
        index = self._shown.index(uid) if uid in self._shown else 0
        self.api.remove_samples([uid])
        self.owner.feedback.say(f"Removed an image from {quoted(self.label)}.")
        self.owner.refresh()
        self._focus_thumb(index if following else index - 1)

    def _focus_thumb(self, index: int) -> None:
        """After removing a thumbnail, focus the next one's × (or the Add button) so keyboard users keep going."""
        buttons = dom.js_list(self.thumbs.querySelectorAll("button[data-uid]"))
        if buttons:
            buttons[max(0, min(index, len(buttons) - 1))].focus()
        else:
            self.add_button.focus()

    async def _clear(self) -> None:
        if not self.count:
            return
        if not await self.owner.confirm.ask(f"Clear {quoted(self.label)}?",
                                            f"Remove all {plural(self.count, 'image')} of {quoted(self.label)}? "
                                            "The class itself stays.", "Remove images"):
            return
        uids = [sample["uid"] for sample in self.api.samples({"label": self.label, "offset": 0, "limit": self.count})]
        self.api.remove_samples(uids)
        self.owner.feedback.say(f"Removed {plural(len(uids), 'image')} from {quoted(self.label)}.")
        self.owner.refresh()
        self.add_button.focus()

    async def _delete(self) -> None:
        detail = f" and its {plural(self.count, 'image')}" if self.count else ""
        if not await self.owner.confirm.ask(f"Delete {quoted(self.label)}?",
                                            f"Delete the class {quoted(self.label)}{detail}? This cannot be undone.",
                                            "Delete class"):
            return
        label = self.label
        self.api.delete_class(label)
        self.owner.feedback.say(f"Deleted the class {quoted(label)}.")
        self.owner.refresh()
        self.owner.add_button.focus()

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
        self._generation += 1
        if self.owner.capture.is_open_in(self):
            self.owner.capture.close()
        self.listeners.clear()
        self.node.remove()
