"""Plumbing for bench/run.py: the dist build, the loopback server, Chromium, the request guard, data sets, statistics
and the machine description. No measurement lives here (see scenarios.py)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = (ROOT / ".." / "shared").resolve()
MODELS = SHARED / "models"
WEIGHTS = [MODELS / "mobilenet_v1_0.25_224", MODELS / "mobilenet_v2_0.35_224_no_top"]
PEERS = BENCH / "peers" / "node_modules"
TM_PACKAGE = PEERS / "@teachablemachine" / "image"
# What @teachablemachine/image fetches for createTeachable(…, {version: 2, alpha: 0.35}); answered from ../shared.
TM_MODEL_PREFIX = ("https://storage.googleapis.com/teachable-machine-models/"
                   "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/")
TM_MODEL_DIR = MODELS / "mobilenet_v2_0.35_224_no_top"
CHROMIUM = os.environ.get("TEACHBOX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--enable-precise-memory-info",
    "--js-flags=--expose-gc",
]

sys.path[:0] = [str(ROOT / "py"), str(ROOT)]
from teachbox_build.serve import StaticServer

from tests.datasets import read_labels, stratified  # noqa: F401 - the bench draws the same way the tests do


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- dist -----------------------------------------------------------------------------------------------------------

def build_dist(out: Path) -> Path:
    """`build.py --weights <v1 0.25> --weights <v2 0.35 no top> --out out` (the build the benchmark measures)."""
    command = [sys.executable, str(ROOT / "build.py")]
    for weights in WEIGHTS:
        command += ["--weights", os.path.relpath(weights, ROOT)]
    command += ["--out", str(out)]
    log("building dist: " + " ".join(command[1:]))
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


# -- data sets ------------------------------------------------------------------------------------------------------

def write_csv(scratch: Path, name: str, rows: list[tuple[str, str]], dataset: str) -> str:
    """scratch/<name>/labels.csv with an `images` symlink to the dataset's images; returns its URL path."""
    folder = scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "images"
    if not link.is_symlink():
        link.symlink_to(SHARED / "datasets" / dataset / "images", target_is_directory=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label"])
    writer.writerows(rows)
    (folder / "labels.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return f"/scratch/{name}/labels.csv"


# -- server and browser ---------------------------------------------------------------------------------------------

class QuietServer(StaticServer):
    """Teachbox's StaticServer, minus the traceback printed when the browser drops a connection mid-response (a
    closed page, a favicon probe): harmless here, and it would bury the benchmark's output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(dist: Path, scratch: Path) -> Iterator[StaticServer]:
    """dist at /, ../shared at /shared/, bench pages at /bench/, the peers' npm packages at /peers/, scratch CSVs."""
    mounts = {"/shared/": SHARED, "/bench/": BENCH, "/peers/": PEERS, "/scratch/": scratch}
    with QuietServer(dist, 0, mounts=mounts) as httpd:
        httpd.start_in_thread()
        try:
            yield httpd
        finally:
            httpd.shutdown()


class Guard:
    """Records requests to any host but 127.0.0.1 (--host-resolver-rules already makes them fail).

    Only the Teachable Machine page routes requests, and only its model URLs (answered from ../shared): Playwright
    turns the HTTP cache off in a context that routes, which would make every warm start a cold one.
    """

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.tm_files: list[str] = []

    @staticmethod
    def local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"

    def watch(self, request: Any) -> None:
        if not self.local(request.url) and not request.url.startswith(TM_MODEL_PREFIX):
            self.foreign.append(request.url)

    def handle(self, route: Any, request: Any) -> None:
        url = request.url
        if self.local(url):
            route.continue_()
        elif url.startswith(TM_MODEL_PREFIX):
            name = url[len(TM_MODEL_PREFIX):].split("?")[0]
            path = TM_MODEL_DIR / name
            if name in ("model.json", "weights.bin") and path.is_file():
                self.tm_files.append(name)
                kind = "application/json" if name.endswith(".json") else "application/octet-stream"
                route.fulfill(status=200, body=path.read_bytes(), content_type=kind,
                              headers={"Access-Control-Allow-Origin": "*"})
            else:
                self.foreign.append(url)
                route.fulfill(status=404, body=b"", headers={"Access-Control-Allow-Origin": "*"})
        else:
            self.foreign.append(url)
            route.abort()


@dataclass
class Browser:
    """Playwright + Chromium for one benchmark run; every context gets the guard."""

    playwright: Any
    browser: Any = None
    guards: list[Guard] = field(default_factory=list)
    profiles: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="teachbox-bench-profiles-")))

    def launch(self) -> None:
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

    @property
    def version(self) -> str:
        return self.browser.version

    def _guarded(self, context: Any, route: bool = False) -> Any:
        guard = Guard()
        context.on("request", guard.watch)
        if route:  # only the model URLs: other requests are not paused (image fetches stay as fast as elsewhere)
            context.route(TM_MODEL_PREFIX + "**", guard.handle)
        self.guards.append(guard)
        return context

    def context(self, bypass_csp: bool = False, route: bool = False) -> Any:
        """A fresh incognito-like context (own IndexedDB and HTTP cache). The peers' pages need bypass_csp: the
        server sends Teachbox's CSP (connect-src 'self') on every response, and Teachable Machine fetches its model
        from storage.googleapis.com (answered locally by routing, but CSP blocks the request before routing).
        Service workers are blocked here: the offline precache (~19 MB fetched and hashed in the background after
        the first load) would compete with the throughput being measured. The start-up contexts keep theirs."""
        return self._guarded(self.browser.new_context(bypass_csp=bypass_csp, service_workers="block"), route)

    def persistent(self, profile: Path, bypass_csp: bool = False) -> Any:
        """A browser with an on-disk profile (cold start: a new folder; warm start: the same folder again)."""
        context = self.playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, bypass_csp=bypass_csp)
        return self._guarded(context)

    def foreign_requests(self) -> list[str]:
        return sorted({url for guard in self.guards for url in guard.foreign})

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
        shutil.rmtree(self.profiles, ignore_errors=True)


def open_page(context: Any, url: str, timeout_ms: int = 180_000) -> Any:
    page = context.new_page()
    page.logs = []
    page.on("console", lambda message: page.logs.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.logs.append(f"pageerror: {error}"))
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    return page


def evaluate(page: Any, script: str, arg: Any = None) -> Any:
    """page.evaluate with the page's recent console output attached to any failure."""
    try:
        return page.evaluate(script, arg)
    except Exception as error:
        tail = "\n".join(getattr(page, "logs", [])[-25:])
        raise RuntimeError(f"{error}\n--- page console ---\n{tail}") from error


# -- statistics -----------------------------------------------------------------------------------------------------

def summary(values: list[float], digits: int = 3) -> dict[str, Any]:
    """median and spread (min/max) of one figure over runs, plus the raw values."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values), "values": [round(v, digits) for v in values]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- machine --------------------------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram, "os": platform.platform(),
            "python": platform.python_version(), "loadavg_start": _loadavg()}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def loadavg() -> list[float] | None:
    return _loadavg()


def package_version(folder: Path) -> str | None:
    try:
        return json.loads((folder / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
