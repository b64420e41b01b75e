"""A PyTorch checkpoint read without PyTorch (both torch.save layouts, a hostile pickle refused), and an
EfficientNet-Lite state dict rebuilt as a TF.js layers model: its blocks, strides, residual sums and kernel layouts.

The checkpoints here are written by the tests in torch.save's documented layouts, with small random tensors; the
real EfficientNet-Lite0 checkpoint was checked against PyTorch itself when the converter was written (to 6e-5 on
real images, docs/accuracy.md run 8)."""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from teachbox_build.efficientnet_lite import lite_model, write_layers_model
from teachbox_build.errors import BuildError
from teachbox_build.torch_checkpoint import LEGACY_MAGIC, read_state_dict

TORCH_TYPES = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}


class _StorageRef:
    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key, self.array = key, array


class _TensorRef:
    """Pickles as torch.save writes a tensor: _rebuild_tensor_v2(storage, offset, shape, stride, …)."""

    def __init__(self, storage: _StorageRef, shape: tuple, stride: tuple) -> None:
        self.storage, self.shape, self.stride = storage, shape, stride

    def __reduce__(self):  # noqa: ANN204
        import torch._utils  # the stand-in below

        return torch._utils._rebuild_tensor_v2, (self.storage, 0, self.shape, self.stride, False, OrderedDict())


class _Pickler(pickle.Pickler):
    """A storage is a persistent id ('storage', its type, key, location, element count), as in torch.save."""

    def persistent_id(self, obj: object) -> tuple | None:
        if isinstance(obj, _StorageRef):
            import torch

            return ("storage", getattr(torch, TORCH_TYPES[obj.array.dtype]), obj.key, "cpu", obj.array.size)
        return None


@pytest.fixture(autouse=True)
def _stand_in_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch and torch._utils with just the names a state dict's pickle refers to (PyTorch is not installed)."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*_: object) -> None:
        """Never called: the pickle only names it."""

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in TORCH_TYPES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)


def _pickled(state: dict[str, np.ndarray], transpose: tuple[str, ...] = ()) -> tuple[bytes, dict[str, np.ndarray]]:
    """The state dict's pickle and its storages; tensors named in `transpose` are stored transposed and described
    with swapped strides (a non-contiguous view, as a transposed torch tensor is saved)."""
    storages, tree = {}, OrderedDict()
    for index, (name, array) in enumerate(state.items()):
        key = str(index)
        storages[key] = np.array(array.T if name in transpose else array, order="C")  # keeps 0-d arrays 0-d
        stride = (1, array.shape[0]) if name in transpose else tuple(s // array.itemsize
                                                                      for s in storages[key].strides)
        tree[name] = _TensorRef(_StorageRef(key, storages[key]), array.shape, stride)
    stream = io.BytesIO()
    _Pickler(stream, protocol=2).dump(tree)
    return stream.getvalue(), storages


def _legacy(state: dict[str, np.ndarray], **kwargs) -> bytes:  # noqa: ANN003
    body, storages = _pickled(state, **kwargs)
    out = io.BytesIO()
    for value in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(value, out, protocol=2)
    out.write(body)
    pickle.dump(sorted(storages), out, protocol=2)
    for key in sorted(storages):
        out.write(storages[key].size.to_bytes(8, "little") + storages[key].tobytes())
    return out.getvalue()


def _zipped(state: dict[str, np.ndarray]) -> bytes:
    body, storages = _pickled(state)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", body)
        for key, array in storages.items():
            archive.writestr(f"archive/data/{key}", array.tobytes())
    return out.getvalue()


