"""A trained classifier in the page: one TF.js model from image to class probabilities.

The model used for preview, evaluation of new images and export is the same object (base cut → pooling → head),
so what a person previews is exactly what they download; predictions run it as its fused ops (runner.py), checked
against it when the classifier is made. Export/import go through modelzip.py's checked format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from teachbox.browser import image_sources
from teachbox import jsbridge
from teachbox.data import image_reading
from teachbox.errors import TeachboxError
from teachbox.jsbridge import tf
from teachbox.model.export_zip import ModelFiles, build_model_zip, declare_input_size, read_model_zip
from teachbox.data.geometry import Preprocessing, crop_box
from teachbox.model.fused_runner import fused_runner


def dispose_layers(layers: list[Any]) -> None:
    """Free the weights of these layers exactly once, however many models share them.

    Disposing a whole tf.LayersModel frees every layer in it, including layers it shares with another model (the
    page's base), and stops at the first already-freed layer; freeing layer by layer avoids both problems.
    """
    seen: set[int] = set()
    for layer in layers:
        if int(layer.id) in seen:
            continue
        seen.add(int(layer.id))
        while True:
            try:
                result = layer.dispose()
            except jsbridge.JsException:
                break
            remaining = result.refCountAfterDispose
            if jsbridge.is_nullish(remaining) or int(remaining) <= 0:
                break


def model_layers(model: Any) -> list[Any]:
    return list(model.layers)


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
    runner: Any = None  # what predicts: the model's fused ops (runner.py), else the model itself
    fused: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Made now, not at the first prediction: its folded weights are then part of the classifier from the start,
        # so numTensors is the same after a training whether or not anything was predicted since.
        self.runner, self.fused = fused_runner(self.model)

    async def predict(self, source: Any) -> list[dict[str, Any]]:
        """Labels with probabilities, most likely first."""
        image = await image_reading.decode_one(source)
        try:
            width, height = image_sources.pixel_size(image)
            box = crop_box(width, height, self.preprocessing.mode)
            values = await jsbridge.classify(self.runner, image, box, self.preprocessing.size)
        finally:
            if image is not source:
                image.close()
        ranked = sorted(zip(self.labels, values), key=lambda pair: -pair[1])
        return [{"label": label, "probability": float(p)} for label, p in ranked]

    def dispose(self) -> None:
        if self.runner is not self.model:
            self.runner.dispose()
            self.runner = self.model
        dispose_layers(self.owned_layers)
        self.owned_layers = []
        if self.on_dispose is not None:
            self.on_dispose()

    async def to_zip(self) -> bytes:
        """model.json + weights.bin + metadata.json, as bytes of a zip."""
        captured: dict[str, Any] = {}

        def handler(artifacts: Any) -> Any:
            captured["topology"] = artifacts.modelTopology.to_py()
            captured["specs"] = artifacts.weightSpecs.to_py()
            captured["data"] = _weight_bytes(artifacts.weightData)
            return jsbridge.to_js({"modelArtifactsInfo": {"dateSaved": jsbridge.js.Date.new(),
                                                          "modelTopologyType": "JSON"}})

        proxy = jsbridge.create_proxy(handler)
        try:
            await self.model.save(tf.io.withSaveHandler(proxy))
        finally:
            proxy.destroy()
        topology = declare_input_size(captured["topology"], self.preprocessing.size)
        return build_model_zip(topology, captured["specs"], captured["data"], self.metadata)


def _weight_bytes(weight_data: Any) -> bytes:
    """TF.js hands weights as one ArrayBuffer or (4.x) a list of them."""
    if jsbridge.js_type(weight_data) == "Array":
        return b"".join(bytes(jsbridge.js.Uint8Array.new(part).to_py()) for part in weight_data)
    return bytes(jsbridge.js.Uint8Array.new(weight_data).to_py())


async def classifier_from_zip(data: bytes) -> Classifier:
    """Load a checked export; the model is built by TF.js from JSON only (no code in the file runs)."""
    files: ModelFiles = read_model_zip(data)
    weights = jsbridge.to_js(files.weights)
    # JSON.parse, not to_js: Keras configs hold nulls that must stay null (to_js would make them undefined).
    artifacts = jsbridge.js.JSON.parse(json.dumps({"modelTopology": files.model_json["modelTopology"],
                                                   "weightSpecs": files.weight_specs}))
    artifacts.weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength)
    try:
        model = await tf.loadLayersModel(tf.io.fromMemory(artifacts))
    except jsbridge.JsException as error:
        raise TeachboxError("bad_model_file", f"The model in the zip could not be built: "
                                              f"{jsbridge.js_message(error)}") from error
    prep = files.metadata["preprocessing"]
    shape = list(model.inputs[0].shape.to_py())
    if shape[1:] != [prep["size"], prep["size"], 3]:
        dispose_layers(model_layers(model))
        raise TeachboxError("bad_model_file", f"The model expects input {shape[1:]} but its metadata says "
                                              f"{prep['size']}×{prep['size']} RGB.")
    preprocessing = Preprocessing(mode=prep["mode"], size=prep["size"])
    return Classifier(model, files.labels, preprocessing, files.metadata, owned_layers=model_layers(model))
