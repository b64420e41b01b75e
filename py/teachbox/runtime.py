"""The page's engine: TF.js backend, the base-model catalog, the active feature extractor, single-image embedding.

Both the UI and `window.teachbox` use one Runtime; nothing here knows about the DOM beyond the status callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from teachbox.backend_choice import backend_candidates
from teachbox.browser import environment, net, tfjs
from teachbox.browser.convert import JsException, js_message
from teachbox.data import image_reading
from teachbox.data.geometry import Preprocessing
from teachbox.errors import TeachboxError
from teachbox.model.base_catalog import BaseCatalog, parse_catalog
from teachbox.model.extractor import FeatureExtractor, Status, load_built_base, load_custom_base

BASES_URL = "models/bases.json"
WASM_DIR = "vendor/tfjs/"


class Runtime:
    """Holds the backend and the active base; created once per page by `Runtime.start`."""

    def __init__(self, catalog: BaseCatalog, log: Callable[[str], None]) -> None:
        self.catalog = catalog
        self.log = log
        self.backend = ""
        self.backend_reason = ""
        self.extractor: FeatureExtractor | None = None
        self.preprocessing = Preprocessing()
        self.timings: dict[str, float] = {}

    @classmethod
    async def start(cls, log: Callable[[str], None], status: Status) -> Runtime:
        """Backend first (it decides where weights live), then the default base, then a warm-up batch."""
        python_at = round(environment.now_ms(), 1)  # the first Python statement of the app: Pyodide + PyScript are up
        status("Starting TensorFlow.js: choosing a compute backend…", None)
        catalog = parse_catalog(await net.fetch_json(BASES_URL))
        runtime = cls(catalog, log)
        runtime.timings["python"] = python_at
        await runtime.init_backend(environment.query_param("backend"))
        runtime.mark("backend")
        log(f"backend: {runtime.backend} ({runtime.backend_reason})")
        spec = catalog.get(environment.query_param("base"))
        await runtime.use_base(spec.id, status=status)
        runtime.mark("base")
        return runtime

    def mark(self, phase: str) -> None:
        self.timings[phase] = round(environment.now_ms(), 1)

    async def init_backend(self, requested: str | None) -> None:
        tfjs.set_wasm_paths(environment.page_url(WASM_DIR))
        for name, reason in backend_candidates(requested, environment.webgl_probe()):
            try:
                ok = await tfjs.set_backend(name)
            except JsException as error:
                self.log(f"backend {name} failed: {js_message(error)}")
                continue
            if ok:
                self.backend, self.backend_reason = name, reason
                return
            self.log(f"backend {name} is not available here")
        raise TeachboxError("no_backend", "No TensorFlow.js backend could start in this browser.")

    async def load_extractor(self, base: str | None = None, url: str | None = None,
                             cut: str | None = None, status: Status | None = None) -> FeatureExtractor:
        """A new instance of a base (a built one by id, or a custom model URL), not yet active."""
        if url:
            return await load_custom_base(url, cut)
        return await load_built_base(self.catalog.get(base), self.log, status)

    async def use_base(self, base: str | None = None, url: str | None = None, cut: str | None = None,
                       status: Status | None = None) -> dict:
        """Switch the active base; the previous one is disposed unless a trained classifier still uses it. `status`
        (the start-up's status line) hears how the base's download goes."""
        extractor = await self.load_extractor(base, url, cut, status)
        warm_ms = extractor.warm_up()
        fused = extractor.info.get("fused") or {}
        runs = f"{fused['ops']} fused ops" if "ops" in fused else fused.get("rejected", "as a layers model")
        self.log(f"base {extractor.base_id}: {extractor.source}, {extractor.load_ms:.0f} ms, warm-up {warm_ms:.0f} ms,"
                 f" runs {runs}")
        previous, self.extractor = self.extractor, extractor
        if previous is not None and previous.users == 0:
            previous.dispose()
        return extractor.describe()

    async def reload_active(self) -> Any:
        """A private copy of the active base's model (fine-tuning trains it without touching the shared one)."""
        active = self.active()
        if active.parent is not None or active.base_id.startswith("custom:"):
            raise TeachboxError("bad_option", "Fine-tuning needs one of the build's base models; switch with "
                                              "useBase(id) first.")
        return (await load_built_base(self.catalog.get(active.base_id), self.log)).model

    def acquire(self) -> Callable[[], None]:
        """Mark the active base as used by a classifier; returns the function that releases it again (and frees
        it once nothing uses it and it is no longer the active base)."""
        extractor = self.active()
        extractor.users += 1

        def release() -> None:
            extractor.users -= 1
            if extractor.users == 0 and extractor is not self.extractor:
                extractor.dispose()

        return release

    def active(self) -> FeatureExtractor:
        if self.extractor is None:
            raise TeachboxError("not_ready", "No base model is loaded yet.")
        return self.extractor

    async def embed(self, source: Any, size: int | None) -> list[float]:
        """The pooled embedding of one image as a Python list, read at `size` px (the base's own if it has one)."""
        tensor = await image_reading.load_input(source, replace(self.preprocessing, size=self.active().input_size(size),
                                                                       scaling=self.active().scaling))
        try:
            features = self.active().features(tensor)
        finally:
            tensor.dispose()
        try:
            return await tfjs.values(features)
        finally:
            features.dispose()

    def memory(self) -> dict:
        return tfjs.memory()
