"""Train/validation splits: stratified, reproducible, disjoint, and patient-aware on the malaria cells."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from teachbox.data.labels_csv import parse_labels_csv
from teachbox.errors import TeachboxError
from teachbox.data.splits import patient_id, stratified_split, subset_per_class

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

# 100 of class 0, 50 of class 1, 7 of class 2, 2 of class 3, 1 of class 4, interleaved.
LABELS = [0] * 100 + [1] * 50 + [2] * 7 + [3] * 2 + [4]
LABELS = LABELS[::2] + LABELS[1::2]


def assert_partition(train: list[int], val: list[int], n: int) -> None:
    assert train == sorted(train) and val == sorted(val)
    assert not set(train) & set(val)
    assert sorted(train + val) == list(range(n))


def test_stratified_proportions_with_minimums() -> None:
    train, val = stratified_split(LABELS, 0.2, seed=1)
    assert_partition(train, val, len(LABELS))
    assert Counter(LABELS[i] for i in val) == {0: 20, 1: 10, 2: 1, 3: 1}
    assert Counter(LABELS[i] for i in train) == {0: 80, 1: 40, 2: 6, 3: 1, 4: 1}


def test_high_fraction_still_keeps_a_training_item_per_class() -> None:
    train, val = stratified_split(LABELS, 0.9, seed=3)
    assert_partition(train, val, len(LABELS))
    assert Counter(LABELS[i] for i in val) == {0: 90, 1: 45, 2: 6, 3: 1}
    assert set(LABELS[i] for i in train) == {0, 1, 2, 3, 4}


def test_zero_fraction_trains_on_everything() -> None:
    assert stratified_split(LABELS, 0, seed=0) == (list(range(len(LABELS))), [])
    groups = [str(i % 9) for i in range(len(LABELS))]
    assert stratified_split(LABELS, 0.0, seed=0, groups=groups) == (list(range(len(LABELS))), [])


def test_split_is_deterministic_per_seed() -> None:
    assert stratified_split(LABELS, 0.25, seed=42) == stratified_split(LABELS, 0.25, seed=42)
    assert stratified_split(LABELS, 0.25, seed=42) != stratified_split(LABELS, 0.25, seed=43)


@pytest.mark.parametrize("bad", [-0.1, 0.95, 1, float("nan"), True, "0.2", None])
def test_invalid_fraction_is_a_user_error(bad: object) -> None:
    with pytest.raises(TeachboxError) as info:
        stratified_split(LABELS, bad, seed=0)  # type: ignore[arg-type]
    assert info.value.code == "val_fraction"


def test_groups_must_match_labels() -> None:
    with pytest.raises(ValueError):
        stratified_split([0, 1, 0], 0.5, seed=0, groups=["a", "b"])


def test_groups_never_straddle_and_small_classes_are_repaired() -> None:
    # 31 groups of mixed classes; class 2 lives in two groups only, class 3 in a single group.
    labels = [i % 2 for i in range(300)] + [2, 2, 2, 2] + [3, 3]
    groups = [f"g{i % 31}" for i in range(300)] + ["g0", "g0", "g1", "g1"] + ["g2", "g2"]
    for seed in range(10):
        train, val = stratified_split(labels, 0.3, seed=seed, groups=groups)
        assert_partition(train, val, len(labels))
        assert not {groups[i] for i in train} & {groups[i] for i in val}
        val_counts = Counter(labels[i] for i in val)
        train_counts = Counter(labels[i] for i in train)
        assert all(train_counts[c] >= 1 for c in range(4))
        assert val_counts[2] >= 1  # spans two groups, so it can validate
        assert val_counts[3] == 0  # one group: all of it must stay in training
        assert 35 <= val_counts[0] <= 55 and 35 <= val_counts[1] <= 55  # target 45 each


def test_group_constraints_override_the_target() -> None:
    # A class in one group shared with many items of another class must stay in training with that group.
    labels = [0] * 20 + [1] * 3 + [0] * 20
    groups = ["big"] * 23 + [f"s{i}" for i in range(20)]
    train, val = stratified_split(labels, 0.5, seed=0, groups=groups)
    assert all(i in train for i in range(23)) and len(val) == 20
    # A rare class in two tiny groups gets a validation item although 10% of 2 rounds to 0.
    labels = [0] * 40 + [1, 1]
    groups = [f"s{i}" for i in range(40)] + ["p", "q"]
    train, val = stratified_split(labels, 0.1, seed=0, groups=groups)
    assert [labels[i] for i in val].count(1) == 1 and [labels[i] for i in val].count(0) == 4


def test_patient_split_on_malaria() -> None:
    csv_path = SHARED / "datasets" / "malaria" / "labels.csv"
    if not csv_path.exists():
        pytest.skip(f"{csv_path} not available")
    rows = parse_labels_csv(csv_path.read_text(encoding="utf-8"), csv_path.as_uri()).rows
    names = sorted({row.label for row in rows})
    labels = [names.index(row.label) for row in rows]
    patients = [patient_id(row.path) for row in rows]
    assert 50 < len(set(patients)) < len(rows)  # many cells per patient, many patients
    for seed in range(3):
        train, val = stratified_split(labels, 0.2, seed=seed, groups=patients)
        assert_partition(train, val, len(rows))
        assert not {patients[i] for i in train} & {patients[i] for i in val}
        for c in range(len(names)):
            share = sum(1 for i in val if labels[i] == c) / labels.count(c)
            assert 0.17 <= share <= 0.23, (seed, names[c], share)
    assert stratified_split(labels, 0.2, 7, patients) == stratified_split(labels, 0.2, 7, patients)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("images/Parasitized/C100P61ThinF_IMG_20150918_144104_cell_165.png", "C100P61ThinF"),
        ("C1_thinF_IMG_20150604_104722_cell_9.png", "C1_thinF"),
        ("images\\Uninfected\\C3thin_original_IMG_20150608_163002_cell_1.png", "C3thin_original"),
        ("images/cat/cat.109.jpg", "cat.109"),
        ("_IMG_1.png", "_IMG_1"),
        ("noext", "noext"),
    ],
)
def test_patient_id(path: str, expected: str) -> None:
    assert patient_id(path) == expected


def test_subset_per_class() -> None:
    picked = subset_per_class(LABELS, 5, seed=9)
    assert picked == sorted(picked)
    assert Counter(LABELS[i] for i in picked) == {0: 5, 1: 5, 2: 5, 3: 2, 4: 1}
    assert picked == subset_per_class(LABELS, 5, seed=9)
    _, val = stratified_split(LABELS, 0.2, seed=0)
    rest = subset_per_class(LABELS, 1000, seed=9, exclude=val)
    assert not set(rest) & set(val) and len(rest) == len(LABELS) - len(val)
    assert subset_per_class(LABELS, 0, seed=9) == []
    with pytest.raises(TeachboxError) as info:
        subset_per_class(LABELS, -1, seed=9)
    assert info.value.code == "subset_size"
