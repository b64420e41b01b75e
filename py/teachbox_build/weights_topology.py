"""The Keras topology inside a TF.js layers model.json: where to cut it, which layers the cut keeps, what it outputs.

TF.js stores Keras' own JSON in one of two wrappers: tensorflowjs_converter nests it as modelTopology.model_config,
while TF.js' model.save() puts class_name/config directly in modelTopology. Both are read, and the cut model is
written back in the wrapper it came in, so TF.js loads it exactly as it loaded the original.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import BuildError

FUNCTIONAL = ("Model", "Functional")
SEQUENTIAL = "Sequential"
HEADS = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten")
DROPPED_WRAPPER_KEYS = ("training_config",)  # it names the old head's loss and outputs

Shape = Optional[list]  # [height, width, channels] (entries may be None), or None when it cannot be worked out


@dataclass(frozen=True)
class Topology:
    """A parsed functional or sequential model: its layers in order and, per layer name, the layers it reads."""

    class_name: str
    config: dict | list
    layers: list[dict]
    inbound: dict[str, list[str]]
    inputs: list[str]
    outputs: list[str]

    def by_name(self) -> dict[str, dict]:
        """Layer configs by name (inbound's keys are the layer names, in layer order)."""
        return dict(zip(self.inbound, self.layers))


def parse_topology(model_topology: dict, where: str) -> Topology:
    """The Keras model inside modelTopology, in either wrapper; only models TF.js' loadLayersModel can rebuild."""
    spec = model_topology.get("model_config", model_topology)
    class_name = spec.get("class_name") if isinstance(spec, dict) else None
    config = spec.get("config") if isinstance(spec, dict) else None
    if class_name in FUNCTIONAL and isinstance(config, dict):
        return _functional(class_name, config, where)
    if class_name == SEQUENTIAL and isinstance(config, (dict, list)):
        return _sequential(config, where)
    raise BuildError(f"{where}: model class {class_name!r} is not supported; need a functional Model or Sequential")


def _layer_name(layer: object, where: str) -> str:
    """A layer's name (Keras writes it beside the config, older files only inside it)."""
    if isinstance(layer, dict) and isinstance(layer.get("class_name"), str):
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        if isinstance(name, str) and name:
            return name
    raise BuildError(f"{where}: a layer of modelTopology has no class_name or name")


def _functional(class_name: str, config: dict, where: str) -> Topology:
    """A functional model: each layer's sources come from its inbound_nodes."""
    layers = _layer_list(config.get("layers"), where)
    inbound = {_layer_name(layer, where): _references(layer.get("inbound_nodes", [])) for layer in layers}
    if len(inbound) != len(layers):
        raise BuildError(f"{where}: two layers of modelTopology share a name")
    for name, sources in inbound.items():
        unknown = [s for s in sources if s not in inbound]
        if unknown:
            raise BuildError(f"{where}: layer {name} reads from {unknown[0]}, which is not a layer of the model")
    inputs, outputs = _references(config.get("input_layers")), _references(config.get("output_layers"))
    if not inputs or not outputs or not set(inputs + outputs) <= inbound.keys():
        raise BuildError(f"{where}: input_layers/output_layers do not name layers of the model")
    return Topology(class_name, config, layers, inbound, inputs, outputs)


def _sequential(config: dict | list, where: str) -> Topology:
    """A Sequential model: each layer reads the one before it."""
    layers = _layer_list(config if isinstance(config, list) else config.get("layers"), where)
    names = [_layer_name(layer, where) for layer in layers]
    if len(set(names)) != len(names):
        raise BuildError(f"{where}: two layers of modelTopology share a name")
    inbound = {name: names[i - 1:i] for i, name in enumerate(names)}
    return Topology(SEQUENTIAL, config, layers, inbound, names[:1], names[-1:])


def _layer_list(layers: object, where: str) -> list[dict]:
    if not isinstance(layers, list) or not layers:
        raise BuildError(f"{where}: modelTopology has no layers")
    return layers


def _references(nodes: object) -> list[str]:
    """Layer names in inbound_nodes or input/output_layers, in order, once each.

    Keras 2 writes each reference as [name, node_index, tensor_index, kwargs] and Keras 3 as
    {"keras_history": [name, node_index, tensor_index]}: both are a list that starts with a name and two ints.
    """
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str) \
                and all(type(i) is int for i in value[1:3]):
            found.append(value[0])
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(nodes)
    return list(dict.fromkeys(found))


