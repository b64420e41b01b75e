"""A whole project as one zip (labels.csv + images/ + project.json [+ model.zip]), written and checked in pure Python.

Why this layout: `labels.csv` + `images/` is the same `path,label` form loadDataset reads, so an unzipped export is
also a data set for any other tool; `project.json` keeps what a CSV cannot (the name, classes in order including
empty ones, the training settings); `model.zip` is the model export as exportModel writes it.

An imported zip is untrusted. It is opened with export_zip.py's hardening (size caps before inflating, CRC and
truncation errors), paths must be the plain `images/<file>` names an export writes (no folders, no `..`), every row
must name an image in the zip, and the model inside is checked by read_model_zip. Embeddings are not carried: they
are recomputed on import (cheap: one pass of the base) because a file could otherwise feed training numbers that do not
belong to its images, and because they depend on the base and preprocessing of the importing page.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from teachbox import __version__
from teachbox.data.labels_csv import check_label
from teachbox.data.project import MAX_SAMPLES
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import json_entry, open_zip, read_entry, read_model_zip
from teachbox.store.manifest import check_name

FORMAT = "teachbox-project"
FORMAT_VERSION = 1
PROJECT_JSON = "project.json"
LABELS_CSV = "labels.csv"
MODEL_ZIP = "model.zip"
IMAGES = "images/"
MAX_PROJECT_BYTES = 1024 * 2**20
MAX_IMAGE_BYTES = 64 * 2**20
MAX_CSV_BYTES = 32 * 2**20
_SAFE_PATH = re.compile(r"^images/[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ProjectImage:
    path: str
    label: str
    data: bytes

    @property
    def name(self) -> str:
        """The original file name as far as an export kept it (the `00012-` order prefix removed)."""
        return self.path[len(IMAGES):].split("-", 1)[-1]


@dataclass
class ProjectFiles:
    """The checked contents of a project zip."""

    name: str
    classes: list[str]
    settings: dict[str, Any]
    images: list[ProjectImage] = field(default_factory=list)
    model: bytes | None = None


def safe_file_name(name: str, fallback: str) -> str:
    """A name reduced to characters every file system and zip tool accepts (`a/b c?.png` → `b_c_.png`)."""
    return _UNSAFE_CHARS.sub("_", name.rsplit("/", 1)[-1]).strip("._")[:100] or fallback


def image_path(index: int, name: str) -> str:
    """`images/00012-cell_3.png`: unique by index, readable by name, and safe on every file system."""
    return f"{IMAGES}{index:05d}-{safe_file_name(name, 'image')}"


def export_name(project_name: str) -> str:
    """The download's file name for a project export."""
    return f"{safe_file_name(project_name, 'project')}.teachbox.zip"


def build_project_zip(files: ProjectFiles) -> bytes:
    """Write a project zip. Images are stored as they are (already compressed); the text parts are deflated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label"])
    writer.writerows((image.path, image.label) for image in files.images)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "teachbox": __version__, "name": files.name,
                "classes": files.classes, "settings": files.settings, "images": len(files.images),
                "model": MODEL_ZIP if files.model is not None else None}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_JSON, json.dumps(manifest, indent=2, ensure_ascii=False))
        archive.writestr(LABELS_CSV, buffer.getvalue())
        for image in files.images:
            archive.writestr(image.path, image.data, compress_type=zipfile.ZIP_STORED)
        if files.model is not None:
            archive.writestr(MODEL_ZIP, files.model, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def read_project_zip(data: bytes) -> ProjectFiles:
    """Open and check a project zip; any problem is a `bad_project_file` error and nothing is half-imported."""
    archive, entries = open_zip(data, MAX_PROJECT_BYTES, "a project zip", _bad)
    for name in (PROJECT_JSON, LABELS_CSV):
        if name not in entries:
            raise _bad(f"The zip lacks {name}; it is not a Teachbox project export.")
    manifest = json_entry(archive, entries[PROJECT_JSON], _bad)
    files = _check_manifest(manifest)
    rows = _labels(read_entry(archive, entries[LABELS_CSV], MAX_CSV_BYTES, _bad))
    for path, label in rows:
        if path not in entries:
            raise _bad(f"labels.csv names {path}, which is not in the zip.")
        if label not in files.classes:
            raise _bad(f"labels.csv uses the label {label!r}, which project.json does not list.")
        files.images.append(ProjectImage(path, label, read_entry(archive, entries[path], MAX_IMAGE_BYTES, _bad)))
    if manifest.get("model") is not None:
        if MODEL_ZIP not in entries:
            raise _bad("project.json says the project has a model, but model.zip is missing.")
        files.model = read_entry(archive, entries[MODEL_ZIP], MAX_PROJECT_BYTES, _bad)
        read_model_zip(files.model)  # the model's own checks; a bad model refuses the whole import
    return files


def _check_manifest(manifest: dict[str, Any]) -> ProjectFiles:
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise _bad("project.json is not a Teachbox project (format or version).")
    classes, settings = manifest.get("classes"), manifest.get("settings")
    if not isinstance(classes, list) or not isinstance(settings, dict) \
            or not isinstance(manifest.get("model"), (str, type(None))):
        raise _bad("project.json is malformed (classes, settings or model).")
    try:
        name = check_name(manifest.get("name"))
        checked = [check_label(label) for label in classes]
    except TeachboxError as error:
        raise _bad(f"project.json: {error.message}") from None
    if len(set(checked)) != len(checked):
        raise _bad("project.json lists a class twice.")
    return ProjectFiles(name, checked, settings)


def _labels(raw: bytes) -> list[tuple[str, str]]:
    """labels.csv rows; strict, since an export writes exactly this form."""
    try:
        table = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise _bad("labels.csv is not a readable UTF-8 CSV.") from error
    if not table or table[0] != ["path", "label"]:
        raise _bad("labels.csv must start with the header path,label.")
    rows = table[1:]
    if len(rows) > MAX_SAMPLES:
        raise _bad(f"labels.csv lists more than {MAX_SAMPLES:,} images.")
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        if len(row) != 2 or not _SAFE_PATH.match(row[0]) or ".." in row[0] or row[0] in seen:
            raise _bad(f"labels.csv line {number} is not an `images/<file>,label` row of this zip.")
        seen.add(row[0])
    return [(path, label) for path, label in rows]


def _bad(message: str) -> TeachboxError:
    return TeachboxError("bad_project_file", message)
