"""Shared test fixtures: where ../shared is, and the repository root."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

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
