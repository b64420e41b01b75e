"""Values across the boundary: Python ↔ JS conversion, JS type names and messages, bytes ↔ Blob.

Everything that crosses from Python to the browser or back is converted here, so the rest of the package handles
plain Python values and opaque handles (tensors, models, Blobs) it never inspects with `js` itself.
"""

from __future__ import annotations

import json
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, JsProxy, jsnull  # type: ignore[import-not-found]
from pyodide.ffi import to_js as _to_js

__all__ = ["JsException", "blob_bytes", "buffer_bytes", "bytes_blob", "from_json", "is_nullish", "js_message",
           "js_type", "to_js", "to_py"]


def to_js(value: Any) -> Any:
    """Python value → JS value with dicts as plain objects (what TF.js and API callers expect)."""
    return _to_js(value, dict_converter=js.Object.fromEntries, create_pyproxies=False)


def to_py(value: Any) -> Any:
    """JS value → Python value; null and undefined become None, JS objects and arrays become dicts and lists."""
    if is_nullish(value):
        return None
    if isinstance(value, JsProxy) and js_type(value) in ("Object", "Array"):
        return value.to_py()
    return value


def from_json(value: Any) -> Any:
    """A JSON-able Python value as a JS value through JSON.parse: Keras configs hold nulls that must stay null
    (to_js would make them undefined)."""
    return js.JSON.parse(json.dumps(value))


def is_nullish(value: Any) -> bool:
    """True for Python None (JS undefined arrives as None) and for JS null (arrives as `jsnull`)."""
    return value is None or value is jsnull


def js_type(value: Any) -> str:
    """The JS class name of a value (`Blob`, `File`, `HTMLImageElement`, …), from Object.prototype.toString."""
    tag = js.Object.prototype.toString.call(value)
    return str(tag)[8:-1]


def js_message(error: BaseException) -> str:
    """The message of a JS exception without Pyodide's prefix."""
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith(("Error: ", "TypeError: ")) else text


def bytes_blob(data: bytes, mime: str) -> Any:
    """Python bytes as a Blob (the Blob copies the bytes, so no view into Pyodide's heap is kept or stored)."""
    return js.Blob.new(to_js([to_js(data)]), to_js({"type": mime}))


async def blob_bytes(blob: Any, limit: int | None = None) -> bytes:
    """The first `limit` bytes of a Blob (all of it when None) as Python bytes; sniffing a header copies no more."""
    part = blob if limit is None else blob.slice(0, limit)
    return buffer_bytes(await part.arrayBuffer())


def buffer_bytes(buffer: Any) -> bytes:
    """An ArrayBuffer (or a JS array of them, as TF.js 4.x hands weights) as Python bytes."""
    if js_type(buffer) == "Array":
        return b"".join(buffer_bytes(part) for part in buffer)
    return bytes(js.Uint8Array.new(buffer).to_py())
