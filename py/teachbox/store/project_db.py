"""Projects in IndexedDB: one database, one transaction per save, so a save lands whole or not at all.

Stores (all with out-of-line keys; key layout in manifest.py): `projects` (the manifest as a JSON string),
`blobs` (each sample's image bytes as a Blob: CSV rows too, so a saved project needs no server), `features` (pooled
embeddings as Float32Arrays, per base and preprocessing), `models` (the model zip as a Blob) and `meta` (the last
open project). Blobs and typed arrays go in as they are (structured clone): nothing is copied through Python.
A failed commit (QuotaExceededError) aborts the whole transaction; it becomes a `quota_exceeded` TeachboxError with
the numbers a person needs, and the caller keeps its in-memory state as it was before the operation.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from teachbox.browser import environment, idb
from teachbox.browser.convert import bytes_blob
from teachbox.data.project import Project
from teachbox.errors import TeachboxError
from teachbox.model.classifier import Classifier
from teachbox.model.feature_store import FeatureStore, sample_blob
from teachbox.store.manifest import ProjectRecord, SampleRecord, Saved, blob_key, feature_key, plan_save, project_range

DB_NAME = "teachbox-projects"
DB_VERSION = 1
PROJECTS, BLOBS, FEATURES, MODELS, META = "projects", "blobs", "features", "models", "meta"
STORES = (PROJECTS, BLOBS, FEATURES, MODELS, META)
LAST = "last"



class ProjectDB:
    """The open database and the few operations the app needs on it."""

    def __init__(self, db: Any) -> None:
        self.db = db

    @classmethod
    async def open(cls) -> ProjectDB:
        try:
            return cls(await idb.open_database(DB_NAME, DB_VERSION, STORES))
        except idb.StorageFailed as error:
            raise TeachboxError("storage_unavailable", f"This browser's storage cannot be opened ({error}); "
                                                       "projects will not be saved.") from error

    async def write(self, ops: list[idb.Op]) -> None:
        """Apply all ops in one transaction: it lands whole or not at all."""
        try:
            await idb.write(self.db, ops)
        except idb.StorageFailed as error:
            raise await storage_error(error) from error

    async def read(self, requests: list[tuple[str, str, Any]]) -> list[Any]:
        """Run (store, method, key) requests in one readonly transaction; their results in order (None if absent)."""
        try:
            return await idb.read(self.db, requests)
        except idb.StorageFailed as error:
            raise await storage_error(error) from error

    async def records(self) -> list[ProjectRecord]:
        """Every saved project's manifest, most recently changed first (unreadable ones are skipped)."""
        (values,) = await self.read([(PROJECTS, "getAll", None)])
        found = []
        for text in values:
            try:
                found.append(ProjectRecord.from_json(json.loads(str(text))))
            except (TeachboxError, ValueError):
                continue
        return sorted(found, key=lambda record: -record.updated)

    async def last(self) -> str | None:
        (value,) = await self.read([(META, "get", LAST)])
        return None if value is None else str(value)

    async def load(self, ident: str) -> tuple[ProjectRecord, dict[str, Any], list[tuple[str, str, Any]], Any]:
        """A project's manifest, its image Blobs by uid, its (encoder, uid, features) rows and its model Blob."""
        span = ("range", *project_range(ident))
        manifest, blob_keys, blobs, feature_keys, features, model = await self.read([
            (PROJECTS, "get", ident), (BLOBS, "getAllKeys", span), (BLOBS, "getAll", span),
            (FEATURES, "getAllKeys", span), (FEATURES, "getAll", span), (MODELS, "get", ident)])
        if manifest is None:
            raise TeachboxError("unknown_project", "There is no saved project with that id.")
        record = ProjectRecord.from_json(json.loads(str(manifest)))
        by_uid = {str(key[1]): blob for key, blob in zip(blob_keys, blobs)}
        rows = [(str(key[1]), str(key[2]), value) for key, value in zip(feature_keys, features)]
        return record, by_uid, rows, model

    async def delete(self, ident: str) -> None:
        span = ("range", *project_range(ident))
        await self.write([(PROJECTS, "delete", ident, None), (BLOBS, "delete", span, None),
                          (FEATURES, "delete", span, None), (MODELS, "delete", ident, None)])

    async def save(self, record: ProjectRecord, saved: Saved, project: Project, store: FeatureStore,
                   classifier: Classifier | None) -> tuple[ProjectRecord, Saved]:
        """Write what changed since `saved` (see plan_save) plus the manifest, in one transaction; returns the
        manifest as written and the new Saved state (the caller adopts both only once this returned)."""
        plan = plan_save(saved, [s.uid for s in project.samples], store.keys(), classifier)
        by_uid = {s.uid: s for s in project.samples}
        sizes = {s.uid: s.size for s in record.samples}
        ident = record.id
        ops: list[idb.Op] = []
        for uid in plan.put_blobs:
            blob = await sample_blob(by_uid[uid])
            sizes[uid] = int(blob.size)
            ops.append((BLOBS, "put", blob_key(ident, uid), blob))
        ops += [(BLOBS, "delete", blob_key(ident, uid), None) for uid in plan.delete_blobs]
        ops += [(FEATURES, "put", feature_key(ident, key, uid), store.get(key, uid)) for key, uid in plan.put_features]
        ops += [(FEATURES, "delete", feature_key(ident, key, uid), None) for key, uid in plan.delete_features]
        model_bytes = record.model_bytes if classifier is not None else 0
        if plan.put_model:
            data = await classifier.to_zip()
            model_bytes = len(data)
            ops.append((MODELS, "put", ident, bytes_blob(data, "application/zip")))
        if plan.delete_model:
            ops.append((MODELS, "delete", ident, None))
        after = plan.after(saved, classifier)
        updated = ProjectRecord(ident, record.name, record.created, environment.now_epoch(), project.classes.labels,
                                [SampleRecord(s.uid, s.label, s.name, s.line, sizes.get(s.uid, 0))
                                 for s in project.samples], record.settings,
                                _feature_bytes(store, after), model_bytes, project.input_size)
        ops += [(PROJECTS, "put", ident, json.dumps(updated.to_json())), (META, "put", LAST, ident)]
        await self.write(ops)
        return updated, after

    async def put_record(self, record: ProjectRecord) -> None:
        """The manifest alone (a rename, or opening a project makes it the last one)."""
        await self.write([(PROJECTS, "put", record.id, json.dumps(record.to_json())), (META, "put", LAST, record.id)])


def _feature_bytes(store: FeatureStore, saved: Saved) -> int:
    rows = Counter(key for key, _uid in saved.features)
    return sum(count * store.row_bytes(key) for key, count in rows.items())


async def storage_error(error: idb.StorageFailed) -> TeachboxError:
    """A failed write in words a person can act on; quota errors get the numbers."""
    if error.name != "QuotaExceededError":
        return TeachboxError("storage_error", f"The project could not be saved: the browser said {error}.")
    usage, quota = await idb.storage_estimate()
    return TeachboxError(
        "quota_exceeded",
        f"The browser's storage for this site is full ({usage / 2**20:.1f} MB of {quota / 2**20:.1f} MB used), so "
        "this change was not saved and was undone. Everything saved before is still there. Free space by deleting "
        "a project you no longer need (export it first to keep a copy), or remove some images.",
        {"usage": usage, "quota": quota})
