"""The checks every API argument goes through: its count, its kind and its range, each failure a `bad_option`.

A script calling window.teachbox with a number where a label belongs must get the same kind of answer as one that
passes an empty label: a coded error whose message names the argument and what it was given, never a traceback
or an `internal` error (which would claim a bug in Teachbox). Pure, so the rules are unit-tested on CPython; the
API (api.py) converts JS values to Python before asking.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from teachbox.errors import TeachboxError


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message quotes it, in JS terms (`true`, `42`, `"x"`, an array …); JS objects name their class
    through their own string form (`[object Blob]`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) or math.isfinite(value) \
            else str(value)
        return text if len(text) <= limit else text[:limit] + "…"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return str(value)[:limit]


def bad(what: str, wanted: str, value: Any) -> TeachboxError:
    """The refusal of an argument: what it is, what it must be, and what it was."""
    return TeachboxError("bad_option", f"{what} must be {wanted}, not {shown(value)}.")


def check_call(name: str, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Refuse a call with too many or too few arguments before it runs (a Python TypeError would read as a bug).

    JS callers may pass `undefined` for an optional argument; that arrives as None and binds like any value."""
    signature = inspect.signature(function)
    try:
        signature.bind(*args)
    except TypeError:
        params = list(signature.parameters.values())
        required = sum(1 for p in params if p.default is inspect.Parameter.empty)
        names = ", ".join(p.name for p in params)
        takes = "no arguments" if not params else f"({names})" + ("" if required == len(params) else
                                                                    f", {required} of them required")
        raise TeachboxError("bad_option", f"{name} takes {takes}; it was given {len(args)} argument(s).",
                            {"given": len(args)}) from None


def text(value: Any, what: str) -> str:
    """A string argument (a label, an id); its content is checked by the rules of what it names."""
    if not isinstance(value, str):
        raise bad(what, "a string", value)
    return value


def optional_text(value: Any, what: str) -> str | None:
    """A string argument that may be left out (None)."""
    return None if value is None else text(value, what)


def texts(value: Any, what: str) -> list[str]:
    """One string or a list of strings (sample uids)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad(what, "a string or a list of strings", value)
    return value


def options(value: Any, what: str, known: Iterable[str]) -> dict[str, Any]:
    """An options object (None: all defaults); an unknown key is refused, listing the known ones, so a typo is
    not silently ignored."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(what, "an options object", value)
    names = list(known)
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise TeachboxError("bad_option", f"Unknown option(s) of {what}: {', '.join(map(str, unknown))}. "
                                          f"Known: {', '.join(names)}.")
    return value


def whole(value: Any, name: str, low: int, high: int) -> int:
    """A whole number in [low, high]; whole floats (30.0, what JS numbers often are) count."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (isinstance(value, float) and not value.is_integer()) or not low <= value <= high:
        raise bad(name, f"a whole number from {low} to {high}", value)
    return int(value)


def number(value: Any, name: str, low: float, high: float) -> float:
    """A finite number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise bad(name, f"a number from {low} to {high}", value)
    return float(value)


def flag(value: Any, name: str) -> bool:
    """A true/false option; None is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(name, "true or false", value)
    return value
