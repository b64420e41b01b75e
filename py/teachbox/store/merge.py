"""Several tabs on one project: what a save writes when storage changed since this tab last read it.

Why a merge and not a snapshot: each tab holds the project in memory, and two tabs saving whole snapshots in turn
lose each other's work (the last writer wins). A save therefore applies *this tab's changes* to the manifest storage
holds at that moment, inside the transaction that writes it (project_db.py), so no other tab's save can come between
the read and the write. This tab's changes are the difference between `base` (the manifest its memory was last
reconciled with: what it last wrote or read) and `mine` (its memory now); everything else stays as stored.

The rules, which make concurrent edits add up instead of overwrite:
- A sample this tab added is added; one it removed is removed; one it moved to another class is moved, if it is
  still stored (a sample another tab removed stays removed: its image is gone with it).
- A removal removes only what this tab had seen: a sample another tab added meanwhile survives a class deletion
  here, and so does its class (it then holds just that sample). Stale state never resurrects anything, since only
  differences are written and a sample or class this tab did not change is taken from storage.
- This tab's additions go where this tab has them: before the next sample (class) this tab has that is stored, or
  at the end. So a deletion undone here puts its images and class back in their places in storage too, and new
  images, which this tab appends, come after everything stored, as before.
- A class rename is replayed on storage (the `renames` this tab made since `base`, in order), so images another tab
  added to the old name follow it to the new one.
- The name, settings, input size and model are this tab's where it changed them, else storage's. The model itself
  is one record per project: the later of two trainings replaces the earlier, as it would in one tab, and an edit
  never replaces or deletes a model trained in another tab.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, TypeVar

from teachbox.errors import TeachboxError
from teachbox.store.manifest import ProjectRecord, SampleRecord

Renames = list[tuple[str, str]]
T = TypeVar("T")


def merge(base: ProjectRecord | None, mine: ProjectRecord, theirs: ProjectRecord | None, renames: Renames,
          now: float) -> ProjectRecord:
    """The manifest to store: `theirs` (storage now) with this tab's changes from `base` to `mine` applied.

    `base` None: this tab never stored nor read the project (an import being saved); `theirs` None: storage has no
    such project. Both None: the project is new and `mine` is all of it; only `theirs` None: another tab deleted it,
    and a save must not bring it back (project_deleted).
    """
    if theirs is None:
        if base is not None:
            raise TeachboxError("project_deleted", "This project was deleted in another tab, so this change was not "
                                                   "saved.")
        return replace(mine, updated=now)
    if base is None:
        base = ProjectRecord(mine.id, "", mine.created, mine.created)
    base, theirs = _renamed(base, renames), _renamed(theirs, renames)
    samples = _merge_samples(base.samples, mine.samples, theirs.samples)
    classes = _merge_classes(base.classes, mine.classes, theirs.classes, samples)
    model_changed = mine.model != base.model
    return ProjectRecord(
        theirs.id, _pick(base.name, mine.name, theirs.name), theirs.created, now, classes, samples,
        _pick(base.settings, mine.settings, theirs.settings),
        max(0, theirs.feature_bytes + mine.feature_bytes - base.feature_bytes),
        mine.model_bytes if model_changed else theirs.model_bytes,
        _pick(base.input_size, mine.input_size, theirs.input_size),
        mine.model if model_changed else theirs.model)


def same_content(a: ProjectRecord, b: ProjectRecord) -> bool:
    """Whether two manifests hold the same project (sizes and times aside): when a save's merge differs from this
    tab's memory, another tab changed the project and this one reads it back."""
    def content(record: ProjectRecord) -> tuple[Any, ...]:
        return (record.name, record.classes, [(s.uid, s.label) for s in record.samples], record.settings,
                record.input_size, record.model)

    return content(a) == content(b)


def _pick(base: Any, mine: Any, theirs: Any) -> Any:
    """A single value: this tab's if it changed it, else storage's."""
    return mine if mine != base else theirs


def _renamed(record: ProjectRecord, renames: Renames) -> ProjectRecord:
    """`record` with the renames replayed in order (a rename onto a class that exists merges the two)."""
    if not renames:
        return record

    def name(label: str) -> str:
        for old, new in renames:
            if label == old:
                label = new
        return label

    return replace(record, classes=list(dict.fromkeys(name(c) for c in record.classes)),
                   samples=[_labelled(s, name(s.label)) for s in record.samples])


def _labelled(sample: SampleRecord, label: str) -> SampleRecord:
    """`sample` under `label` (itself when unchanged; built directly: dataclasses.replace is ~10× slower, and a
    rename touches every sample of a 30,000-image manifest twice)."""
    return sample if sample.label == label else SampleRecord(sample.uid, label, sample.name, sample.line, sample.size)


def _merge_samples(base: list[SampleRecord], mine: list[SampleRecord],
                   theirs: list[SampleRecord]) -> list[SampleRecord]:
    """Stored samples with this tab's removals and moves applied, in stored order, and this tab's additions in their
    places (`_placed`)."""
    before = {s.uid: s.label for s in base}
    now = {s.uid: s for s in mine}
    merged = []
    for stored in theirs:
        mine_now = now.get(stored.uid)
        if mine_now is None:
            if stored.uid not in before:  # added elsewhere (or never seen here): kept
                merged.append(stored)
        elif mine_now.label != stored.label and (stored.uid not in before or mine_now.label != before[stored.uid]):
            merged.append(_labelled(stored, mine_now.label))  # moved here (or added in both): this tab's class
        else:
            merged.append(stored)
    stored_uids = {s.uid for s in theirs}
    added = {s.uid for s in mine if s.uid not in before and s.uid not in stored_uids}
    return _placed(merged, mine, added, lambda s: s.uid)


def _merge_classes(base: list[str], mine: list[str], theirs: list[str], samples: list[SampleRecord]) -> list[str]:
    """Stored classes in their order, less those this tab deleted (unless a sample it had not seen still needs
    one), the classes this tab added in their places (`_placed`), then any class a merged sample names that is not
    listed yet."""
    removed = set(base) - set(mine)
    used = {s.label for s in samples}
    classes = [c for c in theirs if c not in removed or c in used]
    classes = _placed(classes, mine, {c for c in mine if c not in base and c not in classes}, lambda c: c)
    classes += [label for label in dict.fromkeys(s.label for s in samples) if label not in classes]
    return classes


def _placed(merged: list[T], mine: list[T], added: set[Hashable], key: Callable[[T], Hashable]) -> list[T]:
    """`merged` with the items of `mine` whose keys are in `added` inserted where `mine` has them: each before the
    next item of `mine` that `merged` holds, or at the end when none follows."""
    kept = {key(item) for item in merged}
    ahead_of: dict[Hashable, list[T]] = {}
    pending: list[T] = []
    for item in mine:
        name = key(item)
        if name in added:
            pending.append(item)
        elif name in kept and pending:
            ahead_of[name], pending = pending, []
    placed: list[T] = []
    for item in merged:
        placed += ahead_of.get(key(item), [])
        placed.append(item)
    return placed + pending
