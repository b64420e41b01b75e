"""Several named projects: restore the last one at start, create, open, rename, delete, export and import them.

The Session holds the one open project; this module moves projects between it and IndexedDB (project_db.py) and the
project zip format (archive.py). Opening a project reads its image Blobs, embeddings and model zip back, so
training right after a reload embeds nothing. Imports are fully checked and saved before they become the open
project: a refused or failed import leaves the open project exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.browser import environment, idb
from teachbox.browser.convert import blob_bytes, bytes_blob
from teachbox.data.project import Project, Sample
from teachbox.errors import TeachboxError
from teachbox.model.classifier import Classifier, classifier_from_zip
from teachbox.model.feature_store import sample_blob
from teachbox.session import Session
from teachbox.store.archive import ProjectFiles, ProjectImage, build_project_zip, image_path, read_project_zip
from teachbox.store.manifest import DEFAULT_NAME, ProjectRecord, Saved, check_name, unique_name
from teachbox.store.project_db import ProjectDB


class Workspace:
    """Project management on top of one Session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._heard: set[str] = set()  # projects another tab changed while they were not open here

    @property
    def db(self) -> ProjectDB:
        if self.session.db is None:
            raise TeachboxError("storage_unavailable", "This browser gives the page no storage (IndexedDB), so "
                                                       "projects cannot be saved here.")
        return self.session.db

    async def start(self, log: Callable[[str], None]) -> float:
        """Open storage and restore the last open project (a fresh one if there is none); returns the ms it took."""
        began = environment.now_ms()
        try:
            self.session.db = await ProjectDB.open()
            self.db.listen(self._changed_elsewhere)
            self.session.refresher = self.refresh
            last = await self.db.last()
            if last is not None:
                await self.open(last)
                log(f"project {self.session.record.name!r} restored: {len(self.session.project.samples)} images")
        except TeachboxError as error:
            log(f"projects: {error.message}")
        return environment.now_ms() - began

    async def list(self) -> list[dict[str, Any]]:
        records = await self.db.records()
        current = self.session.record.id
        return [record.summary() | {"open": record.id == current} for record in records]

    async def storage(self) -> dict[str, Any]:
        usage, quota = await idb.storage_estimate()
        return {"usage": usage, "quota": quota, "persisted": await idb.storage_persisted(),
                "current": self.session.record.id, "projects": await self.list()}

    async def create(self, name: Any = None) -> dict[str, Any]:
        """A new empty project becomes the open one (the previous one stays saved)."""
        record = ProjectRecord.new(name if isinstance(name, str) and name.strip() else DEFAULT_NAME)
        record.name = unique_name(record.name, [r.name for r in await self.db.records()])
        await self._switching()
        await self.db.create(record)
        self.session.adopt(record, Saved(), Project(), None)
        return self.session.describe()

    async def open(self, ident: str) -> dict[str, Any]:
        await self._switching()
        self._heard.discard(ident)
        record, blobs, rows, model_blob = await self.db.load(ident)
        samples = [Sample(s.label, blobs[s.uid], s.name, uid=s.uid, line=s.line)
                   for s in record.samples if s.uid in blobs]
        classifier = None
        if model_blob is not None:
            classifier = await classifier_from_zip(await blob_bytes(model_blob))
        store = self.session.store
        for key, uid, row in rows:
            store.put(key, uid, row)
        saved = Saved({s.uid for s in samples}, {(key, uid) for key, uid, _ in rows}, classifier)
        await self.db.mark_last(ident)
        self.session.adopt(record, saved, Project.restored(record.classes, samples, record.input_size), classifier)
        if ident in self._heard:  # another tab saved it after it was read above
            self.session.request_refresh()
        return self.session.describe()

    async def rename(self, ident: str, name: Any) -> dict[str, Any]:
        name = check_name(name)
        if ident == self.session.record.id:
            self.session.record.name = name
            await self.session.save(self.session.project, self.session.classifier)
            self.session.emitter.emit("project", self.session.describe())
        else:
            await self.db.rename(ident, name)
        return {"id": ident, "name": name}

    async def delete(self, ident: str) -> dict[str, Any]:
        """Delete a project and its images, embeddings and model; deleting the open one opens the most recent other
        (or a new empty project)."""
        if ident == self.session.record.id:
            await self._switching()
            await self._open_other(ident)
        await self.db.delete(ident)
        return await self.storage()

    async def refresh(self) -> None:
        """Another tab changed the open project: read it back (Session.refresh); if that tab deleted it, open the
        most recent other project, as deleting it here would."""
        try:
            await self.session.refresh()
        except TeachboxError as error:
            if error.code != "project_deleted":
                raise
            await self._open_other(self.session.record.id)

    def _changed_elsewhere(self, ident: str) -> None:
        if ident == self.session.record.id:
            self.session.request_refresh()
        else:
            self._heard.add(ident)

    async def _open_other(self, ident: str) -> None:
        """Open the most recently changed project other than `ident`, or a new empty one."""
        others = [r for r in await self.db.records() if r.id != ident]
        await (self.open(others[0].id) if others else self.create())

    async def export(self) -> bytes:
        """The open project as a zip (see archive.py)."""
        session = self.session
        session.idle()
        images = [ProjectImage(image_path(i + 1, s.name), s.label, await _sample_bytes(s))
                  for i, s in enumerate(session.project.samples)]
        model = await session.classifier.to_zip() if session.classifier is not None else None
        return build_project_zip(ProjectFiles(session.record.name, session.project.classes.labels,
                                              session.record.settings, images, model))

    async def import_zip(self, data: bytes) -> dict[str, Any]:
        """A project zip becomes a new project (and the open one). Images are embedded again (see archive.py)."""
        files = read_project_zip(data)  # refused here: nothing else happens
        classifier = await classifier_from_zip(files.model) if files.model is not None else None
        try:
            return await self._import(files, classifier)
        except BaseException:
            if classifier is not None:
                classifier.dispose()
            raise

    async def _import(self, files: ProjectFiles, classifier: Classifier | None) -> dict[str, Any]:
        session = self.session
        samples = [Sample(image.label, bytes_blob(image.data, ""), image.name) for image in files.images]
        # At the size its model was trained at, so training the imported project again re-embeds nothing.
        size = classifier.preprocessing.size if classifier is not None else None
        failures, size = await session.embed_new("importing a project", samples, size)
        good = [s for s in samples if s.uid not in failures]
        if samples and not good:
            raise TeachboxError("bad_project_file", "None of the images in the project zip could be read; nothing "
                                                    "was imported.", {"errors": session.errors(samples, failures)[:50]})
        record = ProjectRecord.new(unique_name(files.name, [r.name for r in await self.db.records()]))
        record.settings = files.settings
        project = Project.restored(files.classes, good, size if good else None)
        try:
            record, saved, _merged = await self.db.save(None, record, Saved(), project, session.store, classifier, [])
        except TeachboxError:
            session.store.forget({s.uid for s in samples})
            raise
        await self._switching()
        session.adopt(record, saved, project, classifier)
        return {**session.describe(), "errors": session.errors(samples, failures)}

    async def _switching(self) -> None:
        """Before another project is opened: nothing may be running, and pending saves of this one land first."""
        self.session.idle()
        await self.session.settle()


async def _sample_bytes(sample: Sample) -> bytes:
    blob = await sample_blob(sample)
    return await blob_bytes(blob)
