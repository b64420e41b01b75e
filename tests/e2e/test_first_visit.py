"""A first visit (issue 13, part 9): the layout paints at once, inert, under a status line that says what is loading
and how far — Python (Pyodide), TF.js, the base model — and becomes usable when `teachbox.ready` resolves.

To see the stages, the test holds back two responses (Playwright routes, released by the test, never timed): Pyodide's
wasm binary, and the base model's weights. While each is held, the page must already show what a person needs
to see; every status text the page shows is recorded in the page (a MutationObserver set up before any script), so
the stages are asserted from what was on screen, not from timing. Screenshots at 1366×850 and 390×844.
"""

from __future__ import annotations

import re
import time

from tests.conftest import ROOT
from tests.e2e.conftest import BOOT_TIMEOUT_MS

SCREENS = ROOT / "test-results" / "screens"
SIZES = {"desktop": {"width": 1366, "height": 850}, "phone": {"width": 390, "height": 844}}

RECORD_STATUS = """
window.statusSeen = [];
new MutationObserver(() => {
  const el = document.getElementById('status-text');
  const text = el && el.textContent;
  if (text && window.statusSeen[window.statusSeen.length - 1] !== text) window.statusSeen.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

LAYOUT = """() => {
  const app = document.getElementById('app');
  const seen = (id) => { const r = document.getElementById(id).getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  return {inert: app.inert, classes: seen('class-list') || seen('data'), train: seen('train'), trainButton: seen('train-start'),
          state: document.body.dataset.state, status: document.getElementById('status-text').textContent,
          progress: document.getElementById('boot-progress').getAttribute('value')};
}"""


def hold(page, pattern: str) -> list:  # noqa: ANN001
    """Hold every request whose URL matches `pattern` until the test releases it (route.fallback: on to the guard)."""
    held: list = []
    page.route(re.compile(pattern), lambda route: held.append(route))
    return held


def wait_held(page, held: list, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Let the page run until a held request has arrived (Playwright handles routes while the test waits on it)."""
    deadline = time.monotonic() + timeout
    while not held:
        assert time.monotonic() < deadline, "the page never asked for the held file"
        page.wait_for_timeout(50)


def shoot(page, name: str) -> None:  # noqa: ANN001
    SCREENS.mkdir(parents=True, exist_ok=True)
    for tag, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENS / f"{name}-{tag}.png"))
    page.set_viewport_size(SIZES["desktop"])


def test_layout_paints_at_once_with_the_progress_of_each_download(context, server) -> None:  # noqa: ANN001
    page = context.new_page()
    page.set_default_timeout(BOOT_TIMEOUT_MS)
    page.set_viewport_size(SIZES["desktop"])
    page.add_init_script(RECORD_STATUS)
    wasm = hold(page, r"/vendor/pyodide/pyodide\.asm\.wasm$")
    weights = hold(page, r"/models/[^/]+/[^/]+\.bin$")
    page.goto(server.url, wait_until="domcontentloaded")

    # Python cannot have started (its wasm is held): the layout is there, inert, and the line counts the downloads.
    wait_held(page, wasm)
    page.wait_for_function("() => /^Loading Python \\(Pyodide\\): [0-9.]+ of 13\\.[0-9] MB/.test("
                           "document.getElementById('status-text').textContent)")
    layout = page.evaluate(LAYOUT)
    assert layout["inert"] and layout["classes"] and layout["train"] and layout["trainButton"], layout
    assert layout["state"] == "loading" and 0 < float(layout["progress"]) < 1, layout
    assert page.evaluate("() => window.teachbox.ready instanceof Promise")
    shoot(page, "first-visit")
    wasm.pop().fallback()

    # Python runs and asks for the base model, whose weights are held: the line says how far they have come.
    wait_held(page, weights)
    page.wait_for_function("() => /^Loading the base model .*: 0\\.0 of 0\\.9 MB$/.test("
                           "document.getElementById('status-text').textContent)")
    layout = page.evaluate(LAYOUT)
    assert layout["inert"] and layout["train"] and layout["state"] == "loading", layout
    assert layout["progress"] == "0", layout
    shoot(page, "first-visit-base-model")
    weights.pop().fallback()

    info = page.evaluate("() => window.teachbox.ready")
    assert info["base"]["source"] == "network"
    layout = page.evaluate(LAYOUT)
    assert not layout["inert"] and layout["state"] == "ready" and layout["status"].startswith("Ready: "), layout
    assert page.locator("#train-start").is_enabled() and page.locator("#boot-progress").is_hidden()
    seen = page.evaluate("() => window.statusSeen")
    stages = [r"^Loading Python \(Pyodide\): .* MB", r"^Starting Python", r"^Starting TensorFlow\.js",
              r"^Loading the base model .*: 0\.0 of 0\.9 MB$", r"^Loading the base model .*: 0\.9 of 0\.9 MB$",
              r"^Opening your last project", r"^Ready: "]
    positions = [next((i for i, text in enumerate(seen) if re.search(stage, text)), None) for stage in stages]
    assert None not in positions and positions == sorted(positions), seen
    assert any(re.search(r"TensorFlow\.js: (loaded|[0-9.]+ of [0-9.]+ MB)", text) for text in seen), seen
    page.close()
