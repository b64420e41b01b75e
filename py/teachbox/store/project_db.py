"""Projects in IndexedDB: one database; a save's manifest and its last records in one transaction, so a save lands
whole or not at all (a big save's other new records go first, in chunks no manifest names until then: put_chunks).

Stores (all with out-of-line keys; key layout in manifest.py): `projects` (the manifest as a JSON string),
`blobs` (each sample's image bytes as a Blob: CSV rows too, so a saved project needs no server), `features` (pooled
embeddings as Float32Arrays, per base and preprocessing), `models` (the model zip as a Blob) and `meta` (the last
open project). Blobs and typed arrays go in as they are (structured clone): nothing is copied through Python.
A failed commit (QuotaExceededError) aborts the whole transaction; it becomes a `quota_exceeded` TeachboxError with
the numbers a person needs, and the caller keeps its in-memory state as it was before the operation.

Several tabs: a save never writes a snapshot of its tab's memory over the stored manifest. It reads the stored one
and writes the merge of its own changes into it within the same transaction (merge.py, idb.update), and after
every committed write the other tabs are told which project changed (a BroadcastChannel), so they read it back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from teachbox.browser import environment, idb
from teachbox.browser.channel import Channel
from teachbox.browser.convert import bytes_blob
from teachbox.data.project import Project
from teachbox.errors import TeachboxError
from teachbox.model.classifier import Classifier
from teachbox.model.feature_store import FeatureStore, sample_blobs
from teachbox.store.manifest import (
    ProjectRecord,
    Saved,
    blob_key,
    feature_key,
    memory_record,
    new_id,
    plan_save,
    project_range,
    put_chunks,
)
from teachbox.store.merge import Renames, merge

DB_NAME = "teachbox-projects"
DB_VERSION = 1
PROJECTS, BLOBS, FEATURES, MODELS, META = "projects", "blobs", "features", "models", "meta"
STORES = (PROJECTS, BLOBS, FEATURES, MODELS, META)
LAST = "last"



class ProjectDB:
    """The open database and the few operations the app needs on it."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.channel = Channel(DB_NAME)  # tells the other tabs which project a committed write changed
        # The manifest this tab wrote last, as (id, JSON, record): while storage still holds exactly that JSON (no
        # other tab wrote since, the usual case) a save merges into it without parsing 30,000 samples again.
        self._written: tuple[str, str, ProjectRecord] | None = None

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
        self._announce(ident)

    async def save(self, base: ProjectRecord | None, record: ProjectRecord, saved: Saved, project: Project,
                   store: FeatureStore, classifier: Classifier | None,
                   renames: Renames) -> tuple[ProjectRecord, Saved, ProjectRecord]:
        """Write what changed since `saved` (see plan_save), and this tab's changes since `base` merged into the
        stored manifest (merge.py), in one transaction. Returns the manifest of this tab's memory as written, the new
        Saved state (the caller adopts both only once this returned) and the merged manifest now stored."""
        plan = plan_save(saved, [s.uid for s in project.samples], store.keys(), classifier)
        by_uid = {s.uid: s for s in project.samples}
        sizes = {s.uid: s.size for s in base.samples} if base is not None else {}
        ident = record.id
        puts: list[tuple[idb.Op, int]] = []
        for uid, blob in zip(plan.put_blobs, await sample_blobs([by_uid[uid] for uid in plan.put_blobs])):
            sizes[uid] = int(blob.size)
            puts.append(((BLOBS, "put", blob_key(ident, uid), blob), sizes[uid]))
        puts += [((FEATURES, "put", feature_key(ident, key, uid), row), int(row.byteLength))
                 for key, uid in plan.put_features for row in (store.get(key, uid),)]
        *early, last = put_chunks(puts)
        ops: list[idb.Op] = list(last)
        ops += [(BLOBS, "delete", blob_key(ident, uid), None) for uid in plan.delete_blobs]
        ops += [(FEATURES, "delete", feature_key(ident, key, uid), None) for key, uid in plan.delete_features]
        model = base.model if base is not None and classifier is not None else None
        model_bytes = base.model_bytes if model is not None else 0
        if plan.put_model:
            data = await classifier.to_zip()
            model, model_bytes = new_id(), len(data)
            ops.append((MODELS, "put", ident, bytes_blob(data, "application/zip")))
        if plan.delete_model:
            ops.append((MODELS, "delete", ident, None))
        # The feature bytes this save adds or frees, so that the merge adds them to what the other tabs stored.
        feature_bytes = (base.feature_bytes if base is not None else 0) \
            + _row_bytes(store, plan.put_features) - _row_bytes(store, plan.delete_features)
        now = environment.now_epoch()
        mine = memory_record(record, project, sizes, feature_bytes, model_bytes, model, now)
        written: list[idb.Op] = []
        try:
            for chunk in early:  # records no manifest names yet: invisible until the last transaction lands
                await self.write(chunk)
                written += chunk
            merged = await self._update(ident, lambda theirs: merge(base, mine, theirs, renames, now),
                                        [*ops, (META, "put", LAST, ident)])
        except TeachboxError:
            await self._unwrite(written)
            raise
        return mine, plan.after(saved, classifier), merged

    async def _unwrite(self, puts: list[idb.Op]) -> None:
        """Take back the early chunks of a save that did not land (best effort: storage may be what failed; a
        record left behind is named by no manifest and goes with its project)."""
        for chunk in put_chunks([((store, "delete", key, None), 0) for store, _kind, key, _value in puts]):
            if not chunk:
                return
            try:
                await self.write(chunk)
            except TeachboxError as error:
                environment.console_warn(f"could not take back part of a failed save: {error.message}")
                return

    async def create(self, record: ProjectRecord) -> None:
        """A new project's first manifest (its id is new: no other tab can hold it), and the last open one."""
        await self.write([(PROJECTS, "put", record.id, json.dumps(record.to_json())), (META, "put", LAST, record.id)])
        self._announce(record.id)

    async def rename(self, ident: str, name: str) -> None:
        """Rename a project that is not open here (read and written in one transaction, like a save)."""
        def renamed(stored: ProjectRecord | None) -> ProjectRecord:
            if stored is None:
                raise TeachboxError("unknown_project", "There is no saved project with that id.")
            return replace(stored, name=name)

        await self._update(ident, renamed, [])

    async def mark_last(self, ident: str) -> None:
        """Make a project the one the next start restores (nothing of the project itself is written)."""
        await self.write([(META, "put", LAST, ident)])

    async def manifest(self, ident: str) -> ProjectRecord | None:
        """A project's stored manifest (None if there is no such project)."""
        (text,) = await self.read([(PROJECTS, "get", ident)])
        return None if text is None else ProjectRecord.from_json(json.loads(str(text)))

    async def parts(self, ident: str, uids: list[str]) -> tuple[dict[str, Any], list[tuple[str, str, Any]]]:
        """The image Blobs of some samples by uid and their (encoder, uid, features) rows: what another tab added.
        A sample deleted meanwhile is simply missing."""
        wanted = set(uids)
        *blobs, feature_keys = await self.read([(BLOBS, "get", blob_key(ident, uid)) for uid in uids]
                                               + [(FEATURES, "getAllKeys", ("range", *project_range(ident)))])
        keys = [(str(key[1]), str(key[2])) for key in feature_keys if str(key[2]) in wanted]
        rows = await self.read([(FEATURES, "get", feature_key(ident, key, uid)) for key, uid in keys]) if keys else []
        found = {uid: blob for uid, blob in zip(uids, blobs) if blob is not None}
        return found, [(key, uid, row) for (key, uid), row in zip(keys, rows) if row is not None]

    async def model_blob(self, ident: str) -> Any:
        """A project's model zip as a Blob (None if it has none)."""
        (blob,) = await self.read([(MODELS, "get", ident)])
        return blob

    def listen(self, changed: Callable[[str], None]) -> None:
        """Call `changed(project id)` whenever another tab of this site wrote to a project."""
        self.channel.listen(lambda message: changed(str(message.get("project"))))

    async def _update(self, ident: str, change: Callable[[ProjectRecord | None], ProjectRecord],
                      ops: list[idb.Op]) -> ProjectRecord:
        """`ops` and the project's manifest replaced by `change(stored manifest)` in one transaction (see
        idb.update); returns the manifest written and tells the other tabs."""
        written: list[ProjectRecord] = []

        def apply(stored: Any) -> str:
            text = None if stored is None else str(stored)
            mine = self._written
            if text is None:
                record = change(None)
            elif mine is not None and mine[0] == ident and mine[1] == text:
                record = change(mine[2])
            else:
                record = change(ProjectRecord.from_json(json.loads(text)))
            out = json.dumps(record.to_json())
            written.append(record)
            self._written = (ident, out, record)
            return out

        try:
            await idb.update(self.db, ops, PROJECTS, ident, apply)
        except idb.StorageFailed as error:
            raise await storage_error(error) from error
        self._announce(ident)
        return written[0]

    def _announce(self, ident: str) -> None:
        self.channel.post({"project": ident})


def _row_bytes(store: FeatureStore, entries: list[tuple[str, str]]) -> int:
    """Bytes of these (encoder, uid) rows: every row of one encoder has the same size."""
    return sum(count * store.row_bytes(key) for key, count in Counter(key for key, _uid in entries).items())


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
