"""The accuracy study's folds (bench/folds.py): a partition, whole groups, balanced classes, one per seed."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.folds import grouped_folds, split_rows

# 12 patients of uneven size; the first 8 give both classes, the last 4 only "healthy" (like the malaria set).
GROUPS = [f"P{p}" for p in range(12) for _ in range(3 + 2 * p % 7)]
LABELS = ["sick" if i % 3 and g < "P8" else "healthy" for i, g in enumerate(GROUPS)]


def test_every_item_gets_one_fold_and_every_fold_is_used() -> None:
    folds = grouped_folds(LABELS, GROUPS, 4, seed=1)
    assert len(folds) == len(LABELS)
    assert set(folds) == {0, 1, 2, 3}


def test_no_group_spans_two_folds() -> None:
    folds = grouped_folds(LABELS, GROUPS, 4, seed=1)
    for group in set(GROUPS):
        assert len({f for f, g in zip(folds, GROUPS) if g == group}) == 1


def test_a_seed_names_the_folds_and_another_seed_can_differ() -> None:
    assert grouped_folds(LABELS, GROUPS, 4, seed=7) == grouped_folds(LABELS, GROUPS, 4, seed=7)
    singletons = [str(i) for i in range(len(LABELS))]
    assert grouped_folds(LABELS, singletons, 4, seed=1) != grouped_folds(LABELS, singletons, 4, seed=2)


def test_one_item_per_group_is_a_stratified_k_fold() -> None:
    labels = ["a"] * 23 + ["b"] * 11 + ["c"] * 5
    folds = grouped_folds(labels, [str(i) for i in range(len(labels))], 5, seed=3)
    for label in "abc":
        sizes = Counter(f for f, lab in zip(folds, labels) if lab == label)
        assert max(sizes.values()) - min(sizes.get(f, 0) for f in range(5)) <= 1


def test_grouped_folds_stay_close_to_the_per_class_target() -> None:
    folds = grouped_folds(LABELS, GROUPS, 3, seed=0)
    largest = max(Counter(GROUPS).values())
    for label, total in Counter(LABELS).items():
        for fold in range(3):
            count = sum(1 for f, lab in zip(folds, LABELS) if f == fold and lab == label)
            assert abs(count - total / 3) <= largest


def test_split_rows_tests_on_one_fold_and_trains_on_the_rest() -> None:
    rows = [(f"img{i}.png", lab) for i, lab in enumerate(LABELS)]
    folds = grouped_folds(LABELS, GROUPS, 4, seed=1)
    for fold in range(4):
        train, test = split_rows(rows, folds, fold)
        assert sorted(train + test) == sorted(rows)
        assert not {path for path, _ in train} & {path for path, _ in test}
        assert len(test) == folds.count(fold)


@pytest.mark.parametrize("k", [1, 0, True, 2.0])
def test_k_must_be_at_least_two(k: object) -> None:
    with pytest.raises(ValueError):
        grouped_folds(LABELS, GROUPS, k, seed=0)  # type: ignore[arg-type]


def test_too_few_groups_or_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        grouped_folds(["a", "b"], ["g", "g"], 2, seed=0)
    with pytest.raises(ValueError):
        grouped_folds(["a", "b"], ["g"], 2, seed=0)
