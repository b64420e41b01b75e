"""The exported model as a zip (model.json + weights.bin + metadata.json), written and checked in pure Python.

An imported zip is untrusted: sizes are checked before anything is inflated (zip bombs), the JSON is checked
against the shapes it must have, the weight byte count must equal what the manifest's shapes need, and the model's
output must have one unit per label. Nothing from the file is ever executed; the model.json is the standard
TF.js layers format, so the zip's contents load with a plain `tf.loadLayersModel` anywhere.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teachbox.data.geometry import CROP_MODES, SCALINGS
from teachbox.data.labels_csv import check_label
from teachbox.errors import TeachboxError
from teachbox.model.train_options import VIEWS

MODEL_JSON = "model.json"
WEIGHTS_BIN = "weights.bin"
METADATA_JSON = "metadata.json"
FORMAT = "teachbox-model"
FORMAT_VERSION = 1
MAX_ZIP_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
DTYPE_BYTES = {"float32": 4, "int32": 4}


@dataclass(frozen=True)
class ModelFiles:
    """The checked contents of a model zip."""

    model_json: dict[str, Any]
    weights: bytes
    metadata: dict[str, Any]

    @property
    def weight_specs(self) -> list[dict[str, Any]]:
        return [spec for group in self.model_json["weightsManifest"] for spec in group["weights"]]

    @property
    def labels(self) -> list[str]:
        return list(self.metadata["labels"])


def build_model_zip(topology: dict[str, Any], weight_specs: list[dict[str, Any]], weights: bytes,
                    metadata: dict[str, Any]) -> bytes:
    """Zip a TF.js layers model (as `model.save` hands it over) with its metadata."""
    model_json = {
        "format": "layers-model",
        "generatedBy": "Teachbox",
        "convertedBy": None,
        "modelTopology": topology,
        "weightsManifest": [{"paths": [WEIGHTS_BIN], "weights": weight_specs}],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MODEL_JSON, json.dumps(model_json))
        archive.writestr(WEIGHTS_BIN, weights)
        archive.writestr(METADATA_JSON, json.dumps(metadata, indent=2, ensure_ascii=False))
    return buffer.getvalue()


def declare_input_size(topology: dict[str, Any], size: int) -> dict[str, Any]:
    """The topology with its input layers' open height and width set to `size`.

    The page's bases take any size, so a trained model's input is [None, None, None, 3]; the export says
    [None, size, size, 3] instead, so a developer (or TF.js, on a wrong-size tensor) sees what the model expects.
    """
    spec = topology.get("model_config", topology)
    for layer in spec.get("config", {}).get("layers", []):
        config = layer.get("config", {})
        if layer.get("class_name") == "InputLayer" and isinstance(config.get("batch_input_shape"), list):
            shape = config["batch_input_shape"]
            if len(shape) == 4:
                config["batch_input_shape"] = [shape[0], shape[1] or size, shape[2] or size, shape[3]]
    return topology


def read_model_zip(data: bytes) -> ModelFiles:
    """Open and check a model zip; every problem is a TeachboxError saying what is wrong with the file."""
    archive, entries = open_zip(data, MAX_ZIP_BYTES, "a model zip", _bad)
    missing = [name for name in (MODEL_JSON, WEIGHTS_BIN, METADATA_JSON) if name not in entries]
    if missing:
        raise _bad(f"The zip lacks {', '.join(missing)}; it is not a Teachbox model export.")
    model_json = json_entry(archive, entries[MODEL_JSON], _bad)
    metadata = json_entry(archive, entries[METADATA_JSON], _bad)
    weights = read_entry(archive, entries[WEIGHTS_BIN], MAX_ZIP_BYTES, _bad)
    files = ModelFiles(model_json, weights, metadata)
    check_model(files)
    return files


def open_zip(data: bytes, limit: int, what: str,
             bad: Callable[[str], TeachboxError]) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """An untrusted zip's archive and entries, refused before anything is inflated when it is too big (compressed
    or declared inflated size: zip bombs) or not a zip. Shared by model and project imports."""
    if len(data) > limit:
        raise bad(f"The file is {len(data) // 2**20} MB; {what} may be at most {limit // 2**20} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise bad("The file is not a zip archive (or it is truncated).") from error
    if sum(info.file_size for info in entries.values()) > limit:
        raise bad(f"The zip inflates to more than {what} can be; refusing to open it.")
    return archive, entries


def check_model(files: ModelFiles) -> None:
    """Schema, byte-count and label/output consistency checks."""
    model_json, metadata = files.model_json, files.metadata
    if not isinstance(model_json.get("modelTopology"), dict) or not isinstance(model_json.get("weightsManifest"), list):
        raise _bad("model.json has no modelTopology/weightsManifest: it is not a TF.js layers model.")
    expected = 0
    for spec in _specs(model_json):
        shape, dtype = spec.get("shape"), spec.get("dtype", "float32")
        if not isinstance(spec.get("name"), str) or dtype not in DTYPE_BYTES or not isinstance(shape, list) \
                or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _bad(f"model.json describes a weight it cannot hold: {json.dumps(spec)[:120]}.")
        expected += math.prod(shape) * DTYPE_BYTES[dtype]
    if expected != len(files.weights):
        raise _bad(f"weights.bin holds {len(files.weights):,} bytes but model.json needs {expected:,}: "
                   "the file is truncated or was altered.")
    if metadata.get("format") != FORMAT:
        raise _bad("metadata.json is not Teachbox model metadata.")
    labels = metadata.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) \
            or len(set(labels)) != len(labels):
        raise _bad("metadata.json must list at least two distinct, non-empty labels.")
    for label in labels:
        try:
            check_label(label)  # the rules of every other way a label comes in (no bidi overrides, no controls)
        except TeachboxError as error:
            raise _bad(f"metadata.json: {error.message}") from None
    preprocessing = metadata.get("preprocessing")
    size = preprocessing.get("size") if isinstance(preprocessing, dict) else None
    if not isinstance(preprocessing, dict) or preprocessing.get("mode") not in CROP_MODES \
            or isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
        raise _bad("metadata.json has no valid preprocessing (crop mode and input size).")
    if preprocessing.get("scaling", "tf") not in SCALINGS:
        raise _bad(f"metadata.json's preprocessing scaling must be one of {', '.join(SCALINGS)}.")
    tta = metadata.get("tta")
    if tta is not None and (not isinstance(tta, list) or not tta or len(set(map(str, tta))) != len(tta)
                            or not all(isinstance(view, str) and view in VIEWS for view in tta)):
        raise _bad(f"metadata.json's tta must list distinct views among {', '.join(VIEWS)}.")
    try:
        units = output_units(model_json["modelTopology"])
    except (AttributeError, TypeError, IndexError, KeyError) as error:
        raise _bad("model.json's modelTopology is malformed.") from error
    if units is not None and units != len(labels):
        raise _bad(f"The model outputs {units} classes but metadata.json names {len(labels)} labels.")


def output_units(topology: dict[str, Any]) -> int | None:
    """Units of the output layer (a Dense), if the topology says so."""
    config = topology.get("model_config", topology).get("config", {})
    layers = config.get("layers", [])
    outputs = config.get("output_layers") or []
    name = outputs[0][0] if outputs and outputs[0] else (layers[-1].get("name") if layers else None)
    for layer in layers:
        if layer.get("name", layer.get("config", {}).get("name")) == name:
            units = layer.get("config", {}).get("units")
            return units if isinstance(units, int) else None
    return None


def _specs(model_json: dict[str, Any]) -> list[dict[str, Any]]:
    specs = []
    for group in model_json["weightsManifest"]:
        if not isinstance(group, dict) or not isinstance(group.get("weights"), list):
            raise _bad("model.json's weightsManifest is malformed.")
        specs.extend(spec if isinstance(spec, dict) else {} for spec in group["weights"])
    return specs


def json_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, bad: Callable[[str], TeachboxError]) -> dict[str, Any]:
    """A JSON object entry of an untrusted zip (size-capped before inflating)."""
    try:
        value = json.loads(read_entry(archive, info, MAX_JSON_BYTES, bad).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad(f"{info.filename} in the zip is not valid JSON.") from error
    if not isinstance(value, dict):
        raise bad(f"{info.filename} in the zip is not a JSON object.")
    return value


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
               bad: Callable[[str], TeachboxError]) -> bytes:
    """One entry's bytes; its declared size is checked first, and CRC mismatches or truncation become `bad`."""
    if info.file_size > limit:
        raise bad(f"{info.filename} in the zip is larger than allowed.")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:  # CRC mismatch, truncation
        raise bad(f"{info.filename} in the zip is damaged ({error}).") from error


def _bad(message: str) -> TeachboxError:
    return TeachboxError("bad_model_file", message)
