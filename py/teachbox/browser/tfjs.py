"""Named entry points into TensorFlow.js (`tf`): backends, memory, models in and out, the few ops the core needs.

The core holds tensors, layers and models as opaque handles and calls these functions instead of reaching for
`tf` itself, so what Teachbox asks of TF.js is listed in one place (and in browser/tf_training.py for training).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, jsnull  # type: ignore[import-not-found]

from teachbox.browser.convert import buffer_bytes, from_json, is_nullish, to_js

tf = js.tf


# -- backends and memory ------------------------------------------------------------------------------------------
def set_wasm_paths(url: str) -> None:
    """Where tfjs-backend-wasm finds its .wasm files (this build's vendor folder, never a CDN)."""
    tf.wasm.setWasmPaths(url)


async def set_backend(name: str) -> bool:
    """Switch to a backend and wait until it is ready; False when the browser cannot run it."""
    if not await tf.setBackend(name):
        return False
    await tf.ready()
    return True


def memory() -> dict[str, int | None]:
    """TF.js's own counts, plus the size of the two WebAssembly memories the page holds: TF.js's wasm backend and
    Pyodide's. Those sizes are high-water marks (a wasm memory never shrinks), which is what a page that grows
    with its data set shows first."""
    numbers = tf.memory()
    backend = tf.backend()
    wasm = getattr(backend, "wasm", None) if tf.getBackend() == "wasm" else None
    return {"numTensors": int(numbers.numTensors), "numBytes": int(numbers.numBytes),
            "numDataBuffers": int(numbers.numDataBuffers),
            "tfWasmHeapBytes": int(wasm.HEAPU8.byteLength) if wasm is not None else None,
            "pythonHeapBytes": python_heap_bytes()}


def python_heap_bytes() -> int:
    """Pyodide's WebAssembly memory (its `_module` is the Emscripten module: the only way to its heap)."""
    import pyodide_js  # type: ignore[import-not-found]

    return int(pyodide_js._module.HEAPU8.byteLength)


def tidy(fn: Callable[[], Any]) -> Any:
    """Run fn inside tf.tidy so every intermediate tensor it creates is disposed (except the one returned)."""
    proxy = create_proxy(fn)
    try:
        return tf.tidy(proxy)
    finally:
        proxy.destroy()


# -- tensors ------------------------------------------------------------------------------------------------------
def shape(tensor: Any) -> list[int | None]:
    """A tensor's (or symbolic tensor's) shape; None for an open dimension."""
    return [None if is_nullish(d) else int(d) for d in tensor.shape]


def zeros(dims: list[int]) -> Any:
    return tf.zeros(to_js(dims))


def mean_pool(features: Any) -> Any:
    """[N, h, w, C] → [N, C]: the global average pool that turns a feature map into an embedding."""
    return tf.mean(features, to_js([1, 2]))


def view(batch: Any, name: str, scaling: str) -> Any:
    """The batch seen another way (a flip, a 90° rotation, a crop, a colour shift…: site/kernels.js `view`); "id" is
    the batch itself. `scaling` is how the batch's pixels were scaled (a colour shift works on the pixels). Call
    inside tidy."""
    return js.teachboxKernels.view(batch, name, scaling)


def add(a: Any, b: Any) -> Any:
    return tf.add(a, b)


def scale(tensor: Any, factor: float) -> Any:
    return tf.mul(tensor, factor)


def concat(parts: list[Any]) -> Any:
    """Tensors joined along their first axis (call inside tidy, or dispose the parts)."""
    return tf.concat(to_js(parts), 0)


def from_rows(rows: list[Any], dims: tuple[int, ...]) -> Any:
    """One float32 tensor of shape [len(rows), *dims] from Float32Array rows (each of prod(dims) values)."""
    size = math.prod(dims)
    flat = js.Float32Array.new(len(rows) * size)
    for index, row in enumerate(rows):
        flat.set(row, index * size)
    return tf.tensor(flat, to_js([len(rows), *dims]), "float32")


async def float_rows(tensor: Any) -> list[Any]:
    """A [N, ...] tensor read back as N Float32Arrays, each with its own buffer (so storing one row in IndexedDB
    stores only that row); the caller disposes the tensor."""
    flat = await tensor.data()
    count = int(tensor.shape[0])
    size = int(flat.length) // count if count else 0
    return [flat.slice(row * size, (row + 1) * size) for row in range(count)]


async def values(tensor: Any) -> list[float]:
    """A tensor's values as one flat Python list."""
    return [float(v) for v in (await tensor.data()).to_py()]


async def nested(tensor: Any) -> list:
    """A tensor as nested Python lists ([N, K] → N rows of K floats)."""
    return (await tensor.array()).to_py()


def relative_gap(model: Any, runner: Any, side: int) -> float:
    """max |model − runner| / max |model| on one seeded random image: how far a fused runner is from its model."""

    def gap() -> Any:
        image = tf.randomUniform(to_js([1, side, side, 3]), -1, 1, "float32", 7)
        expected = model.predict(image)
        return tf.div(tf.max(tf.abs(tf.sub(expected, runner.predict(image)))),
                      tf.maximum(tf.max(tf.abs(expected)), 1e-6))

    return values_now(gap)[0]


def values_now(compute: Callable[[], Any]) -> list[float]:
    """`compute`'s tensor, made in a tidy, read at once as a flat list and disposed: for the few numbers a step
    needs before it can go on (a check, a loss and its gradient), where awaiting a read would gain nothing."""
    result = tidy(compute)
    try:
        return result.dataSync().to_py().tolist()
    finally:
        result.dispose()


# -- models -------------------------------------------------------------------------------------------------------
def topology(model: Any) -> dict:
    """A layers model's Keras topology, as its model.json holds it (snake_case configs, inbound nodes)."""
    return json.loads(str(model.toJSON(jsnull, True)))


def input_shape(model: Any) -> list[int | None]:
    return shape(model.inputs[0])


def output_shape(model: Any) -> list[int | None]:
    return shape(model.outputs[0])


async def load_model(url: str, on_progress: Callable[[float], None] | None = None) -> Any:
    """tf.loadLayersModel from a URL or a storage key (`indexeddb://…`); raises JsException. `on_progress` gets the
    fraction loaded (0–1) as TF.js reports it, once per weight file fetched."""
    if on_progress is None:
        return await tf.loadLayersModel(url)
    proxy = create_proxy(lambda fraction: on_progress(float(fraction)))
    options = js.Object.new()
    options.onProgress = proxy
    try:
        return await tf.loadLayersModel(url, options)
    finally:
        proxy.destroy()


async def saved_model_keys() -> list[str]:
    """Keys of every model TF.js has stored in this origin's IndexedDB."""
    try:
        models = await tf.io.listModels()
    except JsException:
        return []
    return [str(key) for key in js.Object.keys(models)]


async def save_model(model: Any, key: str) -> None:
    """model.save(key) (e.g. `indexeddb://…`); raises JsException."""
    await model.save(key)


async def remove_model(key: str) -> None:
    """Drop a stored model; a key that is already gone is fine."""
    try:
        await tf.io.removeModel(key)
    except JsException:
        pass


def cut_at(model: Any, layer: str) -> Any:
    """The sub-model from the model's inputs to `layer`'s output (sharing its layers); raises KeyError if the model
    has no such layer."""
    try:
        output = model.getLayer(layer).output
    except JsException as error:
        raise KeyError(layer) from error
    return tf.model(to_js({"inputs": model.inputs, "outputs": output}))


async def artifacts(model: Any) -> tuple[dict, list, bytes]:
    """(topology, weight specs, weight bytes) of a model, as `model.save` hands them to a save handler."""
    captured: dict[str, Any] = {}

    def handler(saved: Any) -> Any:
        captured["topology"] = saved.modelTopology.to_py()
        captured["specs"] = saved.weightSpecs.to_py()
        captured["data"] = buffer_bytes(saved.weightData)
        return to_js({"modelArtifactsInfo": {"dateSaved": js.Date.new(), "modelTopologyType": "JSON"}})

    proxy = create_proxy(handler)
    try:
        await model.save(tf.io.withSaveHandler(proxy))
    finally:
        proxy.destroy()
    return captured["topology"], captured["specs"], captured["data"]


async def model_from_artifacts(model_topology: dict, weight_specs: list, weight_data: bytes) -> Any:
    """A layers model built by TF.js from JSON and weight bytes only (no code runs); raises JsException."""
    loaded = from_json({"modelTopology": model_topology, "weightSpecs": weight_specs})
    weights = to_js(weight_data)
    loaded.weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength)
    return await tf.loadLayersModel(tf.io.fromMemory(loaded))


def model_layers(model: Any) -> list[Any]:
    return list(model.layers)


def dispose_layers(layers: list[Any]) -> None:
    """Free the weights of these layers exactly once, however many models share them.

    Disposing a whole tf.LayersModel frees every layer in it, including layers it shares with another model (the
    page's base), and stops at the first already-freed layer; freeing layer by layer avoids both problems.
    """
    seen: set[int] = set()
    for layer in layers:
        if int(layer.id) in seen:
            continue
        seen.add(int(layer.id))
        while True:
            try:
                result = layer.dispose()
            except JsException:
                break
            remaining = result.refCountAfterDispose
            if is_nullish(remaining) or int(remaining) <= 0:
                break
