"""Keras → site as a ready classifier: a trained Keras model and its labels shipped as a Teachbox model zip, which the
page opens as a project's model (predict, live preview, evaluate on a CSV) without training.

The zip is the page's own export format (teachbox.model.export_zip: model.json + weights.bin + metadata.json), built
and then re-read with the page's import checks, so a classifier that builds is one the page accepts. The whole model
is kept (nothing is cut): its input must be a fixed square RGB image and its output one probability per label.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from teachbox.data.geometry import Preprocessing
from teachbox.data.labels_csv import check_label
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import FORMAT, FORMAT_VERSION, build_model_zip, output_units, read_model_zip

from .errors import BuildError
from .keras_import import load_keras, write_tfjs
from .weights_io import DTYPES, read_model_json, read_weights
from .weights_topology import feature_shapes, kept_layers, parse_topology

SOFTMAX_LAYERS = ("Softmax",)


def read_labels(path: Path) -> list[str]:
    """One label per non-empty line, checked by the page's own label rules; at least two, all distinct."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BuildError(f"cannot read labels file {path}: {error}") from None
    labels = [line.strip() for line in lines if line.strip()]
    for label in labels:
        try:
            check_label(label)
        except TeachboxError as error:
            raise BuildError(f"{path}: {error.message}") from None
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise BuildError(f"{path} must name at least two distinct labels, one per line")
    return labels


def classifier_zip(model_path: Path, labels_path: Path, scaling: str | None, work: Path) -> tuple[bytes, dict]:
    """The Teachbox model zip of a Keras classifier, and its bases.json entry (without url)."""
    labels = read_labels(labels_path)
    model = load_keras(model_path)
    scaling = scaling or model.scaling
    if scaling is None:
        raise BuildError(f"cannot tell how {model_path} ({model.name}) scales its pixels: pass --preprocess "
                         "tf|torch|caffe|none (what its keras.applications preprocess_input does)")
    folder = write_tfjs(model, work)
    model_json = read_model_json(folder)
    topology = parse_topology(model_json["modelTopology"], str(model_path))
    units = output_units(model_json["modelTopology"])
    if units != len(labels):
        raise BuildError(f"{model_path} outputs {units if units is not None else 'an unknown number of'} classes but "
                         f"{labels_path} names {len(labels)} labels")
    _check_softmax(topology.by_name()[topology.outputs[0]], model_path)
    size = _square_input(feature_shapes(topology, kept_layers(topology, topology.outputs[0]), topology.outputs[0])[0],
                         model_path)
    weights, _ = read_weights(folder, model_json)
    specs = [{"name": w.name, "shape": list(w.values.shape), "dtype": w.dtype} for w in weights]
    data = b"".join(w.values.astype(DTYPES[w.dtype]).tobytes() for w in weights)
    base_id = model_path.stem if model_path.is_file() else model_path.name
    metadata = {
        "format": FORMAT, "formatVersion": FORMAT_VERSION, "labels": labels,
        "preprocessing": Preprocessing(mode="center-crop", size=size, scaling=scaling).to_json(), "inputSize": size,
        "base": {"id": base_id, "label": model.name, "cutLayer": None, "fineTunedLayers": 0},
        "source": {"keras": model_path.name, "builtBy": "build.py --keras-classifier"},
    }
    archive = build_model_zip(model_json["modelTopology"], specs, data, metadata)
    try:
        read_model_zip(archive)  # the page's import checks, here rather than in a visitor's browser
    except TeachboxError as error:
        raise BuildError(f"{model_path}: the page would refuse this classifier: {error.message}") from None
    digest = hashlib.sha256(archive).hexdigest()[:12]
    return archive, {"id": base_id, "label": model.name, "labels": labels, "preprocess": scaling, "inputSize": size,
                     "file": f"model.{digest}.zip", "bytes": len(archive)}


def _check_softmax(layer: dict, model_path: Path) -> None:
    """The output must be probabilities: a softmax activation (the page shows them as such and averages them)."""
    if layer["class_name"] in SOFTMAX_LAYERS or layer.get("config", {}).get("activation") == "softmax":
        return
    raise BuildError(f"{model_path}: the output layer {layer.get('name') or layer['config'].get('name')} "
                     f"({layer['class_name']}) does not end in softmax; add keras.layers.Softmax() and save again")


def _square_input(shape: list | None, model_path: Path) -> int:
    """The side of the model's fixed square RGB input."""
    if not shape or len(shape) != 3 or shape[2] != 3 or not isinstance(shape[0], int) or shape[0] != shape[1]:
        raise BuildError(f"{model_path} takes input {json.dumps(shape)}; a classifier needs a fixed square RGB "
                         "input such as [224, 224, 3]")
    return shape[0]
