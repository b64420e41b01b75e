"""The UI's one door to the browser DOM: building elements, listening to events, running async handlers.

Why a module of its own: the page runs under a strict Content-Security-Policy (no inline scripts or event handlers,
no `style=` attributes) and shows data that people and CSV files name (labels, file names). Building every element
here, with text always set as text nodes and attributes that can never be `on*` handlers or `style`, makes the
safe way the only way the panels have. Listeners are Pyodide proxies that leak unless destroyed, so they are
owned by `Listeners` groups that a view clears when it goes away.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_once_callable, create_proxy, jsnull  # type: ignore[import-not-found]

from teachbox.browser.convert import is_nullish, to_js

document = js.document
window = js.window
Node = Any  # a JsProxy of a DOM node

_tasks: set[asyncio.Future] = set()  # asyncio keeps only weak references to tasks


def _default_reporter(error: BaseException) -> None:
    console_error("".join(traceback.format_exception(error)))


# Where failures of event handlers and background tasks go; the Feedback panel installs itself here at mount.
reporter: Callable[[BaseException], None] = _default_reporter


def by_id(element_id: str) -> Node:
    """An element of index.html that the UI needs; a missing one is a bug in the page, said plainly."""
    found = document.getElementById(element_id)
    if is_nullish(found):
        raise LookupError(f"index.html has no element #{element_id}")
    return found


def el(tag: str, *children: Any, cls: str | None = None, text: str | None = None, **attrs: Any) -> Node:
    """Create an element. Strings among `children` and `text` become text, never markup.

    Attribute names use `_` for `-` (`aria_label=`); a trailing `_` escapes Python keywords (`for_=`). True sets an
    empty attribute, None/False leaves it out. `on*` and `style` are refused: the CSP would block them anyway, and
    styles are set through the CSSOM (`node.style.width = ...`) instead.
    """
    node = document.createElement(tag)
    if cls:
        node.className = cls
    if text is not None:
        node.textContent = text
    for name, value in attrs.items():
        set_attr(node, name.rstrip("_").replace("_", "-"), value)
    append(node, *children)
    return node


def set_attr(node: Node, name: str, value: Any) -> None:
    """setAttribute with the same rules as `el` (None/False removes the attribute)."""
    lowered = name.lower()
    if lowered.startswith("on") or lowered == "style":
        raise ValueError(f"refusing attribute {name!r}: no inline handlers or styles under the page's CSP")
    if value is None or value is False:
        node.removeAttribute(name)
    else:
        node.setAttribute(name, "" if value is True else str(value))


def append(node: Node, *children: Any) -> Node:
    """Append children: nodes as they are, strings as text nodes (so `<img onerror=…>` stays characters)."""
    for child in children:
        if child is None:
            continue
        if isinstance(child, str):
            node.appendChild(document.createTextNode(child))
        else:
            node.appendChild(child)
    return node


def clear(node: Node) -> None:
    node.replaceChildren()


def js_list(array_like: Any) -> list[Any]:
    """A FileList, DataTransferItemList, NodeList… as a Python list (they are array-like, not always iterable)."""
    if is_nullish(array_like):
        return []
    return list(getattr(js.Array, "from")(array_like))


Report = Callable[[BaseException], None]


def spawn(awaitable: Awaitable[Any], report: Report | None = None) -> asyncio.Future:
    """Run a coroutine in the background; its failure is reported to the person instead of being lost: to
    `report` (the panel it was started from), else to the page's `reporter`."""

    async def guarded() -> Any:
        try:
            return await awaitable
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - every failure must reach the person, not the void
            (report or reporter)(error)
            return None

    task = asyncio.ensure_future(guarded())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def call_handler(handler: Callable[..., Any], *args: Any, report: Report | None = None) -> Any:
    """Call an event handler; a coroutine it returns runs in the background (after the synchronous part, which is
    where an event's data must be read and preventDefault called). Failures go to `report` (see `spawn`)."""
    try:
        result = handler(*args)
    except BaseException as error:  # noqa: BLE001
        (report or reporter)(error)
        return None
    if inspect.isawaitable(result):
        spawn(result, report)
        return None
    return result


