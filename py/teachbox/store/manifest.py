"""What a saved project is, in pure Python: its manifest, the IndexedDB keys of its parts, and what a save writes.

Why pure: the manifest's schema (checked when read back, since storage can hold anything an older or broken build
wrote), the key layout (every part of a project sorts under its id, so one key range deletes or reads it all) and
the incremental save plan (write only what changed since the last save) are the parts worth testing on CPython.
The IndexedDB calls themselves are in project_db.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from teachbox.data.geometry import INPUT_SIZE, INPUT_SIZES
from teachbox.data.project import Project
from teachbox.errors import TeachboxError

SCHEMA = 1
MAX_NAME = 80
DEFAULT_NAME = "My project"
POOLED_SUFFIX = "|pooled"  # only the pooled embeddings are kept: fine-tuning activations are ~50× bigger
LEGACY_MODEL = "saved"  # the model token of a manifest written before tokens existed


@dataclass
class SampleRecord:
    """One saved sample: its bytes live under blob_key(project, uid)."""

    uid: str
    label: str
    name: str
    line: int | None = None
    size: int = 0

    def to_json(self) -> list[Any]:
        return [self.uid, self.label, self.name, self.line, self.size]

    @classmethod
    def from_json(cls, value: Any) -> SampleRecord:
        if not isinstance(value, list) or len(value) != 5 or not all(isinstance(x, str) for x in value[:3]) \
                or not (value[3] is None or isinstance(value[3], int)) or not isinstance(value[4], int):
            raise _bad("a sample entry is malformed")
        return cls(*value)


@dataclass
class ProjectRecord:
    """A project's manifest: everything but the image bytes, embeddings and model, which are stored beside it."""

    id: str
    name: str
    created: float
    updated: float
    classes: list[str] = field(default_factory=list)
    samples: list[SampleRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    feature_bytes: int = 0
    model_bytes: int = 0
    input_size: int | None = None  # Project.input_size
    # Which model is stored (a random token, new with each saved model; None: none). Tabs compare it to know when
    # another tab's training or import replaced the model, without reading the model itself.
    model: str | None = None

    @classmethod
    def new(cls, name: str) -> ProjectRecord:
        now = time.time()
        return cls(new_id(), check_name(name), now, now)

    @property
    def bytes(self) -> int:
        """Bytes stored for this project (images + embeddings + model; the manifest itself is negligible)."""
        return sum(s.size for s in self.samples) + self.feature_bytes + self.model_bytes

    def summary(self) -> dict[str, Any]:
        """The per-project line of storage() and projects()."""
        return {"id": self.id, "name": self.name, "bytes": self.bytes, "samples": len(self.samples),
                "classes": len(self.classes), "trained": self.model_bytes > 0, "updated": self.updated,
                "created": self.created}

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "id": self.id, "name": self.name, "created": self.created, "updated": self.updated,
                "classes": list(self.classes), "samples": [s.to_json() for s in self.samples],
                "settings": self.settings, "featureBytes": self.feature_bytes, "modelBytes": self.model_bytes,
                "inputSize": self.input_size, "model": self.model}

    @classmethod
    def from_json(cls, value: Any) -> ProjectRecord:
        """A stored manifest, checked: a bad one is an error naming the project, never a half-restored page."""
        if not isinstance(value, dict) or value.get("schema") != SCHEMA:
            raise _bad("its manifest is missing or from an unknown version")
        ident, name, classes = value.get("id"), value.get("name"), value.get("classes")
        if not isinstance(ident, str) or not isinstance(name, str) or not isinstance(classes, list) \
                or not all(isinstance(c, str) for c in classes) or not isinstance(value.get("samples"), list) \
                or not isinstance(value.get("settings"), dict):
            raise _bad("its manifest is malformed")
        numbers = [value.get(k) for k in ("created", "updated", "featureBytes", "modelBytes")]
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
            raise _bad("its manifest is malformed")
        samples = [SampleRecord.from_json(s) for s in value["samples"]]
        if any(s.label not in classes for s in samples):
            raise _bad("a sample names a class the project does not list")
        # Manifests written before the input size was chosen per project have none: their images were read at 224.
        input_size = value.get("inputSize", INPUT_SIZE if samples else None)
        if input_size is not None and (isinstance(input_size, bool) or input_size not in INPUT_SIZES):
            raise _bad("its manifest is malformed")
        # Manifests written before the model token have none: any fixed token names the model they hold.
        model = value.get("model", LEGACY_MODEL if numbers[3] else None)
        if model is not None and not isinstance(model, str):
            raise _bad("its manifest is malformed")
        return cls(ident, name, float(numbers[0]), float(numbers[1]), list(classes), samples, value["settings"],
                   int(numbers[2]), int(numbers[3]), input_size, model)


