"""Shared test fixtures: where ../shared is, and the repository root."""

from __future__ import annotations

import faulthandler
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_timeout import _get_item_settings  # a test's timeout as pytest-timeout reads it (no public spelling)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout: real weights and datasets (never copied into the repo)."""
    if not (SHARED / "models").is_dir():
        pytest.skip("../shared (real weights and datasets) is not beside this checkout")
    return SHARED


KERAS_EXTRA = "pip install -e '.[keras]'"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `keras` need the optional tensorflowjs extra (2.9 GB): skipped with the reason where it is not
    installed, unless TEACHBOX_REQUIRE_KERAS=1 (set by .ci/run), where a missing extra must fail rather than skip."""
    keras_items = [item for item in items if item.get_closest_marker("keras")]
    if not keras_items or importlib.util.find_spec("tensorflowjs") is not None:
        return
    if os.environ.get("TEACHBOX_REQUIRE_KERAS") == "1":
        raise pytest.UsageError(f"TEACHBOX_REQUIRE_KERAS=1 but tensorflowjs is not importable: {KERAS_EXTRA}")
    skip = pytest.mark.skip(reason=f"needs the keras extra (tensorflowjs is not installed): {KERAS_EXTRA}")
    for item in keras_items:
        item.add_marker(skip)


# -- No test may hold the suite, reruns included -------------------------------------------------------------------
#
# pytest-timeout arms one timer around a test's whole protocol, and pytest-rerunfailures runs every attempt inside
# that protocol: after a timeout fired, the rerun had no timer at all, and a CI run (stop 23) waited in it until its
# 90-minute limit, printing nothing of why. So each attempt's setup arms the timer again, and a hard limit behind it
# (faulthandler: every thread's stack, then the process ends) stops a wait that even the timer cannot break, e.g. one
# inside the Playwright driver's own loop. Failures are printed when they happen, not only in the final summary, so
# a run that is stopped still says what failed first.

HARD_LIMIT_S = 900  # beyond the 300 s a test has: the timer fired and did not free it


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not item.config.pluginmanager.hasplugin("timeout"):  # `-p no:timeout`: nothing to arm
        return
    settings = _get_item_settings(item)
    if not settings.timeout or settings.func_only:
        return
    hooks = item.config.pluginmanager.hook
    hooks.pytest_timeout_cancel_timer(item=item)
    hooks.pytest_timeout_set_timer(item=item, settings=settings)
    if _REAL_STDERR is not None:
        faulthandler.dump_traceback_later(HARD_LIMIT_S, exit=True, file=_REAL_STDERR)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    yield
    faulthandler.cancel_dump_traceback_later()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.outcome not in ("failed", "rerun") or _TERMINAL is None:
        return
    lines = _where(report)
    for title, text in report.sections:  # pages' consoles (tests/e2e/conftest.py) and what went to stderr
        if title.startswith(("console of", "Captured stderr")):
            lines += [f"--- {title}", *text.splitlines()[-40:]]
    _TERMINAL.write_line("")
    _TERMINAL.write_sep("!", f"{report.outcome} ({report.when}): {report.nodeid}")
    _TERMINAL.write_line("\n".join(lines))


def _where(report: pytest.TestReport) -> list[str]:
    """The failure in a few lines: each frame's file:line (the test's own calls first), then the error; the whole
    traceback follows in the summary."""
    longrepr = report.longrepr
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", [])
    frames = [f"  at {entry.reprfileloc.path}:{entry.reprfileloc.lineno}" for entry in entries
              if getattr(entry, "reprfileloc", None) is not None]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return str(report.longreprtext).splitlines()[-30:]
    return [*frames, f"  {crash.message}"]


_TERMINAL = None  # pytest's terminal reporter, once configured
_REAL_STDERR = None  # the process's stderr as it was before pytest captured it (the hard limit's stacks go there)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    global _TERMINAL, _REAL_STDERR
    _TERMINAL = config.pluginmanager.get_plugin("terminalreporter")
    _REAL_STDERR = os.fdopen(os.dup(sys.__stderr__.fileno()), "w")  # capture is suspended while pytest configures