class Listeners:
    """Event listeners owned by one view. `clear()` removes them and destroys their proxies (no leak). A handler's
    failure goes to `report`: the panel the person acted in says what went wrong, next to where they acted."""

    def __init__(self, report: Report | None = None) -> None:
        self._bound: list[tuple[Any, str, Any]] = []
        self.report = report

    def on(self, target: Node, event: str, handler: Callable[[Any], Any]) -> None:
        proxy = create_proxy(lambda e: call_handler(handler, e, report=self.report))
        target.addEventListener(event, proxy)
        self._bound.append((target, event, proxy))

    def on_many(self, target: Node, events: Iterable[str], handler: Callable[[Any], Any]) -> None:
        for event in events:
            self.on(target, event, handler)

    def clear(self) -> None:
        for target, event, proxy in self._bound:
            target.removeEventListener(event, proxy)
            proxy.destroy()
        self._bound = []


def next_frame() -> Any:
    """A promise of the next animation frame (paces loops with the display, pauses with a hidden tab)."""
    return js.Promise.new(create_once_callable(lambda resolve, _reject: js.requestAnimationFrame(resolve)))


def context_2d(canvas: Node, read_back: bool = False) -> Any:
    """A canvas's 2D context. `read_back`: its pixels are read often (TF.js reads a canvas with getImageData), which
    a CPU-backed canvas does fast and without Chrome's warning; it only counts on the canvas's first getContext."""
    return canvas.getContext("2d", to_js({"willReadFrequently": read_back}))


def canvas_to_blob(canvas: Node, mime: str = "image/jpeg", quality: float = 0.9) -> Any:
    """canvas.toBlob as a promise (toBlob only takes a callback)."""

    def executor(resolve: Any, reject: Any) -> None:
        def done(blob: Any) -> None:
            if is_nullish(blob):
                reject(js.Error.new("The camera picture could not be encoded."))
            else:
                resolve(blob)

        canvas.toBlob(create_once_callable(done), mime, quality)

    return js.Promise.new(create_once_callable(executor))


def callback_promise(start: Callable[[Any, Any], None]) -> Any:
    """Wrap a callback-style browser API (FileSystemEntry.file, readEntries…) as a promise."""
    return js.Promise.new(create_once_callable(start))


def is_js_error(error: BaseException) -> bool:
    return isinstance(error, JsException)


def show(node: Node, visible: bool) -> None:
    node.hidden = not visible


def focus(node: Node) -> None:
    """Move keyboard focus (after a re-render the person must not lose their place)."""
    node.focus()


def device_pixel_ratio() -> float:
    return float(js.window.devicePixelRatio or 1)


def object_url(blob: Any) -> str:
    """A blob: URL for a download link (revoke it when the link points elsewhere)."""
    return str(js.URL.createObjectURL(blob))


def revoke_object_url(url: str) -> None:
    js.URL.revokeObjectURL(url)


async def copy_text(text: str) -> None:
    """Put text on the clipboard; raises JsException (or AttributeError without a clipboard) when not allowed."""
    await js.navigator.clipboard.writeText(text)


def select_contents(node: Node) -> None:
    """Select a node's text, so a person can copy it by hand."""
    js.window.getSelection().selectAllChildren(node)


async def decode_bitmap(blob: Any, options: dict[str, Any]) -> Any:
    """createImageBitmap(blob, options): decoded (and resized while decoding) off the main thread."""
    return await js.createImageBitmap(blob, to_js(options))


def media_devices() -> Any:
    """navigator.mediaDevices, or None where the page may not use cameras (not https:// or localhost)."""
    devices = js.navigator.mediaDevices
    return None if is_nullish(devices) else devices


def image_file(blob: Any, name: str, mime: str) -> Any:
    """A File named `name` holding the blob's bytes (names identify images in results)."""
    return js.File.new(to_js([blob]), name, to_js({"type": mime}))


def detach_stream(video: Node) -> None:
    """Let go of a <video>'s camera stream (srcObject = null)."""
    video.srcObject = jsnull


def console_error(text: str) -> None:
    js.console.error(text)
