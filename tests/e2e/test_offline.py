"""Offline-first and private by construction, in one browser context on a private copy of the site:

1. first visit online, under the site's CSP: boot, load a small CSV, train, predict; the service worker precaches
   the whole build (its cache named after the build digest) and takes control;
2. the server is stopped and the browser set offline: a new tab boots from the cache, trains on images made in the
   page and predicts;
3. a new build is written into the same folder: while one of its files is still wrong the update is refused as a
   whole; once it is complete the open tab shows "New version available", its button reloads into the new build,
   and only the new build's cache is left.

No `securitypolicyviolation` may fire in any of it. The first two stages are module-scoped fixtures (`first_visit`,
`offline_tab`) that a test asks for, so every test runs alone (`pytest -k name`) and the file still opens each tab
once; they happen in that order whatever is selected, and the rebuild (3.), which changes the site, comes last.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, Response
from teachbox_build.headers import content_security_policy, security_headers
from teachbox_build.samples import is_on_demand

from tests.conftest import ROOT
from tests.e2e.conftest import (
    DEFAULT_BASE,
    BuildOptions,
    StaticServer,
    build,
    guarded_context,
    open_app,
    read_labels,
    stratified,
    write_csv,
)

# Records CSP violations in every page of the context, from the first script on.
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));"""

# Images made in the page (no network needed), seeded: horizontal stripes vs vertical ones, in random colours,
# widths and phases (ImageNet features care about edges and orientation far more than about hue).
MAKE_IMAGES = """async ([vertical, count, seed]) => {
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const out = [];
  for (let n = 0; n < count; n++) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 128;
    const g = canvas.getContext('2d');
    g.fillStyle = `hsl(${rnd() * 360}, 60%, 85%)`;
    g.fillRect(0, 0, 128, 128);
    g.fillStyle = `hsl(${rnd() * 360}, 70%, 30%)`;
    const period = 12 + rnd() * 20, width = period * (0.3 + rnd() * 0.3);
    for (let x = -rnd() * period; x < 128; x += period) {
      if (vertical) g.fillRect(x, 0, width, 128); else g.fillRect(0, x, 128, width);
    }
    out.push(await new Promise((resolve) => canvas.toBlob(resolve, 'image/png')));
  }
  return out;
}"""

OFFLINE_STATE = """async () => ({
  controlled: Boolean(navigator.serviceWorker.controller),
  keys: (await caches.keys()).filter((k) => k.startsWith('teachbox-')),
  state: teachboxBoot.offlineState(),
})"""

CACHED_BYTES = """async (name) => {
  const cache = await caches.open(name);
  let bytes = 0, files = 0;
  for (const request of await cache.keys()) {
    bytes += (await (await cache.match(request)).blob()).size;
    files += 1;
  }
  const estimate = await navigator.storage.estimate();
  return {bytes, files, usage: estimate.usage};
}"""


