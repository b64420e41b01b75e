"""A frozen model run as a few fused ops: each batch-norm folded into the convolution before it, each ReLU/ReLU6
fused into that convolution (or dense layer) too. Used for the base (embeddings) and for a trained classifier
(base → pooling → dense head: predictions).

Why: TF.js runs a layers model op by op. A MobileNet block is then six passes over the activations (convolution,
batch-norm, activation, twice), while `tf.fused.conv2d` / `tf.fused.depthwiseConv2d` do a convolution with its
bias and activation in one (XNNPACK on wasm). The base is frozen, so its batch-norm is an affine map that folds into
the convolution's kernel and bias exactly (up to float rounding). The speed-up is in
docs/decisions.md.

This module only plans, from the model's Keras topology (what `model.toJSON()` and a model.json hold), so the rules
are unit-tested on CPython; site/kernels.js folds the weights and runs the plan. A topology with anything else in it
(a custom base with other layers) gets no plan and runs as the layers model it is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

from teachbox.model.topology import LayerInfo, layer_infos, model_config

INPUT = -1  # the value index of the model's input
CONVOLUTIONS = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise"}
ACTIVATIONS = ("linear", "relu", "relu6")
DENSE_ACTIVATIONS = (*ACTIVATIONS, "softmax")
GLOBAL_POOLS = {"GlobalAveragePooling2D": "mean", "GlobalMaxPooling2D": "max"}
PASS_THROUGH = ("Dropout",)  # identity when predicting


@dataclass(frozen=True)
class Step:
    """One op of the plan. `inputs` are indices of earlier steps (INPUT: the model's input)."""

    op: str  # "conv" | "depthwise" | "dense" | "pad" | "add" | "mean" / "max" (global pooling) | "concat"
    inputs: tuple[int, ...]
    layer: str = ""  # conv/depthwise/dense: the layer whose kernel (and bias, if any) it uses
    norm: str = ""  # the BatchNormalization layer folded into it, if any
    epsilon: float = 0.0
    activation: str = "linear"
    strides: tuple[int, ...] = (1, 1)
    padding: str = "valid"  # conv/depthwise padding mode
    pad: tuple[tuple[int, int], ...] = ()  # "pad": ((top, bottom), (left, right))


@dataclass(frozen=True)
class FusedPlan:
    steps: tuple[Step, ...]
    output: int  # the step whose value is the model's output
    taps: tuple[int, ...] = ()  # steps whose values are also max-pooled into the embedding (features of two depths)

    def to_json(self) -> dict[str, Any]:
        return {"steps": [asdict(step) for step in self.steps], "output": self.output, "taps": list(self.taps)}

    def fused_layers(self) -> int:
        """How many layers the plan no longer runs as ops of their own (folded batch-norms and activations)."""
        return sum(bool(step.norm) + (step.activation != "linear") for step in self.steps)


def plan_fused(topology: dict[str, Any], taps: tuple[str, ...] = ()) -> FusedPlan | None:
    """The plan for a Keras functional topology, or None when it holds a layer or setting this does not cover.
    `taps` name layers whose outputs the runner's `embed` max-pools beside the output's average."""
    layers = layer_infos(topology)
    outputs = model_config(topology).get("output_layers") or []
    if len(outputs) != 1 or not layers or any(layer.reused for layer in layers):
        return None
    consumers = Counter(name for layer in layers for name in layer.inputs)
    steps: list[Step] = []
    value: dict[str, int] = {}  # layer name -> index of the step whose value is that layer's output
    for layer in layers:
        inputs = [value.get(source) for source in layer.inputs]
        if None in inputs:
            return None
        if layer.class_name == "InputLayer":
            value[layer.name] = INPUT
            continue
        if layer.class_name in PASS_THROUGH and len(inputs) == 1:
            value[layer.name] = inputs[0]
            continue
        folded = _fold(layer, inputs, steps, consumers)
        if folded is not None:
            steps[inputs[0]] = folded
            value[layer.name] = inputs[0]
            continue
        step = _step(layer.class_name, layer.config, inputs, layer.name)
        if step is None:
            return None
        steps.append(step)
        value[layer.name] = len(steps) - 1
    output = value.get(outputs[0][0])
    tapped = tuple(value.get(name, INPUT) for name in taps)
    if output is None or output == INPUT or INPUT in tapped:
        return None
    return FusedPlan(tuple(steps), output, tapped)


def _step(kind: str, cfg: dict[str, Any], inputs: list[int], name: str) -> Step | None:
    """A new step for a layer that is an op of its own; None if it is not one this covers."""
    if kind in CONVOLUTIONS:
        if (cfg.get("data_format", "channels_last") != "channels_last" or _pair(cfg.get("dilation_rate", 1)) != (1, 1)
                or cfg.get("groups", 1) not in (1, None) or cfg.get("activation", "linear") not in ACTIVATIONS
                or (kind == "DepthwiseConv2D" and cfg.get("depth_multiplier", 1) != 1) or len(inputs) != 1):
            return None
        return Step(CONVOLUTIONS[kind], tuple(inputs), layer=name, activation=cfg.get("activation", "linear"),
                    strides=_pair(cfg.get("strides", 1)), padding=cfg.get("padding", "valid"))
    if kind == "ZeroPadding2D" and cfg.get("data_format", "channels_last") == "channels_last" and len(inputs) == 1:
        padding = cfg.get("padding", 1)
        rows, cols = (padding, padding) if isinstance(padding, int) else padding
        return Step("pad", tuple(inputs), pad=(_pair(rows), _pair(cols)))
    if kind == "Add" and len(inputs) == 2:
        return Step("add", tuple(inputs))
    if kind == "Concatenate" and cfg.get("axis", -1) == -1 and len(inputs) >= 2:
        return Step("concat", tuple(inputs))
    if kind in GLOBAL_POOLS and cfg.get("data_format", "channels_last") == "channels_last" \
            and not cfg.get("keepdims") and len(inputs) == 1:
        return Step(GLOBAL_POOLS[kind], tuple(inputs))
    if kind == "Dense" and cfg.get("activation", "linear") in DENSE_ACTIVATIONS and len(inputs) == 1:
        return Step("dense", tuple(inputs), layer=name, activation=cfg.get("activation", "linear"))
    return None


def _fold(layer: LayerInfo, inputs: list[int], steps: list[Step], consumers: Counter) -> Step | None:
    """The convolution (or dense) step before this layer with the layer folded in, when it can absorb it: a
    batch-norm over the channels (convolutions only, before any activation), or a ReLU/ReLU6. The step's output must
    feed nothing else."""
    kind, cfg = layer.class_name, layer.config
    if len(inputs) != 1 or inputs[0] == INPUT or consumers[layer.inputs[0]] != 1:
        return None
    conv = steps[inputs[0]]
    if conv.op not in ("conv", "depthwise", "dense") or conv.activation != "linear":
        return None
    if kind == "BatchNormalization" and conv.op != "dense":
        axis = cfg.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if conv.norm or axis not in (-1, 3) or not cfg.get("center", True) or not cfg.get("scale", True):
            return None
        return replace(conv, norm=layer.name, epsilon=float(cfg.get("epsilon", 1e-3)))
    activation = _activation(kind, cfg)
    if activation is None:
        return None
    return replace(conv, activation=activation)


def _activation(kind: str, cfg: dict[str, Any]) -> str | None:
    """"relu" or "relu6" for an activation layer that is exactly one of those, else None."""
    if kind == "Activation":
        return cfg.get("activation") if cfg.get("activation") in ("relu", "relu6") else None
    if kind == "ReLU" and not cfg.get("negative_slope") and not cfg.get("threshold"):
        limit = cfg.get("max_value")
        return "relu" if limit is None else "relu6" if float(limit) == 6.0 else None
    return None


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, (int, float)) else (int(value[0]), int(value[1]))
