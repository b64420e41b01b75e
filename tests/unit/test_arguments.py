"""API argument checks: wrong counts, kinds and ranges are `bad_option` with a message naming the argument and the
value, in JS terms; right values pass through unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from teachbox import arguments
from teachbox.errors import TeachboxError


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(TeachboxError) as info:
        call(*args)
    assert info.value.code == "bad_option"
    return info.value.message


class _Api:
    def none(self) -> None: ...

    def two(self, label: str, options: Any = None) -> None: ...


@pytest.mark.parametrize(("method", "args", "expected"), [
    ("none", (1,), "none takes no arguments; it was given 1 argument(s)."),
    ("two", (), "two takes (label, options), 1 of them required; it was given 0 argument(s)."),
    ("two", (1, 2, 3), "it was given 3 argument(s)"),
])
def test_a_call_with_the_wrong_count_is_refused_before_it_runs(method: str, args: tuple, expected: str) -> None:
    assert expected in _refused(arguments.check_call, method, getattr(_Api(), method), args)


def test_a_call_with_a_right_count_passes() -> None:
    api = _Api()
    assert arguments.check_call("none", api.none, ()) is None
    assert arguments.check_call("two", api.two, ("a",)) is None
    assert arguments.check_call("two", api.two, ("a", None)) is None  # JS undefined for an optional argument


@pytest.mark.parametrize(("value", "shown"), [
    (None, "null"), (True, "true"), (5, "5"), (1.5, "1.5"), (float("nan"), "nan"), ("x", '"x"'),
    ([1], "an array"), ({"a": 1}, "an object"), ("é" * 50, '"' + "é" * 39 + "…"),
])
def test_values_are_shown_in_js_terms(value: Any, shown: str) -> None:
    assert arguments.shown(value) == shown


def test_strings() -> None:
    assert arguments.text("a", "the label") == "a"
    assert _refused(arguments.text, 5, "addClass's label") == "addClass's label must be a string, not 5."
    assert arguments.optional_text(None, "name") is None
    _refused(arguments.optional_text, False, "name")
    assert arguments.texts("u1", "uids") == ["u1"]
    assert arguments.texts(["u1", "u2"], "uids") == ["u1", "u2"]
    assert "not an array" in _refused(arguments.texts, ["u1", 2], "uids")
    _refused(arguments.texts, {"uid": "u1"}, "uids")


def test_options_objects_refuse_unknown_names() -> None:
    assert arguments.options(None, "samples", ("label",)) == {}
    assert arguments.options({"label": "a"}, "samples", ("label",)) == {"label": "a"}
    assert "samples must be an options object, not \"a\"" in _refused(arguments.options, "a", "samples", ("label",))
    message = _refused(arguments.options, {"labels": "a"}, "samples", ("label", "offset"))
    assert "Unknown option(s) of samples: labels. Known: label, offset." == message


def test_numbers_and_flags() -> None:
    assert arguments.whole(30.0, "epochs", 1, 100) == 30
    for bad in (0, 101, 1.5, True, "3", None):
        assert "epochs must be a whole number from 1 to 100" in _refused(arguments.whole, bad, "epochs", 1, 100)
    assert arguments.number(0.5, "dropout", 0, 1) == 0.5
    for bad in (float("nan"), float("inf"), -0.1, False, "0.5"):
        _refused(arguments.number, bad, "dropout", 0, 1)
    assert arguments.flag(None, "append") is False
    assert arguments.flag(True, "append") is True
    assert _refused(arguments.flag, "yes", "append") == "append must be true or false, not \"yes\"."
