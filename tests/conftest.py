"""Shared test fixtures: where ../shared is, and the repository root."""

from __future__ import annotations

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
