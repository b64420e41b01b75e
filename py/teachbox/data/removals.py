"""Deletions that can be undone: what a delete took out of the open project, kept so it can be put back exactly.

Why: deleting is one click (a thumbnail's ×, the Delete key in a grid, Delete in the results), so it must not be
final. A delete takes effect and is saved at once, as before; what it removed (the samples with their image
sources, their places, the class and its place, their cached embeddings) stays here, in memory, so an undo puts it
back and the next save writes it to storage again. Only this page's memory holds it: a reload before the undo lets
the delete stand. Pure data, so it is tested on CPython.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from teachbox.data.project import Sample
from teachbox.errors import TeachboxError

LIMIT = 10  # deletions kept: enough to undo a few steps, few enough that removed images do not pile up in memory
_tokens = itertools.count(1)


@dataclass
class Removal:
    """One delete: `samples` as Project.take returns them, the class it deleted with its index (if it deleted one),
    and the cached feature rows of the samples as FeatureStore.take returns them."""

    samples: list[tuple[int, Sample]]
    class_place: tuple[int, str] | None = None
    features: list[tuple[str, str, Any]] = field(default_factory=list)
    token: str = field(default_factory=lambda: f"undo-{next(_tokens)}")

    def summary(self) -> dict[str, Any]:
        """What the delete removed, for the API and the Undo toast."""
        return {"undo": self.token, "samples": len(self.samples),
                "classes": [self.class_place[1]] if self.class_place else [],
                "labels": list(dict.fromkeys(sample.label for _, sample in self.samples))}


class Removals:
    """The open project's deletions that can still be undone, newest last."""

    def __init__(self) -> None:
        self._kept: list[Removal] = []

    def keep(self, removal: Removal) -> None:
        self._kept = [*self._kept, removal][-LIMIT:]

    def take(self, token: str | None = None) -> Removal:
        """The deletion named by `token` (the newest if None), no longer undoable once taken."""
        for i in range(len(self._kept) - 1, -1, -1):
            if token is None or self._kept[i].token == token:
                return self._kept.pop(i)
        raise TeachboxError("nothing_to_undo", "There is no deletion to undo (only the last few deletions of the "
                                               "open project can be undone, until the page is reloaded).",
                            {"undo": token})

    def renamed(self, old: str, new: str) -> None:
        """A class was renamed: images deleted from it go back under the new name. A deleted class is not the one
        renamed (that is another class by the same name, made since), so its images keep their class."""
        for removal in self._kept:
            if removal.class_place is not None:
                continue
            for _, sample in removal.samples:
                if sample.label == old:
                    sample.label = new

    def clear(self) -> None:
        """Another project is open, or this one was reset: its deletions are final."""
        self._kept = []
