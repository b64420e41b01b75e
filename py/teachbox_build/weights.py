"""Turning a pretrained TF.js layers model into the feature extractor the site ships, with numpy only.

The page trains a small head on top of frozen base features, so the base's own classifier (for MobileNet v1 α=0.25
about half the bytes) is dead weight in every visitor's download. convert_model cuts the Keras graph where the
classifier starts, keeps only the weights the remaining layers use, optionally stores them as float16 or uint8, and
writes content-hashed files that a static host can cache forever. tensorflowjs is not used: it pulls ~3 GB and does
not import cleanly here (see shared/STACK.md), while the TF.js format itself is plain JSON plus little-endian arrays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path

from .errors import BuildError
from .weights_fetch import resolve_source
from .weights_io import Weight, read_model_json, read_weights, write_atomic
from .weights_quant import encode
from .weights_topology import (
    Topology,
    any_input_size,
    choose_cut,
    cut_topology,
    feature_shapes,
    kept_layers,
    parse_topology,
)

__all__ = ["QUANTIZE_MODES", "convert_model", "resolve_source"]

QUANTIZE_MODES = ("none", "float16", "uint8")
WEIGHTED_LAYERS = ("BatchNormalization", "Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D")


def convert_model(model_dir: Path, out_dir: Path, *, quantize: str = "none", cut_layer: str | None = None,
                  shard_bytes: int = 4 * 1024 * 1024, base_id: str | None = None) -> dict:
    """Write the feature extractor of the layers model in `model_dir` into `out_dir`; return its manifest entry.

    The same input always gives byte-identical files: shard names are hashes of their bytes and the model.json name
    a hash of its text (which lists the shard names), so a changed model can never be served from a stale cache.
    """
    if quantize not in QUANTIZE_MODES:
        raise BuildError(f"unknown quantize mode {quantize!r}: choose one of {', '.join(QUANTIZE_MODES)}")
    if shard_bytes < 1:
        raise BuildError(f"shard size must be a positive number of bytes, not {shard_bytes}")
    model = read_model_json(model_dir)
    topology = parse_topology(model["modelTopology"], f"{model_dir}/model.json")
    cut = choose_cut(topology, cut_layer)
    kept = kept_layers(topology, cut)
    weights, source_bytes = read_weights(model_dir, model)
    weights = _weights_of(weights, topology, kept, model_dir)
    if not weights:
        raise BuildError(f"cutting at {cut} keeps no weights: choose a deeper layer with --cut LAYER")

    encoded = [encode(weight, quantize) for weight in weights]
    shards = _split(b"".join(data for data, _ in encoded), shard_bytes)
    names = [f"{hashlib.sha256(shard).hexdigest()[:20]}.bin" for shard in shards]
    text = json.dumps({
        "format": "layers-model",
        "generatedBy": "teachbox build.py",
        "convertedBy": None,
        "modelTopology": cut_topology(model["modelTopology"], topology, kept, cut),
        "weightsManifest": [{"paths": names, "weights": [entry for _, entry in encoded]}],
    }, separators=(",", ":")).encode()
    digest = hashlib.sha256(text).hexdigest()[:12]
    model_json = f"model.{digest}.json"
    for name, shard in zip(names, shards):
        write_atomic(out_dir / name, shard)
    write_atomic(out_dir / model_json, text)

    input_shape, feature_shape, feature_dim = feature_shapes(topology, kept, cut)
    return {
        "id": base_id or model_dir.resolve().name, "modelJson": model_json, "hash": digest, "cutLayer": cut,
        "featureShape": feature_shape, "featureDim": feature_dim, "inputShape": input_shape,
        "anyInputSize": any_input_size(topology, kept), "quantize": quantize,
        "weightBytes": sum(len(shard) for shard in shards), "shards": len(shards),
        "params": sum(w.values.size for w in weights), "layers": len(kept), "sourceBytes": source_bytes,
    }


def _weights_of(weights: list[Weight], topology: Topology, kept: list[str], model_dir: Path) -> list[Weight]:
    """The weights of the kept layers, in manifest order.

    A weight `conv1/kernel` belongs to the layer `conv1`: the longest layer name that prefixes it up to a "/".
    A weight no layer owns, or a kept conv/dense/norm layer without weights, means the manifest does not describe
    this topology; TF.js would reject it at load time in the browser, so it is rejected here instead.
    """
    owners = [_owner(weight.name, topology.inbound) for weight in weights]
    orphan = next((w.name for w, owner in zip(weights, owners) if owner is None), None)
    if orphan is not None:
        raise BuildError(f"weight {orphan} in {model_dir}/model.json belongs to no layer of its modelTopology")
    keep, owned, layers = set(kept), set(owners), topology.by_name()
    unweighted = [n for n in kept if layers[n]["class_name"] in WEIGHTED_LAYERS and n not in owned]
    if unweighted:
        raise BuildError(f"layer {unweighted[0]} of {model_dir}/model.json has no weights in its weightsManifest")
    return [weight for weight, owner in zip(weights, owners) if owner in keep]


def _owner(weight_name: str, layer_names: Collection[str]) -> str | None:
    """The layer a weight belongs to: the longest '/'-delimited prefix of its name that is a layer name."""
    parts = weight_name.split("/")
    return next(("/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1) if "/".join(parts[:n]) in layer_names),
                None)


def _split(data: bytes, shard_bytes: int) -> list[bytes]:
    """Consecutive shards of at most `shard_bytes` (TF.js concatenates a group's shards, so any cut point works)."""
    return [data[start:start + shard_bytes] for start in range(0, len(data), shard_bytes)]
