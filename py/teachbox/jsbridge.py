"""The one module that touches the browser (`js`, `pyodide.ffi`). Everything else in teachbox is plain Python.

Keeping the boundary this thin is what lets the logic (datasets, geometry, metrics, backend choice) run under CPython
tests, the way micropip keeps `_compat_in_pyodide` apart. Functions here convert values at the edge: Python dicts
become JS objects, JS `null`/`undefined` become None, JS exceptions become TeachboxError.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]
import pyodide  # type: ignore[import-not-found]
from pyodide.ffi import JsException, JsProxy, create_once_callable, create_proxy, jsnull  # type: ignore[import-not-found]
from pyodide.ffi import to_js as _to_js

from teachbox.backend_choice import WebGLProbe
from teachbox.errors import TeachboxError

tf = js.tf
_pending: set[asyncio.Future] = set()  # strong references to running API calls (asyncio keeps only weak ones)


def to_js(value: Any) -> Any:
    """Python value → JS value with dicts as plain objects (what TF.js and API callers expect)."""
    return _to_js(value, dict_converter=js.Object.fromEntries, create_pyproxies=False)


def to_py(value: Any) -> Any:
    """JS value → Python value; null and undefined become None, other JS objects become dicts/lists where they can."""
    if is_nullish(value):
        return None
    if isinstance(value, JsProxy) and js_type(value) in ("Object", "Array"):
        return value.to_py()
    return value


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


def now_ms() -> float:
    return float(js.performance.now())


def now_epoch() -> float:
    """Seconds since 1970 (Date.now): timestamps that stay meaningful across reloads, unlike performance.now."""
    return float(js.Date.now()) / 1000


def bytes_blob(data: bytes, mime: str) -> Any:
    """Python bytes as a Blob (the Blob copies the bytes, so no view into Pyodide's heap is kept or stored)."""
    return js.Blob.new(to_js([to_js(data)]), to_js({"type": mime}))


async def storage_estimate() -> tuple[int, int]:
    """(usage, quota) in bytes for this origin, from navigator.storage.estimate()."""
    estimate = await js.navigator.storage.estimate()
    return int(estimate.usage or 0), int(estimate.quota or 0)


async def storage_persisted() -> bool:
    return bool(await js.navigator.storage.persisted())


def page_url(relative: str) -> str:
    """An absolute URL for a path relative to the page (what fetch, TF.js and wasm path setters need)."""
    return str(js.URL.new(relative, js.location.href).href)


def query_param(name: str) -> str | None:
    value = js.URLSearchParams.new(js.location.search).get(name)
    return None if is_nullish(value) else str(value)


def tidy(fn: Callable[[], Any]) -> Any:
    """Run fn inside tf.tidy so every intermediate tensor it creates is disposed (except the one returned)."""
    proxy = create_proxy(fn)
    try:
        return tf.tidy(proxy)
    finally:
        proxy.destroy()


def image_input(image: Any, box: tuple[float, float, float, float], size: int) -> Any:
    """The model input of one decoded image (site/kernels.js: crop `box`, bilinear resize to `size`, scale to
    [-1, 1]), made in one call instead of one per TF.js op."""
    return js.teachboxKernels.toInput(image, to_js(list(box)), size)


def network_error(url: str, message: str) -> TeachboxError:
    return TeachboxError("network", f"Could not load {url}: {message}.")


def http_error(url: str, status: int, status_text: str) -> TeachboxError:
    code = "missing" if status == 404 else "http_error"
    return TeachboxError(code, f"Could not load {url}: the server answered {status} {status_text}.",
                         {"status": status})


async def fetch(url: str) -> Any:
    """fetch() that turns network failures and HTTP errors into TeachboxError with the URL in the message."""
    try:
        response = await js.fetch(url)
    except JsException as error:
        raise network_error(url, js_message(error)) from error
    if not response.ok:
        raise http_error(url, int(response.status), str(response.statusText))
    return response


def topology(model: Any) -> dict:
    """A layers model's Keras topology, as its model.json holds it (snake_case configs, inbound nodes)."""
    return json.loads(str(model.toJSON(jsnull, True)))


def fused_runner(model: Any, plan: dict) -> Any:
    """site/kernels.js fused: {predict(x), dispose()} running `model` as the ops of a fusion.py plan."""
    return js.teachboxKernels.fused(model, to_js(plan))


async def classify(model: Any, image: Any, box: tuple[float, float, float, float], size: int) -> list[float]:
    """site/kernels.js classify: one image's class probabilities, in one call (awaited only on WebGL)."""
    values = js.teachboxKernels.classify(model, image, to_js(list(box)), size)
    if js_type(values) == "Promise":
        values = await values
    return list(values.to_py())


async def read_all(sources: list[Any], header_bytes: int) -> list[Any]:
    """site/kernels.js readAll: each source's Blob (URLs fetched) and first bytes, in one call for a batch."""
    return list(await js.teachboxKernels.readAll(to_js(sources), header_bytes))


async def decode_all(blobs: list[Any], sizes: list[tuple[int, int] | None]) -> list[Any]:
    """site/kernels.js decodeAll: ImageBitmaps (downscaled while decoding where a size is given), off the main
    thread, in one call for a batch."""
    return list(await js.teachboxKernels.decodeAll(to_js(blobs), to_js([list(s) if s else None for s in sizes])))


def input_batch(images: list[Any], boxes: list[tuple[float, float, float, float]], size: int) -> Any:
    """site/kernels.js batch: one [N, size, size, 3] model input from images and their crop boxes (the images are
    closed)."""
    return js.teachboxKernels.batch(to_js(images), to_js([list(box) for box in boxes]), size)


async def fetch_json(url: str) -> Any:
    response = await fetch(url)
    try:
        return (await response.json()).to_py()
    except JsException as error:
        raise TeachboxError("bad_json", f"{url} is not valid JSON: {js_message(error)}.") from error


async def blob_bytes(blob: Any, limit: int) -> bytes:
    """The first `limit` bytes of a Blob as Python bytes (for sniffing headers without copying whole files)."""
    buffer = await blob.slice(0, limit).arrayBuffer()
    return bytes(js.Uint8Array.new(buffer).to_py())


class StorageFailed(Exception):
    """An IndexedDB request or transaction failed; `name` is the DOMException's (e.g. QuotaExceededError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


async def idb_settled(target: Any, success: str) -> Any:
    """Await an IDBRequest (`success`) or IDBTransaction (`complete`); failures raise StorageFailed.

    One proxy listens for the outcome and is destroyed on the next loop turn (not inside its own call), so nothing
    leaks however the request ends. A transaction reports a failed commit (quota!) as `abort` with `tx.error`.
    """
    loop = asyncio.get_event_loop()
    outcome: asyncio.Future = loop.create_future()
    events = (success, "error", "abort", "blocked")

    def handler(event: Any) -> None:
        if outcome.done():
            return
        if event.type == success:
            outcome.set_result(target)
            return
        if event.type == "blocked" or (event.type == "error" and success == "complete"):
            return  # blocked: an upgrade waits for other tabs; a request's error in a transaction: its abort follows
        error = target.error
        name = str(error.name) if not is_nullish(error) else "AbortError"
        outcome.set_exception(StorageFailed(name, str(error.message) if not is_nullish(error) else "aborted"))

    proxy = create_proxy(handler)
    for event in events:
        target.addEventListener(event, proxy)
    try:
        return await outcome
    finally:
        for event in events:
            target.removeEventListener(event, proxy)
        loop.call_soon(proxy.destroy)


def webgl_probe() -> WebGLProbe:
    """Ask a throwaway canvas for a WebGL2 context and its unmasked renderer string."""
    canvas = js.document.createElement("canvas")
    context = canvas.getContext("webgl2")
    if is_nullish(context):
        return WebGLProbe(available=False)
    info = context.getExtension("WEBGL_debug_renderer_info")
    renderer = context.getParameter(info.UNMASKED_RENDERER_WEBGL if not is_nullish(info) else context.RENDERER)
    lose = context.getExtension("WEBGL_lose_context")
    if not is_nullish(lose):
        lose.loseContext()
    return WebGLProbe(available=True, renderer=str(renderer))


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0], "pyodide": str(pyodide.__version__), "tfjs": str(tf.version.tfjs)}


class Boot:
    """The page's boot glue (site/boot.js): the status line, the log, and the `teachbox.ready` promise."""

    def __init__(self) -> None:
        self._glue = js.window.teachboxBoot

    def status(self, text: str) -> None:
        self._glue.status(text)

    def log(self, text: str) -> None:
        self._glue.log(text)

    def ready(self, info: dict) -> None:
        self._glue.ready(to_js(info))

    def fail(self, message: str) -> None:
        self._glue.fail(message)

    def offline_state(self) -> dict:
        """The offline copy's state as boot.js tracks it: {serviceWorker, controlled, build, files, bytes,
        persisted}. It changes after `ready` (precaching starts then), so it is read on every call."""
        return to_py(self._glue.offlineState())

    def interpreter_state(self) -> dict:
        """How Python started ({start: "snapshot" | "fresh", loadMs, snapshot, note}: site/interpreter.mjs); the
        snapshot entry changes after `ready` (one is made then), so it is read on every call."""
        return to_py(self._glue.interpreterState())


def js_error(error: TeachboxError) -> Any:
    """A JS Error whose message is the user-facing sentence, with `code` and `details` attached."""
    result = js.Error.new(error.message)
    result.code = error.code
    result.details = to_js(error.details)
    return result


def promise_method(method: Callable[..., Awaitable[Any]]) -> Any:
    """Wrap an async Python method as a JS function returning a real Promise of a plain JSON-able value.

    Failures reject with a JS Error carrying the TeachboxError message and code, never a Python traceback.
    """

    def call(*args: Any) -> Any:
        def executor(resolve: Any, reject: Any) -> None:
            async def run() -> None:
                try:
                    resolve(to_js(await method(*args)))
                except TeachboxError as error:
                    reject(js_error(error))
                except JsException as error:
                    js.console.error(traceback.format_exc())
                    reject(js_error(TeachboxError("browser_error", f"The browser reported: {js_message(error)}")))
                except Exception as error:  # a bug: still answer the caller instead of leaving it hanging
                    js.console.error(traceback.format_exc())
                    reject(js_error(TeachboxError("internal", f"Internal error: {type(error).__name__}: {error}")))

            task = asyncio.ensure_future(run())
            _pending.add(task)
            task.add_done_callback(_pending.discard)

        return js.Promise.new(create_once_callable(executor))

    return create_proxy(call)


def plain_method(method: Callable[..., Any]) -> Any:
    """Wrap a synchronous Python method as a JS function returning a plain value (or throwing a clean JS Error)."""

    def call(*args: Any) -> Any:
        try:
            return to_js(method(*args))
        except TeachboxError as error:
            raise js_error(error) from None  # a JS Error proxy propagates to JS as the original Error object

    return create_proxy(call)


def install_api(methods: dict[str, Any]) -> None:
    """Attach the wrapped methods to window.teachbox (the object boot.js created with its `ready` promise)."""
    target = js.window.teachbox
    for name, function in methods.items():
        setattr(target, name, function)