def choose_cut(topology: Topology, cut_layer: str | None) -> str:
    """The layer whose output becomes the features: the given one, else what feeds the first global pooling or
    Flatten (the classifier head starts there), else the model's own output (a model published without top)."""
    if cut_layer is not None:
        if cut_layer not in topology.inbound:
            last = list(topology.inbound)[-6:]
            raise BuildError(f"cut layer {cut_layer!r} is not in the model; its last layers are {', '.join(last)}")
        return cut_layer
    for name, layer in topology.by_name().items():
        if layer["class_name"] in HEADS and len(topology.inbound[name]) == 1:
            return topology.inbound[name][0]
    if len(topology.outputs) != 1:
        raise BuildError(f"the model has {len(topology.outputs)} outputs: choose the feature layer with --cut LAYER")
    return topology.outputs[0]


def kept_layers(topology: Topology, cut: str) -> list[str]:
    """Names of the cut layer and everything it depends on, in the model's layer order."""
    needed, pending = {cut}, [cut]
    while pending:
        for source in topology.inbound[pending.pop()]:
            if source not in needed:
                needed.add(source)
                pending.append(source)
    return [name for name in topology.inbound if name in needed]


def any_input_size(topology: Topology, kept: list[str]) -> bool:
    """Whether the kept layers work at any input height and width: only convolutions, local pooling, padding and
    per-pixel layers (a Flatten, Reshape or Dense ties a model to the size it was built for)."""
    by_name = topology.by_name()
    return all(by_name[name]["class_name"] in ANY_SIZE for name in kept)


def cut_topology(model_topology: dict, topology: Topology, kept: list[str], cut: str) -> dict:
    """modelTopology of the feature extractor: kept layers only, outputting the cut layer, in the original wrapper.

    When the kept layers allow it (`any_input_size`), the input's height and width are left open ([None, None,
    None, C]), so the page can read small images at a smaller size with the same weights (preprocess.INPUT_SIZES).
    """
    keep = set(kept)
    layers = [copy.deepcopy(layer) for name, layer in topology.by_name().items() if name in keep]
    if any_input_size(topology, kept):
        for layer in layers:
            _open_input(layer)
    config = topology.config
    if topology.class_name == SEQUENTIAL:
        config = layers if isinstance(config, list) else {**config, "name": _renamed(config), "layers": layers}
    else:
        inputs = config["input_layers"]
        inputs = [inputs] if isinstance(inputs[0], str) else inputs
        config = {**config, "name": _renamed(config), "layers": layers,
                  "input_layers": [ref for ref in inputs if _references(ref)[0] in keep],
                  "output_layers": [[cut, 0, 0]]}
    spec = {"class_name": topology.class_name, "config": config}
    out: dict = {}
    for key, value in model_topology.items():
        if key == "model_config":
            out[key] = {**value, **spec}
        elif key in spec:
            out[key] = spec[key]
        elif key not in DROPPED_WRAPPER_KEYS:
            out[key] = value
    return out


def _open_input(layer: dict) -> None:
    """Height and width of a layer's declared batch input shape (if it declares one) set to None."""
    config = layer.get("config", {})
    for key in ("batch_input_shape", "batch_shape"):
        shape = config.get(key)
        if isinstance(shape, list) and len(shape) == 4:
            config[key] = [shape[0], None, None, shape[3]]


def _renamed(config: dict) -> str:
    return f"{config.get('name') or 'model'}_features"


def feature_shapes(topology: Topology, kept: list[str], cut: str) -> tuple[Shape, Shape, int | None]:
    """(input shape, feature shape, feature dim) without a batch axis, worked out layer by layer.

    Layer types without a rule here leave the feature shape unknown (None); the feature dim then falls back to the
    `filters` of the last kept convolution, which is right for the usual conv -> norm -> activation endings.
    """
    by_name = topology.by_name()
    shapes: dict[str, Shape] = {}
    for name in kept:
        layer = by_name[name]
        sources = topology.inbound[name]
        inputs = [shapes[s] for s in sources] if sources else [_declared_input(layer)]
        shapes[name] = _output_shape(layer, inputs)
    input_shape = _declared_input(by_name[topology.inputs[0]])
    feature = shapes[cut]
    if feature and feature[-1] is not None:
        return input_shape, feature, feature[-1]
    filters = [by_name[n].get("config", {}).get("filters") for n in kept]
    return input_shape, feature, next((f for f in reversed(filters) if isinstance(f, int)), None)


