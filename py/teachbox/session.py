"""One person's working state in the page: project, feature cache, trained classifier, and the operations on them.

Every operation either completes or leaves the previous state as it was (a malformed CSV does not clear the loaded
data set; a cancelled or failed training keeps the previous model). The API (api.py) only converts arguments.

The open project is saved to IndexedDB (project_db.py) after every change. Additions, training and model imports are
saved before they are adopted, so a full disk (quota_exceeded) leaves memory and storage as they were; small edits
(rename, relabel, delete) are adopted at once and saved in the background, a failure reported as a `storage` event.

Other tabs may have the same project open. A save merges this tab's changes into what is stored (store/merge.py),
so `base` keeps the manifest this tab's memory was last reconciled with; when another tab changed the project, this
one reads it back (`refresh`), but never while an operation runs (it works on a copy taken from memory, and its save
must diff against the same `base`): the refresh waits for the operation to end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from teachbox.browser import environment, net, tfjs
from teachbox.browser.convert import blob_bytes
from teachbox.data.geometry import auto_input_size
from teachbox.data.image_reading import short_sides
from teachbox.data.labels_csv import ParsedCSV, check_label, decode_csv, first_rows_failure, parse_labels_csv
from teachbox.data.project import Project, Sample
from teachbox.data.removals import Removal, Removals
from teachbox.errors import TeachboxError
from teachbox.events import Emitter
from teachbox.model.classifier import Classifier, classifier_from_zip
from teachbox.model.feature_store import Cancelled, Encoder, FeatureStore
from teachbox.model.metrics import evaluate_predictions
from teachbox.model.train_options import BEST_BASES, TrainOptions
from teachbox.model.train_plan import view_key
from teachbox.model.trainer import embedding_progress, pooled_encoder, prepare, train
from teachbox.runtime import Runtime
from teachbox.store.manifest import DEFAULT_NAME, ProjectRecord, Saved, memory_record
from teachbox.store.merge import Renames, merge, same_content
from teachbox.store.project_db import ProjectDB


class Session:
    """State + operations behind window.teachbox."""

    def __init__(self, runtime: Runtime, emitter: Emitter) -> None:
        self.runtime = runtime
        self.emitter = emitter
        self.project = Project()
        self.store = FeatureStore()
        self.classifier: Classifier | None = None
        self.validation: list[Sample] = []
        self.removals = Removals()  # this project's deletions that undo() can still put back
        self.busy: str | None = None
        self._cancel = False
        self.db: ProjectDB | None = None  # set once storage is open; None: nothing is saved (no IndexedDB)
        self.record = ProjectRecord.new(DEFAULT_NAME)  # id, name and settings as this tab has them now
        self.base: ProjectRecord | None = None  # the stored manifest memory was last reconciled with (merge.py)
        self.renames: Renames = []  # class renames since `base`, in order: a save replays them on storage
        self.saved = Saved()
        self._save_lock = asyncio.Lock()
        self._rewrite_model = False  # the open model's metadata changed: the next save writes the model again
        self._background: set[asyncio.Future] = set()
        # Reads another tab's changes back (Workspace.refresh, which also handles a project deleted elsewhere).
        self.refresher: Callable[[], Awaitable[None]] | None = None
        self._stale = False  # another tab changed the open project and this tab has not read it back yet
        self._refreshing: asyncio.Future | None = None

    # -- helpers -------------------------------------------------------------------------------------------------
    def _start(self, what: str) -> None:
        self.idle()
        self.busy, self._cancel = what, False

    def _finish(self) -> None:
        """The operation ended: a refresh it held back runs now."""
        self.busy = None
        if self._stale:
            self.request_refresh()

    def _cancelled(self) -> bool:
        return self._cancel

    def cancel(self) -> bool:
        """Ask the running operation to stop at its next batch or epoch; True if something was running."""
        self._cancel = self.busy is not None
        return self._cancel

    def _progress(self, payload: dict[str, Any]) -> None:
        self.emitter.emit("progress", payload)

    async def _validate_images(self, samples: list[Sample], project_size: int | None,
                               from_csv: bool = False) -> tuple[dict[str, TeachboxError], int]:
        """Decode and embed new samples now: bad images are found at once, and training later starts instantly.
        Returns the failures by uid and the input size the samples were read at. The rows of a CSV (`from_csv`)
        are given up on when its first rows all fail the same way."""
        # The features the project's next training reads (on the base "Best accuracy" trains on when its settings
        # ask for it, cropped as they say, two depths on a MobileNet unless they say one), so that Train does not
        # embed every image again.
        settings = TrainOptions.from_api(self.record.settings)
        wanted = None if settings.base else self._preferred_base(settings)
        if wanted and wanted != self.runtime.active().base_id:
            await self.runtime.use_base(wanted)
        base = self.runtime.active()
        size = base.input_size(project_size)
        depths = settings.depths_on(True) if base.earlier is not None else 1
        encoder = pooled_encoder(base, replace(self.runtime.preprocessing, size=size, mode=settings.crop),
                                 depths=depths)
        failures = await self.store.ensure(samples, encoder, embedding_progress(self._progress, time.monotonic()),
                                           self._cancelled, self._stop_on_first_rows if from_csv else None)
        return failures, size

    def _stop_on_first_rows(self, first: list[Sample], failures: dict[str, TeachboxError]) -> None:
        """Raise when the first rows of a CSV all failed for one reason (labels_csv.first_rows_failure)."""
        stop = first_rows_failure(self.errors(first, failures), len(first))
        if stop is not None:
            raise stop

    @staticmethod
    def errors(samples: list[Sample], failures: dict[str, TeachboxError]) -> list[dict[str, Any]]:
        return [{"line": s.line, "path": s.name, "code": failures[s.uid].code, "message": failures[s.uid].message}
                for s in samples if s.uid in failures]

    async def embed_new(self, what: str, samples: list[Sample],
                        size: int | None) -> tuple[dict[str, TeachboxError], int]:
        """Embed the samples of a new project (an import) at `size` (224 if None); returns the failures by uid and
        the input size used."""
        self._start(what)
        try:
            return await self._validate_images(samples, size)
        finally:
            self._finish()

    # -- data ----------------------------------------------------------------------------------------------------
    async def load_dataset(self, csv_url: str, append: bool = False) -> dict[str, Any]:
        """Read a `path,label` CSV and its images; valid rows are kept, each bad row or image is reported."""
        self._start("loading a data set")
        try:
            parsed = await _fetch_csv(csv_url)
            samples = [Sample(row.label, row.url, row.path, line=row.line) for row in parsed.rows]
            project = self.project.copy() if append else Project()

            row_errors = [e.to_json() for e in parsed.errors]

            def refused(failures: dict[str, TeachboxError]) -> TeachboxError:
                return TeachboxError("empty_dataset", f"No usable image in {csv_url}; nothing was changed.",
                                     {"errors": (row_errors + self.errors(samples, failures))[:50]})

            _good, failures = await self._add_usable(project, samples, from_csv=True, if_none=refused)
            errors = row_errors + self.errors(samples, failures)
        finally:
            self._finish()
        summary = {**project.to_json(), "errors": errors, "error_count": len(errors), "rows": len(parsed.rows)}
        self.emitter.emit("dataset", project.to_json())
        return summary

    async def add_images(self, label: str, files: Any) -> dict[str, Any]:
        """Add File/Blob images under a label; images that cannot be used are reported and not added."""
        label = check_label(label)
        self._start("adding images")
        try:
            samples = [Sample(label, item, str(getattr(item, "name", "") or f"image {i + 1}"))
                       for i, item in enumerate(files)]
            good, failures = await self._add_usable(self.project.copy(), samples)
        finally:
            self._finish()
        self.emitter.emit("dataset", self.project.to_json())
        return {**self.project.to_json(), "added": len(good), "errors": self.errors(samples, failures)}

    async def _add_usable(self, project: Project, samples: list[Sample], from_csv: bool = False,
                          if_none: Callable[[dict[str, TeachboxError]], TeachboxError] | None = None
                          ) -> tuple[list[Sample], dict[str, TeachboxError]]:
        """Check and embed `samples`, add the usable ones to `project` (a tentative copy), save it, and only then
        make it the open project: a failed save leaves the open project as it was. Raises `if_none(failures)` when
        nothing is usable and the caller refuses that. Returns (usable samples, failures by uid)."""
        failures, size = await self._validate_images(samples, project.input_size, from_csv=from_csv)
        good = [s for s in samples if s.uid not in failures]
        if not good and if_none is not None:
            raise if_none(failures)
        if good:
            project.input_size = project.input_size or size
        project.add(good)
        self._progress({"phase": "saving", "total": len(good)})
        await self._save_or_forget(project, self.classifier, good)
        self.project = project
        return good, failures

    # -- editing classes and samples (the UI's label-cleaning loop) -------------------------------------------------
    def idle(self) -> None:
        if self.busy:
            raise TeachboxError("busy", f"Teachbox is busy {self.busy}; wait for it or call cancel().")

    def add_class(self, label: str) -> dict[str, Any]:
        self.idle()
        self.project.add_class(check_label(label))
        return self._changed()

    def rename_class(self, old: str, new: str) -> dict[str, Any]:
        self.idle()
        self.project.rename_class(old, check_label(new))
        self.renames.append((old, new))
        self.removals.renamed(old, new)
        return self._changed()

    def delete_class(self, label: str) -> dict[str, Any]:
        self.idle()
        position, taken = self.project.take_class(label)
        return self._removed(taken, (position, label))

    def remove_samples(self, uids: list[str]) -> dict[str, Any]:
        self.idle()
        return self._removed(self.project.take(set(uids)))

    def _removed(self, taken: list[tuple[int, Sample]], class_place: tuple[int, str] | None = None) -> dict[str, Any]:
        """Keep what a delete took out (with the samples' cached features) for undo(); returns project() with the
        deletion's `undo` token (None when nothing was removed)."""
        features = self.store.take({s.uid for _, s in taken})
        if not taken and class_place is None:
            return {**self._changed(), "undo": None}
        removal = Removal(taken, class_place, features)
        self.removals.keep(removal)
        return {**self._changed(), "undo": removal.token}

    def undo(self, token: str | None) -> dict[str, Any]:
        """Put back what a delete removed (the newest one, or the one `token` names): its class at its index, its
        images at their places with their labels and cached features. Saved like any edit."""
        self.idle()
        removal = self.removals.take(token)
        back = self.project.put_back(removal.samples, removal.class_place)
        returned = {s.uid for s in back}
        for key, uid, row in removal.features:
            if uid in returned:
                self.store.put(key, uid, row)
        if self.classifier is not None:  # its metadata names its validation images: those put back count again
            self.validation = _validation_of(self.classifier, self.project)
        result = {**self._changed(), "restored": removal.summary()}
        self.emitter.emit("restored", {**removal.summary(), "uids": sorted(returned)})
        return result

    def relabel(self, uids: list[str], label: str) -> dict[str, Any]:
        self.idle()
        self.project.relabel(set(uids), check_label(label))
        return self._changed()

    def samples(self, label: str | None, offset: int, limit: int) -> list[dict[str, Any]]:
        """Sample records for listing; `source` is the URL, or the File/Blob itself for added files."""
        return [{"uid": s.uid, "label": s.label, "name": s.name, "line": s.line, "source": s.source}
                for s in self.project.page(label, offset, limit)]

    def _changed(self) -> dict[str, Any]:
        self.validation = [s for s in self.validation if s in self.project.samples]
        self.emitter.emit("dataset", self.project.to_json())
        self.save_later()
        return self.describe()

    # -- saving ----------------------------------------------------------------------------------------------------
    async def save(self, project: Project, classifier: Classifier | None) -> None:
        """Write `project` + `classifier` as the open project's state (one transaction; serialised with other saves).
        Raises quota_exceeded / storage_error with nothing adopted."""
        if self.db is None:
            return
        async with self._save_lock:
            replayed = len(self.renames)
            # Read under the lock: a save already running when the flag was set would not write the change.
            saved = replace(self.saved, model=None) if self._rewrite_model and classifier is not None else self.saved
            self._rewrite_model = False
            written, self.saved, merged = await self.db.save(self.base, self.record, saved, project, self.store,
                                                             classifier, self.renames[:replayed])
            del self.renames[:replayed]
            # The base is what this tab wrote of its memory, not the merge: another tab's additions are not in
            # memory yet, and a base holding them would make the next save read them as removed here.
            self.base = written
            self.record = replace(written, name=self.record.name, settings=self.record.settings)
        if not same_content(merged, written):
            self.request_refresh()

    async def _save_or_forget(self, project: Project, classifier: Classifier | None, added: list[Sample]) -> None:
        """Save a tentative addition; if that fails, the new samples' features are dropped again (not adopted)."""
        try:
            await self.save(project, classifier)
        except TeachboxError:
            self.store.forget({s.uid for s in added} - {s.uid for s in self.project.samples})
            raise

    def save_later(self) -> None:
        """Save the current state in the background (after an edit that is already adopted)."""
        async def run() -> None:
            try:
                await self.save(self.project, self.classifier)
            except TeachboxError as error:
                self.emitter.emit("storage", {"error": error.to_json()})

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for the saves scheduled so far, so they land on this project before another one is opened (a save
        scheduled but not started yet would otherwise run against the next project's state)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        async with self._save_lock:
            pass

    def adopt(self, record: ProjectRecord, saved: Saved, project: Project, classifier: Classifier | None) -> None:
        """Make another (restored, imported or new) project the open one, as stored in `record`; the previous one's
        memory is released."""
        self.store.forget({s.uid for s in self.project.samples} - {s.uid for s in project.samples})
        # Two objects: edits to this tab's name and settings must not change the base they are diffed against.
        self.record, self.base, self.renames, self.saved, self.project = replace(record), record, [], saved, project
        self.removals.clear()
        self._stale = False
        self._replace_classifier(classifier)
        self.validation = _validation_of(classifier, project)
        self.emitter.emit("project", self.describe())
        self.emitter.emit("dataset", project.to_json())

    # -- other tabs ------------------------------------------------------------------------------------------------
    def request_refresh(self) -> None:
        """Another tab changed the open project: read it back soon (after the running operation, if any). Requests
        that arrive while one is pending are served by it."""
        self._stale = True
        if self.busy is None and self.refresher is not None \
                and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.ensure_future(self._refresh_while_stale())

    async def _refresh_while_stale(self) -> None:
        while self._stale and self.busy is None and self.refresher is not None:
            self._stale = False
            try:
                await self.refresher()
            except TeachboxError as error:
                self.emitter.emit("storage", {"error": error.to_json()})

    async def refresh(self) -> None:
        """Read the open project back from storage and merge it into memory: other tabs' samples (with their images
        and embeddings), classes, name, settings and model appear here, and this tab's edits not saved yet stay.
        Raises project_deleted when another tab deleted the project."""
        if self.db is None:
            return
        async with self._save_lock:
            ident, base = self.record.id, self.base
            stored = await self.db.manifest(ident)
            if stored is None:
                raise TeachboxError("project_deleted", "This project was deleted in another tab.")
            known = {s.uid for s in self.project.samples}
            blobs, rows = await self.db.parts(ident, [s.uid for s in stored.samples if s.uid not in known])
            loaded = None
            if stored.model is not None and stored.model != (base.model if base is not None else None):
                blob = await self.db.model_blob(ident)  # another tab trained or imported a model
                loaded = await classifier_from_zip(await blob_bytes(blob)) if blob is not None else None
            if self.busy is not None or self.record.id != ident:  # an operation or a switch began meanwhile
                if loaded is not None:
                    loaded.dispose()
                self._stale = True
                return
            self._merge_stored(stored, blobs, rows, loaded)

    def _merge_stored(self, stored: ProjectRecord, blobs: dict[str, Any], rows: list[tuple[str, str, Any]],
                      loaded: Classifier | None) -> None:
        """Adopt `stored` (read by refresh) merged with memory, and `loaded` (the stored model, when it is not the
        one `base` names) if the merge keeps storage's model; synchronous, so no edit can come in between."""
        base_model = self.base.model if self.base is not None else None
        mine = memory_record(self.record, self.project, {}, 0, 0,
                             base_model if self.classifier is not None else None, stored.updated)
        merged = merge(self.base, mine, stored, self.renames, stored.updated)
        by_uid = {s.uid: s for s in self.project.samples}
        samples = []
        for entry in merged.samples:
            sample = by_uid.get(entry.uid)
            if sample is None and entry.uid in blobs:
                sample = Sample(entry.label, blobs[entry.uid], entry.name, uid=entry.uid, line=entry.line)
            if sample is not None:  # else: removed in storage after its manifest was read
                sample.label = entry.label
                samples.append(sample)
        kept = {s.uid for s in samples}
        gone = set(by_uid) - kept
        self.store.forget(gone)
        for key, uid, row in rows:
            self.store.put(key, uid, row)
        model_changed = merged.model != base_model and merged.model == stored.model
        self.saved = Saved((self.saved.uids - gone) | set(blobs),
                           {f for f in self.saved.features if f[1] not in gone} | {(key, uid) for key, uid, _ in rows},
                           loaded if model_changed else self.saved.model)
        renamed = (merged.name, merged.settings) != (self.record.name, self.record.settings)
        self.base = stored
        self.record = replace(stored, name=merged.name, settings=merged.settings)
        self.project = Project.restored(merged.classes, samples, merged.input_size)
        self.validation = [s for s in self.validation if s.uid in kept]
        if model_changed:
            self._replace_classifier(loaded)
            self.validation = _validation_of(loaded, self.project)
        elif loaded is not None:
            loaded.dispose()
        if renamed or model_changed:  # the panels that show the name, the settings or the model follow
            self.emitter.emit("project", self.describe())
        self.emitter.emit("dataset", self.project.to_json())

    def reset(self) -> dict[str, Any]:
        """Forget the data set (cached features included) and the trained model."""
        self.idle()
        self.store.forget({s.uid for s in self.project.samples})
        self.project = Project()
        self.removals.clear()
        self._replace_classifier(None)
        self.validation = []
        self.save_later()
        return self.describe()

    def set_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The project's own training settings (its Train panel's), checked as train() checks options. A training
        never writes them: a script's options are that run's, not the project's (docs/decisions.md, 2026-12-02)."""
        TrainOptions.from_api(settings)
        self.idle()
        self.record.settings = dict(settings)
        self.emitter.emit("settings", {"settings": self.record.settings})
        self.save_later()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        model = None
        if self.classifier is not None:
            model = {"labels": self.classifier.labels, "base": self.classifier.metadata.get("base"),
                     "training": self.classifier.metadata.get("training"),
                     "evaluation": self.classifier.metadata.get("evaluation")}
        record = self.record
        return {**self.project.to_json(), "trained": self.classifier is not None, "model": model,
                "busy": self.busy, "id": record.id, "name": record.name, "settings": record.settings,
                "bytes": record.bytes, "embedded": self.store.computed}

    # -- training ------------------------------------------------------------------------------------------------
    async def train(self, options_in: dict[str, Any] | None) -> dict[str, Any]:
        options = TrainOptions.from_api(options_in)
        self._start("training")
        prepared = classifier = None
        try:
            wanted = options.base or self._preferred_base(options)
            if wanted and wanted != self.runtime.active().base_id:
                await self.runtime.use_base(wanted)
            base = self.runtime.active()
            asked = options.asked_size()
            if asked is None and base.fixed_size is None:
                asked = auto_input_size(await short_sides(self.project.samples))
            size = base.input_size(asked)
            prepared = await prepare(base, self.runtime.reload_active, options, size)
            classifier, result, split = await train(self.project, self.store, prepared, options,
                                                    self._progress, self._cancelled)
            if self._cancel:
                raise Cancelled()
            # The validation images' uids travel with the model, so "Evaluate again" works after a reload.
            classifier.metadata["validation"] = [sample.uid for sample in split["val"]]
            result["inputSize"] = size  # the project() key's spelling
            result["input_size"] = size  # deprecated spelling of inputSize, kept for one release (docs/api.md)
            previous_size = self.project.input_size
            self.project.input_size = size  # the size trained at becomes the project's: images added later use it
            try:
                await self.save(self.project, classifier)  # saved before adopted: a full disk keeps the old model
            except TeachboxError:
                self.project.input_size = previous_size
                raise
        except BaseException:
            if classifier is not None:
                classifier.dispose()
            elif prepared is not None and prepared.copy is not None:
                tfjs.dispose_layers(tfjs.model_layers(prepared.copy))
            if self._cancel:
                self.emitter.emit("cancelled", {"operation": "training"})
            raise
        finally:
            self._finish()
        if prepared.copy is None:  # built on the page's shared base: keep that base alive while the model lives
            classifier.on_dispose = self.runtime.acquire()
        self._replace_classifier(classifier)
        self.validation = split["val"]
        self.emitter.emit("trained", {k: v for k, v in result.items() if k != "history"})
        return result

    def _preferred_base(self, options: TrainOptions) -> str | None:
        """The base a "best" run moves to when the caller named none: the first of BEST_BASES this build ships."""
        if options.quality != "best":
            return None
        shipped = {spec.id for spec in self.runtime.catalog.bases}
        return next((base for base in BEST_BASES if base in shipped), None)

    def _replace_classifier(self, classifier: Classifier | None) -> None:
        previous, self.classifier = self.classifier, classifier
        if previous is not None:
            previous.dispose()

    def _trained(self) -> Classifier:
        if self.classifier is None:
            raise TeachboxError("not_trained", "There is no trained model yet: train one or load one first.")
        return self.classifier

    # -- using the model -----------------------------------------------------------------------------------------
    async def predict(self, source: Any) -> list[dict[str, Any]]:
        return await self._trained().predict(source)

    async def explain(self, source: Any, label: str | None = None) -> dict[str, Any]:
        return await self._trained().explain(source, label)

    async def evaluate(self, csv_url: str | None = None) -> dict[str, Any]:
        """Metrics on the validation split of the last training, or on any labelled CSV."""
        classifier = self._trained()
        with classifier.using():
            return await self._evaluate(classifier, csv_url)

    async def _evaluate(self, classifier: Classifier, csv_url: str | None) -> dict[str, Any]:
        if csv_url:
            return await self._evaluate_csv(classifier, csv_url)
        samples = [s for s in self.validation if s.label in classifier.labels]
        if not samples:
            raise TeachboxError("no_validation", "There is no validation split to evaluate (the model was loaded, "
                                                 "or trained with validationSplit 0); pass a CSV URL.")
        if classifier.head is not None:  # trained in this page: its cached features
            keys = [view_key(classifier.encoder_key or "", view) for view in classifier.views]
            probs = await self.store.averaged(samples, keys, self._cached_shape(classifier), classifier.head)
        else:  # restored from storage: the model itself on the images
            probs = [await self._probabilities(classifier, sample) for sample in samples]
        true = [classifier.labels.index(s.label) for s in samples]
        report = evaluate_predictions(true, probs, classifier.labels, [s.name for s in samples])
        for mistake in report["misclassified"]:  # validation images are project samples: name them exactly
            mistake["uid"] = samples[mistake["index"]].uid
        self._keep_evaluation(classifier, report)
        return {**report, "errors": []}

    @staticmethod
    async def _probabilities(classifier: Classifier, sample: Sample) -> list[float]:
        ranked = {entry["label"]: entry["probability"] for entry in await classifier.predict(sample.source)}
        return [ranked[label] for label in classifier.labels]

    def _keep_evaluation(self, classifier: Classifier, report: dict[str, Any]) -> None:
        """The last validation results go into the model's metadata and are saved with it (a new model token, so
        other tabs read them too): Results show them again after a reload or a project import."""
        classifier.metadata["evaluation"] = {**report, "evaluated": environment.now_iso()}
        self._rewrite_model = True
        self.save_later()

    def _cached_shape(self, classifier: Classifier) -> tuple[int, ...]:
        return tuple(int(d) for d in tfjs.input_shape(classifier.head)[1:])

    async def _evaluate_csv(self, classifier: Classifier, csv_url: str) -> dict[str, Any]:
        self._start("evaluating")
        key = f"eval:{id(classifier)}"
        try:
            parsed = await _fetch_csv(csv_url)
            errors = [e.to_json() for e in parsed.errors]
            samples = []
            for row in parsed.rows:
                if row.label in classifier.labels:
                    samples.append(Sample(row.label, row.url, row.path, line=row.line))
                else:
                    errors.append({"line": row.line, "path": row.path, "code": "unknown_label",
                                   "message": f"The label {row.label!r} is not one the model knows."})
            encoder = Encoder(key, classifier.runner, (len(classifier.labels),), False, classifier.preprocessing,
                              classifier.views)
            failures = await self.store.ensure(samples, encoder, lambda d, t: self._progress(
                {"phase": "evaluating", "done": d, "total": t}), self._cancelled, self._stop_on_first_rows)
            good = [s for s in samples if s.uid not in failures]
            errors += self.errors(samples, failures)
            if not good:
                raise TeachboxError("empty_dataset", f"No usable labelled image in {csv_url}.", {"errors": errors[:50]})
            probs = await self.store.averaged(good, encoder.keys, encoder.shape)
        finally:
            for view in classifier.views:
                self.store.forget_key(view_key(key, view))
            self._finish()
        true = [classifier.labels.index(s.label) for s in good]
        return {**evaluate_predictions(true, probs, classifier.labels, [s.name for s in good]), "errors": errors}

    async def export_model(self) -> bytes:
        return await self._trained().to_zip()

    async def load_model(self, data: bytes) -> dict[str, Any]:
        classifier = await classifier_from_zip(data)  # fully checked before anything is replaced
        try:
            await self.save(self.project, classifier)
        except TeachboxError:
            classifier.dispose()
            raise
        self._replace_classifier(classifier)
        self.validation = []
        return {"labels": classifier.labels, "metadata": classifier.metadata}


async def _fetch_csv(csv_url: str) -> ParsedCSV:
    """The rows of the labels CSV at `csv_url` (relative to the page), read as strict UTF-8 (labels_csv.decode_csv)."""
    absolute = environment.page_url(csv_url)
    return parse_labels_csv(decode_csv(await net.fetch_bytes(absolute)), absolute)


def _validation_of(classifier: Classifier | None, project: Project) -> list[Sample]:
    """The project's samples the model was validated on (their uids are in its metadata), in that order."""
    if classifier is None:
        return []
    by_uid = {sample.uid: sample for sample in project.samples}
    uids = classifier.metadata.get("validation")
    return [by_uid[uid] for uid in uids if isinstance(uid, str) and uid in by_uid] if isinstance(uids, list) else []

