"""A model's layer graph as plain data, read from its Keras topology (what a model.json holds and what
`model.toJSON()` returns): the one reading that fine-tuning (finetune_plan.py) and fused inference (fusion_plan.py) plan from,
so both are unit-tested on the real model.json files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerInfo:
    """What planning needs of a layer: name, class, input layer names and its (snake_case Keras) config."""

    name: str
    class_name: str
    inputs: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    reused: bool = False  # called at more than one place in the graph: `inputs` are only its first call's

    @property
    def pointwise(self) -> bool:
        return self.class_name == "Conv2D" and list(self.config.get("kernel_size", [])) == [1, 1] \
            and list(self.config.get("strides", [1, 1])) == [1, 1] and self.config.get("groups", 1) in (1, None)

    @property
    def depthwise(self) -> bool:
        """A depthwise conv the fine-tuning tail can train: odd square kernel, stride 1, "same" padding, one filter
        per channel, no dilation (so its output has its input's shape and its gradients are a depthwise conv and
        shifted products, which the wasm backend can run)."""
        kernel = list(self.config.get("kernel_size", []))
        return self.class_name == "DepthwiseConv2D" and len(kernel) == 2 and kernel[0] == kernel[1] \
            and kernel[0] % 2 == 1 and list(self.config.get("strides", [1, 1])) == [1, 1] \
            and self.config.get("padding") == "same" and self.config.get("depth_multiplier", 1) == 1 \
            and list(self.config.get("dilation_rate", [1, 1])) in ([1, 1], [1])


def model_config(topology: dict[str, Any]) -> dict[str, Any]:
    """The functional model's config ({layers, input_layers, output_layers}), from either form of a topology."""
    return topology.get("model_config", topology).get("config", {})


def layer_infos(topology: dict[str, Any]) -> list[LayerInfo]:
    """The layers in graph order, each with the names of the layers feeding its first call."""
    infos = []
    for layer in model_config(topology).get("layers") or []:
        nodes = layer.get("inbound_nodes") or []
        inputs = tuple(source[0] for source in nodes[0]) if nodes else ()
        infos.append(LayerInfo(layer["name"], layer["class_name"], inputs, layer.get("config") or {},
                               reused=len(nodes) > 1))
    return infos


# The scale `depths: 2` taps at: a MobileNet's stride-16 stage (14 × 14 at 224 px), whose maps still resolve
# structures a few pixels wide, such as a parasite in a blood cell, that the 7 × 7 output has averaged away.
MID_STRIDE = 16
ACTIVATION_CLASSES = ("ReLU", "Activation")


def earlier_depth(layers: list[LayerInfo]) -> str | None:
    """The layer `depths: 2` max-pools beside a MobileNet's average-pooled output: the first pointwise (1 × 1)
    convolution's activation at 1/MID_STRIDE of the input size (v1 `conv_pw_6_relu`, v2 `block_7_expand_relu`). It is
    on the path to the output, so tapping it costs a pooling, no extra convolution. Measured on patient-grouped folds
    before it was chosen (bench/depth_probe.py, docs/accuracy.md run 5): of every block's pooled features this one,
    max-pooled, came first on malaria cells for v1 and v2, and beside the output it is level with the output alone
    on photos. None for a model without such a layer before its output (another architecture, or a base cut at
    that stage)."""
    by_name = {layer.name: layer for layer in layers}
    stride: dict[str, int] = {}
    for layer in layers:
        own = layer.config.get("strides", 1) if layer.class_name in ("Conv2D", "DepthwiseConv2D") else 1
        own = own[0] if isinstance(own, list | tuple) else own
        stride[layer.name] = max((stride.get(name, 1) for name in layer.inputs), default=1) * int(own or 1)
    if not layers or stride[layers[-1].name] <= MID_STRIDE:
        return None
    for layer in layers:
        if layer.class_name in ACTIVATION_CLASSES and stride[layer.name] == MID_STRIDE \
                and _after_pointwise(layer, by_name):
            return layer.name
    return None


def _after_pointwise(layer: LayerInfo, by_name: dict[str, LayerInfo]) -> bool:
    """Whether an activation's input is a 1 × 1 convolution (through its batch-norm, if any)."""
    source = by_name.get(layer.inputs[0]) if len(layer.inputs) == 1 else None
    if source is not None and source.class_name == "BatchNormalization" and len(source.inputs) == 1:
        source = by_name.get(source.inputs[0])
    return source is not None and source.class_name == "Conv2D" \
        and list(source.config.get("kernel_size", [])) == [1, 1]
