"""Class names <-> output indices, and the checks that decide whether a data set can be trained at all.

The model's output unit `i` means `labels[i]`; keeping labels in order of first appearance in the CSV makes that
mapping stable across reloads of the same file and matches what a person reading the CSV expects.
"""

from __future__ import annotations

from collections.abc import Iterable

from teachbox.errors import TeachboxError


class ClassIndex:
    """Ordered, de-duplicated class labels; label `labels[i]` is model output `i`."""

    def __init__(self, labels: Iterable[str] = ()) -> None:
        self._labels: list[str] = []
        self._positions: dict[str, int] = {}
        for label in labels:
            self.add(label)

    def add(self, label: str) -> int:
        """Register `label` if it is new and return its index."""
        position = self._positions.get(label)
        if position is None:
            position = len(self._labels)
            self._positions[label] = position
            self._labels.append(label)
        return position

    def index(self, label: str) -> int:
        """The output index of a known label (an unknown one is a user-visible mismatch, e.g. a new test CSV)."""
        try:
            return self._positions[label]
        except KeyError:
            raise TeachboxError(
                "unknown_label",
                f"The label {label!r} is not one of the classes this model knows: "
                f"{', '.join(map(repr, self._labels))}.",
                {"label": label, "classes": list(self._labels)},
            ) from None

    def rename(self, old: str, new: str) -> None:
        """Give a class a new name in place (its output index stays)."""
        position = self.index(old)
        if new != old and new in self._positions:
            raise TeachboxError("duplicate_label", f"There is already a class named {new!r}.", {"label": new})
        del self._positions[old]
        self._labels[position] = new
        self._positions[new] = position

    def insert(self, label: str, position: int) -> int:
        """Register `label` at `position` (clamped) if it is new, e.g. a deleted class put back where it was; later
        classes move down one output index. Returns its index."""
        if label not in self._positions:
            self._labels.insert(max(0, min(position, len(self._labels))), label)
            self._positions = {name: i for i, name in enumerate(self._labels)}
        return self._positions[label]

    def remove(self, label: str) -> None:
        """Drop a class; later classes move up one output index."""
        self._labels.pop(self.index(label))
        self._positions = {name: i for i, name in enumerate(self._labels)}

    @property
    def labels(self) -> list[str]:
        """A copy, so callers cannot reorder the mapping behind the model's back."""
        return list(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label: object) -> bool:
        return label in self._positions

    def counts(self, labels: Iterable[str]) -> dict[str, int]:
        """How many of `labels` fall in each class, in class order, with 0 for classes that have none."""
        totals = dict.fromkeys(self._labels, 0)
        for label in labels:
            totals[self._labels[self.index(label)]] += 1
        return totals


def check_trainable(counts: dict[str, int]) -> None:
    """Refuse data that cannot train a classifier, before any time is spent loading images.

    A softmax over one class always predicts that class, and a class without images can never be learned, so both
    are errors that name the offending classes rather than a training run that silently produces nonsense.
    """
    classes = list(counts)
    if not classes:
        raise TeachboxError(
            "no_classes",
            "Training needs at least two classes, but no labelled images were found. "
            "Check that the CSV has rows of the form `path,label`.",
            {"classes": []},
        )
    empty = [name for name, count in counts.items() if count <= 0]
    if empty:
        names = ", ".join(repr(name) for name in empty)
        raise TeachboxError(
            "empty_class",
            f"Class {names} has no usable images; add images for it or remove it." if len(empty) == 1
            else f"Classes {names} have no usable images; add images for them or remove them.",
            {"empty": empty, "classes": classes},
        )
    if len(classes) == 1:
        raise TeachboxError(
            "one_class",
            f"Training needs at least two classes; found only {classes[0]!r}. "
            "Add images with a second label.",
            {"classes": classes},
        )
