"""`window.teachbox`: the one automation API. The UI and the tests are both its clients.

Every method returns plain JSON-able values (exportModel: a Blob); async methods return Promises that reject with a
JS Error whose message is a sentence for a person and whose `code` is stable for scripts (see errors.py).
Documented in docs/api.md.
"""

from __future__ import annotations

from typing import Any

from teachbox import __version__
from teachbox.browser import environment, js_api, net
from teachbox.browser.boot import Boot
from teachbox.browser.convert import blob_bytes, bytes_blob, is_nullish, js_type, to_js, to_py
from teachbox.errors import TeachboxError
from teachbox.events import Emitter
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
            return await self.runtime.use_base(base=choice.get("id"), url=choice.get("url"), cut=choice.get("cut"))
        return await self.runtime.use_base(base=choice)

    async def load_dataset(self, csv_url: Any, options: Any = None) -> dict:
        if not isinstance(csv_url, str) or not csv_url:
            raise TeachboxError("bad_option", "loadDataset needs the URL of a labels CSV.")
        append = bool((to_py(options) or {}).get("append", False))
        return await self.session.load_dataset(csv_url, append)

    async def add_images(self, label: Any, files: Any) -> dict:
        if is_nullish(files):
            raise TeachboxError("bad_option", "addImages needs a list of image files.")
        items = [files] if js_type(files) in ("Blob", "File") else list(files)
        return await self.session.add_images(label if isinstance(label, str) else "", items)

    async def train(self, options: Any = None) -> dict:
        given = to_py(options)
        if given is not None and not isinstance(given, dict):
            raise TeachboxError("bad_option", "train takes an options object, e.g. {epochs: 20}.")
        return await self.session.train(given)

    def cancel(self) -> bool:
        return self.session.cancel()

    async def evaluate(self, csv_url: Any = None) -> dict:
        return await self.session.evaluate(csv_url if isinstance(csv_url, str) and csv_url else None)

    async def predict(self, image: Any) -> list[dict]:
        if is_nullish(image):
            raise TeachboxError("bad_source", "predict needs an image: a URL, File, Blob, <img>, <canvas> or <video>.")
        return await self.session.predict(image)

    async def export_model(self) -> Any:
        return bytes_blob(await self.session.export_model(), "application/zip")

    async def load_model(self, source: Any) -> dict:
        return await self.session.load_model(await _zip_bytes(source, "loadModel needs a model zip"))

    # -- projects (saved in IndexedDB; see workspace.py) --------------------------------------------------------------
    async def list_projects(self) -> list[dict]:
        return await self.projects.list()

    async def new_project(self, name: Any = None) -> dict:
        return await self.projects.create(name)

    async def open_project(self, ident: Any) -> dict:
        return await self.projects.open(_text(ident))

    async def rename_project(self, ident: Any, name: Any) -> dict:
        return await self.projects.rename(_text(ident), name)

    async def delete_project(self, ident: Any) -> dict:
        return await self.projects.delete(_text(ident))

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
        return self.session.add_class(_text(label))

    def rename_class(self, old: Any, new: Any) -> dict:
        return self.session.rename_class(_text(old), _text(new))

    def delete_class(self, label: Any) -> dict:
        return self.session.delete_class(_text(label))

    def remove_samples(self, uids: Any) -> dict:
        return self.session.remove_samples(_texts(uids))

    def relabel(self, uids: Any, label: Any) -> dict:
        return self.session.relabel(_texts(uids), _text(label))

    def samples(self, options: Any = None) -> list[dict]:
        given = to_py(options) or {}
        return self.session.samples(given.get("label"), int(given.get("offset", 0)), int(given.get("limit", 100)))

    def on(self, event: Any, callback: Any) -> Any:
        remove = self.emitter.on(str(event), callback)
        return js_api.once_function(remove)

    def exports(self) -> dict[str, Any]:
        """JS-callable wrappers, by their JS names."""
        promise, plain = js_api.promise_method, js_api.plain_method
        return {
            "info": plain(self.info), "memory": plain(self.memory), "project": plain(self.project),
            "cancel": plain(self.cancel), "reset": plain(self.reset), "samples": plain(self.samples),
            "addClass": plain(self.add_class), "renameClass": plain(self.rename_class),
            "deleteClass": plain(self.delete_class), "removeSamples": plain(self.remove_samples),
            "relabel": plain(self.relabel),
            "on": js_api.handle_method(self.on),
            "embed": promise(self.embed), "useBase": promise(self.use_base),
            "loadDataset": promise(self.load_dataset), "addImages": promise(self.add_images),
            "train": promise(self.train), "evaluate": promise(self.evaluate), "predict": promise(self.predict),
            "exportModel": promise(self.export_model), "loadModel": promise(self.load_model),
            "projects": promise(self.list_projects), "newProject": promise(self.new_project),
            "openProject": promise(self.open_project), "renameProject": promise(self.rename_project),
            "deleteProject": promise(self.delete_project), "storage": promise(self.storage),
            "exportProject": promise(self.export_project), "importProject": promise(self.import_project),
        }


async def _zip_bytes(source: Any, needs: str) -> bytes:
    """The bytes of a zip given as a Blob/File or a same-origin URL."""
    if isinstance(source, str):
        blob = await net.fetch_blob(environment.page_url(source))
    elif js_type(source) in ("Blob", "File"):
        blob = source
    else:
        raise TeachboxError("bad_option", f"{needs} (Blob/File) or its URL.")
    return await blob_bytes(blob)


def _text(value: Any) -> str:
    """A JS argument that must be a string (a label); anything else becomes "" and fails validation clearly."""
    return value if isinstance(value, str) else ""


def _texts(values: Any) -> list[str]:
    items = to_py(values)
    if isinstance(items, str):
        return [items]
    if not isinstance(items, list):
        raise TeachboxError("bad_option", "Give a list of sample ids (uid values from samples()).")
    return [item for item in items if isinstance(item, str)]
