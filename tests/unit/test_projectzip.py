"""Project zips: layout, round trip, and refusal of tampered, truncated or hostile files."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import build_model_zip
from teachbox.store.archive import (
    LABELS_CSV,
    MODEL_ZIP,
    PROJECT_JSON,
    ProjectFiles,
    ProjectImage,
    build_project_zip,
    export_name,
    image_path,
    read_project_zip,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _model() -> bytes:
    topology = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}}
    specs = [{"name": "out/kernel", "shape": [4, 2], "dtype": "float32"}]
    metadata = {"format": "teachbox-model", "labels": ["cat, black", "dog"],
                "preprocessing": {"mode": "center-crop", "size": 224}}
    return build_model_zip(topology, specs, bytes(32), metadata)


def _files(model: bool = True) -> ProjectFiles:
    images = [ProjectImage(image_path(1, "photos/cat 1?.png"), "cat, black", PNG),
              ProjectImage(image_path(2, "dog.png"), "dog", PNG[::-1])]
    return ProjectFiles("Pets ✓", ["cat, black", "dog", "empty"], {"epochs": 12}, images,
                        _model() if model else None)


def _rezip(data: bytes, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            for name, body in change(info.filename, source.read(info)):
                archive.writestr(name, body)
    return out.getvalue()


def test_layout_is_a_dataset_plus_manifest_and_model() -> None:
    data = build_project_zip(_files())
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names[:2] == [PROJECT_JSON, LABELS_CSV] and MODEL_ZIP in names
    assert "images/00001-cat_1_.png" in names and "images/00002-dog.png" in names
    rows = list(csv.reader(io.StringIO(archive.read(LABELS_CSV).decode())))
    assert rows == [["path", "label"], ["images/00001-cat_1_.png", "cat, black"], ["images/00002-dog.png", "dog"]]
    manifest = json.loads(archive.read(PROJECT_JSON))
    assert manifest["classes"] == ["cat, black", "dog", "empty"] and manifest["settings"] == {"epochs": 12}
    assert manifest["format"] == "teachbox-project" and manifest["version"] == 1 and manifest["teachbox"]
    assert archive.getinfo("images/00002-dog.png").compress_type == zipfile.ZIP_STORED


def test_round_trip() -> None:
    files = read_project_zip(build_project_zip(_files()))
    assert files.name == "Pets ✓" and files.classes == ["cat, black", "dog", "empty"]
    assert [(i.label, i.data, i.name) for i in files.images] == [("cat, black", PNG, "cat_1_.png"),
                                                                 ("dog", PNG[::-1], "dog.png")]
    assert files.model == _model()
    assert read_project_zip(build_project_zip(_files(model=False))).model is None


def test_names() -> None:
    assert image_path(12, "../../etc/passwd") == "images/00012-passwd"
    assert image_path(3, "...") == "images/00003-image"
    assert export_name("My project: v2/b") == "b.teachbox.zip"
    assert export_name("Cells of March") == "Cells_of_March.teachbox.zip"


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


TAMPERED = {
    "traversal": lambda n, b: [(n, b.replace(b"images/00002-dog.png", b"images/../dog.png") if n == LABELS_CSV
                                else b)],
    "absolute": lambda n, b: [(n, _csv([["path", "label"], ["/etc/passwd", "dog"]]) if n == LABELS_CSV else b)],
    "folder": lambda n, b: [(n, _csv([["path", "label"], ["images/a/b.png", "dog"]]) if n == LABELS_CSV else b)],
    "missing_image": lambda n, b: [] if n == "images/00002-dog.png" else [(n, b)],
    "unknown_label": lambda n, b: [(n, b.replace(b",dog", b",wolf") if n == LABELS_CSV else b)],
    "no_manifest": lambda n, b: [] if n == PROJECT_JSON else [(n, b)],
    "bad_json": lambda n, b: [(n, b"{" if n == PROJECT_JSON else b)],
    "wrong_format": lambda n, b: [(n, b.replace(b"teachbox-project", b"other") if n == PROJECT_JSON else b)],
    "duplicate_class": lambda n, b: [(n, b.replace(b'"empty"', b'"dog"') if n == PROJECT_JSON else b)],
    "bad_header": lambda n, b: [(n, b.replace(b"path,label", b"file,class") if n == LABELS_CSV else b)],
    "no_model": lambda n, b: [] if n == MODEL_ZIP else [(n, b)],
    "bad_model": lambda n, b: [(n, b[: len(b) // 2] if n == MODEL_ZIP else b)],
    "duplicate_row": lambda n, b: [(n, b + b"images/00002-dog.png,dog\n" if n == LABELS_CSV else b)],
}


@pytest.mark.parametrize("kind", sorted(TAMPERED))
def test_tampered_zips_are_refused(kind: str) -> None:
    data = _rezip(build_project_zip(_files()), TAMPERED[kind])
    with pytest.raises(TeachboxError) as caught:
        read_project_zip(data)
    expected = "bad_model_file" if kind == "bad_model" else "bad_project_file"
    assert caught.value.code == expected, caught.value.message


def test_truncated_and_corrupted_bytes_are_refused() -> None:
    data = build_project_zip(_files())
    for body in (data[: len(data) // 2], data[:10], b"not a zip"):
        with pytest.raises(TeachboxError) as caught:
            read_project_zip(body)
        assert caught.value.code == "bad_project_file"
    flipped = bytearray(data)
    flipped[data.index(PNG[100:140])] ^= 0xFF  # an image byte: the CRC check catches it
    with pytest.raises(TeachboxError, match="damaged"):
        read_project_zip(bytes(flipped))


def test_zip_bombs_are_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    from teachbox.store import archive

    monkeypatch.setattr(archive, "MAX_PROJECT_BYTES", 4096)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_JSON, "{}")
        archive.writestr(LABELS_CSV, "path,label\n")
        archive.writestr("images/00001-big.png", bytes(1_000_000))  # deflates to ~1 KB
    assert len(data.getvalue()) < 4096
    with pytest.raises(TeachboxError, match="inflates"):
        read_project_zip(data.getvalue())