def memory_record(record: ProjectRecord, project: Project, sizes: dict[str, int], feature_bytes: int,
                  model_bytes: int, model: str | None, updated: float) -> ProjectRecord:
    """The manifest of a project as a tab holds it in memory: `record` for its id, name, creation and settings,
    `project` for its classes, samples and input size; the sizes and the model token are what storage holds for it."""
    samples = [SampleRecord(s.uid, s.label, s.name, s.line, sizes.get(s.uid, 0)) for s in project.samples]
    return ProjectRecord(record.id, record.name, record.created, updated, project.classes.labels, samples,
                         record.settings, feature_bytes, model_bytes, project.input_size, model)


def new_id() -> str:
    """Random, so ids made in two tabs or before and after a reload never collide."""
    return uuid.uuid4().hex


def check_name(name: Any) -> str:
    """A project name as a person typed it, trimmed; shown as text only, so only length and emptiness matter."""
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not text:
        raise TeachboxError("bad_name", "A project needs a name.")
    if len(text) > MAX_NAME:
        raise TeachboxError("bad_name", f"A project name may be at most {MAX_NAME} characters.")
    return text


def unique_name(wanted: str, taken: Iterable[str]) -> str:
    """`wanted`, or `wanted (2)`, `(3)`… when another project already has that name (an import of the same zip)."""
    names, candidate, n = set(taken), wanted, 1
    while candidate in names:
        n += 1
        candidate = f"{wanted} ({n})"
    return candidate


# -- keys: every part of a project sorts under [project id, ...], so a key range covers exactly one project --------


def blob_key(project: str, uid: str) -> list[str]:
    return [project, uid]


def feature_key(project: str, encoder: str, uid: str) -> list[str]:
    return [project, encoder, uid]


def project_range(project: str) -> tuple[list[Any], list[Any]]:
    """Lower and upper bound of all keys under a project: arrays sort after strings in IndexedDB, so [id, []] is above
    every [id, "…"] key and below the next project's."""
    return [project], [project, []]


def persistable(encoder_key: str) -> bool:
    """Pooled embeddings, of the image as it is and of its views (`…|pooled~hflip`), are saved with a project."""
    return encoder_key.split("~", 1)[0].rsplit("|", 1)[-1].startswith(POOLED_SUFFIX[1:])


# -- incremental saves ----------------------------------------------------------------------------------------------


@dataclass
class Saved:
    """What storage holds for the open project (updated only after a write committed)."""

    uids: set[str] = field(default_factory=set)
    features: set[tuple[str, str]] = field(default_factory=set)
    model: Any = None  # identity token of the saved classifier (None: no model stored)


@dataclass
class SavePlan:
    """The writes that bring storage from `Saved` to the in-memory state; one transaction applies them all."""

    put_blobs: list[str]
    delete_blobs: list[str]
    put_features: list[tuple[str, str]]
    delete_features: list[tuple[str, str]]
    put_model: bool
    delete_model: bool

    def after(self, saved: Saved, model: Any) -> Saved:
        """The Saved state once this plan has committed."""
        uids = (saved.uids - set(self.delete_blobs)) | set(self.put_blobs)
        features = (saved.features - set(self.delete_features)) | set(self.put_features)
        return Saved(uids, features, model)


def plan_save(saved: Saved, uids: list[str], features: Iterable[tuple[str, str]], model: Any) -> SavePlan:
    """Diff the in-memory project (sample uids, cached (encoder, uid) features, classifier token) against storage."""
    current = set(uids)
    wanted = {(key, uid) for key, uid in features if uid in current and persistable(key)}
    return SavePlan(
        put_blobs=[uid for uid in uids if uid not in saved.uids],
        delete_blobs=sorted(saved.uids - current),
        put_features=sorted(wanted - saved.features),
        delete_features=sorted(saved.features - wanted),
        put_model=model is not None and model is not saved.model,
        delete_model=model is None and saved.model is not None,
    )


def _bad(reason: str) -> TeachboxError:
    return TeachboxError("bad_saved_project", f"A saved project could not be read: {reason}.")


# A save's new records go in transactions of at most this many ops and bytes (put_chunks): ~70 ms of the main thread
# to issue, and far below what made Chromium fail a transaction.
CHUNK_OPS = 500
CHUNK_BYTES = 32 * 2**20
Op = tuple[str, str, Any, Any]  # (store, "put" | "delete", key, value): browser/idb.py's


def put_chunks(ops: list[tuple[Op, int]]) -> list[list[Op]]:
    """Ops in transactions of at most CHUNK_OPS ops and CHUNK_BYTES bytes (at least one chunk, maybe empty).

    Why: one transaction holding a 30,000-image data set (480 MB of Blobs) failed in Chromium ("Failed to write
    blobs"), and issuing its 60,000 requests held the main thread for 8 s. A save therefore writes its new records
    in chunks first and the manifest that names them last, with the last chunk: the manifest still lands whole or
    not at all, and a small save is one transaction as before."""
    chunks: list[list[Op]] = [[]]
    size = 0
    for op, nbytes in ops:
        if chunks[-1] and (len(chunks[-1]) >= CHUNK_OPS or size + nbytes > CHUNK_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(op)
        size += nbytes
    return chunks
