"""The suite's own guard against hangs (tests/conftest.py): a rerun of a test that timed out gets a timeout of its
own. Without it, a CI run waited in a rerun until its 90-minute limit (pytest-timeout arms one timer for all attempts
of a test)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

HANGS = """
import time

def test_hangs():
    time.sleep(30)
"""


def test_a_rerun_of_a_timed_out_test_times_out_too(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_sleeper=HANGS)
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider", "--timeout", "2",
                                           "--reruns", "1", "--only-rerun", "from pytest-timeout", timeout=25)
    assert result.parseoutcomes() == {"failed": 1, "rerun": 1}
    # Both attempts end at their own 2 s, and the failure is printed when it happens, before the summary.
    assert result.duration < 20, f"the rerun was not timed: {result.duration:.1f} s"
    result.stdout.fnmatch_lines(["*rerun (call): test_sleeper.py::test_hangs*", "*from pytest-timeout*",
                                 "*failed (call): test_sleeper.py::test_hangs*"])
