"""Which layers of a base fine-tuning trains, planned from the layer graph: pure logic, unit-tested.

`fineTuneLayers = K` trains the base's last K convolutions with the head. They must form a straight chain to the
output of pointwise (1×1, stride 1) and depthwise (odd square kernel, stride 1, "same") convolutions, each
optionally followed by batch norm and activations; K = 2 on MobileNet v1 is its whole last depthwise-separable
block. A pointwise conv is exactly a Dense layer over the channel axis, a depthwise one keeps its spatial shape;
both get the batch norm folded in. That gives three things at once: the gradients are ops TF.js's wasm backend
has (a Dense layer's matrix products; for a depthwise conv, browser/tf_training.py supplies its own gradient, as
wasm has no depthwise backprop kernels), batch-norm statistics stay frozen (the well-known way to fine-tune without
wrecking them on small batches), and the trained weights write back into the base's own layers, so the exported
model keeps the standard MobileNet topology. The frozen part below the split is run once per image and its
activations cached, so an epoch costs only the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

from teachbox.errors import TeachboxError
from teachbox.model.topology import LayerInfo

ACTIVATIONS = ("Activation", "ReLU")


@dataclass(frozen=True)
class TailBlock:
    """One trainable block: a pointwise or depthwise conv, its batch norm (if any), and the activation layers after
    it."""

    conv: str
    norm: str | None
    activations: tuple[str, ...]
    kind: str = "pointwise"  # or "depthwise"


@dataclass(frozen=True)
class FineTunePlan:
    split: str
    blocks: tuple[TailBlock, ...]


def plan_fine_tuning(layers: list[LayerInfo], k: int) -> FineTunePlan:
    """Walk back from the output collecting blocks until k convolutions are found (or the chain ends)."""
    if k < 1:
        raise TeachboxError("bad_option", "fineTuneLayers must be at least 1 to plan fine-tuning.")
    by_name = {layer.name: layer for layer in layers}
    blocks: list[TailBlock] = []
    current = layers[-1]
    while len(blocks) < k:
        activations: list[str] = []
        norm = None
        while current.class_name in ACTIVATIONS:
            activations.insert(0, current.name)
            current = _single_input(current, by_name)
        if current is not None and current.class_name == "BatchNormalization":
            norm = current.name
            current = _single_input(current, by_name)
        kind = _trainable_kind(current)
        below = _single_input(current, by_name) if current is not None and kind else None
        if below is None:  # not a conv the tail can train, or nothing below it to cache activations from
            break
        blocks.insert(0, TailBlock(current.name, norm, tuple(activations), kind))
        current = below
    if len(blocks) < k:
        raise TeachboxError("bad_option", f"This base can fine-tune at most {len(blocks)} layer(s): the "
                                          f"convolution before its last {len(blocks)} is strided, spatial or on a "
                                          "branch, which the trainable tail does not support.",
                            {"max": len(blocks)})
    return FineTunePlan(current.name, tuple(blocks))


def _trainable_kind(layer: LayerInfo | None) -> str | None:
    if layer is None:
        return None
    return "pointwise" if layer.pointwise else "depthwise" if layer.depthwise else None


def _single_input(layer: LayerInfo, by_name: dict[str, LayerInfo]) -> LayerInfo | None:
    """The one layer feeding `layer`; None where the chain branches or starts (no straight chain to extend)."""
    if len(layer.inputs) != 1 or layer.inputs[0] not in by_name:
        return None
    return by_name[layer.inputs[0]]