def _declared_input(layer: dict) -> Shape:
    """The shape an input layer (or a Sequential model's first layer) declares, without its batch axis."""
    config = layer.get("config", {})
    batch = config.get("batch_input_shape") or config.get("batch_shape")
    return list(batch[1:]) if isinstance(batch, list) and batch else None


def _output_shape(layer: dict, inputs: list[Shape]) -> Shape:
    """A layer's output shape from its inputs' shapes, or None when unknown (no rule, odd config, unknown input)."""
    rule = SHAPE_RULES.get(layer["class_name"])
    config = layer.get("config", {})
    if rule is None or not inputs or any(s is None for s in inputs) \
            or config.get("data_format", "channels_last") != "channels_last":
        return None
    try:
        return rule(config, inputs)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def _pair(value: int | list) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


def _window(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    """Output length of a convolution or pooling window along one axis (Keras' conv_output_length)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if padding == "valid":
        return -(-(size - dilation * (kernel - 1)) // stride)
    raise ValueError(padding)


def _spatial(config: dict, shape: list, kernel_key: str, channels: int | None) -> Shape:
    kernel = _pair(config[kernel_key])
    strides = _pair(config.get("strides") or kernel)
    dilation = _pair(config.get("dilation_rate") or 1)
    padding = config.get("padding", "valid")
    return [_window(shape[i], kernel[i], strides[i], dilation[i], padding) for i in (0, 1)] + [channels]


def _padded(config: dict, shape: list) -> Shape:
    padding = config["padding"]
    if isinstance(padding, int):
        padding = [[padding, padding]] * 2
    padding = [[p, p] if isinstance(p, int) else p for p in padding]
    return [None if shape[i] is None else shape[i] + sum(padding[i]) for i in (0, 1)] + [shape[2]]


def _depthwise(config: dict, inputs: list) -> Shape:
    channels = inputs[0][2]
    multiplier = config.get("depth_multiplier", 1)
    return _spatial(config, inputs[0], "kernel_size", None if channels is None else channels * multiplier)


def _concatenated(config: dict, inputs: list) -> Shape:
    if config.get("axis", -1) not in (-1, 3):
        return None
    channels = [s[2] for s in inputs]
    return inputs[0][:2] + [None if None in channels else sum(channels)]


def _reshaped(config: dict, inputs: list) -> Shape:
    target = list(config["target_shape"])
    return target if all(type(d) is int and d > 0 for d in target) else None


SAME_SHAPE = ("Activation", "Add", "Average", "BatchNormalization", "Dropout", "ELU", "GaussianDropout",
              "GaussianNoise", "InputLayer", "LayerNormalization", "LeakyReLU", "Maximum", "Minimum", "Multiply",
              "PReLU", "ReLU", "Softmax", "SpatialDropout2D", "Subtract", "ThresholdedReLU")

ANY_SIZE = frozenset(("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D",
                      "ZeroPadding2D", "Concatenate", *SAME_SHAPE))

SHAPE_RULES: dict[str, Callable[[dict, list], Shape]] = {
    "Conv2D": lambda c, i: _spatial(c, i[0], "kernel_size", c["filters"]),
    "SeparableConv2D": lambda c, i: _spatial(c, i[0], "kernel_size", c["filters"]),
    "DepthwiseConv2D": _depthwise,
    "MaxPooling2D": lambda c, i: _spatial(c, i[0], "pool_size", i[0][2]),
    "AveragePooling2D": lambda c, i: _spatial(c, i[0], "pool_size", i[0][2]),
    "ZeroPadding2D": lambda c, i: _padded(c, i[0]),
    "Concatenate": _concatenated,
    "Reshape": _reshaped,
    "Dense": lambda c, i: i[0][:-1] + [c["units"]],
    "GlobalAveragePooling2D": lambda c, i: [i[0][2]],
    "GlobalMaxPooling2D": lambda c, i: [i[0][2]],
    "Flatten": lambda c, i: [None if None in i[0] else math.prod(i[0])],
    **{kind: (lambda c, i: list(i[0])) for kind in SAME_SHAPE},
}
