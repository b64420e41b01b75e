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


def earlier_depth(layers: list[LayerInfo]) -> str | None:
    """The feature map one block before a MobileNet base's output, pooled beside it for `depths: 2`: v1's previous
    pointwise block (`conv_pw_12_relu` before `conv_pw_13_relu`), v2's last residual block output (`block_15_add`
    before `out_relu`). Both are on the path to the output, so tapping them costs a pooling, no extra convolution.
    None for other architectures."""
    names = [layer.name for layer in layers]
    last = names[-1] if names else ""
    if last.startswith("conv_pw_") and last.endswith("_relu"):
        number = last[len("conv_pw_"):-len("_relu")]
        candidate = f"conv_pw_{int(number) - 1}_relu" if number.isdigit() else ""
        return candidate if candidate in names else None
    adds = [name for name in names if name.startswith("block_") and name.endswith("_add")]
    return adds[-1] if last == "out_relu" and adds else None
