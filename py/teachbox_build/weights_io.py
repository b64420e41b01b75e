"""Reading a TF.js layers model from disk: model.json, its weights manifest and the shards, checked and decoded.

The layout is TF.js' own (tfjs-core io): each manifest group lists shard files that are concatenated and hold the
group's weights back to back as little-endian arrays, optionally stored quantized (uint8/uint16 affine, or float16).
Every inconsistency is reported as a BuildError naming the file, because a model that loads here but not in the
browser would only fail later, on a user's machine, with a far worse message.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import BuildError

DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1")}
STORAGE_DTYPES = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


@dataclass(frozen=True)
class Weight:
    """One decoded weight: its manifest name, logical TF.js dtype and values (float32/int32/uint8 array, shaped)."""

    name: str
    dtype: str
    values: np.ndarray


def parse_model_json(data: bytes, where: str) -> dict:
    """model.json as a dict, with the two keys every layers model has; `where` names it in errors."""
    try:
        model = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BuildError(f"{where} is not valid JSON ({error})") from None
    if not isinstance(model, dict) or not isinstance(model.get("weightsManifest"), list):
        raise BuildError(f"{where} is not a TF.js model.json: it has no weightsManifest list")
    if model.get("format") == "graph-model":
        raise BuildError(f"{where} is a TF.js graph model: a layers model (Keras topology) is needed")
    if not isinstance(model.get("modelTopology"), dict):
        raise BuildError(f"{where} has no Keras modelTopology: a TF.js layers model is needed")
    for index, group in enumerate(model["weightsManifest"], start=1):
        _check_group(group, index, where)
    return model


def read_model_json(model_dir: Path) -> dict:
    """The checked model.json of a model folder."""
    path = model_dir / "model.json"
    if not path.is_file():
        raise BuildError(f"{model_dir} has no model.json: pass a folder holding a TF.js layers model")
    return parse_model_json(path.read_bytes(), str(path))


def shard_paths(model: dict) -> list[str]:
    """Every shard file a (checked) model.json names, in manifest order."""
    return [path for group in model["weightsManifest"] for path in group["paths"]]


def _check_group(group: object, index: int, where: str) -> None:
    """One manifest group: shard paths that stay inside the model folder, and well-formed weight entries."""
    if not isinstance(group, dict) or not isinstance(group.get("paths"), list) \
            or not isinstance(group.get("weights"), list):
        raise BuildError(f"{where}: weightsManifest group {index} needs 'paths' and 'weights' lists")
    for path in group["paths"]:
        if not is_safe_relative(path):
            raise BuildError(f"{where}: shard path {path!r} must be a relative path inside the model folder")
    for entry in group["weights"]:
        _check_entry(entry, where)


def is_safe_relative(path: object) -> bool:
    """Whether a manifest path can be joined to the model folder (or its URL) without escaping it."""
    if not isinstance(path, str) or not path or "\\" in path:
        return False
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts


def _check_entry(entry: object, where: str) -> None:
    """A weight entry: a name, a shape of non-negative ints, a known dtype and, if quantized, usable metadata."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BuildError(f"{where}: a weightsManifest entry has no name")
    name, shape = entry["name"], entry.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BuildError(f"{where}: weight {name} has shape {shape!r}; expected a list of non-negative integers")
    if entry.get("dtype") not in DTYPES:
        raise BuildError(f"{where}: weight {name} has unknown dtype {entry.get('dtype')!r} "
                         f"(supported: {', '.join(DTYPES)})")
    quantization = entry.get("quantization")
    if quantization is not None:
        _check_quantization(quantization, name, entry["dtype"], where)


def _check_quantization(quantization: object, name: str, dtype: str, where: str) -> None:
    """Quantization metadata as tfjs-core's decodeWeights accepts it."""
    stored = quantization.get("dtype") if isinstance(quantization, dict) else None
    if stored not in STORAGE_DTYPES:
        raise BuildError(f"{where}: weight {name} has unknown quantization dtype {stored!r} "
                         f"(supported: {', '.join(STORAGE_DTYPES)})")
    if stored == "float16" and dtype != "float32":
        raise BuildError(f"{where}: weight {name} is {dtype} but stored as float16 (only float32 can be)")
    if stored != "float16":
        affine = [quantization.get(key) for key in ("scale", "min")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in affine):
            raise BuildError(f"{where}: weight {name} is {stored}-quantized without finite 'scale' and 'min'")
        if dtype == "bool":
            raise BuildError(f"{where}: weight {name} is bool but stored {stored}-quantized")


def stored_size(entry: dict) -> int:
    """Bytes a weight occupies in its group's shards: the storage dtype, if quantized, decides."""
    quantization = entry.get("quantization")
    dtype = STORAGE_DTYPES[quantization["dtype"]] if quantization else DTYPES[entry["dtype"]]
    return math.prod(entry["shape"]) * dtype.itemsize


def read_weights(model_dir: Path, model: dict) -> tuple[list[Weight], int]:
    """All weights of a checked model.json, decoded, in manifest order; and the total bytes of its shards."""
    weights: list[Weight] = []
    total = 0
    for index, group in enumerate(model["weightsManifest"], start=1):
        data = _read_group(model_dir, group, index)
        total += len(data)
        offset = 0
        for entry in group["weights"]:
            size = stored_size(entry)
            weights.append(_decode(entry, data[offset:offset + size], model_dir))
            offset += size
    seen: set[str] = set()
    for weight in weights:
        if weight.name in seen:
            raise BuildError(f"{model_dir}/model.json lists weight {weight.name} more than once")
        seen.add(weight.name)
    return weights, total


def _read_group(model_dir: Path, group: dict, index: int) -> bytes:
    """A group's shards concatenated, after checking they hold exactly the bytes its weights need."""
    parts = []
    for path in group["paths"]:
        shard = model_dir / path
        if not shard.is_file():
            raise BuildError(f"shard {path} named in {model_dir}/model.json is missing; re-download the model")
        parts.append(shard.read_bytes())
    data = b"".join(parts)
    expected = sum(stored_size(entry) for entry in group["weights"])
    if len(data) != expected:
        raise BuildError(f"manifest of {model_dir} disagrees with its shards: group {index} expects {expected} "
                         f"bytes, files hold {len(data)}")
    return data


def _decode(entry: dict, data: bytes, model_dir: Path) -> Weight:
    """One weight's values as TF.js decodes them (q * scale + min computed in double, stored as float32)."""
    dtype, shape = entry["dtype"], entry["shape"]
    quantization = entry.get("quantization")
    if quantization is None:
        values = np.frombuffer(data, dtype=DTYPES[dtype]).astype(DTYPES[dtype].newbyteorder("="))
    else:
        stored = np.frombuffer(data, dtype=STORAGE_DTYPES[quantization["dtype"]])
        if quantization["dtype"] == "float16":
            values = stored.astype(np.float32)
        else:
            real = stored.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])
            # JS Math.round rounds halves up; numpy's round would round them to even.
            values = real.astype(np.float32) if dtype == "float32" else np.floor(real + 0.5).astype(np.int32)
    if dtype == "float32" and not np.isfinite(values).all():
        raise BuildError(f"weight {entry['name']} in {model_dir} contains NaN or infinity: the model is corrupt")
    return Weight(entry["name"], dtype, values.reshape(shape))


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see either nothing or all of it (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