def poll(page, script: str, done, timeout: float = 60.0, arg=None):  # noqa: ANN001, ANN201
    """Evaluate `script` until done(value) holds; returns the value (fails with the last one on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value}")
        time.sleep(0.25)


def manifest_of(dist: Path) -> dict:
    return json.loads((dist / "build-manifest.json").read_text(encoding="utf-8"))


def precached(manifest: dict) -> list[dict]:
    """The build's files the service worker stores at install: all but the sample data sets' (cached when opened;
    a default build has one)."""
    return [f for f in manifest["files"] if not is_on_demand(f["path"])]


def no_csp_violations(page, logs: list[str]) -> None:  # noqa: ANN001
    violations = page.evaluate("() => window.__csp")
    assert violations == [], f"CSP violations: {violations}"
    reported = [line for line in logs if "Content Security Policy" in line or "Permissions-Policy" in line]
    assert reported == [], reported


@pytest.fixture(scope="module")
def site(browser, dist_dir, shared_dir, scratch, tmp_path_factory):  # noqa: ANN001, ANN201
    """A private copy of the site on its own port (it gets stopped and rebuilt), and one context that allows
    service workers. Yields a namespace the tests share."""
    folder = tmp_path_factory.mktemp("offline") / "site"
    shutil.copytree(dist_dir, folder)
    mounts = {"/shared/": shared_dir, "/scratch/": scratch}
    state = SimpleNamespace(dist=folder, mounts=mounts, logs=[])
    state.server = StaticServer(folder, 0, mounts=mounts)
    state.server.start_in_thread()
    state.port = state.server.server_address[1]
    state.url = state.server.url
    with guarded_context(browser, service_workers="allow") as (ctx, guard):
        ctx.add_init_script(WATCH_CSP)
        ctx.on("console", lambda message: state.logs.append(f"{message.type}: {message.text}"))
        state.context, state.guard = ctx, guard
        yield state
        if state.server is not None:
            state.server.shutdown()
            state.server.server_close()


def restart(site) -> None:  # noqa: ANN001
    site.server = StaticServer(site.dist, site.port, mounts=site.mounts)
    site.server.start_in_thread()


def wait_for_offline_copy(page: Page, cache: str) -> dict:
    """OFFLINE_STATE once the service worker has precached the whole build into `cache` (named after the build's
    digest, the only teachbox cache), is active and controls the page."""
    return poll(page, OFFLINE_STATE, lambda v: v["controlled"] and v["keys"] == [cache]
                and v["state"]["serviceWorker"] == "active", timeout=60)


@dataclass(frozen=True)
class FirstVisit:
    """The first tab, opened online on the site as first built."""

    page: Page
    info: dict  # teachbox.ready
    build: str  # that build's digest


@pytest.fixture(scope="module")
def first_visit(site) -> FirstVisit:  # noqa: ANN001
    page, info = open_app(site.context, site.url)
    return FirstVisit(page, info, manifest_of(site.dist)["build"])


@dataclass(frozen=True)
class OfflineTab:
    """A second tab, opened with the server stopped and the browser offline (`?backend=wasm`)."""

    page: Page
    response: Response  # of its navigation
    info: dict  # teachbox.ready
    boot_s: float  # from navigation to teachbox.ready
    seen_before: int  # requests the guard had let through before it opened


@pytest.fixture(scope="module")
def offline_tab(site, first_visit: FirstVisit) -> OfflineTab:  # noqa: ANN001
    """Waits for the first visit's offline copy, then stops the server (the module's last test starts it again)
    and opens the tab offline."""
    wait_for_offline_copy(first_visit.page, f"teachbox-{first_visit.build}")
    site.server.shutdown()
    site.server.server_close()  # the network is really gone: nothing listens on the port any more
    site.server = None
    site.context.set_offline(True)
    seen_before = len(site.guard.urls)
    page = site.context.new_page()
    page.set_default_timeout(120_000)
    start = time.monotonic()
    response = page.goto(site.url + "?backend=wasm")  # a query string still finds the cached page
    info = page.evaluate("() => teachbox.ready")
    return OfflineTab(page, response, info, time.monotonic() - start, seen_before)


def test_first_visit_under_csp_trains_and_stores_the_offline_copy(site,  # noqa: ANN001
                                                                   first_visit: FirstVisit) -> None:
    # The page is served with the policy as a header and as <meta> (for hosts without header configuration).
    with urllib.request.urlopen(site.url) as response:
        sent = dict(response.headers.items())
        body = response.read().decode()
    for name, value in security_headers().items():
        assert sent.get(name) == value, name
    assert f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(meta=True)}">' in body
    with urllib.request.urlopen(site.url + "sw.js") as response:
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Content-Type"].startswith("text/javascript")

    page, info = first_visit.page, first_visit.info
    assert info["base"]["source"] == "network"
    # A short real training run under the policy: CSV + same-origin images, train, predict, export, import.
    rows = stratified(read_labels("rock_paper_scissors"), 4, seed=7)
    csv_url = write_csv(Path(site.mounts["/scratch/"]), "offline-rps", rows, "rock_paper_scissors")
    result = page.evaluate("""async ([csv, image]) => {
      const data = await teachbox.loadDataset(csv);
      const run = await teachbox.train({epochs: 3});
      const top = (await teachbox.predict(image))[0];
      const zip = await teachbox.exportModel();
      const loaded = await teachbox.loadModel(zip);
      return {counts: data.counts, epochs: run.epochs, top, labels: loaded.labels};
    }""", [csv_url, "/scratch/offline-rps/" + rows[0][0]])
    assert result["counts"] == {"paper": 4, "rock": 4, "scissors": 4}
    assert result["labels"] == ["paper", "rock", "scissors"]

    # The service worker precaches the whole build, then controls the page.
    manifest = manifest_of(site.dist)
    cache = f"teachbox-{manifest['build']}"
    state = wait_for_offline_copy(page, cache)
    assert state["state"]["build"] == manifest["build"]
    cached = page.evaluate(CACHED_BYTES, cache)
    expected = sum(f["bytes"] for f in precached(manifest))
    assert cached["files"] == len(precached(manifest)) + 1  # + build-manifest.json
    assert cached["bytes"] >= expected
    assert state["state"]["persisted"] in (True, False)  # the request was made and answered
    assert page.evaluate("() => teachboxBoot.persisted") == state["state"]["persisted"]
    log = page.text_content("#status-log")  # inside a closed <details>: text_content, not inner_text
    assert "storage:" in log and "offline copy ready" in log
    print(f"\nfirst visit: teachbox.ready at {info['timings']['ready'] / 1000:.1f} s; precached {cached['files']} files, "
          f"{cached['bytes']:,} bytes (storage usage {cached['usage']:,} B); persisted={state['state']['persisted']}")
    no_csp_violations(page, site.logs)


def test_offline_boot_trains_and_predicts(site, offline_tab: OfflineTab) -> None:  # noqa: ANN001
    page, info = offline_tab.page, offline_tab.info
    started = time.monotonic()
    assert offline_tab.response.from_service_worker
    assert info["base"]["id"] == "mobilenet_v1_0.25_224"
    # Two classes of images drawn in the page, added as Blobs; 2 of each held out for prediction.
    page.evaluate(f"""async () => {{
      const make = {MAKE_IMAGES};
      const h = await make([false, 12, 11]), v = await make([true, 12, 23]);
      window.images = {{horizontal: h.slice(0, 10), vertical: v.slice(0, 10), test: [h[10], v[10], h[11], v[11]]}};
    }}""")
    page.evaluate("() => teachbox.reset()")  # the UI starts with empty example classes
    added = page.evaluate("async () => { await teachbox.addImages('horizontal', images.horizontal); "
                          "return teachbox.addImages('vertical', images.vertical); }")
    result = page.evaluate("""async () => {
      const run = await teachbox.train({epochs: 5, learningRate: 0.01, seed: 3});
      const predictions = [];
      for (const image of images.test) predictions.push(await teachbox.predict(image));
      return {epochs: run.epochs, accuracy: run.accuracy, predictions, state: teachbox.info().offline};
    }""")
    train_s = time.monotonic() - started
    assert added["counts"] == {"horizontal": 10, "vertical": 10}
    assert added["inputSize"] == 224  # the default size, until a training asks for another
    assert result["epochs"] >= 1 and result["accuracy"] >= 0.75, result
    for prediction in result["predictions"]:
        assert {p["label"] for p in prediction} == {"horizontal", "vertical"}
        assert abs(sum(p["probability"] for p in prediction) - 1) < 1e-4
    held_out = sum(p[0]["label"] == want for p, want in
                   zip(result["predictions"], ["horizontal", "vertical"] * 2, strict=True))
    # The offline copy's state is read once the worker registration (made after start-up, offline here) is back.
    result["state"] = poll(page, "() => teachbox.info().offline", lambda v: v["serviceWorker"] != "pending", 30)
    assert result["state"]["controlled"] is True and result["state"]["serviceWorker"] == "active", result["state"]
    assert result["state"]["files"] == len(precached(manifest_of(site.dist))) + 1, result["state"]  # + the manifest
    assert result["state"]["bytes"] > 10_000_000, result["state"]
    print(f"\noffline: boot {offline_tab.boot_s:.1f} s (teachbox.ready at {info['timings']['ready'] / 1000:.1f} s "
          f"after navigation; base from {info['base']['source']}), add 20 images + train 5 epochs + 4 predictions "
          f"{train_s:.1f} s; training accuracy {result['accuracy']:.2f}, held out {held_out}/4")
    # The app came from the cache: the only network request left is the browser's own update check of sw.js
    # (it failed: nothing listens), and the page's blob:/data: URLs.
    tried = {url.removeprefix(site.url) for url in site.guard.urls[offline_tab.seen_before:]
             if not url.startswith(("data:", "blob:"))}
    assert tried <= {"sw.js"}, tried
    no_csp_violations(page, site.logs)


def test_new_build_offers_reload_and_leaves_one_cache(site, first_visit: FirstVisit,  # noqa: ANN001
                                                      offline_tab: OfflineTab) -> None:
    site.context.set_offline(False)
    # A new build into the same folder (float16 weights: other files, so another digest), served on the same origin.
    build(BuildOptions(ROOT, site.dist, [str(DEFAULT_BASE)], "float16"))
    new_build = manifest_of(site.dist)["build"]
    assert new_build != first_visit.build
    first, other = first_visit.page, offline_tab.page
    # First a host caught mid-deploy: one file does not match the new manifest. The install must fail as a whole
    # (no partial cache left behind), no notice appears, and the old version stays in charge.
    good_css = (site.dist / "app.css").read_bytes()
    (site.dist / "app.css").write_bytes(good_css + b"/* stale */")
    restart(site)
    assert first.evaluate("() => teachboxBoot.checkForUpdate()") is True
    poll(first, "() => document.getElementById('status-log').textContent",
         lambda text: "could not be downloaded completely" in text, timeout=30)
    # Settled: no install in flight (a tab becoming visible also asks for an update, and its attempt fails the same way).
    state = poll(first, OFFLINE_STATE, lambda v: v["state"]["serviceWorker"] != "installing"
                 and v["keys"] == [f"teachbox-{first_visit.build}"], timeout=30)
    assert state["keys"] == [f"teachbox-{first_visit.build}"] and state["state"]["build"] == first_visit.build, state
    assert first.locator("#update-notice").is_hidden()
    # The deploy completes: the next check installs the new version.
    (site.dist / "app.css").write_bytes(good_css)
    assert first.evaluate("() => teachboxBoot.checkForUpdate()") is True
    first.locator("#update-notice").wait_for(state="visible", timeout=60_000)
    assert "New version available" in first.inner_text("#update-notice")
    with first.expect_navigation(timeout=60_000):
        first.click("#update-reload")
    info = first.evaluate("() => teachbox.ready")
    assert info["base"]["quantize"] == "float16"  # the new build runs, not a mix
    state = poll(first, OFFLINE_STATE, lambda v: v["keys"] == [f"teachbox-{new_build}"] and v["controlled"]
                 and v["state"]["build"] == new_build, timeout=30)
    assert state["state"]["serviceWorker"] == "active"
    # The other open tab still runs the old version: it is told to reload, not switched under its feet.
    other.locator("#update-notice").wait_for(state="visible", timeout=10_000)
    assert "updated in another tab" in other.inner_text("#update-notice")
    no_csp_violations(first, site.logs)
