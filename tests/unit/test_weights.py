"""Weights conversion: cutting the real MobileNets, exact/quantized round trips, sharding, bad inputs, downloads.

Outputs are decoded here by a small reader written from TF.js' decodeWeights rules (not by the converter's own
reader), so a converter bug cannot hide behind a matching bug on the reading side.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from teachbox_build.errors import BuildError
from teachbox_build.weights import QUANTIZE_MODES, convert_model, resolve_source
from teachbox_build.weights_quant import quantize_uint8

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
V1_025 = SHARED / "models" / "mobilenet_v1_0.25_224"
V1_075 = SHARED / "models" / "mobilenet_v1_0.75_224"
V2_035 = SHARED / "models" / "mobilenet_v2_0.35_224_no_top"

needs_v1_025 = pytest.mark.skipif(not (V1_025 / "model.json").is_file(), reason="../shared/models is not available")


def decode_tfjs(model_json: Path) -> dict[str, np.ndarray]:
    """Every weight of a TF.js model as tfjs-core decodes it: q * scale + min in double, stored as float32."""
    model = json.loads(model_json.read_text())
    out: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((model_json.parent / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = math.prod(entry["shape"])
            quantization = entry.get("quantization", {"dtype": None})
            stored = {None: "<f4" if entry["dtype"] == "float32" else "<i4", "float16": "<f2", "uint8": "u1"}
            raw = np.frombuffer(data, dtype=stored[quantization["dtype"]], count=count, offset=offset)
            offset += raw.nbytes
            if quantization["dtype"] == "uint8":
                raw = raw * float(quantization["scale"]) + float(quantization["min"])
            out[entry["name"]] = raw.astype(np.float32 if entry["dtype"] == "float32" else np.int32)
            out[entry["name"]] = out[entry["name"]].reshape(entry["shape"])
        assert offset == len(data), "a group's shards hold more bytes than its weights"
    return out


def quantization_of(model_json: Path) -> dict[str, dict]:
    model = json.loads(model_json.read_text())
    return {w["name"]: w.get("quantization", {}) for g in model["weightsManifest"] for w in g["weights"]}


def topology_config(model: dict) -> dict:
    return model["modelTopology"].get("model_config", model["modelTopology"])["config"]


@pytest.fixture(scope="module")
def v1_025(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, Path]]:
    """The α=0.25 model converted once per quantize mode: mode -> (result, path of its model json)."""
    if not (V1_025 / "model.json").is_file():
        pytest.skip("../shared/models is not available")
    converted = {}
    for mode in QUANTIZE_MODES:
        out = tmp_path_factory.mktemp(mode)
        result = convert_model(V1_025, out, quantize=mode)
        converted[mode] = (result, out / result["modelJson"])
    return converted


@pytest.fixture(scope="module")
def source_weights() -> dict[str, np.ndarray]:
    return decode_tfjs(V1_025 / "model.json")


def test_v1_feature_extractor_drops_the_classifier(v1_025: dict) -> None:
    result, model_json = v1_025["none"]
    assert (result["cutLayer"], result["featureShape"], result["featureDim"]) == ("conv_pw_13_relu", [7, 7, 256], 256)
    assert result["inputShape"] == [224, 224, 3] and result["id"] == "mobilenet_v1_0.25_224"
    assert result["weightBytes"] < 0.55 * result["sourceBytes"]
    assert result["sourceBytes"] == sum(p.stat().st_size for p in V1_025.glob("group*-shard*"))
    model = json.loads(model_json.read_text())
    assert (model["format"], model["generatedBy"], model["convertedBy"]) == ("layers-model", "teachbox build.py", None)
    assert {"keras_version", "backend", "model_config"} <= model["modelTopology"].keys()
    config = topology_config(model)
    names = [layer["name"] for layer in config["layers"]]
    assert names[-1] == "conv_pw_13_relu" and "conv_preds" not in names and "global_average_pooling2d_1" not in names
    assert config["output_layers"] == [["conv_pw_13_relu", 0, 0]] and config["input_layers"] == [["input_1", 0, 0]]
    assert config["name"] == "mobilenet_0.25_224_features" and result["layers"] == len(names)
    # Only convolutions and per-pixel layers are kept: the input's height and width are left open for the page.
    assert config["layers"][0]["config"]["batch_input_shape"] == [None, None, None, 3] and result["anyInputSize"]
    weights = decode_tfjs(model_json)
    assert not any(name.startswith("conv_preds/") for name in weights)
    assert result["params"] == sum(w.size for w in weights.values())


@pytest.mark.parametrize("mode", QUANTIZE_MODES)
def test_kept_weights_round_trip(v1_025: dict, source_weights: dict, mode: str) -> None:
    result, model_json = v1_025[mode]
    decoded, quantization = decode_tfjs(model_json), quantization_of(model_json)
    assert list(decoded) == [n for n in source_weights if not n.startswith("conv_preds/")]
    if mode == "uint8":  # large kernels as uint8, small/per-channel-sensitive tensors as float16
        stored = {n: 1 if q and q["dtype"] == "uint8" else 2 for n, q in quantization.items()}
        assert result["weightBytes"] == sum(source_weights[n].size * stored[n] for n in decoded)
        assert result["weightBytes"] < 0.3 * result["params"] * 4
    else:
        assert result["weightBytes"] == result["params"] * {"none": 4, "float16": 2}[mode]
    for name, values in decoded.items():
        original = source_weights[name]
        error = np.abs(values.astype(np.float64) - original)
        if mode == "none":
            assert np.array_equal(values, original) and not quantization[name], name
        elif mode == "float16":
            assert quantization[name] == {"dtype": "float16", "original_dtype": "float32"}
            assert (error <= 2.0 ** -11 * np.abs(original) + 2.0 ** -25).all(), name
        elif quantization[name]["dtype"] == "float16":
            assert original.ndim < 2 or original.shape[-1] == 1 or original.size < 1024, name
            assert (error <= 2.0 ** -11 * np.abs(original) + 2.0 ** -25).all(), name
        else:
            scale = quantization[name]["scale"]
            assert quantization[name]["dtype"] == "uint8" and quantization[name]["original_dtype"] == "float32"
            assert (error <= scale / 2 + 1e-6 * np.abs(original).max()).all(), name


def test_shards_are_small_content_hashed_and_deterministic(v1_025: dict, tmp_path: Path) -> None:
    shard_bytes = 64 * 1024
    runs = [convert_model(V1_025, tmp_path / run, shard_bytes=shard_bytes) for run in ("a", "b")]
    result, model_json = runs[0], tmp_path / "a" / runs[0]["modelJson"]
    paths = json.loads(model_json.read_text())["weightsManifest"][0]["paths"]
    assert result["shards"] == len(paths) > 1
    shards = [(tmp_path / "a" / path).read_bytes() for path in paths]
    assert all(len(shard) <= shard_bytes for shard in shards)
    assert paths == [f"{hashlib.sha256(shard).hexdigest()[:20]}.bin" for shard in shards]
    assert model_json.name == f"model.{result['hash']}.json"
    assert result["hash"] == hashlib.sha256(model_json.read_bytes()).hexdigest()[:12]
    assert decode_tfjs(model_json).keys() == decode_tfjs(v1_025["none"][1]).keys()
    unsharded = v1_025["none"][1]
    assert b"".join(shards) == (unsharded.parent / json.loads(unsharded.read_text())["weightsManifest"][0]["paths"][0]
                                ).read_bytes()
    files = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    assert files == {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} and runs[0] == runs[1]


def test_explicit_cut_layer(tmp_path: Path) -> None:
    if not (V1_025 / "model.json").is_file():
        pytest.skip("../shared/models is not available")
    result = convert_model(V1_025, tmp_path, cut_layer="conv_pw_11_relu", base_id="small")
    assert (result["id"], result["featureShape"], result["featureDim"]) == ("small", [14, 14, 128], 128)
    assert not any(name.startswith("conv_pw_12") for name in decode_tfjs(tmp_path / result["modelJson"]))


@pytest.mark.skipif(not (V2_035 / "model.json").is_file(), reason="../shared/models is not available")
def test_v2_no_top_keeps_everything(tmp_path: Path) -> None:
    result = convert_model(V2_035, tmp_path)
    assert (result["cutLayer"], result["featureShape"], result["featureDim"]) == ("out_relu", [7, 7, 1280], 1280)
    assert result["weightBytes"] == result["sourceBytes"] and result["layers"] == 155
    model = json.loads((tmp_path / result["modelJson"]).read_text())
    assert "model_config" not in model["modelTopology"] and model["modelTopology"]["class_name"] == "Model"
    assert model["modelTopology"]["keras_version"] and topology_config(model)["output_layers"] == [["out_relu", 0, 0]]
    assert result["anyInputSize"] and result["inputShape"] == [224, 224, 3]
    assert topology_config(model)["layers"][0]["config"]["batch_input_shape"] == [None, None, None, 3]


@pytest.mark.skipif(not (V1_075 / "model.json").is_file(), reason="../shared/models is not available")
def test_v1_075_features(tmp_path: Path) -> None:
    result = convert_model(V1_075, tmp_path, quantize="float16")
    assert (result["cutLayer"], result["featureShape"], result["featureDim"]) == ("conv_pw_13_relu", [7, 7, 768], 768)
    assert result["weightBytes"] < 0.4 * result["sourceBytes"]


@pytest.mark.parametrize("mode", ("float16", "uint8"))
def test_quantized_output_reads_back_as_input(v1_025: dict, tmp_path: Path, mode: str) -> None:
    """A converted model is itself a valid input; its stored quantization decodes exactly as TF.js decodes it."""
    _, model_json = v1_025[mode]
    shutil.copytree(model_json.parent, tmp_path / "in")
    (tmp_path / "in" / model_json.name).rename(tmp_path / "in" / "model.json")
    result = convert_model(tmp_path / "in", tmp_path / "out")
    assert result["cutLayer"] == "conv_pw_13_relu" and result["featureDim"] == 256
    again = decode_tfjs(tmp_path / "out" / result["modelJson"])
    assert all(np.array_equal(again[name], values) for name, values in decode_tfjs(model_json).items())


# --- corrupt inputs: each is one clear line naming what is wrong -------------------------------------------------


def edit_model_json(model: Path, change: Callable[[dict], None]) -> None:
    data = json.loads((model / "model.json").read_text())
    change(data)
    (model / "model.json").write_text(json.dumps(data))


def first_weight(data: dict) -> dict:
    return data["weightsManifest"][0]["weights"][0]


def poison_first_float(model: Path) -> None:
    shard = model / "group1-shard1of1"
    shard.write_bytes(np.float32(np.nan).tobytes() + shard.read_bytes()[4:])


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "missing shard": (lambda m: (m / "group3-shard1of1").unlink(), ("group3-shard1of1", "missing")),
    "truncated shard": (lambda m: (m / "group2-shard1of1").write_bytes(b"\0" * 10),
                        ("disagrees with its shards", "group 2 expects", "files hold 10")),
    "manifest shape": (lambda m: edit_model_json(m, lambda d: first_weight(d).update(shape=[3, 3, 3, 9])),
                       ("disagrees with its shards", "group 1")),
    "invalid json": (lambda m: (m / "model.json").write_text('{"modelTopology": '), ("not valid JSON",)),
    "no manifest": (lambda m: edit_model_json(m, lambda d: d.pop("weightsManifest")), ("weightsManifest",)),
    "unknown dtype": (lambda m: edit_model_json(m, lambda d: first_weight(d).update(dtype="float64")),
                      ("conv1/kernel", "unknown dtype", "float64")),
    "bad shape": (lambda m: edit_model_json(m, lambda d: first_weight(d).update(shape=[3, -3])),
                  ("conv1/kernel", "non-negative")),
    "unknown quantization": (lambda m: edit_model_json(m, lambda d: first_weight(d).update(quantization={
        "dtype": "int4"})), ("quantization dtype", "int4")),
    "shard outside folder": (lambda m: edit_model_json(m, lambda d: d["weightsManifest"][0].update(
        paths=["../group1-shard1of1"])), ("relative path inside",)),
    "nan weight": (poison_first_float, ("conv1/kernel", "NaN")),
    "weights of a layer missing": (lambda m: edit_model_json(m, lambda d: d["weightsManifest"].pop(0)),
                                   ("layer conv1 ", "no weights")),
    "orphan weight": (lambda m: edit_model_json(m, lambda d: first_weight(d).update(name="nolayer/kernel")),
                      ("nolayer/kernel", "belongs to no layer")),
    "unsupported class": (lambda m: edit_model_json(m, lambda d: d["modelTopology"]["model_config"].update(
        class_name="Graph")), ("'Graph'", "not supported")),
    "graph model": (lambda m: edit_model_json(m, lambda d: d.update(format="graph-model")), ("graph model",)),
    "no model.json": (lambda m: (m / "model.json").unlink(), ("no model.json",)),
}


@needs_v1_025
@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_model_is_a_one_line_build_error(tmp_path: Path, case: str) -> None:
    model = tmp_path / "model"
    shutil.copytree(V1_025, model)
    corrupt, words = CORRUPTIONS[case]
    corrupt(model)
    with pytest.raises(BuildError) as caught:
        convert_model(model, tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


@needs_v1_025
@pytest.mark.parametrize(("options", "words"), [
    ({"cut_layer": "conv_pw_99"}, ("'conv_pw_99'", "not in the model", "global_average_pooling2d_1")),
    ({"quantize": "int4"}, ("int4", "none, float16, uint8")),
    ({"cut_layer": "input_1"}, ("input_1", "keeps no weights")),
])
def test_bad_options(tmp_path: Path, options: dict, words: tuple[str, ...]) -> None:
    with pytest.raises(BuildError) as caught:
        convert_model(V1_025, tmp_path, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)


# --- synthetic models: quantization edge cases and the other topology shapes -------------------------------------


def write_tiny_model(folder: Path, layers: list[dict], weights: dict[str, np.ndarray], *,
                     sequential: bool = False) -> Path:
    """A TF.js layers model written from scratch: conv -> pooling -> dense, functional or Sequential."""
    folder.mkdir(parents=True)
    if sequential:
        spec = {"class_name": "Sequential", "config": {"name": "tiny", "layers": layers}}
    else:
        spec = {"class_name": "Model", "config": {"name": "tiny", "layers": layers, "input_layers": [["in", 0, 0]],
                                                  "output_layers": [[layers[-1]["name"], 0, 0]]}}
    dtypes = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32"}
    manifest = [{"paths": ["weights.bin"], "weights": [
        {"name": name, "shape": list(v.shape), "dtype": dtypes[v.dtype]} for name, v in weights.items()]}]
    (folder / "weights.bin").write_bytes(b"".join(v.astype(v.dtype.newbyteorder("<")).tobytes()
                                                  for v in weights.values()))
    (folder / "model.json").write_text(json.dumps({"modelTopology": {**spec, "keras_version": "2.15.0"},
                                                   "weightsManifest": manifest}))
    return folder


def tiny_layer(kind: str, name: str, source: str | None, sequential: bool = False, **config: object) -> dict:
    layer = {"class_name": kind, "name": name, "config": {"name": name, **config}}
    if not sequential:
        layer["inbound_nodes"] = [[[source, 0, 0, {}]]] if source else []
    return layer


def tiny_functional(kernel: np.ndarray) -> list[dict]:
    return [
        tiny_layer("InputLayer", "in", None, batch_input_shape=[None, 32, 32, 3], dtype="float32"),
        tiny_layer("Conv2D", "conv", "in", filters=kernel.shape[-1], kernel_size=[3, 3], strides=[2, 2],
                   padding="valid", use_bias=True),
        tiny_layer("ReLU", "relu", "conv", max_value=6),
        tiny_layer("GlobalAveragePooling2D", "pool", "relu"),
        tiny_layer("Dense", "head", "pool", units=2),
    ]


def test_uint8_decodes_zero_exactly() -> None:
    rng = np.random.default_rng(3)
    for values in (np.array([-0.37, 0.0, 0.0, 1.91, 0.05], np.float32), rng.normal(0.2, 1, 999).astype(np.float32),
                   np.array([0.0, 7.5], np.float32), np.array([-7.5, 0.0], np.float32)):
        values[::7] = 0.0
        codes, scale, minimum = quantize_uint8(values)
        decoded = (codes * scale + minimum).astype(np.float32)
        assert (decoded[values == 0.0] == 0.0).all()
        assert (np.abs(decoded - values) <= scale / 2 + 1e-6 * np.abs(values).max()).all()
    for constant in (np.full(10, 2.5, np.float32), np.zeros(4, np.float32)):
        codes, scale, minimum = quantize_uint8(constant)
        assert scale == 1.0 and np.array_equal((codes * scale + minimum).astype(np.float32), constant)


def test_synthetic_functional_model_cut_before_pooling(tmp_path: Path) -> None:
    kernel = np.random.default_rng(1).normal(0, 1, (3, 3, 3, 5)).astype(np.float32)
    kernel[0, 0] = 0.0
    weights = {"conv/kernel": kernel, "conv/bias": np.array([-1, 0, 1, 2, 3], np.float32),
               "conv/steps": np.array([7, -9], np.int32), "head/kernel": np.ones((5, 2), np.float32),
               "head/bias": np.zeros(2, np.float32)}
    model = write_tiny_model(tmp_path / "tiny", tiny_functional(kernel), weights)
    result = convert_model(model, tmp_path / "out", quantize="uint8")
    assert (result["cutLayer"], result["featureShape"], result["inputShape"]) == ("relu", [15, 15, 5], [32, 32, 3])
    decoded = decode_tfjs(tmp_path / "out" / result["modelJson"])
    assert list(decoded) == ["conv/kernel", "conv/bias", "conv/steps"]
    assert (decoded["conv/kernel"][0, 0] == 0.0).all() and decoded["conv/bias"][1] == 0.0
    assert np.array_equal(decoded["conv/steps"], [7, -9])
    entries = json.loads((tmp_path / "out" / result["modelJson"]).read_text())["weightsManifest"][0]["weights"]
    # int32 is never quantized; a kernel this small keeps float16 (one uint8 range per tensor would be too coarse)
    assert "quantization" not in entries[2] and entries[0]["quantization"]["dtype"] == "float16"


def test_synthetic_sequential_model(tmp_path: Path) -> None:
    layers = [
        tiny_layer("ZeroPadding2D", "pad", None, True, padding=[[0, 1], [0, 1]], batch_input_shape=[None, 9, 9, 2]),
        tiny_layer("DepthwiseConv2D", "dw", None, True, kernel_size=[3, 3], strides=[2, 2], padding="valid",
                   depth_multiplier=2),
        tiny_layer("Flatten", "flat", None, True),
        tiny_layer("Dense", "out", None, True, units=3),
    ]
    weights = {"dw/depthwise_kernel": np.ones((3, 3, 2, 2), np.float32), "out/kernel": np.ones((64, 3), np.float32)}
    result = convert_model(write_tiny_model(tmp_path / "seq", layers, weights, sequential=True), tmp_path / "out")
    assert (result["cutLayer"], result["featureShape"], result["featureDim"]) == ("dw", [4, 4, 4], 4)
    model = json.loads((tmp_path / "out" / result["modelJson"]).read_text())
    assert model["modelTopology"]["class_name"] == "Sequential"
    assert [layer["name"] for layer in model["modelTopology"]["config"]["layers"]] == ["pad", "dw"]
    assert model["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] == [None, None, None, 2]
    # Cut after the Flatten, the model only works at the size it was built for: its input stays declared.
    result = convert_model(tmp_path / "seq", tmp_path / "flat", cut_layer="out")
    model = json.loads((tmp_path / "flat" / result["modelJson"]).read_text())
    assert not result["anyInputSize"] and result["inputShape"] == [9, 9, 2]
    assert model["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 9, 9, 2]


def test_float16_refuses_values_it_cannot_hold(tmp_path: Path) -> None:
    kernel = np.full((3, 3, 3, 1), 1e6, np.float32)
    model = write_tiny_model(tmp_path / "big", tiny_functional(kernel), {"conv/kernel": kernel})
    with pytest.raises(BuildError, match="float16"):
        convert_model(model, tmp_path / "out", quantize="float16")


# --- resolve_source: local paths and downloads -------------------------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Keep the test output free of access logs."""


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """A local HTTP server for `folder` on a free port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@needs_v1_025
def test_local_sources(tmp_path: Path) -> None:
    assert resolve_source(str(V1_025), tmp_path) == V1_025
    assert resolve_source(str(V1_025 / "model.json"), tmp_path) == V1_025
    with pytest.raises(BuildError, match="does not exist"):
        resolve_source(str(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(BuildError, match="model.json"):
        resolve_source(str(tmp_path), tmp_path)


def test_unreachable_url_points_to_offline_builds(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        resolve_source("http://127.0.0.1:9/model.json", tmp_path)
    message = str(caught.value)
    assert "cannot download http://127.0.0.1:9/model.json" in message and "--weights DIR" in message
    assert "\n" not in message


@needs_v1_025
def test_download_caches_and_converts(tmp_path: Path) -> None:
    site = tmp_path / "site" / "base"
    shutil.copytree(V1_025, site)
    cache = tmp_path / "cache"
    with serving(tmp_path / "site") as url:
        local = resolve_source(f"{url}/base/model.json", cache)
    assert local.parent == cache and len(local.name) == 16
    expected = sorted(p.name for p in V1_025.iterdir() if p.name != "PROVENANCE.md")
    assert sorted(p.name for p in local.iterdir()) == expected
    assert resolve_source(f"{url}/base/model.json", cache) == local  # the server is gone: served from the cache
    assert convert_model(local, tmp_path / "out")["modelJson"] == convert_model(V1_025, tmp_path / "ref")["modelJson"]


@needs_v1_025
def test_interrupted_download_is_never_reused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(V1_025, site)
    shard = (site / "group7-shard1of1").rename(tmp_path / "held-back")
    cache = tmp_path / "cache"
    with serving(site) as url:
        with pytest.raises(BuildError, match=r"group7-shard1of1 \(HTTP 404"):
            resolve_source(f"{url}/model.json", cache)
        (local,) = cache.iterdir()
        assert not (local / "model.json").exists() and not list(local.glob(".*"))
        shard.rename(site / "group7-shard1of1")
        assert resolve_source(f"{url}/model.json", cache) == local
    assert (local / "model.json").read_bytes() == (V1_025 / "model.json").read_bytes()
