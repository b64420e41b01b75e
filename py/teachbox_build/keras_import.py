"""Keras → site: a Keras model (Keras 3 `.keras`/`.h5`, tf_keras `.h5`, a SavedModel folder) as a TF.js layers model
folder that the numpy pipeline (weights.py: cut, quantize, shard, hash) then turns into a base like any other.

Keras 3 models go through keras_topology.py (the Keras 2 form TF.js 4.22 reads) into tf_keras, which rebuilds and
checks the topology; tf_keras models and SavedModels are loaded by tf_keras directly. tensorflowjs writes the result.
Needs the keras extra (keras_extra.py); every failure is a one-line BuildError naming the file.
"""

from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BuildError
from .keras_extra import tensorflowjs
from .keras_topology import keras2_model, unsupported_layers

# How a Keras Applications model scales its pixels (its preprocess_input), by the model's name: the first match wins.
SCALING_BY_NAME = (
    ("resnet50v2", "tf"), ("resnet101v2", "tf"), ("resnet152v2", "tf"), ("vgg16", "caffe"), ("vgg19", "caffe"),
    ("resnet", "caffe"), ("densenet", "torch"), ("mobilenet", "tf"), ("inception", "tf"), ("xception", "tf"),
    ("nasnet", "tf"), ("efficientnet", "none"), ("convnext", "none"), ("regnet", "none"),
)
BASE_LAYER_KWARGS = ("name", "trainable", "dtype", "batch_input_shape", "input_shape", "batch_size")


@dataclass(frozen=True)
class KerasModel:
    """A loaded Keras model, ready for tensorflowjs: a tf_keras model, its name, and the scaling its name implies."""

    model: Any
    name: str
    scaling: str | None


def guess_scaling(name: str) -> str | None:
    """The preprocess_input mode of a Keras Applications model, from its name (`vgg16`, `resnet50`, …), else None."""
    key = name.lower().replace("_", "").replace("-", "")
    return next((scaling for fragment, scaling in SCALING_BY_NAME if fragment in key), None)


def load_keras(path: Path) -> KerasModel:
    """The model at `path` as a tf_keras model, checked for layers TF.js cannot run."""
    tensorflowjs()
    if not path.exists():
        raise BuildError(f"Keras model {path} does not exist")
    try:
        model, keras3 = _load(path)
    except BuildError:
        raise
    except Exception as error:  # noqa: BLE001 - Keras raises anything from ValueError to OSError on a bad file
        raise BuildError(f"cannot load {path} as a Keras model: {_load_failure(error)}") from None
    refused = unsupported_layers([(layer.name, type(layer).__name__) for layer in model.layers])
    if refused:
        raise BuildError(f"{path}: layer {refused[0]} cannot run in TF.js 4.22, the page's runtime: save the model "
                         "without it (a base needs only the layers up to its features)")
    name = model.name
    return KerasModel(_to_tf_keras(model, path) if keras3 else model, name, guess_scaling(name))


def _load_failure(error: Exception) -> str:
    """One line for a load failure. Keras wraps an unknown (custom) layer class in a paragraph whose first line does
    not name it; the class is said instead, since TF.js could not run it either."""
    text = str(error).strip()
    unknown = re.search(r"Could not locate class '([^']+)'", text)
    if unknown:
        return f"layer class {unknown.group(1)} is unknown (a custom layer); TF.js 4.22 can run built-in layers only"
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _load(path: Path) -> tuple[Any, bool]:
    """(model, is Keras 3): `.keras` and Keras 3 `.h5` by Keras 3; tf_keras `.h5` and SavedModels by tf_keras."""
    import keras
    import tf_keras

    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise BuildError(f"{path} is a folder without saved_model.pb: pass a .keras or .h5 file or a SavedModel")
        return tf_keras.models.load_model(path, compile=False), False
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return keras.saving.load_model(path, compile=False), True
    if suffix in (".h5", ".hdf5"):
        if _h5_keras_version(path).startswith("3."):
            return keras.saving.load_model(path, compile=False), True
        return tf_keras.models.load_model(path, compile=False), False
    raise BuildError(f"{path} is not a Keras model: expected a .keras or .h5 file or a SavedModel folder")


def _h5_keras_version(path: Path) -> str:
    """The Keras version an .h5 model file was written by (its `keras_version` attribute)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            version = handle.attrs.get("keras_version", "")
    except OSError:
        raise BuildError(f"{path} is not an HDF5 file: expected a Keras .h5 model") from None
    return version.decode() if isinstance(version, bytes) else str(version)


def _to_tf_keras(model: Any, path: Path) -> Any:
    """A Keras 3 model rebuilt in tf_keras from its config in the Keras 2 form, with the same weights."""
    import tf_keras

    spec = keras2_model(type(model).__name__, model.get_config(), _accepted_keys)
    try:
        rebuilt = tf_keras.models.model_from_config(spec)
    except (ValueError, TypeError, KeyError) as error:
        raise BuildError(f"{path}: tf_keras cannot rebuild the model: {str(error).splitlines()[0][:300]}") from None
    weights = model.get_weights()
    shapes = [tuple(w.shape) for w in weights], [tuple(w.shape) for w in rebuilt.get_weights()]
    if shapes[0] != shapes[1]:
        raise BuildError(f"{path}: the rebuilt model's weights differ from the original's ({len(shapes[1])} vs "
                         f"{len(shapes[0])} arrays)")
    rebuilt.set_weights(weights)
    return rebuilt


def _accepted_keys(class_name: str) -> set[str] | None:
    """The config keys tf_keras' layer class takes (its constructor's parameters and the base Layer's), or None when
    it takes any (**kwargs passed on to something that checks them itself is treated as the base Layer)."""
    import tf_keras

    layer = getattr(tf_keras.layers, class_name, None)
    if layer is None:
        return None
    parameters = inspect.signature(layer.__init__).parameters
    return {name for name in parameters if name != "self"} | set(BASE_LAYER_KWARGS)


def write_tfjs(model: KerasModel, folder: Path) -> Path:
    """The model as a TF.js layers model (model.json + shards) in `folder`; returns the folder. tensorflowjs goes
    through a temporary .h5, for which tf_keras warns that .h5 is a legacy format: not this build's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")
        tensorflowjs().converters.save_keras_model(model.model, str(folder))
    return folder
