"""The samples a person has gathered, by class: pure data, independent of the browser.

A sample's `source` is whatever the page can read pixels from (a same-origin URL from a CSV, or a File/Blob the
person dropped in); this module never looks inside it, which keeps it testable on CPython.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from teachbox.data.class_index import ClassIndex
from teachbox.errors import TeachboxError

MAX_SAMPLES = 100_000
_uids = itertools.count(1)
_PAGE = uuid.uuid4().hex[:8]  # file uids must not collide with those of a project saved by an earlier page


@dataclass
class Sample:
    """One labelled image. `uid` keys the embedding cache: the URL for CSV rows, a unique id for files."""

    label: str
    source: Any
    name: str
    uid: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = self.source if isinstance(self.source, str) else f"file:{_PAGE}-{next(_uids)}:{self.name}"


@dataclass
class Project:
    """Samples in insertion order plus the class index that maps labels to model outputs."""

    samples: list[Sample] = field(default_factory=list)
    classes: ClassIndex = field(default_factory=ClassIndex)
    # The input size its images are read at: the one its last training used (224 until a training asks for
    # another, e.g. "auto"). Images added later are embedded at it, so training again re-embeds nothing.
    input_size: int | None = None

    @classmethod
    def restored(cls, classes: list[str], samples: list[Sample], input_size: int | None) -> Project:
        """A saved project: its classes in their order (empty ones too), then its samples."""
        project = cls(classes=ClassIndex(classes), input_size=input_size)
        project.add(samples)
        return project

    def copy(self) -> Project:
        """A copy to change tentatively (an addition that is only adopted once it has been saved)."""
        return Project(list(self.samples), ClassIndex(self.classes.labels), self.input_size)

    def add(self, samples: list[Sample]) -> None:
        if len(self.samples) + len(samples) > MAX_SAMPLES:
            raise TeachboxError("too_many_samples", f"A project holds at most {MAX_SAMPLES:,} images.")
        for sample in samples:
            self.classes.add(sample.label)
            self.samples.append(sample)

    def remove(self, uids: set[str]) -> None:
        """Drop samples (e.g. images that failed to decode); classes left empty stay listed so the user sees them."""
        self.samples = [s for s in self.samples if s.uid not in uids]

    def take(self, uids: set[str]) -> list[tuple[int, Sample]]:
        """Remove samples and return each with the index it had, in order: what `put_back` needs to undo this."""
        taken = [(i, s) for i, s in enumerate(self.samples) if s.uid in uids]
        self.remove(uids)
        return taken

    def put_back(self, taken: list[tuple[int, Sample]], class_place: tuple[int, str] | None = None) -> list[Sample]:
        """Undo `take` (and `take_class`): the class at its index, each sample at its index (clamped; exact when
        undone in reverse order). A sample whose uid is back already is left out. Returns the samples put back."""
        if class_place is not None:
            self.classes.insert(class_place[1], class_place[0])
        present = {s.uid for s in self.samples}
        back = [(i, s) for i, s in taken if s.uid not in present]
        if len(self.samples) + len(back) > MAX_SAMPLES:
            raise TeachboxError("too_many_samples", f"A project holds at most {MAX_SAMPLES:,} images.")
        for index, sample in back:
            self.classes.add(sample.label)
            self.samples.insert(index, sample)
        return [s for _, s in back]

    def add_class(self, label: str) -> None:
        if label in self.classes:
            raise TeachboxError("duplicate_label", f"There is already a class named {label!r}.", {"label": label})
        self.classes.add(label)

    def rename_class(self, old: str, new: str) -> None:
        self.classes.rename(old, new)
        for sample in self.samples:
            if sample.label == old:
                sample.label = new

    def take_class(self, label: str) -> tuple[int, list[tuple[int, Sample]]]:
        """Remove a class and its samples; returns the class's index and the samples as `take` does."""
        position = self.classes.index(label)
        taken = self.take({s.uid for s in self.samples if s.label == label})
        self.classes.remove(label)
        return position, taken

    def relabel(self, uids: set[str], label: str) -> int:
        """Move samples to another (existing or new) class; returns how many moved."""
        self.classes.add(label)
        moved = 0
        for sample in self.samples:
            if sample.uid in uids and sample.label != label:
                sample.label = label
                moved += 1
        return moved

    def page(self, label: str | None, offset: int, limit: int) -> list[Sample]:
        """A window of samples (of one class, or all) for UIs that show thousands of thumbnails a page at a time."""
        chosen = self.samples if label is None else [s for s in self.samples if s.label == label]
        return chosen[max(0, offset):max(0, offset) + max(0, limit)]

    def counts(self) -> dict[str, int]:
        return self.classes.counts(s.label for s in self.samples)

    def label_indices(self, samples: list[Sample] | None = None) -> list[int]:
        return [self.classes.index(s.label) for s in (self.samples if samples is None else samples)]

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes.labels, "counts": self.counts(), "samples": len(self.samples),
                "inputSize": self.input_size}
