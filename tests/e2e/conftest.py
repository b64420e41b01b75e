"""End-to-end fixtures: a built dist/, a loopback static server, and Chromium that may only talk to that server.

Privacy is a promise the tests enforce: every context gets a request guard that aborts and records any request whose
origin (scheme, host and port) is not the test server's, and each test using it fails if one was made. DNS for every
other host is disabled too. The site's security headers (CSP etc., py/teachbox_build/headers.py) are on, since the
server is the product's own StaticServer. Service workers are blocked in these contexts, so every test sees the
network as a first visit does; tests/e2e/test_offline.py opts in (`guarded_context(browser, service_workers="allow")`).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, SHARED
from tests.datasets import read_labels, stratified  # noqa: F401 - re-exported for the test modules

sys.path.insert(0, str(ROOT / "py"))

from teachbox_build.assemble import BuildOptions, build  # noqa: E402
from teachbox_build.samples import default_datasets  # noqa: E402
from teachbox_build.serve import StaticServer as _StaticServer  # noqa: E402

CHROMIUM = os.environ.get("TEACHBOX_CHROMIUM", "/usr/bin/chromium")
BOOT_TIMEOUT_MS = 120_000
DEFAULT_BASE = SHARED / "models" / "mobilenet_v1_0.25_224"


def origin(url: str) -> str:
    """scheme://host:port of a URL (the port spelled out), the unit a browser isolates by."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


SERVER_ORIGINS: set[str] = set()  # origins of the test servers running now: the only ones a page may reach


class StaticServer(_StaticServer):
    """The product's StaticServer, registered with the request guard while it is open."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.origin = origin(self.url)
        SERVER_ORIGINS.add(self.origin)

    def server_close(self) -> None:
        SERVER_ORIGINS.discard(self.origin)
        super().server_close()


def build_dist(out: Path, weights: list[Path], quantize: str = "none") -> Path:
    """A build as `python build.py --weights …` makes it: with the repository's sample data set."""
    build(BuildOptions(ROOT, out, [str(w) for w in weights], quantize, datasets=default_datasets(ROOT)))
    return out


