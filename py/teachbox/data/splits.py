"""Deterministic train/validation splits that keep every class (and, optionally, every patient) honest.

Stratifying per class keeps a rare class from vanishing out of the validation set; splitting by group (for the
malaria cells: the patient a blood smear came from) keeps near-identical cells of one patient from sitting on both
sides, which would otherwise make validation accuracy look better than the model really is. Everything is driven by
one `random.Random(seed)` and iterates in sorted order, so a seed reproduces the same split on CPython and Pyodide.
"""

from __future__ import annotations

import math
import posixpath
import random
from collections import Counter
from collections.abc import Iterable, Sequence

from teachbox.errors import TeachboxError

MAX_VAL_FRACTION = 0.9
_NOISE = 1e-9


def _check_fraction(val_fraction: float) -> float:
    """Reject fractions that would leave too little to train on (NaN and booleans included)."""
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 <= val_fraction <= MAX_VAL_FRACTION
    ):
        raise TeachboxError(
            "val_fraction",
            f"The validation fraction must be a number from 0 to {MAX_VAL_FRACTION}, got {val_fraction!r}.",
            {"val_fraction": repr(val_fraction), "max": MAX_VAL_FRACTION},
        )
    return float(val_fraction)


def _by_class(labels: Sequence[int], exclude: Iterable[int] = ()) -> dict[int, list[int]]:
    """Item indices per class, classes in sorted order so the random stream is consumed the same way every run."""
    skipped = set(exclude)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        if index not in skipped:
            members.setdefault(label, []).append(index)
    return {label: members[label] for label in sorted(members)}


def _val_count(size: int, fraction: float) -> int:
    """Rounded share of one class, but at least one validation and one training item when the class has two."""
    if fraction == 0 or size < 2:
        return 0
    return min(max(math.floor(size * fraction + 0.5), 1), size - 1)


def _split_items(labels: Sequence[int], fraction: float, rng: random.Random) -> list[int]:
    val: list[int] = []
    for members in _by_class(labels).values():
        rng.shuffle(members)
        val.extend(members[: _val_count(len(members), fraction)])
    return val


def _split_groups(labels: Sequence[int], groups: Sequence[str], fraction: float, rng: random.Random) -> list[int]:
    """Assign whole groups to validation so each class's validation count approaches `fraction` of the class.

    Groups are visited in random order (the seed, not group size, decides who validates) and are toggled between
    training and validation while that brings the per-class counts closer to target. No move may take a class's
    last training item, or the last validation item of a class spread over two or more groups, and such a class
    without a validation item is given its cheapest group first.
    """
    if fraction == 0:
        return []
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    order = sorted(members)
    rng.shuffle(order)
    per_group = {group: Counter(labels[i] for i in members[group]) for group in order}
    totals = Counter(labels)
    target = {label: count * fraction for label, count in totals.items()}
    spread = Counter(label for group in order for label in per_group[group])
    needs_val = {label for label, n_groups in spread.items() if n_groups >= 2}
    val_counts: Counter[int] = Counter()
    in_val: set[str] = set()

    def sign_of(group: str) -> int:
        """+1 moves a training group into validation, -1 moves a validation group back."""
        return -1 if group in in_val else +1

    def change(group: str) -> float:
        """How much toggling `group` changes the total distance of the validation counts from their targets."""
        sign = sign_of(group)
        return sum(
            abs(val_counts[label] + sign * n - target[label]) - abs(val_counts[label] - target[label])
            for label, n in per_group[group].items()
        )

    def keeps_training(group: str) -> bool:
        """Moving this training group to validation leaves every class a training item."""
        return all(totals[label] - val_counts[label] > n for label, n in per_group[group].items())

    def keeps_validation(group: str) -> bool:
        """Moving this validation group back leaves every class that can validate a validation item."""
        return all(val_counts[label] > n or label not in needs_val for label, n in per_group[group].items())

    def helps(group: str) -> bool:
        """An allowed toggle that lowers the distance beyond float noise (so no two toggles can undo each other)."""
        allowed = keeps_validation(group) if group in in_val else keeps_training(group)
        return allowed and change(group) < -_NOISE

    def toggle(group: str) -> None:
        sign = sign_of(group)
        (in_val.add if sign > 0 else in_val.discard)(group)
        for label, n in per_group[group].items():
            val_counts[label] += sign * n

    def settle() -> None:
        """Toggle helpful groups until none helps; each toggle strictly lowers the distance, so this ends."""
        improved = True
        while improved:
            improved = False
            for group in order:
                if helps(group):
                    toggle(group)
                    improved = True

    settle()  # from an empty validation set, the first sweep is a greedy pass in random order
    for label in sorted(needs_val):
        candidates = [g for g in order if g not in in_val and per_group[g][label] and keeps_training(g)]
        if not val_counts[label] and candidates:
            toggle(min(candidates, key=change))
    settle()
    return [index for group in order if group in in_val for index in members[group]]


def stratified_split(
    labels: Sequence[int],
    val_fraction: float,
    seed: int,
    groups: Sequence[str] | None = None,
) -> tuple[list[int], list[int]]:
    """Split item indices into sorted (train, val) lists, stratified per class and reproducible for a seed.

    Without `groups`, each class with two or more items gets about `val_fraction` of them (at least one) in
    validation and keeps at least one for training. With `groups` (one id per item, e.g. `patient_id(path)`), no
    group is on both sides; each class still keeps a training item and gets a validation item whenever its items
    come from two or more groups, and per-class fractions are approximate because groups move as a whole.
    """
    fraction = _check_fraction(val_fraction)
    if groups is not None and len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries but labels has {len(labels)}")
    rng = random.Random(seed)
    if groups is None:
        val = _split_items(labels, fraction, rng)
    else:
        val = _split_groups(labels, groups, fraction, rng)
    chosen = set(val)
    return [i for i in range(len(labels)) if i not in chosen], sorted(val)


def patient_id(path: str) -> str:
    """The patient a malaria cell image came from: the file-name prefix before `_IMG`, else the file stem.

    NIH malaria names look like `C100P61ThinF_IMG_20150918_144104_cell_165.png`; the part before `_IMG` identifies
    the patient's smear. Other data sets fall back to the stem, which makes every image its own group.
    """
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    prefix, marker, _ = name.partition("_IMG")
    if marker and prefix:
        return prefix
    return posixpath.splitext(name)[0] or name


def subset_per_class(
    labels: Sequence[int],
    n_per_class: int,
    seed: int,
    exclude: Iterable[int] = (),
) -> list[int]:
    """Sorted indices of up to `n_per_class` random items of each class, skipping the indices in `exclude`.

    Used to train quickly on a balanced sample (and to keep it clear of the validation indices passed as
    `exclude`); a class with fewer items contributes all of them.
    """
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 0:
        raise TeachboxError(
            "subset_size",
            f"The number of images per class must be a whole number of at least 0, got {n_per_class!r}.",
            {"n_per_class": repr(n_per_class)},
        )
    rng = random.Random(seed)
    chosen: list[int] = []
    for members in _by_class(labels, exclude).values():
        rng.shuffle(members)
        chosen.extend(members[:n_per_class])
    return sorted(chosen)
