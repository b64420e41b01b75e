"""Keras 3 model configs rewritten into the Keras 2 form that tf_keras rebuilds and TF.js 4.22 reads: pure, unit-tested.

Keras 3 (the `keras` of TensorFlow ≥ 2.16) writes a topology that TF.js 4.22's loadLayersModel refuses ("An InputLayer
should be passed either a `batchInputShape` or an `inputShape`"; tensorflow/tfjs #8358, #8489, #8494): `batch_shape`
instead of `batch_input_shape`, dtype policies as objects, inbound nodes as {"args": [keras tensors]}, and a flat
["name", 0, 0] for a single input. Here each of those becomes its Keras 2 spelling; the result is rebuilt by tf_keras
(which checks it) and written out by tensorflowjs, so TF.js gets exactly the JSON a Keras 2 model would have given.
Initializers, regularizers and constraints are dropped: the weights are copied over, and a base is never trained from
scratch. Which layers TF.js can run at all is checked first, so a model that cannot work fails with the layer's name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from .errors import BuildError

# The layer classes tfjs-layers 4.22 registers (node_modules/@tensorflow/tfjs-layers/dist/layers/**/*.js, className),
# without the recurrent and text ones no image base uses. Anything else cannot be loaded by the page.
TFJS_LAYERS = frozenset((
    "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "BatchNormalization", "CenterCrop", "Concatenate", "Conv1D", "Conv2D", "Conv2DTranspose", "Conv3D",
    "Conv3DTranspose", "Cropping2D", "Dense", "DepthwiseConv2D", "Dot", "Dropout", "ELU", "Flatten", "GaussianDropout",
    "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "InputLayer", "LayerNormalization", "LeakyReLU", "Masking", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "Maximum", "Minimum", "Multiply", "PReLU", "Permute", "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing",
    "SeparableConv2D", "Softmax", "SpatialDropout1D", "Subtract", "ThresholdedReLU", "UpSampling2D", "ZeroPadding2D",
))
MODEL_CLASSES = ("Functional", "Model", "Sequential")
TRAINING_ONLY_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
# Keras 3 Sequential keys tf_keras does not take (the built shape is the InputLayer's already).
SEQUENTIAL_ONLY_KEYS = ("build_input_shape", "dtype", "trainable")

Accepts = Callable[[str], Collection[str] | None]  # a layer class -> the config keys tf_keras takes (None: any)


def unsupported_layers(layers: list[tuple[str, str]]) -> list[str]:
    """`name (Class)` of each (name, class) TF.js 4.22 cannot run, in model order."""
    return [f"{name} ({kind})" for name, kind in layers if kind not in TFJS_LAYERS]


def keras2_model(class_name: str, config: dict, accepts: Accepts) -> dict:
    """{"class_name", "config"} of a Keras 3 Functional or Sequential model's get_config(), in the Keras 2 form."""
    if class_name not in MODEL_CLASSES:
        raise BuildError(f"model class {class_name!r} cannot be converted: save a Functional or Sequential model")
    layers = [_layer(layer, accepts, functional=class_name != "Sequential") for layer in config["layers"]]
    if class_name == "Sequential":
        rest = {k: v for k, v in config.items() if k not in ("layers", *SEQUENTIAL_ONLY_KEYS)}
        return {"class_name": "Sequential", "config": {**rest, "layers": layers}}
    return {"class_name": "Functional", "config": {
        "name": config.get("name", "model"), "layers": layers,
        "input_layers": _endpoints(config["input_layers"]), "output_layers": _endpoints(config["output_layers"]),
    }}


def _layer(layer: dict, accepts: Accepts, functional: bool) -> dict:
    """One layer entry: class and name, its config in Keras 2 keys, and (in a functional model) its inbound nodes."""
    kind, config = layer["class_name"], dict(layer.get("config") or {})
    name = layer.get("name") or config.get("name")
    if kind == "InputLayer":
        config = {"batch_input_shape": config.get("batch_shape") or config.get("batch_input_shape"),
                  "dtype": _dtype(config.get("dtype"), name), "sparse": bool(config.get("sparse")), "name": name}
    else:
        config["dtype"] = _dtype(config.get("dtype"), name)
        known = accepts(kind)
        config = {key: value for key, value in config.items()
                  if not key.endswith(TRAINING_ONLY_SUFFIXES) and (known is None or key in known)}
    entry = {"class_name": kind, "config": config, "name": name}
    if functional:
        entry["inbound_nodes"] = [_node(node, name) for node in layer.get("inbound_nodes", [])]
    return entry


def _dtype(value: object, layer: str | None) -> str:
    """A dtype policy (Keras 3 writes an object) as the plain name Keras 2 writes; TF.js computes in float32 only."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    if value in (None, "float32"):
        return "float32"
    raise BuildError(f"layer {layer} computes in {value}: TF.js runs float32 models only; save the model in float32")


def _node(node: object, layer: str | None) -> list:
    """A Keras 3 inbound node ({"args": [...], "kwargs": {...}}) as Keras 2's [[name, node, tensor, kwargs], ...]."""
    if isinstance(node, (list, tuple)):  # already Keras 2
        return list(node)
    refs = [_history(tensor) for tensor in _tensors(node.get("args", []))]
    if not refs:
        raise BuildError(f"layer {layer} has an inbound node without input tensors; it cannot be converted")
    kwargs = {key: value for key, value in (node.get("kwargs") or {}).items() if value is not None}
    if _tensors(kwargs):
        raise BuildError(f"layer {layer} takes tensors as keyword arguments, which Keras 2 topologies cannot say")
    refs[0][3] = kwargs
    return refs


def _tensors(value: object) -> list[dict]:
    """The Keras tensors (`__keras_tensor__` entries) inside args or kwargs, in order (get_config gives tuples
    where the saved JSON has lists)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else []
    return [tensor for item in items for tensor in _tensors(item)]


def _history(tensor: dict) -> list:
    name, node_index, tensor_index = tensor["config"]["keras_history"]
    return [name, node_index, tensor_index, {}]


def _endpoints(value: list) -> list:
    """input_layers/output_layers as a list of [name, node, tensor] (Keras 3 writes one endpoint flat)."""
    return [list(value)] if value and isinstance(value[0], str) else [list(ref) for ref in value]
