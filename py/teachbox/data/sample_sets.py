"""The sample data sets a build bundles (`python build.py --dataset DIR[:NAME]`), described by samples/index.json.

One definition of that file for both sides: the build writes `SampleSet.to_json()` and the page reads it back with
`parse_index`, so the two can never disagree on a field name. Plain Python (no browser): unit-tested on CPython.
"""

from __future__ import annotations

from dataclasses import dataclass

from teachbox.errors import TeachboxError

INDEX_URL = "samples/index.json"  # relative to the site root; every build writes it (an empty list when none)


@dataclass(frozen=True)
class SampleSet:
    """One bundled data set: its labels CSV (relative to the site root) and what it holds."""

    name: str
    slug: str
    csv: str
    counts: dict[str, int]  # images per label, labels in the CSV's order
    bytes: int  # everything under samples/<slug>/: what opening it downloads once
    about: str | None = None  # a copied PROVENANCE/LICENSE file, relative to the site root

    @property
    def images(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict:
        return {"name": self.name, "slug": self.slug, "csv": self.csv, "classes": list(self.counts),
                "counts": dict(self.counts), "images": self.images, "bytes": self.bytes, "about": self.about}

    def describe(self) -> str:
        """A one-line summary for a menu: classes, images and download size."""
        classes = len(self.counts)
        images = f"{self.images} image{'' if self.images == 1 else 's'}"
        return f"{self.name} — {classes} class{'' if classes == 1 else 'es'}, {images}, {format_bytes(self.bytes)}"


def format_bytes(size: int) -> str:
    """Sizes as people read them on a download (decimal units, like browsers and operating systems)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB"


def parse_index(index: dict) -> list[SampleSet]:
    """Read samples/index.json as written by build.py; a malformed file is a broken build, said plainly."""
    try:
        return [SampleSet(name=str(entry["name"]), slug=str(entry["slug"]), csv=str(entry["csv"]),
                          counts={str(label): int(count) for label, count in entry["counts"].items()},
                          bytes=int(entry["bytes"]), about=entry.get("about"))
                for entry in index["samples"]]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise TeachboxError("broken_build", f"{INDEX_URL} is malformed ({error!r}); rebuild with build.py.") from error
