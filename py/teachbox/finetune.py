"""Where to split a base model for fine-tuning: pure graph logic, unit-tested on real topologies.

`fineTuneLayers = K` trains the last K *weighted* layers of the base (convolutions, batch norms) with the head. The
frozen part below the split is run once per image and its activations are cached, so each epoch only runs the tail.
The split must be a single tensor that is the only way into the tail: with residual blocks (MobileNetV2) the split
moves down until no tail layer reads from below it except through the split.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TeachboxError


@dataclass(frozen=True)
class LayerInfo:
    """What the split needs to know of one layer: its name, inputs (layer names) and whether it has weights."""

    name: str
    inputs: tuple[str, ...]
    weighted: bool


def split_for_fine_tuning(layers: list[LayerInfo], k: int) -> tuple[str, list[str]]:
    """(split layer name, tail layer names in order) for training the last k weighted layers.

    `layers` is in topological order and ends with the base's output layer.
    """
    weighted = [i for i, layer in enumerate(layers) if layer.weighted]
    if k < 1 or k > len(weighted) - 1:
        raise TeachboxError("bad_option", f"fineTuneLayers must be between 1 and {len(weighted) - 1} for this base.")
    start = weighted[-k]
    while start > 1:
        split = layers[start - 1].name
        tail = layers[start:]
        inside = {layer.name for layer in tail} | {split}
        if all(source in inside for layer in tail for source in layer.inputs):
            return split, [layer.name for layer in tail]
        start -= 1
    raise TeachboxError("bad_option", "This base cannot be split for fine-tuning.")
