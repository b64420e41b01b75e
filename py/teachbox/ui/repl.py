"""Run a piece of Python like a REPL would: top-level `await`, the value of a last expression, captured output.

Plain Python (no browser), so it is testable on CPython. The console panel gives it a namespace holding the same
`Api` object window.teachbox wraps, which makes the console a third client of the one API, next to the UI and JS.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import traceback
from dataclasses import dataclass
from typing import Any

from teachbox.errors import TeachboxError

FILENAME = "<console>"
FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass
class Outcome:
    """What a run printed, the repr of its last expression (None if there was none), and its error text."""

    stdout: str
    stderr: str
    value: str | None
    error: str | None


async def _run_code(code: Any, namespace: dict[str, Any]) -> Any:
    """eval a compiled block; with top-level await it returns a coroutine, which is awaited here."""
    result = eval(code, namespace)  # noqa: S307 - running the person's own code is this console's purpose
    if inspect.isawaitable(result) and code.co_flags & inspect.CO_COROUTINE:
        result = await result
    return result


async def run_source(source: str, namespace: dict[str, Any]) -> Outcome:
    """Execute `source` in `namespace`. stdout/stderr are captured (output of other tasks printing while this code
    awaits lands here too: the redirection is process-wide, as in any asyncio REPL)."""
    out, err = io.StringIO(), io.StringIO()
    value: str | None = None
    error: str | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            tree = ast.parse(source, FILENAME, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            await _run_code(compile(tree, FILENAME, "exec", flags=FLAGS), namespace)
            if last is not None:
                result = await _run_code(compile(last, FILENAME, "eval", flags=FLAGS), namespace)
                if result is not None:
                    namespace["_"] = result
                    value = repr(result)
        except SyntaxError as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc))
        except TeachboxError as exc:
            error = f"TeachboxError [{exc.code}]: {exc.message}\n"
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the person's code may raise anything
            error = format_user_error(exc)
    return Outcome(out.getvalue(), err.getvalue(), value, error)


def format_user_error(exc: BaseException) -> str:
    """A traceback of the person's own code only (the console's and Pyodide's frames are noise to them)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == FILENAME]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames) if frames else []
    return "".join(lines + traceback.format_exception_only(type(exc), exc))
