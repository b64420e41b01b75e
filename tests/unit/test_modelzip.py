"""The exported model zip: an exact round trip, and a refusal with a plain reason for every kind of bad file."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from typing import Any

import pytest
from teachbox.model import export_zip
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import build_model_zip, declare_input_size, output_units, read_model_zip

LABELS = ["cat", "dog"]


def _topology(units: int = 2) -> dict[str, Any]:
    """A tiny TF.js functional topology: input(4) → Dense(units, softmax), the output named in output_layers."""
    return {
        "class_name": "Functional",
        "config": {
            "name": "head",
            "layers": [
                {"class_name": "InputLayer", "name": "features", "inbound_nodes": [],
                 "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "features"}},
                {"class_name": "Dense", "name": "probs", "inbound_nodes": [[["features", 0, 0, {}]]],
                 "config": {"units": units, "activation": "softmax", "use_bias": True, "name": "probs"}},
            ],
            "input_layers": [["features", 0, 0]],
            "output_layers": [["probs", 0, 0]],
        },
        "keras_version": "tfjs-layers 4.22.0",
        "backend": "tensor_flow.js",
    }


def _specs(units: int = 2) -> list[dict[str, Any]]:
    return [{"name": "probs/kernel", "shape": [4, units], "dtype": "float32"},
            {"name": "probs/bias", "shape": [units], "dtype": "float32"}]


def _weights(units: int = 2) -> bytes:
    count = 4 * units + units
    return struct.pack(f"<{count}f", *(0.25 * i - 1.0 for i in range(count)))


def _metadata(labels: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"format": "teachbox-model", "version": 1, "labels": LABELS if labels is None else labels,
            "preprocessing": {"mode": "center-crop", "size": 224}, **extra}


def _zip(topology: dict[str, Any] | None = None, specs: list[dict[str, Any]] | None = None,
         weights: bytes | None = None, metadata: dict[str, Any] | None = None) -> bytes:
    return build_model_zip(_topology() if topology is None else topology, _specs() if specs is None else specs,
                           _weights() if weights is None else weights, _metadata() if metadata is None else metadata)


def _raw_zip(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _refused(data: bytes) -> TeachboxError:
    """The error read_model_zip raises for `data`; every refusal has the one code scripts can rely on."""
    with pytest.raises(TeachboxError) as caught:
        read_model_zip(data)
    assert caught.value.code == "bad_model_file"
    return caught.value


def _says(error: TeachboxError, *words: str) -> bool:
    """Whether the message names every one of `words` (case-insensitive): what a person needs to see."""
    return all(word.lower() in error.message.lower() for word in words)


# --- round trip ---------------------------------------------------------------------------------------------------


def test_round_trip_is_exact() -> None:
    topology, specs, weights, metadata = _topology(), _specs(), _weights(), _metadata()
    files = read_model_zip(build_model_zip(topology, specs, weights, metadata))
    assert files.model_json["modelTopology"] == topology
    assert files.model_json["format"] == "layers-model"
    assert files.model_json["weightsManifest"] == [{"paths": ["weights.bin"], "weights": specs}]
    assert files.weight_specs == specs
    assert files.weights == weights
    assert files.metadata == metadata
    assert files.labels == LABELS


def test_zip_holds_the_three_standard_entries() -> None:
    assert set(_entries(_zip())) == {"model.json", "weights.bin", "metadata.json"}


def test_int32_weights_and_many_labels() -> None:
    labels = [f"class {i}" for i in range(5)]
    specs = [*_specs(5), {"name": "step", "shape": [], "dtype": "int32"}]
    weights = _weights(5) + struct.pack("<i", 7)
    files = read_model_zip(_zip(_topology(5), specs, weights, _metadata(labels)))
    assert files.labels == labels and files.weights == weights


def test_hostile_labels_are_kept_exactly() -> None:
    labels = ['<img src=x onerror="alert(1)">', "</script><script>alert('x')</script>", "a & b ü 🐱", " spaced "]
    files = read_model_zip(_zip(_topology(4), _specs(4), _weights(4), _metadata(labels)))
    assert files.labels == labels
    assert files.metadata["labels"] == labels


def test_output_units_reads_keras_and_tfjs_shapes() -> None:
    assert output_units(_topology(3)) == 3
    assert output_units({"model_config": _topology(6)}) == 6
    no_outputs = _topology(4)
    del no_outputs["config"]["output_layers"]
    assert output_units(no_outputs) == 4  # the last layer
    assert output_units({"config": {"layers": []}}) is None


def test_topology_without_units_skips_the_label_check() -> None:
    topology = _topology()
    del topology["config"]["layers"][1]["config"]["units"]
    assert read_model_zip(_zip(topology, metadata=_metadata(["a", "b", "c"]))).labels == ["a", "b", "c"]


# --- not a model zip at all ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"not a zip", b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_not_a_zip(data: bytes) -> None:
    error = _refused(data)
    assert _says(error, "not a zip"), error.message


@pytest.mark.parametrize("keep", [10, 100, 0.5, 0.9])
def test_truncated_zip(keep: float) -> None:
    data = _zip()
    cut = data[:keep] if isinstance(keep, int) else data[:int(len(data) * keep)]
    error = _refused(cut)
    assert "zip" in error.message.lower()


def test_corrupted_entry_is_damaged() -> None:
    data = bytearray(_raw_zip({"model.json": json.dumps({"x": 1}), "weights.bin": b"\0" * 400,
                               "metadata.json": "{}"}))
    entries = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()
    weights = next(info for info in entries if info.filename == "weights.bin")
    start = weights.header_offset + 30 + len(weights.filename)  # local header, then the compressed bytes
    data[start + 1] ^= 0xFF
    error = _refused(bytes(data))
    assert _says(error, "weights.bin", "damaged"), error.message


@pytest.mark.parametrize("missing", ["model.json", "weights.bin", "metadata.json"])
def test_missing_entry(missing: str) -> None:
    entries = _entries(_zip())
    del entries[missing]
    error = _refused(_raw_zip(entries))
    assert _says(error, missing, "not a teachbox model export"), error.message


def test_non_json_model_json() -> None:
    entries = _entries(_zip())
    entries["model.json"] = b"{not json"
    error = _refused(_raw_zip(entries))
    assert _says(error, "model.json", "not valid json"), error.message


def test_non_utf8_metadata() -> None:
    entries = _entries(_zip())
    entries["metadata.json"] = b"\xff\xfe{}"
    error = _refused(_raw_zip(entries))
    assert _says(error, "metadata.json", "not valid json"), error.message


def test_json_that_is_not_an_object() -> None:
    entries = _entries(_zip())
    entries["metadata.json"] = b"[1, 2]"
    error = _refused(_raw_zip(entries))
    assert _says(error, "metadata.json", "not a json object"), error.message


def test_model_json_without_topology() -> None:
    entries = _entries(_zip())
    entries["model.json"] = json.dumps({"format": "graph-model", "weightsManifest": []}).encode()
    error = _refused(_raw_zip(entries))
    assert _says(error, "modelTopology", "not a TF.js layers model"), error.message


def test_malformed_weights_manifest() -> None:
    entries = _entries(_zip())
    model = json.loads(entries["model.json"])
    model["weightsManifest"] = [{"paths": ["weights.bin"]}]
    entries["model.json"] = json.dumps(model).encode()
    error = _refused(_raw_zip(entries))
    assert _says(error, "weightsManifest", "malformed"), error.message


# --- weights ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [-4, -1, 1, 4])
def test_weight_bytes_removed_or_added(change: int) -> None:
    weights = _weights()
    weights = weights[:change] if change < 0 else weights + b"\0" * change
    error = _refused(_zip(weights=weights))
    assert _says(error, "weights.bin", "truncated or was altered"), error.message
    assert f"{len(weights):,} bytes" in error.message and "needs 40" in error.message


@pytest.mark.parametrize("spec", [
    {"name": "probs/kernel", "shape": [4, -2], "dtype": "float32"},
    {"name": "probs/kernel", "shape": [4, 2], "dtype": "complex64"},
    {"name": "probs/kernel", "shape": [4, 2.0], "dtype": "float32"},
    {"name": "probs/kernel", "shape": "4x2", "dtype": "float32"},
    {"name": 7, "shape": [4, 2], "dtype": "float32"},
    {"shape": [4, 2], "dtype": "float32"},
])
def test_weight_spec_that_cannot_be_held(spec: dict[str, Any]) -> None:
    error = _refused(_zip(specs=[spec, _specs()[1]]))
    assert _says(error, "describes a weight it cannot hold"), error.message


def test_non_object_spec_is_refused() -> None:
    error = _refused(_zip(specs=["probs/kernel", _specs()[1]]))
    assert _says(error, "cannot hold"), error.message


# --- metadata -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["teachable-machine", None, 1])
def test_wrong_format_marker(marker: Any) -> None:
    metadata = _metadata()
    metadata["format"] = marker
    error = _refused(_zip(metadata=metadata))
    assert _says(error, "not Teachbox model metadata"), error.message


def test_missing_format_marker() -> None:
    metadata = _metadata()
    del metadata["format"]
    error = _refused(_zip(metadata=metadata))
    assert _says(error, "metadata.json", "not Teachbox model metadata"), error.message


@pytest.mark.parametrize("labels", [["cat"], [], ["cat", "cat"], ["cat", ""], ["cat", 2], "cat,dog", None])
def test_bad_labels(labels: Any) -> None:
    metadata = _metadata()
    metadata["labels"] = labels
    error = _refused(_zip(metadata=metadata))
    assert _says(error, "at least two distinct, non-empty labels"), error.message


def test_labels_with_bidi_overrides_are_refused() -> None:
    metadata = _metadata(["cat", "dog\u202eevil"])
    error = _refused(_zip(metadata=metadata))
    assert _says(error, "metadata.json", "U+202E", "display as another label"), error.message


@pytest.mark.parametrize("labels", [["a", "b", "c"], ["a", "b", "c", "d", "e"]])
def test_label_count_must_match_output_units(labels: list[str]) -> None:
    error = _refused(_zip(metadata=_metadata(labels)))
    assert _says(error, "outputs 2 classes", f"names {len(labels)} labels"), error.message
    assert error.code == "bad_model_file"


@pytest.mark.parametrize("preprocessing", [None, {"mode": "zoom", "size": 224}, {"mode": "pad"},
                                           {"mode": "squash", "size": "224"}, "center-crop"])
def test_bad_preprocessing(preprocessing: Any) -> None:
    metadata = _metadata()
    metadata["preprocessing"] = preprocessing
    error = _refused(_zip(metadata=metadata))
    assert _says(error, "preprocessing"), error.message


# --- size limits --------------------------------------------------------------------------------------------------


def test_whole_file_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _zip()
    monkeypatch.setattr(export_zip, "MAX_ZIP_BYTES", len(data) - 1)
    error = _refused(data)
    assert _says(error, "a model zip may be at most"), error.message


def test_declared_inflated_size_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # A zip bomb: small on disk, large inflated. Refused from the declared sizes, before inflating anything.
    data = _zip(weights=_weights(), metadata=_metadata(description="x" * 5000))
    monkeypatch.setattr(export_zip, "MAX_ZIP_BYTES", len(data) + 100)
    assert len(data) < export_zip.MAX_ZIP_BYTES < sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    error = _refused(data)
    assert _says(error, "inflates to more than"), error.message


def test_json_entry_over_the_json_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _zip(metadata=_metadata(description="x" * 2000))
    sizes = {info.filename: info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    monkeypatch.setattr(export_zip, "MAX_JSON_BYTES", sizes["metadata.json"] - 1)
    assert sizes["model.json"] <= export_zip.MAX_JSON_BYTES
    error = _refused(data)
    assert _says(error, "metadata.json", "larger than allowed"), error.message


def test_weights_are_not_held_to_the_json_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = [f"c{i}" for i in range(200)]
    data = _zip(_topology(200), _specs(200), _weights(200), _metadata(labels))
    sizes = {info.filename: info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    monkeypatch.setattr(export_zip, "MAX_JSON_BYTES", max(sizes["model.json"], sizes["metadata.json"]))
    assert sizes["weights.bin"] > export_zip.MAX_JSON_BYTES
    assert read_model_zip(data).weights == _weights(200)


def _set_declared_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory (what zipfile trusts) declares for `name`."""
    patched = bytearray(data)
    offset = patched.index(b"PK\x01\x02")
    while offset >= 0:
        name_length = struct.unpack_from("<H", patched, offset + 28)[0]
        if patched[offset + 46:offset + 46 + name_length] == name.encode():
            struct.pack_into("<I", patched, offset + 24, size)
            return bytes(patched)
        offset = patched.find(b"PK\x01\x02", offset + 46)
    raise AssertionError(f"{name} not in the central directory")


