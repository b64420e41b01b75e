"""Python methods as the JS functions of window.teachbox: plain values out, coded JS Errors instead of tracebacks."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_once_callable, create_proxy  # type: ignore[import-not-found]

from teachbox.browser.convert import js_message, to_js
from teachbox.errors import TeachboxError

_pending: set[asyncio.Future] = set()  # strong references to running API calls (asyncio keeps only weak ones)


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


def handle_method(method: Callable[..., Any]) -> Any:
    """Wrap a synchronous method whose result is already a JS value (a function, a Blob) and is passed as is."""
    return create_proxy(method)


def once_function(function: Callable[[], Any]) -> Any:
    """A Python function as a JS function that may be called once (then frees itself), e.g. an unsubscribe."""
    return create_once_callable(function)


def install_api(methods: dict[str, Any]) -> None:
    """Attach the wrapped methods to window.teachbox (the object boot.js created with its `ready` promise)."""
    target = js.window.teachbox
    for name, function in methods.items():
        setattr(target, name, function)
