"""End-to-end fixtures: a built dist/, a loopback static server, and Chromium that may only talk to 127.0.0.1.

Privacy is a promise the tests enforce: every context gets a request guard that aborts and records any request whose
host is not the test server's, and each test using it fails if one was made. DNS for every other host is disabled too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, SHARED

sys.path.insert(0, str(ROOT / "py"))

from teachbox_build.assemble import BuildOptions, build  # noqa: E402
from teachbox_build.serve import StaticServer  # noqa: E402

CHROMIUM = os.environ.get("TEACHBOX_CHROMIUM", "/usr/bin/chromium")
BOOT_TIMEOUT_MS = 120_000
DEFAULT_BASE = SHARED / "models" / "mobilenet_v1_0.25_224"


def build_dist(out: Path, weights: list[Path], quantize: str = "none") -> Path:
    build(BuildOptions(ROOT, out, [str(w) for w in weights], quantize))
    return out


@pytest.fixture(scope="session")
def dist_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site under test: $TEACHBOX_DIST when set (`.ci/run` tests the dist it built), else a fresh build of the
    working tree with the α=0.25 base from ../shared (so a test never runs against a stale dist/)."""
    if os.environ.get("TEACHBOX_DIST"):
        return Path(os.environ["TEACHBOX_DIST"])
    return build_dist(tmp_path_factory.mktemp("dist") / "dist", [DEFAULT_BASE])


@pytest.fixture(scope="session")
def server(dist_dir: Path, shared_dir: Path) -> Iterator[StaticServer]:
    """dist at /, ../shared at /shared/ (same origin, as a user's images would be served beside a CSV)."""
    with StaticServer(dist_dir, 0, mounts={"/shared/": shared_dir}) as httpd:
        httpd.start_in_thread()
        yield httpd
        httpd.shutdown()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install` offline)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ],
    }


class RequestGuard:
    """Aborts and records requests to any host but the test server's."""

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.urls: list[str] = []

    def handle(self, route, request) -> None:  # noqa: ANN001 - Playwright objects
        url = request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            self.urls.append(url)
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()


@pytest.fixture
def guard() -> RequestGuard:
    return RequestGuard()


@pytest.fixture
def context(browser, guard: RequestGuard):  # noqa: ANN001, ANN201 - Playwright objects
    """A fresh browser context (own IndexedDB) with the request guard; fails the test on any foreign request."""
    ctx = browser.new_context()
    ctx.route("**/*", guard.handle)
    yield ctx
    ctx.close()
    assert guard.foreign == [], f"the page made requests outside its origin: {guard.foreign}"


def open_app(ctx, url: str):  # noqa: ANN001, ANN201
    """Open the app and wait for `teachbox.ready`; returns (page, info). Console errors are kept on page.logs."""
    page = ctx.new_page()
    page.logs = []
    page.on("console", lambda message: page.logs.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.logs.append(f"pageerror: {error}"))
    page.set_default_timeout(BOOT_TIMEOUT_MS)
    page.goto(url)
    try:
        info = page.evaluate("() => window.teachbox.ready", )
    except Exception as error:
        raise AssertionError(f"teachbox.ready failed: {error}\n" + "\n".join(page.logs[-30:])) from error
    return page, info
