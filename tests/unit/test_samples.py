"""Sample data sets bundled at build time (py/teachbox_build/samples.py): what is copied, what is skipped and why,
the per-class limit, samples/index.json as the page reads it, and the service worker's on-demand list."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, SHARED
from teachbox.errors import TeachboxError
from teachbox.data.sample_sets import INDEX_URL, SampleSet, format_bytes, parse_index
from teachbox_build.errors import BuildError
from teachbox_build.sample_draw import PER_CLASS, draw_by_patient, patient_of, read_rows
from teachbox_build.samples import bundle_samples, default_datasets, is_on_demand, parse_dataset_arg, slugify
from teachbox_build.service_worker import on_demand_entries, precache_entries


def png(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6), colour).save(path)


def dataset(folder: Path, per_class: dict[str, int], extra_rows: list[str] = ()) -> Path:
    """folder/images/<label>/<n>.png for each label, a labels.csv listing them (plus extra_rows), a PROVENANCE.md."""
    lines = ["path,label"]
    for label, count in per_class.items():
        for n in range(count):
            png(folder / "images" / label / f"{n}.png")
            lines.append(f"images/{label}/{n}.png,{label}")
    lines += list(extra_rows)
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "PROVENANCE.md").write_text("made for a test\n", encoding="utf-8")
    return folder


def rows_of(csv_file: Path) -> list[tuple[str, str]]:
    with open(csv_file, newline="", encoding="utf-8") as handle:
        return [(row["path"], row["label"]) for row in csv.DictReader(handle)]


def index_of(dist: Path) -> list[SampleSet]:
    return parse_index(json.loads((dist / INDEX_URL).read_text(encoding="utf-8")))


def test_copies_only_listed_images_and_writes_the_index(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = dataset(tmp_path / "cells", {"sick": 3, "well": 2})
    png(source / "images" / "sick" / "unlisted.png")
    (source / "notes.txt").write_text("not part of the data set", encoding="utf-8")
    dist = tmp_path / "dist"
    [sample] = bundle_samples([f"{source}:Blood cells"], dist, None)
    assert (sample.name, sample.slug, sample.csv) == ("Blood cells", "blood-cells", "samples/blood-cells/labels.csv")
    assert sample.counts == {"sick": 3, "well": 2} and sample.images == 5
    folder = dist / "samples" / "blood-cells"
    copied = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert copied == ["PROVENANCE.md", "images/sick/0.png", "images/sick/1.png", "images/sick/2.png",
                      "images/well/0.png", "images/well/1.png", "labels.csv"]
    for path, _ in rows_of(folder / "labels.csv"):
        assert (folder / path).read_bytes() == (source / path).read_bytes()
    assert sample.bytes == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert index_of(dist) == [sample]  # the page's parser reads back exactly what the build wrote
    entry = json.loads((dist / INDEX_URL).read_text())["samples"][0]
    assert entry["classes"] == ["sick", "well"] and entry["images"] == 5
    assert entry["about"] == "samples/blood-cells/PROVENANCE.md"
    out = capsys.readouterr().out
    assert "'Blood cells' → samples/blood-cells/: 5 images (sick 3, well 2)" in out and "skipped" not in out


def test_no_dataset_still_writes_an_empty_index(tmp_path: Path) -> None:
    assert bundle_samples([], tmp_path, None) == []
    assert json.loads((tmp_path / INDEX_URL).read_text()) == {"samples": []}


def test_limit_is_per_class_stratified_and_deterministic(tmp_path: Path) -> None:
    source = dataset(tmp_path / "big", {"a": 20, "b": 7, "c": 2})
    first = bundle_samples([str(source)], tmp_path / "one", 5)[0]
    again = bundle_samples([str(source)], tmp_path / "two", 5)[0]
    assert first.counts == {"a": 5, "b": 5, "c": 2}  # a class with fewer keeps all it has
    listed = rows_of(tmp_path / "one" / "samples" / "big" / "labels.csv")
    assert listed == rows_of(tmp_path / "two" / "samples" / "big" / "labels.csv") and first == again
    picked_a = [path for path, label in listed if label == "a"]
    assert picked_a != [f"images/a/{n}.png" for n in range(5)]  # drawn, not just the first rows
    order = [int(path.rsplit("/", 1)[1].split(".")[0]) for path in picked_a]
    assert order == sorted(order)  # written in CSV order
    assert first.name == "Big"


def test_unusable_rows_are_skipped_with_their_lines(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outside = tmp_path / "secret.png"
    png(outside)
    source = dataset(tmp_path / "data", {"a": 2, "b": 2}, [
        "../secret.png,a",  # climbs out
        f"{outside},a",  # absolute
        "images/%2e%2e/%2e%2e/secret.png,a",  # climbs out once decoded
        "images/a/missing.png,a",
        "images/a/text.png,a",
        "images/a/link.png,b",
        "images/b/0.png,b",  # duplicate
        ",b",
    ])
    (source / "images" / "a" / "text.png").write_text("no picture here", encoding="utf-8")
    (source / "images" / "a" / "link.png").symlink_to(outside)
    [sample] = bundle_samples([str(source)], tmp_path / "dist", None)
    assert sample.counts == {"a": 2, "b": 2}
    copied = {p.name for p in (tmp_path / "dist" / "samples" / "data").rglob("*") if p.is_file()}
    assert copied == {"0.png", "1.png", "labels.csv", "PROVENANCE.md"}
    [line] = [line for line in capsys.readouterr().out.splitlines() if "skipped" in line]
    assert "skipped 8 rows: line 6:" in line and "and 5 more" in line


def test_limit_replaces_a_broken_file_by_another(tmp_path: Path) -> None:
    source = dataset(tmp_path / "data", {"a": 6, "b": 6})
    for n in range(3):
        (source / "images" / "a" / f"{n}.png").write_bytes(b"")
    [sample] = bundle_samples([str(source)], tmp_path / "dist", 3)
    assert sample.counts == {"a": 3, "b": 3}


@pytest.mark.parametrize(("make", "expected"), [
    (lambda d: None, "the folder does not exist"),
    (lambda d: d.mkdir(), "no labels.csv"),
    (lambda d: dataset(d, {"a": 1}).joinpath("labels.csv").write_text("file,class\nx.png,a\n"), "header"),
    (lambda d: dataset(d, {"a": 3}), "needs two classes"),
    (lambda d: dataset(d, {"a": 1}, ["../x.png,b"]), "needs two classes (first skipped: line 3"),
    (lambda d: dataset(d, {"a": 1}).joinpath("labels.csv").write_bytes(b"path,label\n\xff\xfe,a\n"), "UTF-8"),
])
def test_a_bad_dataset_is_a_build_error_naming_it(tmp_path: Path, make, expected: str) -> None:  # noqa: ANN001
    folder = tmp_path / "broken"
    make(folder)
    with pytest.raises(BuildError) as error:
        bundle_samples([f"{folder}:Broken one"], tmp_path / "dist", None)
    message = str(error.value)
    assert message.startswith(f"--dataset {folder} (Broken one): ") and expected in message
    assert "\n" not in message


def test_two_datasets_with_one_slug_and_a_bad_limit(tmp_path: Path) -> None:
    one, two = dataset(tmp_path / "one", {"a": 1, "b": 1}), dataset(tmp_path / "two", {"a": 1, "b": 1})
    with pytest.raises(BuildError, match="both be samples/cells"):
        bundle_samples([f"{one}:Cells", f"{two}:cells!"], tmp_path / "dist", None)
    with pytest.raises(BuildError, match="at least 1"):
        bundle_samples([str(one)], tmp_path / "dist", 0)


def test_dataset_argument_forms(tmp_path: Path) -> None:
    folder = tmp_path / "rock_paper_scissors"
    folder.mkdir()
    assert parse_dataset_arg(str(folder)).name == "Rock paper scissors"
    assert parse_dataset_arg(str(folder)).slug == "rock-paper-scissors"
    named = parse_dataset_arg(f"{folder}:Hands (RPS)")
    assert (named.folder, named.name, named.slug) == (folder, "Hands (RPS)", "hands-rps")
    colon = tmp_path / "a:b"
    colon.mkdir()
    assert parse_dataset_arg(str(colon)).folder == colon  # an existing folder is taken as written
    assert slugify("Ünïcode ∞ only") == "n-code-only"
    with pytest.raises(BuildError, match="letters or digits"):
        parse_dataset_arg(f"{tmp_path / '___'}:!!!")


def test_service_worker_caches_samples_on_demand_and_precaches_the_index() -> None:
    files = [{"path": p, "bytes": 1, "sha256": "00" * 32}
             for p in ("index.html", INDEX_URL, "samples/cells/labels.csv", "samples/cells/images/a.png")]
    manifest = {"build": "0" * 16, "files": files}
    assert [e[0] for e in precache_entries(manifest)] == ["index.html", INDEX_URL]
    assert [e[0] for e in on_demand_entries(manifest)] == ["samples/cells/labels.csv", "samples/cells/images/a.png"]
    assert not is_on_demand("samples-other/x.png") and not is_on_demand(INDEX_URL)


def test_page_side_index_parsing() -> None:
    assert parse_index({"samples": []}) == []
    with pytest.raises(TeachboxError) as error:
        parse_index({"samples": [{"name": "x"}]})
    assert error.value.code == "broken_build"
    sample = SampleSet("Cells", "cells", "samples/cells/labels.csv", {"a": 30, "b": 30}, 765_303)
    assert sample.describe() == "Cells — 2 classes, 60 images, 765 kB"
    assert [format_bytes(n) for n in (12, 12_345, 6_647_601)] == ["12 B", "12 kB", "6.6 MB"]
    assert parse_index({"samples": [sample.to_json()]}) == [sample]


# -- the repository's own sample (assets/samples/malaria-cells, sample_draw.py) -------------------------------------


def test_patient_of_reads_the_nih_file_names() -> None:
    assert patient_of("images/Parasitized/C100P61ThinF_IMG_20150918_144104_cell_165.png") == "P61"
    assert patient_of("C47P8thin_Original_Motic_IMG_1_cell_2.png") == "P8"  # another slide of the same patient
    assert patient_of("images/Uninfected/C201ThinF_IMG_20150930_143544_cell_195.png") == "C201ThinF"


def test_draw_takes_each_image_from_another_patient_and_is_deterministic() -> None:
    rows = [(f"{label}/C{n}P{n}ThinF_IMG_1_cell_{cell}.png", label)
            for label, patients in (("sick", range(6)), ("well", range(12))) for n in patients
            for cell in range(3)]
    drawn = draw_by_patient(rows, 4, seed=7)
    assert drawn == draw_by_patient(rows, 4, seed=7)
    assert [label for _, label in drawn] == ["sick"] * 4 + ["well"] * 4
    patients = [patient_of(path) for path, _ in drawn]
    assert len(set(patients)) == 8  # no patient twice, in one class or across the two
    assert set(drawn) <= set(rows)
    with pytest.raises(ValueError, match="sick: only 6 patients"):
        draw_by_patient(rows, 7)


def test_the_shipped_sample_is_the_draw_and_small() -> None:
    """assets/samples/malaria-cells is exactly what sample_draw.py draws from ../shared (when it is here): 2×40
    cells of 80 patients, original bytes, under ~1 MB."""
    folder = ROOT / "assets" / "samples" / "malaria-cells"
    rows = rows_of(folder / "labels.csv")
    assert Counter(label for _, label in rows) == {"Parasitized": 40, "Uninfected": 40}
    assert len({patient_of(path) for path, _ in rows}) == 80
    images = sorted(p.relative_to(folder).as_posix() for p in (folder / "images").rglob("*") if p.is_file())
    assert images == sorted(path for path, _ in rows)
    assert sum((folder / path).stat().st_size for path, _ in rows) < 1_000_000
    source = SHARED / "datasets" / "malaria"
    if (source / "labels.csv").is_file():
        assert rows == draw_by_patient(read_rows(source), PER_CLASS)
        assert all((folder / path).read_bytes() == (source / path).read_bytes() for path, _ in rows)


def test_a_build_without_datasets_bundles_the_repository_sample(tmp_path: Path) -> None:
    [sample] = bundle_samples(default_datasets(ROOT), tmp_path, None)
    assert (sample.name, sample.csv) == ("Malaria cells", "samples/malaria-cells/labels.csv")
    assert sample.counts == {"Parasitized": 40, "Uninfected": 40}
    assert sample.about == "samples/malaria-cells/PROVENANCE.md"
