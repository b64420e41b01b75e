"""`window.teachbox`: the one automation API. The UI and the tests are both its clients.

Every method returns plain JSON-able values (exportModel: a Blob); async methods return Promises that reject with a
JS Error whose message is a sentence for a person and whose `code` is stable for scripts (see errors.py).
Documented in docs/api.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from teachbox import __version__, arguments
from teachbox.browser import environment, js_api, net
from teachbox.browser.boot import Boot
from teachbox.browser.convert import blob_bytes, bytes_blob, is_nullish, js_type, to_js, to_py
from teachbox.errors import TeachboxError
from teachbox.events import Emitter
from teachbox.model.export_zip import read_model_zip
from teachbox.runtime import Runtime
from teachbox.session import Session
from teachbox.workspace import Workspace


class Api:
    """The methods behind window.teachbox, bound to one Runtime and one Session."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.emitter = Emitter(lambda callback, payload: callback(to_js(payload)))
        self.session = Session(runtime, self.emitter)
        self.projects = Workspace(self.session)

    def info(self) -> dict:
        """What is running: versions, backend (and why), the active base, the bases of this build, timings (ms), the
        offline copy's state (service worker, files and bytes cached, persistent storage granted), and how Python
        started (restored from a stored snapshot, or normally)."""
        runtime = self.runtime
        return {
            "version": __version__,
            "backend": runtime.backend,
            "backendReason": runtime.backend_reason,
            "base": runtime.active().describe(),
            "bases": [spec.to_json() | {"label": spec.label} for spec in runtime.catalog.bases],
            "classifiers": [spec.to_json() for spec in runtime.catalog.classifiers],
            "defaultBase": runtime.catalog.default,
            "preprocessing": runtime.preprocessing.to_json(),
            "timings": dict(runtime.timings),
            "offline": Boot().offline_state(),
            "interpreter": Boot().interpreter_state(),
            **environment.versions(),
        }

    def memory(self) -> dict:
        """TF.js memory numbers; numTensors is the leak detector the tests watch."""
        return self.runtime.memory()

    async def embed(self, image: Any) -> list[float]:
        """The active base's pooled embedding of one image (URL, Blob/File, <img>, <canvas>, <video>), read at the
        open project's input size (224 before it has images), so it matches what training uses."""
        return await self.runtime.embed(image, self.session.project.input_size)

    async def use_base(self, choice: Any = None) -> dict:
        """Switch base: an id from info().bases, or {url, cut} for any same-origin TF.js layers model."""
        choice = to_py(choice)
        if isinstance(choice, dict):
            given = _options(choice, "useBase", ("id", "url", "cut"))
            return await self.runtime.use_base(
                base=arguments.optional_text(given.get("id"), "useBase's id"),
                url=arguments.optional_text(given.get("url"), "useBase's url"),
                cut=arguments.optional_text(given.get("cut"), "useBase's cut"))
        if choice is not None and not isinstance(choice, str):
            raise arguments.bad("useBase's choice", "a base id or {url, cut}", choice)
        return await self.runtime.use_base(base=choice)

    async def load_dataset(self, csv_url: Any, options: Any = None) -> dict:
        if not isinstance(csv_url, str) or not csv_url:
            raise arguments.bad("loadDataset's csvUrl", "the URL of a labels CSV", csv_url)
        given = _options(options, "loadDataset", ("append",))
        return await self.session.load_dataset(csv_url, arguments.flag(given.get("append"), "append"))

    async def add_images(self, label: Any, files: Any) -> dict:
        label = arguments.text(label, "addImages's label")
        items = [files] if _is_file(files) else _file_list(files)
        if not items or not all(_is_file(item) for item in items):
            raise arguments.bad("addImages's files", "a File or Blob, or a non-empty list of them", to_py(files))
        return await self.session.add_images(label, items)

    async def train(self, options: Any = None) -> dict:
        given = to_py(options)
        if given is not None and not isinstance(given, dict):
            raise TeachboxError("bad_option", "train takes an options object, e.g. {epochs: 20}.")
        return await self.session.train(None if given is None else _without_nulls(given))

    def set_settings(self, settings: Any = None) -> dict:
        """Store the open project's training settings (what its Train panel shows and trains with); {} or nothing:
        every default. train(options) neither reads nor writes them."""
        given = to_py(settings)
        if given is not None and not isinstance(given, dict):
            raise TeachboxError("bad_option", "setSettings takes a settings object, e.g. {epochs: 20}.")
        return self.session.set_settings(_without_nulls(given or {}))

    def cancel(self) -> bool:
        return self.session.cancel()

    async def evaluate(self, csv_url: Any = None) -> dict:
        return await self.session.evaluate(arguments.optional_text(to_py(csv_url), "evaluate's csvUrl") or None)

    async def predict(self, image: Any) -> list[dict]:
        if is_nullish(image):
            raise TeachboxError("bad_source", "predict needs an image: a URL, File, Blob, <img>, <canvas> or <video>.")
        return await self.session.predict(image)

    async def explain(self, image: Any, label: Any = None) -> dict:
        if is_nullish(image):
            raise TeachboxError("bad_source", "explain needs an image: a URL, File, Blob, <img>, <canvas> or <video>.")
        return await self.session.explain(image, arguments.optional_text(to_py(label), "explain's label"))

    async def export_model(self) -> Any:
        return bytes_blob(await self.session.export_model(), "application/zip")

    async def load_model(self, source: Any) -> dict:
        return await self.session.load_model(await _zip_bytes(source, "loadModel needs a model zip"))

    async def open_classifier(self, ident: Any) -> dict:
        """A ready classifier of this build (info().classifiers, build.py --keras-classifier) as the model of a new
        project named after it. The zip is fetched and checked before the project is made, so a failure leaves none."""
        spec = self.runtime.catalog.classifier(arguments.text(ident, "openClassifier's id"))
        data = await _zip_bytes(spec.url, "openClassifier needs a model zip")
        read_model_zip(data)
        await self.projects.create(spec.label)
        return await self.session.load_model(data)

    # -- projects (saved in IndexedDB; see workspace.py) --------------------------------------------------------------
    async def list_projects(self) -> list[dict]:
        return await self.projects.list()

    async def new_project(self, name: Any = None) -> dict:
        return await self.projects.create(arguments.optional_text(to_py(name), "newProject's name"))

    async def open_project(self, ident: Any) -> dict:
        return await self.projects.open(arguments.text(ident, "openProject's id"))

    async def rename_project(self, ident: Any, name: Any) -> dict:
        return await self.projects.rename(arguments.text(ident, "renameProject's id"),
                                          arguments.text(name, "renameProject's name"))

    async def delete_project(self, ident: Any) -> dict:
        return await self.projects.delete(arguments.text(ident, "deleteProject's id"))

    async def storage(self) -> dict:
        """Bytes used and allowed for this site, whether storage is persistent, and each project's size."""
        return await self.projects.storage()

    async def export_project(self) -> Any:
        return bytes_blob(await self.projects.export(), "application/zip")

    async def import_project(self, source: Any) -> dict:
        return await self.projects.import_zip(await _zip_bytes(source, "importProject needs a project zip"))

    def project(self) -> dict:
        return self.session.describe()

    def reset(self) -> dict:
        return self.session.reset()

    def add_class(self, label: Any) -> dict:
        return self.session.add_class(arguments.text(label, "addClass's label"))

    def rename_class(self, old: Any, new: Any) -> dict:
        return self.session.rename_class(arguments.text(old, "renameClass's old label"),
                                         arguments.text(new, "renameClass's new label"))

    def delete_class(self, label: Any) -> dict:
        return self.session.delete_class(arguments.text(label, "deleteClass's label"))

    def remove_samples(self, uids: Any) -> dict:
        return self.session.remove_samples(arguments.texts(to_py(uids), "removeSamples's uids"))

    def undo(self, token: Any = None) -> dict:
        """Put back what a deleteClass/removeSamples removed: the newest such deletion, or the one its `undo`
        token names."""
        return self.session.undo(arguments.optional_text(to_py(token), "undo's token") or None)

    def relabel(self, uids: Any, label: Any) -> dict:
        return self.session.relabel(arguments.texts(to_py(uids), "relabel's uids"),
                                    arguments.text(label, "relabel's label"))

    def samples(self, options: Any = None) -> list[dict]:
        given = _options(options, "samples", ("label", "offset", "limit"))
        return self.session.samples(arguments.optional_text(given.get("label"), "samples's label"),
                                    arguments.whole(given.get("offset", 0), "offset", 0, 2**53),
                                    arguments.whole(given.get("limit", 100), "limit", 0, 2**53))

    def on(self, event: Any, callback: Any) -> Any:
        event = arguments.text(event, "on's event")
        if not callable(callback):
            raise arguments.bad("on's callback", "a function", to_py(callback))
        return js_api.once_function(self.emitter.on(event, callback))

    def methods(self) -> dict[str, Callable[..., Any]]:
        """Every method by its public (JS) name: the one list both window.teachbox and the Python console's
        `teachbox` are made from, so the two always offer the same names."""
        return {
            "info": self.info, "memory": self.memory, "project": self.project, "embed": self.embed,
            "useBase": self.use_base, "loadDataset": self.load_dataset, "addImages": self.add_images,
            "samples": self.samples, "addClass": self.add_class, "renameClass": self.rename_class,
            "deleteClass": self.delete_class, "removeSamples": self.remove_samples, "undo": self.undo,
            "relabel": self.relabel,
            "reset": self.reset, "setSettings": self.set_settings, "train": self.train, "cancel": self.cancel,
            "evaluate": self.evaluate, "predict": self.predict, "explain": self.explain, "exportModel": self.export_model,
            "loadModel": self.load_model, "openClassifier": self.open_classifier, "projects": self.list_projects,
            "newProject": self.new_project,
            "openProject": self.open_project, "renameProject": self.rename_project,
            "deleteProject": self.delete_project, "storage": self.storage, "exportProject": self.export_project,
            "importProject": self.import_project, "on": self.on,
        }

    def exports(self) -> dict[str, Any]:
        """JS-callable wrappers, by their JS names: synchronous methods throw and async ones reject, both with a
        coded Error (js_api.py)."""
        return {name: (js_api.promise_method if inspect.iscoroutinefunction(method) else js_api.plain_method)(
                    name, method) for name, method in self.methods().items()}


async def _zip_bytes(source: Any, needs: str) -> bytes:
    """The bytes of a zip given as a Blob/File or a same-origin URL."""
    if isinstance(source, str):
        blob = await net.fetch_blob(environment.page_url(source))
    elif js_type(source) in ("Blob", "File"):
        blob = source
    else:
        raise TeachboxError("bad_option", f"{needs} (Blob/File) or its URL.")
    return await blob_bytes(blob)


def _without_nulls(given: dict[str, Any]) -> dict[str, Any]:
    """An options object without its null entries: JS null, like undefined, means "the default"."""
    return {name: value for name, value in given.items() if not is_nullish(value)}


def _options(value: Any, what: str, known: tuple[str, ...]) -> dict[str, Any]:
    """A JS options object (or nothing) as a checked dict without null entries."""
    return _without_nulls(arguments.options(to_py(value), what, known))


def _is_file(value: Any) -> bool:
    return js_type(value) in ("Blob", "File")


def _file_list(value: Any) -> list[Any]:
    """The items of an array or FileList (anything else: no items, refused by the caller)."""
    items = to_py(value)
    if isinstance(items, list):
        return items
    return list(value) if js_type(value) == "FileList" else []
