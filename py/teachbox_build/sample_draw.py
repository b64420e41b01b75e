"""Draw the small sample data set the default build ships (assets/samples/malaria-cells) from a big labelled one.

    PYTHONPATH=py python -m teachbox_build.sample_draw ../shared/datasets/malaria assets/samples/malaria-cells

Why one image per patient, and no patient in two classes: cells of one patient's slide look alike (same stain,
same microscope, same day), so a handful of cells from a few patients would let a classifier learn the slide instead
of the parasite, and its validation score would flatter it. With every image from another patient, the sample is a
fair mini data set however the page splits it. The draw is seeded, so running it again gives the same files; the
original PNG bytes are copied unchanged (the provenance of each file stays exact).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

SEED = 20261202
PER_CLASS = 40
CSV_NAME = "labels.csv"

_PATIENT = re.compile(r"P\d+")


def patient_of(path: str) -> str:
    """The patient a NIH malaria cell image comes from, read from its file name as the data set's PROVENANCE.md
    defines it: `P<n>` in the prefix before `_IMG` (`C100P61ThinF_IMG_…` → `P61`; one patient can have several
    slides), else the whole prefix (the healthy patients' slides, e.g. `C201ThinF`)."""
    prefix = PurePosixPath(path).name.split("_IMG", 1)[0]
    found = _PATIENT.search(prefix)
    return found.group() if found else prefix


def draw_by_patient(rows: list[tuple[str, str]], per_class: int, seed: int = SEED) -> list[tuple[str, str]]:
    """`per_class` (path, label) rows per label, each from a patient no other drawn row comes from.

    Labels are served in sorted order, so the rarer class must not come last when patients are scarce (here:
    Parasitized cells come from 89 patients, Uninfected from 140). Returned sorted by label, then path.
    Raises ValueError when a label has too few patients left."""
    by_label: dict[str, dict[str, list[str]]] = {}
    for path, label in rows:
        by_label.setdefault(label, {}).setdefault(patient_of(path), []).append(path)
    rng = random.Random(seed)
    used: set[str] = set()
    drawn: list[tuple[str, str]] = []
    for label in sorted(by_label):
        patients = sorted(set(by_label[label]) - used)
        if len(patients) < per_class:
            raise ValueError(f"{label}: only {len(patients)} patients left, {per_class} wanted")
        rng.shuffle(patients)
        for patient in patients[:per_class]:
            drawn.append((rng.choice(sorted(by_label[label][patient])), label))
            used.add(patient)
    return sorted(drawn, key=lambda row: (row[1], row[0]))


def read_rows(folder: Path) -> list[tuple[str, str]]:
    with open(folder / CSV_NAME, newline="", encoding="utf-8") as handle:
        return [(row["path"], row["label"]) for row in csv.DictReader(handle)]


def write_sample(source: Path, target: Path, rows: list[tuple[str, str]]) -> int:
    """Copy the drawn images (original bytes) and write their labels.csv; returns the images' total bytes."""
    listing = io.StringIO()
    writer = csv.writer(listing, lineterminator="\n")
    writer.writerow(["path", "label"])
    size = 0
    for path, label in rows:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / path, target / path)
        size += (target / path).stat().st_size
        writer.writerow([path, label])
    (target / CSV_NAME).write_text(listing.getvalue(), encoding="utf-8")
    return size


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a data set folder with labels.csv (the NIH malaria cells)")
    parser.add_argument("target", type=Path, help="where the sample goes (its images/ and labels.csv are replaced)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    rows = draw_by_patient(read_rows(args.source), args.per_class, args.seed)
    shutil.rmtree(args.target / "images", ignore_errors=True)
    size = write_sample(args.source, args.target, rows)
    print(f"{len(rows)} images from {len({patient_of(path) for path, _ in rows})} patients, {size:,} bytes "
          f"→ {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