def test_declared_size_over_the_limit_is_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _set_declared_size(_zip(), "metadata.json", 10**9)  # the bytes stay small; only the header lies
    error = _refused(data)
    assert _says(error, "inflates to more than"), error.message
    monkeypatch.setattr(export_zip, "MAX_ZIP_BYTES", 2 * 10**9)
    error = _refused(data)
    assert _says(error, "metadata.json", "larger than allowed"), error.message


def test_entry_that_inflates_past_its_declared_size_is_refused() -> None:
    # Declared small, inflates to more: zipfile stops at the declared size and the CRC check fails.
    data = _set_declared_size(_zip(), "weights.bin", 8)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("weights.bin").file_size == 8
    error = _refused(data)
    assert _says(error, "weights.bin", "damaged"), error.message


@pytest.mark.parametrize("topology", [{"config": []}, {"model_config": "x"}, {"config": {"layers": [1, 2]}},
                                      {"config": {"layers": [], "output_layers": [5]}}])
def test_malformed_topology_is_a_bad_model_file(topology: dict[str, Any]) -> None:
    assert _refused(_zip(topology=topology)).code == "bad_model_file"


def test_declare_input_size_fills_only_open_dimensions() -> None:
    """The page's models take any size; an export declares the one it was trained at, both Keras wrappers."""
    def topology(shape: list) -> dict:
        return {"class_name": "Model", "config": {"layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": shape, "name": "input_1"}},
            {"class_name": "Dense", "config": {"units": 2}}]}}

    opened = declare_input_size(topology([None, None, None, 3]), 128)
    assert opened["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 128, 128, 3]
    assert opened["config"]["layers"][1]["config"] == {"units": 2}
    fixed = declare_input_size(topology([None, 224, 224, 3]), 128)
    assert fixed["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 224, 224, 3]
    wrapped = declare_input_size({"model_config": topology([None, None, None, 3])}, 160)
    assert wrapped["model_config"]["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 160, 160, 3]


def test_test_time_views_are_read() -> None:
    assert read_model_zip(_zip(metadata=_metadata(tta=["id", "hflip"]))).metadata["tta"] == ["id", "hflip"]


@pytest.mark.parametrize("tta", [[], ["id", "id"], ["id", "sideways"], "id", [1]])
def test_bad_test_time_views(tta: Any) -> None:
    assert "tta must list distinct views" in str(_refused(_zip(metadata=_metadata(tta=tta))))


def test_a_keras_scaling_is_accepted_and_an_unknown_one_refused() -> None:
    caffe = {"mode": "center-crop", "size": 224, "scaling": "caffe"}
    assert read_model_zip(_zip(metadata=_metadata(preprocessing=caffe))).metadata["preprocessing"] == caffe
    error = _refused(_zip(metadata=_metadata(preprocessing={**caffe, "scaling": "BGR"})))
    assert _says(error, "scaling", "tf", "torch", "caffe", "none")
