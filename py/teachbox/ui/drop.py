"""Drag and drop of files and folders anywhere on the page.

Where it lands decides what it means: on a class card, every image in it joins that class; on the preview's drop
zone, the first image is classified; anywhere else, a folder holding a `labels.csv` is imported through it (the
CSV import's report says what was skipped), and each other folder becomes a class named after it (a folder of
folders: each sub-folder). Folders are read through `DataTransferItem.webkitGetAsEntry()` and
FileSystemDirectoryReader, which must be asked repeatedly (it returns at most 100 entries per call). The entries
must be taken from the event synchronously (the browser empties the DataTransfer once the handler returns); reading
their files happens afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from teachbox.browser.convert import is_nullish
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.class_cards import ClassList
from teachbox.ui.feedback import Feedback
from teachbox.ui.folders import Folder, is_image_name, labels_csv_in, plan_folders, plan_into
from teachbox.ui.intake import DataOps


class DropZones:
    """Document-level drag and drop; the target element decides what a drop does."""

    def __init__(self, classes: ClassList, data: DataOps, feedback: Feedback,
                 classify: Callable[[Any], Awaitable[Any]], preview_feedback: Feedback,
                 labelled_folder: Callable[[Folder, tuple[str, Any]], Awaitable[None]]) -> None:
        self.classes = classes
        self.labelled_folder = labelled_folder  # CsvImport.import_labelled_folder
        self.data = data
        self.feedback = feedback  # the Classes panel's: most drops add images
        self.classify = classify
        self.preview_feedback = preview_feedback
        self.test_zone = dom.by_id("test-drop")
        self._highlighted: Any = None
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(dom.document, "dragover", self._over)
        self.listeners.on(dom.document, "dragleave", self._leave)
        self.listeners.on(dom.document, "drop", self._drop)

    @staticmethod
    def _has_files(event: Any) -> bool:
        transfer = event.dataTransfer
        return not is_nullish(transfer) and bool(transfer.types.includes("Files"))

    def _target(self, node: Any) -> Any:
        """The element a drop on `node` goes to: the test zone, a class card, or None (the page)."""
        if is_nullish(node) or not hasattr(node, "closest"):
            return None
        zone = node.closest("#test-drop")
        if not is_nullish(zone):
            return zone
        card = self.classes.card_for(node)
        return card.node if card is not None else None

    def _highlight(self, element: Any) -> None:
        if self._highlighted is not None and (element is None or not self._highlighted.isSameNode(element)):
            self._highlighted.classList.remove("drop-over")
        self._highlighted = element
        if element is not None:
            element.classList.add("drop-over")
        dom.document.body.classList.toggle("dragging", element is not None)

    def _over(self, event: Any) -> None:
        if not self._has_files(event):
            return
        event.preventDefault()  # allows the drop (and stops the browser from opening the file)
        event.dataTransfer.dropEffect = "copy"
        target = self._target(event.target)
        self._highlight(target if target is not None else dom.document.body)

    def _leave(self, event: Any) -> None:
        if is_nullish(event.relatedTarget):  # left the window
            self._highlight(None)

    def _drop(self, event: Any) -> Any:
        if not self._has_files(event):
            return None
        event.preventDefault()
        self._highlight(None)
        target = self._target(event.target)
        entries, loose = [], []
        for item in dom.js_list(event.dataTransfer.items):
            if str(item.kind) != "file":
                continue
            entry = item.webkitGetAsEntry() if hasattr(item, "webkitGetAsEntry") else None
            if entry is None or is_nullish(entry):
                file = item.getAsFile()
                if not is_nullish(file):
                    loose.append(file)
            else:
                entries.append(entry)
        if target is not None and target.isSameNode(self.test_zone):  # the Preview panel's own drop zone
            dom.spawn(self._handle(target, entries, loose), self.preview_feedback.failure)
            return None
        return self._handle(target, entries, loose)

    async def _handle(self, target: Any, entries: list[Any], loose_files: list[Any]) -> None:
        folders: list[Folder] = []
        loose: list[tuple[str, Any]] = [(str(f.name), f) for f in loose_files]
        for entry in entries:
            if entry.isDirectory:
                folders.append(Folder(str(entry.name), await read_folder(entry)))
            else:
                file = await entry_file(entry)
                loose.append((str(file.name), file))

        if target is not None and target.isSameNode(self.test_zone):
            images = [item for name, item in loose + [p for f in folders for p in f.files] if is_image_name(name)]
            if not images:
                raise TeachboxError("no_images", "Drop an image file (PNG, JPEG, GIF, WebP, BMP or AVIF) to test it.")
            await self.classify(images[0])
            return
        card = self.classes.card_for(target) if target is not None else None
        if card is not None:
            plan = plan_into(card.label, folders, loose)
            await self.data.add_plan(plan, self.feedback)
            return
        if loose and not folders:
            raise TeachboxError("drop_on_class", "Drop image files onto a class to add them to it. A folder "
                                                 "dropped anywhere on the page becomes a class named after it.")
        plain = []
        for folder in folders:
            found = labels_csv_in(folder)
            if found is None:
                plain.append(folder)
            else:
                await self.labelled_folder(folder, found)
        if plain:
            await self.data.add_plan(plan_folders(plain), self.feedback)
        if loose:
            self.feedback.error(f"{len(loose)} loose file(s) were not added: drop files onto a class to add them "
                                "there.")


def entry_file(entry: Any) -> Any:
    """FileSystemFileEntry.file() as a promise of the File."""
    return dom.callback_promise(lambda resolve, reject: entry.file(resolve, reject))


async def read_folder(directory: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every file below a FileSystemDirectoryEntry as (path relative to it, File)."""
    reader = directory.createReader()
    found: list[tuple[str, Any]] = []
    while True:
        batch = await dom.callback_promise(lambda resolve, reject: reader.readEntries(resolve, reject))
        children = list(batch)
        if not children:
            break
        for child in children:
            path = f"{prefix}{child.name}"
            if child.isDirectory:
                found += await read_folder(child, f"{path}/")
            else:
                found.append((path, await entry_file(child)))
    return found