@pytest.fixture(scope="session")
def dist_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site under test: $TEACHBOX_DIST when set (`.ci/run` tests the dist it built), else a fresh build of the
    working tree with the α=0.25 base from ../shared (so a test never runs against a stale dist/)."""
    if os.environ.get("TEACHBOX_DIST"):
        return Path(os.environ["TEACHBOX_DIST"])
    return build_dist(tmp_path_factory.mktemp("dist") / "dist", [DEFAULT_BASE])


@contextlib.contextmanager
def serving(dist: Path, shared_dir: Path, scratch: Path) -> Iterator[StaticServer]:
    """`dist` at /, ../shared at /shared/ (same origin, as a user's images would be served beside a CSV), and the
    session's writable `scratch` folder at /scratch/ (test CSVs and files; symlinks inside it are followed), from a
    thread until the block ends."""
    with StaticServer(dist, 0, mounts={"/shared/": shared_dir, "/scratch/": scratch}) as httpd:
        httpd.start_in_thread()
        yield httpd
        httpd.shutdown()


@pytest.fixture(scope="session")
def server(dist_dir: Path, shared_dir: Path, scratch: Path) -> Iterator[StaticServer]:
    """The site under test, served as `serving` says."""
    with serving(dist_dir, shared_dir, scratch) as httpd:
        yield httpd


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
    """Aborts and records every request whose origin is not the test server's (data: and blob: URLs stay in the
    page). The first request to a running test server pins the context to that server's origin: a page that then
    reaches another port, even on 127.0.0.1, fails the test as surely as one that reaches another host."""

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.urls: list[str] = []
        self.origin: str | None = None
        self.policy: list[str] = []  # console reports of CSP / Permissions-Policy violations (any page, any worker)

    def attach(self, ctx) -> None:  # noqa: ANN001 - Playwright objects
        ctx.route("**/*", self.handle)
        ctx.on("console", self.console)

    def console(self, message) -> None:  # noqa: ANN001 - Playwright objects
        if "Content Security Policy" in message.text or "Permissions-Policy" in message.text:
            self.policy.append(message.text)

    def check(self) -> None:
        assert self.foreign == [], f"the page made requests outside its origin: {self.foreign}"
        assert self.policy == [], f"the site's security policy was violated: {self.policy}"

    def allows(self, url: str) -> bool:
        if urlsplit(url).scheme in ("data", "blob"):
            return True
        here = origin(url)
        if self.origin is None and here in SERVER_ORIGINS:
            self.origin = here
        return here == self.origin

    def handle(self, route, request) -> None:  # noqa: ANN001 - Playwright objects
        url = request.url
        if self.allows(url):
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
    """A fresh browser context (own IndexedDB) with the request guard; fails the test on any foreign request or any
    CSP / Permissions-Policy violation the browser reports."""
    ctx = browser.new_context(service_workers="block")
    guard.attach(ctx)
    yield ctx
    ctx.close()
    guard.check()


# Pages opened by open_app that are still open: a test that times out reports their last console lines.
_OPEN_PAGES: list[Any] = []


def open_app(ctx, url: str):  # noqa: ANN001, ANN201
    """Open the app and wait for `teachbox.ready`; returns (page, info). Console errors are kept on page.logs."""
    page = ctx.new_page()
    page.logs = []
    _OPEN_PAGES[:] = [open_page for open_page in _OPEN_PAGES if not open_page.is_closed()] + [page]
    page.on("console", lambda message: page.logs.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.logs.append(f"pageerror: {error}"))
    page.on("crash", lambda _page: page.logs.append("crash: the page's renderer crashed"))
    page.set_default_timeout(BOOT_TIMEOUT_MS)
    page.goto(url)
    try:
        info = page.evaluate("() => window.teachbox.ready", )
    except Exception as error:
        raise AssertionError(f"teachbox.ready failed: {error}\n" + "\n".join(page.logs[-30:])) from error
    return page, info


# -- additions: a writable /scratch/ mount, CSV helpers, bad image files, module-scoped guarded contexts -------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A test that timed out (pytest-timeout, or a Playwright wait) or whose renderer crashed shows, for each page it
    opened, what the page last said and whether it still answers (and if so what the app says it is doing): the
    stack says which call waited, the page's log and state say what the page was doing. Playwright stays usable
    after pytest-timeout interrupts one of its calls, and the state is asked with a bounded wait."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None and _stalled(call.excinfo.value):
        for page in _OPEN_PAGES:
            if not page.is_closed():
                report.sections.append((f"console of {page.url} (last 40 lines)",
                                        "\n".join([*page.logs[-40:], _page_state(page)])))


def _stalled(error: BaseException) -> bool:
    text = str(error)
    return "from pytest-timeout" in text or "Target crashed" in text or type(error).__name__ == "TimeoutError"


PAGE_STATE = """() => JSON.stringify({
  state: document.body.dataset.state, status: document.querySelector('#status-text')?.textContent,
  project: (({id, name, busy, samples}) => ({id, name, busy, samples}))(teachbox.project()),
  interpreter: window.teachboxInterpreter?.state,
  alerts: [...document.querySelectorAll('[role=alert]')].filter((e) => e.checkVisibility())
    .map((e) => e.textContent.trim()).filter(Boolean),
  notice: document.querySelector('#notice')?.textContent, focus: document.activeElement?.id})"""


def answers(page, timeout_ms: int = 3_000) -> bool:  # noqa: ANN001 - a Playwright page
    """Whether the page's main thread runs a task within `timeout_ms` (a page stuck in a synchronous loop, or whose
    renderer crashed, does not)."""
    try:
        page.wait_for_function("() => true", timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - any failure here is the answer
        return False
    return True


def _page_state(page) -> str:  # noqa: ANN001 - a Playwright page
    """Does the page's main thread still answer, and if so what the app says it is doing."""
    if not answers(page):
        return "state: the page's main thread did not answer within 3 s"
    try:
        return f"state: {page.evaluate(PAGE_STATE)}"
    except Exception as error:  # noqa: BLE001
        return f"state: unreadable ({error})"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "finetune: exercises fineTuneLayers > 0")


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable folder served at /scratch/ (../shared is read-only): test CSVs, bad files, exported models."""
    return tmp_path_factory.mktemp("scratch")


def write_csv(scratch: Path, name: str, rows: list, dataset: str | None = None, header: list[str] | None = None,
              file_name: str = "labels.csv") -> str:
    """Write scratch/<name>/<file_name> (with an `images` symlink to the dataset's images when `dataset` is given,
    so its rows' `images/...` paths resolve beside the CSV); returns the CSV's URL path (/scratch/<name>/...).

    `rows` are tuples of cells; `header=[]` writes no header line.
    """
    folder = scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    if dataset is not None:
        link = folder / "images"
        if not link.is_symlink():
            link.symlink_to(SHARED / "datasets" / dataset / "images", target_is_directory=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path", "label"] if header is None else header
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    (folder / file_name).write_text(buffer.getvalue(), encoding="utf-8")
    return f"/scratch/{name}/{file_name}"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width×height but has no pixel data (a decompression-bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def write_bad_images(folder: Path, real_png: Path, big_side: int = 8000) -> dict[str, str]:
    """Broken and extreme image files in `folder`; returns {kind: file name}. The big one is a solid colour, so
    it is small on disk (a few hundred KB) but decodes to big_side² pixels."""
    from PIL import Image  # the venv has Pillow; imported here so collection does not need it

    folder.mkdir(parents=True, exist_ok=True)
    names = {"empty": "empty.png", "text": "text.png", "truncated": "truncated.png", "big": f"big{big_side}.png",
             "bomb": "bomb20000.png"}
    (folder / names["empty"]).write_bytes(b"")
    (folder / names["text"]).write_text("this is a text file, not a picture\n", encoding="utf-8")
    (folder / names["truncated"]).write_bytes(real_png.read_bytes()[:120])
    big = folder / names["big"]
    if not big.exists():
        Image.new("RGB", (big_side, big_side), (180, 60, 90)).save(big, optimize=False, compress_level=9)
    (folder / names["bomb"]).write_bytes(png_header_only(20000, 20000))
    return names


@contextlib.contextmanager
def guarded_context(browser, service_workers: str = "block", **options: Any) -> Iterator:  # noqa: ANN001
    """The `context` fixture as a context manager (for module-scoped pages): a fresh context (with Playwright's
    `options`, e.g. a phone's viewport and touch) with the request guard; fails if any request left the test
    server's origin or the browser reported a CSP / Permissions-Policy violation. Yields (context, guard)."""
    guard = RequestGuard()
    ctx = browser.new_context(service_workers=service_workers, **options)
    guard.attach(ctx)
    try:
        yield ctx, guard
    finally:
        ctx.close()
    guard.check()


@pytest.fixture(scope="module")
def module_context(browser) -> Iterator:  # noqa: ANN001 - Playwright objects
    """One guarded browser context for a whole test module (one Pyodide start for many assertions)."""
    with guarded_context(browser) as (ctx, guard):
        ctx.guard = guard
        yield ctx


def held_out_split(scratch: Path, name: str, dataset: str, train_per_class: int, test_per_class: int,
                   seed: int) -> dict:
    """A stratified training CSV and a disjoint test CSV of a ../shared data set, side by side in scratch/<name>/:
    {train, test: their URLs, train_rows, test_rows, test_urls: each test image's URL}."""
    rows = read_labels(dataset)
    train = stratified(rows, train_per_class, seed)
    test = stratified(rows, test_per_class, seed + 1, exclude={path for path, _ in train})
    return {"train": write_csv(scratch, name, train, dataset, file_name="train.csv"),
            "test": write_csv(scratch, name, test, dataset, file_name="test.csv"),
            "train_rows": train, "test_rows": test, "test_urls": [f"/scratch/{name}/{path}" for path, _ in test]}


# -- a model trained in the page and exported: test_export.py and test_keras_convert.py use `exported` -------------

EXPORT_NAME = "export_train"
# A Blob's bytes as base64, to bring a zip from the page to the test.
B64_OF_BLOB = """async (blob) => {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}"""
# Two malaria images (square-ish, near 130 px) and a 300×200 rock-paper-scissors image (a real off-centre crop).
EXPORT_IMAGES = [
    "/shared/datasets/malaria/images/Parasitized/C100P61ThinF_IMG_20150918_144104_cell_165.png",
    "/shared/datasets/malaria/images/Uninfected/{}",
    "/shared/datasets/rock_paper_scissors/images/paper/04l5I8TqdzF9WDMJ.png",
]


def export_images(shared_dir) -> list[str]:  # noqa: ANN001
    """The URLs of EXPORT_IMAGES on the test server."""
    first_uninfected = sorted((shared_dir / "datasets/malaria/images/Uninfected").iterdir())[0].name
    return [EXPORT_IMAGES[0], EXPORT_IMAGES[1].format(first_uninfected), EXPORT_IMAGES[2]]


@pytest.fixture(scope="module")
def exported(module_context, server, scratch, shared_dir):  # noqa: ANN001, ANN201
    """A quick malaria model trained in one page, its zip bytes and its predictions on three real images."""
    rows = stratified(read_labels("malaria"), 60, 3)
    csv_url = write_csv(scratch, EXPORT_NAME, rows, "malaria")
    page, _ = open_app(module_context, server.url)
    images = export_images(shared_dir)
    result = page.evaluate(f"""async ([csvUrl, urls]) => {{
      const t0 = performance.now();
      const dataset = await teachbox.loadDataset(csvUrl);
      const trained = await teachbox.train({{epochs: 10, inputSize: 'auto'}});
      const blob = await teachbox.exportModel();
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      return {{dataset, trained, type: blob.type, size: blob.size, b64: await ({B64_OF_BLOB})(blob), predictions,
              ms: performance.now() - t0, project: teachbox.project()}};
    }}""", [csv_url, images])
    data = base64.b64decode(result["b64"])
    assert len(data) == result["size"], f"{len(data)} bytes arrived of a {result['size']}-byte blob"
    print(f"\nexport: trained + exported in {result['ms'] / 1000:.1f}s, zip {len(data):,} bytes, "
          f"val_acc {result['trained']['val_accuracy']}")
    yield {"page": page, "zip": data, "images": images, **result}
    assert module_context.guard.foreign == [], f"requests left 127.0.0.1: {module_context.guard.foreign}"
