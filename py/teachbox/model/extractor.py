"""The frozen base model in the page: loading (IndexedDB first), warm-up, and pooled embeddings.

The base is cached in IndexedDB under a content-addressed key, so the second visit loads it locally (no weight
shard fetched) and a rebuilt base never collides with an old copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from teachbox.browser import environment, tfjs
from teachbox.browser.convert import JsException, js_message
from teachbox.data.geometry import INPUT_SIZE
from teachbox.errors import TeachboxError
from teachbox.model.base_catalog import BaseSpec
from teachbox.model.fused_runner import fused_runner
from teachbox.model.topology import earlier_depth, layer_infos

Status = Callable[[str, "float | None"], None]  # a status line: what is happening, and how far (0–1) if known


@dataclass
class FeatureExtractor:
    """A loaded base: `model` maps [N, size, size, 3] to [N, h, w, C]; embeddings are its global average pool.

    Bases built by build.py take any input size (their input layer is [None, None, None, 3]); a custom base may
    declare a fixed one, which then overrides the project's (`fixed_size`).
    """

    model: Any
    base_id: str
    feature_dim: int
    source: str  # "indexeddb", "network" or the URL of a custom model
    load_ms: float
    info: dict = field(default_factory=dict)
    parent: Any = None  # the full model a cut was taken from: its unused top must be disposed too
    users: int = 0  # trained classifiers whose models are built on these layers
    runner: Any = None  # what computes embeddings: the model's fused ops once warm_up() checked them, else the model
    earlier: str | None = None  # the layer `depths: 2` pools beside the output (topology.earlier_depth), once fused
    earlier_dim: int = 0
    scaling: str = "tf"  # how pixels are scaled for this base (geometry.SCALINGS), from bases.json

    def __post_init__(self) -> None:
        self.runner = self.model

    @property
    def fixed_size(self) -> int | None:
        """The only input size this base accepts, or None when it accepts any."""
        return tfjs.input_shape(self.model)[1]

    def input_size(self, wanted: int | None) -> int:
        """The size images are read at for this base: its own when it takes only one, else `wanted`, else 224."""
        return self.fixed_size or wanted or INPUT_SIZE

    def features(self, batch: Any) -> Any:
        """[N, C] pooled embeddings of an input batch (the caller disposes the result)."""
        return tfjs.tidy(lambda: tfjs.mean_pool(self.runner.predict(batch)))

    def depth_dim(self, depths: int) -> int:
        """The embedding's length with features of `depths` depths; refuses what this base cannot give."""
        if depths == 1:
            return self.feature_dim
        if self.earlier is None:
            raise TeachboxError("bad_option", f"depths 2 needs a MobileNet v1 or v2 base run as fused ops; "
                                              f"{self.info.get('label', self.base_id)} has no earlier depth to add.")
        return self.earlier_dim + self.feature_dim

    def warm_up(self) -> float:
        """Switch embedding to the model's fused ops (fused_runner.py: checked against the model on a random image), then
        run one image at the real size so kernel (and WebGL shader) set-up is not paid by the user's first image."""
        start = environment.now_ms()
        topology = tfjs.topology(self.model)
        earlier = earlier_depth(layer_infos(topology))
        self.runner, self.info["fused"] = fused_runner(self.model, (earlier,) if earlier else (), topology)
        fused = bool(self.info["fused"] and "ops" in self.info["fused"])
        side = self.input_size(None)
        zeros = tfjs.zeros([1, side, side, 3])
        try:
            # One pass warms the kernels; through `embed` it also measures the earlier depth's width.
            result = self.runner.embed(zeros) if earlier and fused else self.features(zeros)
            result.dataSync()
            if earlier and fused:
                self.earlier, self.earlier_dim = earlier, int(tfjs.shape(result)[1]) - self.feature_dim
                self.info["earlierDepth"] = earlier
            result.dispose()
        finally:
            zeros.dispose()
        return environment.now_ms() - start

    def dispose(self) -> None:
        """Free the weights. A cut shares its layers with the full model it was taken from, so disposing that full
        model frees everything (the top the cut never used included)."""
        if self.runner is not self.model:
            self.runner.dispose()
        (self.parent if self.parent is not None else self.model).dispose()

    def describe(self) -> dict:
        return {**self.info, "id": self.base_id, "featureDim": self.feature_dim, "source": self.source,
                "loadMs": round(self.load_ms, 1)}


async def load_built_base(spec: BaseSpec, log: Any, status: Status | None = None) -> FeatureExtractor:
    """Load a base of this build: from IndexedDB when cached, else from dist (then cache it for next time).
    `status` (the start-up's status line) is told which, and how far a download has come."""
    start = environment.now_ms()
    keys = await tfjs.saved_model_keys()
    model = None
    source = "network"
    if spec.cache_key in keys:
        if status is not None:
            status(spec.loading(None), None)
        try:
            model = await tfjs.load_model(spec.cache_key)
            source = "indexeddb"
        except JsException as error:  # a damaged cache entry: drop it and fall back to the network
            log(f"cached base unreadable ({js_message(error)}); loading it again")
            await tfjs.remove_model(spec.cache_key)
    if model is None:
        def progress(fraction: float) -> None:
            status(spec.loading(fraction), fraction)

        if status is not None:
            progress(0.0)
        try:
            model = await tfjs.load_model(environment.page_url(spec.url), progress if status is not None else None)
        except JsException as error:
            raise TeachboxError("base_load_failed", f"The base model {spec.label} could not be loaded: "
                                                    f"{js_message(error)}") from error
        await _cache(model, spec, keys, log)
    return FeatureExtractor(model, spec.id, spec.feature_dim, source, environment.now_ms() - start, spec.to_json(),
                            scaling=spec.scaling)


async def _cache(model: Any, spec: BaseSpec, keys: list[str], log: Any) -> None:
    """Store the base in IndexedDB and drop older builds' copies; a full or blocked storage only costs speed."""
    try:
        await tfjs.save_model(model, spec.cache_key)
    except JsException as error:
        log(f"could not cache the base in IndexedDB ({js_message(error)}); it will download next time")
        return
    for key in spec.stale(keys):
        await tfjs.remove_model(key)


async def load_custom_base(url: str, cut_layer: str | None) -> FeatureExtractor:
    """Any same-origin TF.js layers model as a base, cut at `cut_layer` (needed when it still has a classifier top).

    Used by developers who bring their own base, and by the tests to compare a converted base with its original.
    """
    start = environment.now_ms()
    try:
        full = await tfjs.load_model(environment.page_url(url))
    except JsException as error:
        raise TeachboxError("base_load_failed", f"The model at {url} could not be loaded: "
                                                f"{js_message(error)}") from error
    model = full
    if cut_layer:
        try:
            model = tfjs.cut_at(full, cut_layer)
        except KeyError as error:
            full.dispose()
            raise TeachboxError("bad_option", f"The model at {url} has no layer {cut_layer!r}.") from error
    shape = tfjs.output_shape(model)
    if len(shape) != 4:
        full.dispose()
        raise TeachboxError("bad_option", f"The model at {url} outputs shape {shape}; give `cut` naming a "
                                          "convolutional layer (4-D output).")
    return FeatureExtractor(model, f"custom:{url}", int(shape[-1]), url, environment.now_ms() - start,
                            {"label": f"custom model {url}", "cutLayer": cut_layer},
                            parent=full if model is not full else None)
