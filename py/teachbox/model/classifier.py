"""A trained classifier in the page: one TF.js model from image to class probabilities.

The model used for preview, evaluation of new images and export is the same object (base cut → pooling → head),
so what a person previews is exactly what they download; predictions run it as its fused ops (fused_runner.py), checked
against it when the classifier is made. Export/import go through export_zip.py's checked format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from teachbox.browser import image_sources, kernels, tfjs
from teachbox.browser.convert import JsException, js_message
from teachbox.browser.kernels import Box
from teachbox.data import image_reading
from teachbox.data.geometry import Preprocessing, crop_box
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import ModelFiles, build_model_zip, declare_input_size, read_model_zip
from teachbox.model.fused_runner import fused_runner


@dataclass
class Classifier:
    """`model`: [N, size, size, 3] → [N, classes]. `head`: cached features → probabilities (None once imported)."""

    model: Any
    labels: list[str]
    preprocessing: Preprocessing
    metadata: dict[str, Any]
    head: Any = None
    encoder_key: str | None = None
    owned_layers: list[Any] = field(default_factory=list)
    on_dispose: Any = None
    runner: Any = None  # what predicts: the model's fused ops (fused_runner.py), else the model itself
    fused: dict[str, Any] | None = None
    views: tuple[str, ...] = ("id",)  # test-time augmentation: predictions are averaged over these views
    _uses: int = 0  # predictions and evaluations running on this model now
    _dispose_pending: bool = False

    def __post_init__(self) -> None:
        # Made now, not at the first prediction: its folded weights are then part of the classifier from the start,
        # so numTensors is the same after a training whether or not anything was predicted since.
        self.runner, self.fused = fused_runner(self.model)

    async def predict(self, source: Any) -> list[dict[str, Any]]:
        """Labels with probabilities, most likely first."""
        with self.using():
            return await self._predict(source)

    async def _predict(self, source: Any) -> list[dict[str, Any]]:
        async with self._seen(source) as (_image, _box, values, _size):
            ranked = sorted(zip(self.labels, values), key=lambda pair: -pair[1])
        return [{"label": label, "probability": float(p)} for label, p in ranked]

    @asynccontextmanager
    async def _seen(self, source: Any) -> AsyncIterator[tuple[Any, Box, list[float], tuple[int, int]]]:
        """The decoded image, the model's crop box, its class probabilities and the image's (width, height); the
        image is closed afterwards unless the caller gave a decoded one."""
        image = await image_reading.decode_one(source)
        try:
            width, height = image_sources.pixel_size(image)
            box = crop_box(width, height, self.preprocessing.mode)
            values = await kernels.classify(self.runner, image, box, self.preprocessing.size,
                                            self.preprocessing.scaling, self.views)
            yield image, box, values, (width, height)
        finally:
            if image is not source:
                image.close()

    async def explain(self, source: Any, label: str | None = None) -> dict[str, Any]:
        """Where in the image the model looked for `label` (default: the most likely one): Grad-CAM on the base's
        last feature map, as h × w weights in [0, 1] over the crop `box` ([y1, x1, y2, x2], fractions of the
        image) the model saw. One view (the image as it is), even when predictions average several."""
        if label is not None and label not in self.labels:
            raise TeachboxError("unknown_label", f"This model has no class {label!r}; its classes are "
                                                 f"{', '.join(self.labels)}.", {"labels": self.labels})
        with self.using():
            return await self._explain(source, label)

    async def _explain(self, source: Any, label: str | None) -> dict[str, Any]:
        async with self._seen(source) as (image, box, values, (width, height)):
            chosen = label if label is not None else self.labels[max(range(len(values)), key=values.__getitem__)]
            index = self.labels.index(chosen)
            heat, peak = await kernels.explain(self.model, image, box, self.preprocessing.size,
                                               self.preprocessing.scaling, index)
        return {"label": chosen, "probability": float(values[index]), "map": heat, "peak": peak,
                "box": list(box), "width": width, "height": height}

    @contextmanager
    def using(self) -> Iterator[None]:
        """Hold the model while a prediction or evaluation awaits: another tab's model can replace this one at any
        await, and its weights must outlive the work already running on them (dispose() waits for it)."""
        self._uses += 1
        try:
            yield
        finally:
            self._uses -= 1
            if self._dispose_pending and not self._uses:
                self._dispose_pending = False
                self._free()

    def dispose(self) -> None:
        if self._uses:
            self._dispose_pending = True
            return
        self._free()

    def _free(self) -> None:
        if self.runner is not self.model:
            self.runner.dispose()
            self.runner = self.model
        tfjs.dispose_layers(self.owned_layers)
        self.owned_layers = []
        if self.on_dispose is not None:
            self.on_dispose()

    async def to_zip(self) -> bytes:
        """model.json + weights.bin + metadata.json, as bytes of a zip."""
        topology, specs, data = await tfjs.artifacts(self.model)
        return build_model_zip(declare_input_size(topology, self.preprocessing.size), specs, data, self.metadata)


async def classifier_from_zip(data: bytes) -> Classifier:
    """Load a checked export; the model is built by TF.js from JSON only (no code in the file runs)."""
    files: ModelFiles = read_model_zip(data)
    try:
        model = await tfjs.model_from_artifacts(files.model_json["modelTopology"], files.weight_specs, files.weights)
    except JsException as error:
        raise TeachboxError("bad_model_file", f"The model in the zip could not be built: "
                                              f"{js_message(error)}") from error
    prep = files.metadata["preprocessing"]
    shape = tfjs.input_shape(model)
    if shape[1:] != [prep["size"], prep["size"], 3]:
        tfjs.dispose_layers(tfjs.model_layers(model))
        raise TeachboxError("bad_model_file", f"The model expects input {shape[1:]} but its metadata says "
                                              f"{prep['size']}×{prep['size']} RGB.")
    preprocessing = Preprocessing(mode=prep["mode"], size=prep["size"], scaling=prep.get("scaling", "tf"))
    return Classifier(model, files.labels, preprocessing, files.metadata, owned_layers=tfjs.model_layers(model),
                      views=tuple(files.metadata.get("tta") or ("id",)))
