"""Python methods as the JS functions of window.teachbox: plain values out, coded JS Errors instead of tracebacks."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_once_callable, create_proxy  # type: ignore[import-not-found]

from teachbox.arguments import check_call
from teachbox.browser.convert import is_nullish, js_message, to_js
from teachbox.errors import TeachboxError

_pending: set[asyncio.Future] = set()  # strong references to running API calls (asyncio keeps only weak ones)


def js_error(error: TeachboxError) -> Any:
    """A JS Error whose message is the user-facing sentence, with `code` and `details` attached."""
    result = js.Error.new(error.message)
    result.code = error.code
    result.details = to_js(error.details)
    return result


def coded(error: Exception) -> TeachboxError:
    """Any failure of an API call as the TeachboxError its caller sees. A browser exception or a bug still gets a
    code and a sentence; its traceback goes to the developer console, never to the caller."""
    if isinstance(error, TeachboxError):
        return error
    js.console.error(traceback.format_exc())
    if isinstance(error, JsException):
        return TeachboxError("browser_error", f"The browser reported: {js_message(error)}")
    return TeachboxError("internal", f"Internal error: {type(error).__name__}: {error}")


def _given(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments of a JS call, JS null as None like undefined: both mean "not given" to every method."""
    return tuple(None if is_nullish(arg) else arg for arg in args)


def promise_method(name: str, method: Callable[..., Awaitable[Any]]) -> Any:
    """Wrap an async Python method as a JS function returning a real Promise of a plain JSON-able value.

    Failures reject with a JS Error carrying the TeachboxError message and code, never a Python traceback.
    """

    def call(*args: Any) -> Any:
        def executor(resolve: Any, reject: Any) -> None:
            async def run() -> None:
                try:
                    given = _given(args)
                    check_call(name, method, given)
                    resolve(to_js(await method(*given)))
                except Exception as error:  # noqa: BLE001 - every failure answers the caller instead of hanging it
                    reject(js_error(coded(error)))

            task = asyncio.ensure_future(run())
            _pending.add(task)
            task.add_done_callback(_pending.discard)

        return js.Promise.new(create_once_callable(executor))

    return create_proxy(call)


def plain_method(name: str, method: Callable[..., Any]) -> Any:
    """Wrap a synchronous Python method as a JS function that returns its value as a JS value (plain objects; a JS
    value such as a function is passed as is) or throws a coded JS Error.

    The throw happens in JS (site/boot.js `syncMethod`): an exception raised in Python, even one holding a JS Error,
    reaches JS as a PythonError whose message is the traceback. So Python returns {value} or {error}."""

    def call(*args: Any) -> Any:
        try:
            given = _given(args)
            check_call(name, method, given)
            return to_js({"value": method(*given)})
        except Exception as error:  # noqa: BLE001 - every failure becomes the caller's coded Error
            return to_js({"error": js_error(coded(error))})

    return js.window.teachboxBoot.syncMethod(create_proxy(call))


def once_function(function: Callable[[], Any]) -> Any:
    """A Python function as a JS function that may be called once (then frees itself), e.g. an unsubscribe."""
    return create_once_callable(function)


def install_api(methods: dict[str, Any]) -> None:
    """Attach the wrapped methods to window.teachbox (the object boot.js created with its `ready` promise)."""
    target = js.window.teachbox
    for name, function in methods.items():
        setattr(target, name, function)
