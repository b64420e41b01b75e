"""Grouped, stratified k-fold assignment for the accuracy study (bench/accuracy.py): pure, unit-tested.

Cross-validation is only honest when near-identical images cannot sit on both sides: all cells of one malaria
patient go to the same fold (the group is `teachbox.data.splits.patient_id`). Within that constraint the folds
should look alike — the same number of images of each class — or a fold's accuracy measures its class mix rather
than the model. Everything is driven by one `random.Random(seed)` over sorted inputs, so a seed names the folds.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence


def grouped_folds(labels: Sequence[str], groups: Sequence[str], k: int, seed: int) -> list[int]:
    """The fold (0 … k-1) of every item, with each group's items all in one fold and per-class counts balanced.

    Groups are placed largest first (a big patient placed last could not be balanced against), in a seeded random
    order among groups of equal size, each into the fold where it brings the per-class counts closest to their
    targets (class total / k); ties go to the fold holding fewer items, then the lower index. With one item per
    group this is a plain stratified k-fold: per-class counts of any two folds differ by at most one.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be a whole number of at least 2, not {k!r}")
    if len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries but labels has {len(labels)}")
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    if len(members) < k:
        raise ValueError(f"{len(members)} groups cannot fill {k} folds")
    order = sorted(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda group: -len(members[group]))  # stable: the shuffle decides among equal sizes
    totals = Counter(labels)
    target = {label: count / k for label, count in totals.items()}
    counts = [Counter() for _ in range(k)]
    fold_of = [0] * len(labels)
    for group in order:
        classes = Counter(labels[i] for i in members[group])
        fold = min(range(k), key=lambda f: (_cost(counts[f], classes, target), sum(counts[f].values()), f))
        counts[fold].update(classes)
        for index in members[group]:
            fold_of[index] = fold
    return fold_of


def _cost(fold: Counter, adding: Counter, target: dict[str, float]) -> float:
    """How much adding a group's class counts to a fold raises the fold's squared distance from its targets."""
    return sum((fold[label] + n - target[label]) ** 2 - (fold[label] - target[label]) ** 2
               for label, n in adding.items())


def split_rows(rows: Sequence[tuple[str, str]], fold_of: Sequence[int], fold: int
               ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training rows, test rows) of one fold: the test rows are that fold, the training rows all the others."""
    train = [row for row, f in zip(rows, fold_of) if f != fold]
    test = [row for row, f in zip(rows, fold_of) if f == fold]
    return train, test
