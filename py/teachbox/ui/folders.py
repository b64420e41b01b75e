"""Turning folders and picked files into classes: plain Python, no browser (unit-testable on CPython).

People organise images the way every image data set does: one folder per class, or one folder holding a folder per
class, or a `path,label` CSV beside an image folder. These rules decide which file goes to which class, in one place
for the three ways files arrive (drag and drop of folders, `<input webkitdirectory>`, the CSV + folder import).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from teachbox.data.labels_csv import Row

CSV_NAME = "labels.csv"  # the name a data set's own labels file has (build.py --dataset, ../shared, exports)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".gif", ".webp", ".bmp", ".avif")


def is_image_name(name: str) -> bool:
    """By extension: folders carry .DS_Store, Thumbs.db, CSVs and notes that should be skipped, not reported."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not posixpath.basename(name).startswith("._")


def normalise(path: str) -> str:
    """A relative path as one comparable string: `/` separators, no `./`, no doubled slashes."""
    cleaned = posixpath.normpath(path.replace("\\", "/").strip())
    return "" if cleaned == "." else cleaned.lstrip("/")


def strip_top(path: str) -> str:
    """`photos/cats/1.png` → `cats/1.png`: webkitRelativePath starts with the name of the folder that was chosen."""
    parts = normalise(path).split("/", 1)
    return parts[1] if len(parts) == 2 else ""


@dataclass
class Folder:
    """A dropped or chosen folder: its name and its files with paths relative to it (`a/b.png`)."""

    name: str
    files: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Plan:
    """Files per class label (in first-seen order) and how many non-image files were left out."""

    classes: dict[str, list[Any]] = field(default_factory=dict)
    skipped: int = 0

    def add(self, label: str, item: Any) -> None:
        self.classes.setdefault(label, []).append(item)

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.classes.values())


def plan_folders(folders: Iterable[Folder]) -> Plan:
    """Classes from folders: a folder with images directly inside is one class named after it (images in its
    sub-folders join it); a folder with only sub-folders is a data set, and each sub-folder becomes a class."""
    plan = Plan()
    for folder in folders:
        images = [(normalise(path), item) for path, item in folder.files if is_image_name(path)]
        plan.skipped += len(folder.files) - len(images)
        has_direct = any("/" not in path for path, _ in images)
        for path, item in images:
            if has_direct or "/" not in path:
                plan.add(folder.name, item)
            else:
                plan.add(path.split("/", 1)[0], item)
    return plan


def plan_into(label: str, folders: Iterable[Folder], loose: Iterable[tuple[str, Any]]) -> Plan:
    """Everything dropped onto one class goes to that class, whatever folders it came in."""
    plan = Plan()
    pairs = [pair for folder in folders for pair in folder.files] + list(loose)
    for name, item in pairs:
        if is_image_name(name):
            plan.add(label, item)
        else:
            plan.skipped += 1
    return plan


def folder_from_picked(paths_and_files: Iterable[tuple[str, Any]]) -> Folder:
    """An <input webkitdirectory> selection (webkitRelativePath, File) as a Folder named after the chosen folder."""
    pairs = list(paths_and_files)
    name = normalise(pairs[0][0]).split("/", 1)[0] if pairs else "folder"
    return Folder(name, [(strip_top(path), item) for path, item in pairs])


@dataclass
class CsvMatch:
    """The CSV rows matched to picked files, grouped by label; rows whose image was not among the files."""

    plan: Plan
    missing: list[Row]


def csv_folder_prefix(folder: Folder, csv_name: str, csv_size: int, size_of: Callable[[Any], int]) -> str:
    """Where the CSV sits inside the chosen folder (its paths are relative to it): found by name and size among the
    folder's files; the folder's top level when it is not in there (the CSV was kept elsewhere)."""
    places = [posixpath.dirname(path) for path, item in folder.files
              if posixpath.basename(path) == csv_name and size_of(item) == csv_size]
    return places[0] if len(places) == 1 else ""


def labels_csv_in(folder: Folder) -> tuple[str, Any] | None:
    """The `labels.csv` a folder carries, if it is a labelled data set, as (its path in the folder, its file): the
    shallowest one (a data set's CSV sits at its top, beside its image folders), or None when there is none or two at
    the same depth (which one is meant would be a guess). Then the CSV, not the folder names, says which image is
    which class."""
    found = [(path, item) for path, item in ((normalise(p), i) for p, i in folder.files)
             if posixpath.basename(path) == CSV_NAME]
    found.sort(key=lambda pair: (pair[0].count("/"), pair[0]))
    if not found or (len(found) > 1 and found[0][0].count("/") == found[1][0].count("/")):
        return None
    return found[0]


def match_csv(rows: Iterable[Row], folder: Folder, prefix: str = "") -> CsvMatch:
    """Pair each CSV row with the file at `prefix/row.path` inside the chosen folder."""
    by_path = {normalise(path): item for path, item in folder.files}
    plan, missing = Plan(), []
    for row in rows:
        item = by_path.get(normalise(posixpath.join(prefix, row.path)))
        if item is None:
            missing.append(row)
        else:
            plan.add(row.label, item)
    return CsvMatch(plan, missing)


def next_class_name(existing: Iterable[str]) -> str:
    """`Class N` with the smallest N not taken, so a new class never collides with an existing one."""
    taken = set(existing)
    number = 1
    while f"Class {number}" in taken:
        number += 1
    return f"Class {number}"
