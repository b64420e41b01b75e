"""Rows of the real labelled data sets in ../shared, drawn reproducibly: shared by the e2e tests and bench/run.py,
so both train and test on exactly the draws their seeds name."""

from __future__ import annotations

import csv
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def read_labels(dataset: str) -> list[tuple[str, str]]:
    """(path, label) rows of ../shared/datasets/<dataset>/labels.csv, in file order."""
    with open(SHARED / "datasets" / dataset / "labels.csv", newline="", encoding="utf-8") as handle:
        return [(row["path"], row["label"]) for row in csv.DictReader(handle)]


def stratified(rows: list[tuple[str, str]], per_class: int, seed: int, exclude: set[str] | None = None,
               shuffle: bool = False) -> list[tuple[str, str]]:
    """`per_class` rows of every label, drawn with a fixed seed, skipping paths in `exclude`; sorted by label, or
    shuffled with the same seed (`shuffle`: then any prefix of the list is still roughly balanced)."""
    exclude = exclude or set()
    by_label: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        if row[0] not in exclude:
            by_label.setdefault(row[1], []).append(row)
    rng = random.Random(seed)
    picked: list[tuple[str, str]] = []
    for label in sorted(by_label):
        if len(by_label[label]) < per_class:
            raise ValueError(f"{label} has only {len(by_label[label])} rows, {per_class} wanted")
        picked.extend(rng.sample(by_label[label], per_class))
    if shuffle:
        rng.shuffle(picked)
    return picked
