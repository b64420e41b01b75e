"""Which layers of a base fine-tuning trains, planned from the layer graph: pure logic, unit-tested.

`fineTuneLayers = K` trains the base's last K convolutions with the head. Those must be pointwise (1×1, stride 1)
convolutions, each optionally followed by batch norm and activations, in a straight chain to the output: such a
block is exactly a Dense layer over the channel axis, with the batch norm folded in. That gives three things at
once: training runs on matrix products (TF.js's wasm backend has no convolution gradients), batch-norm statistics
stay frozen (the well-known way to fine-tune without wrecking them on small batches), and the trained weights
write back into the base's own layers, so the exported model keeps the standard MobileNet topology.
The frozen part below the split is run once per image and its activations cached.
"""

from __future__ import annotations

from dataclasses import dataclass

from teachbox.errors import TeachboxError
from teachbox.model.topology import LayerInfo

ACTIVATIONS = ("Activation", "ReLU")


@dataclass(frozen=True)
class TailBlock:
    """One trainable block: a pointwise conv, its batch norm (if any), and the activation layers after it."""

    conv: str
    norm: str | None
    activations: tuple[str, ...]


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
        below = _single_input(current, by_name) if current is not None and current.pointwise else None
        if below is None:  # not a pointwise conv, or nothing below it to cache activations from
            break
        blocks.insert(0, TailBlock(current.name, norm, tuple(activations)))
        current = below
    if len(blocks) < k:
        raise TeachboxError("bad_option", f"This base can fine-tune at most {len(blocks)} layer(s): its last "
                                          f"{len(blocks)} convolution(s) are pointwise, the next one is not.",
                            {"max": len(blocks)})
    return FineTunePlan(current.name, tuple(blocks))


def _single_input(layer: LayerInfo, by_name: dict[str, LayerInfo]) -> LayerInfo | None:
    """The one layer feeding `layer`; None where the chain branches or starts (no straight chain to extend)."""
    if len(layer.inputs) != 1 or layer.inputs[0] not in by_name:
        return None
    return by_name[layer.inputs[0]]
