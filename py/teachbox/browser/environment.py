"""Facts about the page the package runs in: clocks, its URL and query, the console, versions, WebGL."""

from __future__ import annotations

import sys

import js  # type: ignore[import-not-found]
import pyodide  # type: ignore[import-not-found]

from teachbox.backend_choice import WebGLProbe
from teachbox.browser.convert import is_nullish


def now_ms() -> float:
    """performance.now(): milliseconds since the page started, for timings."""
    return float(js.performance.now())


def now_epoch() -> float:
    """Seconds since 1970 (Date.now): timestamps that stay meaningful across reloads, unlike performance.now."""
    return float(js.Date.now()) / 1000


def now_iso() -> str:
    """The current time as ISO 8601 (UTC), for metadata a person reads."""
    return str(js.Date.new().toISOString())


def page_url(relative: str) -> str:
    """An absolute URL for a path relative to the page (what fetch, TF.js and wasm path setters need)."""
    return str(js.URL.new(relative, js.location.href).href)


def query_param(name: str) -> str | None:
    """One `?name=` value of the page's URL, or None."""
    value = js.URLSearchParams.new(js.location.search).get(name)
    return None if is_nullish(value) else str(value)


def console_error(text: str) -> None:
    """A line for developers in the browser console (tracebacks of bugs; never what a person must read)."""
    js.console.error(text)


def console_warn(text: str) -> None:
    js.console.warn(text)


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0], "pyodide": str(pyodide.__version__), "tfjs": str(js.tf.version.tfjs)}


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