STATE = {"conv.weight": np.arange(24, dtype="float32").reshape(2, 3, 2, 2) / 7,
         "fc.weight": np.arange(12, dtype="float32").reshape(3, 4) - 5,
         "bn.num_batches_tracked": np.array(9, dtype="int64")}


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_a_state_dict_reads_back_exactly(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(_legacy(STATE, transpose=("fc.weight",)) if layout == "legacy" else _zipped(STATE))
    read = read_state_dict(path)
    assert list(read) == list(STATE)
    for name, array in STATE.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    path.write_bytes(b"".join(pickle.dumps(v, protocol=2) for v in (LEGACY_MAGIC, 1001, {})) + pickle.dumps(Exploit()))
    with pytest.raises(BuildError, match="not only tensors"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("data", [b"", b"not a checkpoint at all", pickle.dumps({"a": 1})])
def test_other_files_are_refused_with_their_name(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(data)
    with pytest.raises(BuildError, match="x.pth"):
        read_state_dict(path)


def _lite_state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A tiny EfficientNet-Lite: stem 8; block 0 (no expansion, 8→4, 3×3); block 1 starts stage 2 (4→6, 3×3,
    stride 2); block 2 stays in it (6→6, 5×5: a residual sum); head 16."""
    def conv(out: int, inp: int, k: int) -> np.ndarray:
        return rng.normal(size=(out, inp, k, k)).astype("float32")

    def norm(prefix: str, n: int) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": rng.uniform(0.5, 1.5, n).astype("float32"),
                f"{prefix}.bias": rng.normal(size=n).astype("float32"),
                f"{prefix}.running_mean": rng.normal(size=n).astype("float32"),
                f"{prefix}.running_var": rng.uniform(0.5, 2, n).astype("float32")}

    state = {"_conv_stem.weight": conv(8, 3, 3), **norm("_bn0", 8),
             "_blocks.0._depthwise_conv.weight": conv(8, 1, 3), **norm("_blocks.0._bn1", 8),
             "_blocks.0._project_conv.weight": conv(4, 8, 1), **norm("_blocks.0._bn2", 4)}
    for index, (inp, out, k) in ((1, (4, 6, 3)), (2, (6, 6, 5))):
        wide = inp * 6
        state |= {f"_blocks.{index}._expand_conv.weight": conv(wide, inp, 1), **norm(f"_blocks.{index}._bn0", wide),
                  f"_blocks.{index}._depthwise_conv.weight": conv(wide, 1, k), **norm(f"_blocks.{index}._bn1", wide),
                  f"_blocks.{index}._project_conv.weight": conv(out, wide, 1), **norm(f"_blocks.{index}._bn2", out)}
    return state | {"_conv_head.weight": conv(16, 6, 1), **norm("_bn1", 16),
                    "_fc.weight": conv(10, 16, 1)[:, :, 0, 0], "_fc.bias": np.zeros(10, "float32")}


def test_a_lite_state_dict_becomes_its_layers_model(tmp_path: Path) -> None:
    state = _lite_state(np.random.default_rng(0))
    topology, weights = lite_model(state)
    layers = {layer["name"]: layer for layer in topology["config"]["layers"]}
    strides = {name: layer["config"]["strides"][0] for name, layer in layers.items()
               if layer["class_name"] == "DepthwiseConv2D"}
    assert strides == {"block0_dw_conv": 1, "block1_dw_conv": 2, "block2_dw_conv": 1}
    assert layers["stem_conv"]["config"]["strides"] == [2, 2]
    assert [n for n, layer in layers.items() if layer["class_name"] == "Add"] == ["block2_add"]
    assert layers["block2_add"]["inbound_nodes"][0][0][0] == "block1_project_bn", "the sum takes the block's input"
    assert "block0_expand_conv" not in layers, "an expansion ratio of 1 has no expansion"
    assert topology["config"]["output_layers"] == [["top_relu", 0, 0]]
    assert all(layer["config"].get("padding", "same") == "same" for layer in layers.values())
    by_name = dict(weights)
    assert not any(name.startswith("_fc") or "fc" in name for name in by_name), "the classifier is left out"
    np.testing.assert_array_equal(by_name["stem_conv/kernel"], state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(by_name["block2_dw_conv/depthwise_kernel"],
                                  state["_blocks.2._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    assert by_name["block2_dw_conv/depthwise_kernel"].shape == (5, 5, 36, 1)
    np.testing.assert_array_equal(by_name["top_bn/moving_variance"], state["_bn1.running_var"])

    model_json = write_layers_model(state, tmp_path / "efficientnet_lite0_224")
    manifest = json.loads(model_json.read_text())["weightsManifest"][0]
    size = sum(4 * int(np.prod(entry["shape"])) for entry in manifest["weights"])
    assert (tmp_path / "efficientnet_lite0_224" / "weights.bin").stat().st_size == size


def test_a_state_dict_of_another_network_is_refused() -> None:
    with pytest.raises(BuildError, match="not an EfficientNet"):
        lite_model({"conv1.weight": np.zeros((4, 3, 3, 3), "float32")})
