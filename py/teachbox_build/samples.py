"""Sample data sets bundled into the build: `--dataset DIR[:NAME]` (repeatable) and `--dataset-limit N`.

Each DIR holds a `labels.csv` (`path,label`, paths relative to it). Its rows are checked with the page's own rules
(`teachbox.data.labels_csv` for the CSV and its paths, `teachbox.data.image_header` for the file headers), so a
sample never ships a row that the page would then refuse: paths that climb out (`..`, absolute, URLs, symlinks leading elsewhere),
missing files and non-images are skipped with a one-line reason each. Only the listed, usable images are copied,
to `samples/<slug>/` beside a rewritten `labels.csv`, and `samples/index.json` (always written, an empty list when
there is none, so the page never asks for a file that is not there) describes them for the "Try a sample" menu.

A data set that cannot be used at all (no folder, no CSV, a bad header, no usable image, fewer than two classes, a
name that another one already took) raises BuildError naming it; the build is then not swapped in (assemble.py).

With no `--dataset`, `build.py` bundles the sample the repository ships (`default_datasets`: ~2×40 NIH malaria
cells in assets/samples/malaria-cells, drawn by sample_draw.py), so every build, CI's included, has one data set
to try; `--no-sample` leaves it out.

`--dataset-limit N` keeps at most N images per class, drawn with a fixed seed (the same build twice ships the same
files) and in CSV order, so a sample of a big data set stays small while every class keeps its share.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from teachbox.data.labels_csv import Row, RowError, decode_csv, parse_labels_csv
from teachbox.errors import TeachboxError
from teachbox.data.image_header import JPEG_HEADER_BYTES, sniff
from teachbox.data.sample_sets import INDEX_URL, SampleSet

from .errors import BuildError

SAMPLES_DIR = "samples"
SAMPLE_SOURCES = "samples"  # assets/samples/: the repository's own sample data sets (not copied as assets)
DEFAULT_SAMPLE = ("malaria-cells", "Malaria cells")  # (folder in assets/samples/, name in the menu)
CSV_NAME = "labels.csv"
ABOUT_FILES = ("PROVENANCE.md", "LICENSE", "LICENSE.md", "LICENSE.txt")  # credit and terms travel with the images
SEED = 42
SHOWN_SKIPS = 3  # reasons printed per data set; the rest are counted


@dataclass(frozen=True)
class DatasetArg:
    """One `--dataset DIR[:NAME]`: where it is, what the menu calls it, and its folder name in the build."""

    folder: Path
    name: str
    slug: str


def slugify(name: str) -> str:
    """A folder name safe in any URL and on any host: lower-case ASCII letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_dataset_arg(value: str) -> DatasetArg:
    """`DIR` or `DIR:NAME`. A DIR that exists as written wins, so a folder with a colon in its name still works."""
    folder_text, name = value, ""
    if not Path(value).is_dir() and ":" in value:
        folder_text, name = value.rsplit(":", 1)
    folder = Path(folder_text)
    name = name.strip() or folder.resolve().name.replace("_", " ").capitalize()
    slug = slugify(name) or slugify(folder.resolve().name)
    if not slug:
        raise BuildError(f"--dataset {value}: give it a name with letters or digits (--dataset DIR:NAME)")
    return DatasetArg(folder, name, slug)


def default_datasets(root: Path) -> list[str]:
    """The `--dataset` values of a build that names none: the repository's own sample."""
    folder, name = DEFAULT_SAMPLE
    return [f"{root / 'assets' / SAMPLE_SOURCES / folder}:{name}"]


def is_on_demand(path: str) -> bool:
    """Whether a build file is left out of the service worker's install-time precache (samples/<slug>/…)."""
    return path.startswith(f"{SAMPLES_DIR}/") and path != INDEX_URL


def _fail(arg: DatasetArg, reason: str) -> BuildError:
    return BuildError(f"--dataset {arg.folder} ({arg.name}): {reason}")


def read_rows(arg: DatasetArg) -> tuple[Path, list[Row], list[RowError]]:
    """The folder (resolved) and the rows of its labels.csv that pass the page's CSV checks, plus the skipped ones."""
    folder = arg.folder.resolve()
    source = folder / CSV_NAME
    if not source.is_file():
        raise _fail(arg, f"no {CSV_NAME} in {arg.folder}" if folder.is_dir() else "the folder does not exist")
    try:
        parsed = parse_labels_csv(decode_csv(source.read_bytes()), source.as_uri())
    except TeachboxError as error:
        raise _fail(arg, error.message) from error
    return folder, parsed.rows, parsed.errors


def check_file(folder: Path, row: Row) -> Path | RowError:
    """The file a row names, if it is a real, supported image inside the folder; else why the row is skipped."""
    path = folder / row.path.replace("\\", "/")
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return RowError(row.line, row.path, "missing", f"{row.path} does not exist.")
    if not real.is_relative_to(folder):
        return RowError(row.line, row.path, "outside_folder", f"{row.path} leads outside the data set's folder.")
    if not real.is_file():
        return RowError(row.line, row.path, "bad_path", f"{row.path} is not a file.")
    with real.open("rb") as handle:
        header = handle.read(JPEG_HEADER_BYTES)
    try:
        sniff(header, row.path)
    except TeachboxError as error:
        return RowError(row.line, row.path, error.code, error.message)
    return real


def pick(folder: Path, rows: list[Row], limit: int | None) -> tuple[list[tuple[Row, Path]], list[RowError]]:
    """Usable rows, at most `limit` per label: each label's rows in a seeded random order, checked until enough
    pass (so a broken file is replaced by another one, not lost from the count). Returned in CSV order."""
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        by_label.setdefault(row.label, []).append(row)
    kept: list[tuple[Row, Path]] = []
    skipped: list[RowError] = []
    for candidates in by_label.values():
        if limit is not None:
            candidates = list(candidates)
            random.Random(SEED).shuffle(candidates)
        taken = 0
        for row in candidates:
            if limit is not None and taken >= limit:
                break
            found = check_file(folder, row)
            if isinstance(found, RowError):
                skipped.append(found)
            else:
                kept.append((row, found))
                taken += 1
    kept.sort(key=lambda item: item[0].line)
    skipped.sort(key=lambda error: error.line or 0)
    return kept, skipped


def copy_dataset(arg: DatasetArg, dist: Path, limit: int | None) -> SampleSet:
    """Copy one data set's usable images, its rewritten CSV and its provenance into dist/samples/<slug>/."""
    folder, rows, skipped = read_rows(arg)
    kept, unusable = pick(folder, rows, limit)
    skipped = sorted(skipped + unusable, key=lambda error: error.line or 0)
    counts: dict[str, int] = {}
    for row, _ in kept:
        counts[row.label] = counts.get(row.label, 0) + 1
    if len(counts) < 2:
        first = f" (first skipped: line {skipped[0].line}: {skipped[0].message})" if skipped else ""
        raise _fail(arg, f"{len(kept)} usable images in {len(counts)} classes; a sample needs two classes{first}")
    target = dist / SAMPLES_DIR / arg.slug
    listing = io.StringIO()
    writer = csv.writer(listing, lineterminator="\n")
    writer.writerow(["path", "label"])
    for row, source in kept:
        relative = row.path.replace("\\", "/")
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / relative)
        writer.writerow([relative, row.label])
    (target / CSV_NAME).write_text(listing.getvalue(), encoding="utf-8")
    about = next((name for name in ABOUT_FILES if (folder / name).is_file()), None)
    if about:
        shutil.copyfile(folder / about, target / about)
    size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
    report_skips(arg, skipped)
    sample = SampleSet(name=arg.name, slug=arg.slug, csv=f"{SAMPLES_DIR}/{arg.slug}/{CSV_NAME}", counts=counts,
                       bytes=size, about=f"{SAMPLES_DIR}/{arg.slug}/{about}" if about else None)
    classes = ", ".join(f"{label} {count}" for label, count in counts.items())
    print(f"sample {arg.name!r} → {SAMPLES_DIR}/{arg.slug}/: {sample.images} images ({classes}), {size:,} bytes",
          flush=True)
    return sample


def report_skips(arg: DatasetArg, skipped: list[RowError]) -> None:
    """One line per data set with skipped rows: how many, and the first reasons with their CSV lines."""
    if not skipped:
        return
    reasons = "; ".join(f"line {error.line}: {error.message}" for error in skipped[:SHOWN_SKIPS])
    more = f"; and {len(skipped) - SHOWN_SKIPS} more" if len(skipped) > SHOWN_SKIPS else ""
    print(f"--dataset {arg.folder} ({arg.name}): skipped {len(skipped)} rows: {reasons}{more}", flush=True)


def bundle_samples(values: list[str], dist: Path, limit: int | None) -> list[SampleSet]:
    """Copy every --dataset into dist/samples/ and write samples/index.json (also when there is none)."""
    if limit is not None and limit < 1:
        raise BuildError(f"--dataset-limit must be at least 1, not {limit}")
    args = [parse_dataset_arg(value) for value in values]
    seen: dict[str, DatasetArg] = {}
    for arg in args:
        if arg.slug in seen:
            raise BuildError(f"--dataset {arg.folder} and --dataset {seen[arg.slug].folder} would both be "
                             f"samples/{arg.slug}: give one another name (--dataset DIR:NAME)")
        seen[arg.slug] = arg
    samples = [copy_dataset(arg, dist, limit) for arg in args]
    index = dist / INDEX_URL
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"samples": [s.to_json() for s in samples]}, indent=1, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    return samples
