"""Python restored from a memory snapshot (site/interpreter.mjs, site/snapshot-worker.mjs): a first start makes one,
the next start restores it and is a fully working Teachbox, and a damaged snapshot never stops the page.

How much faster a restored start is, is the benchmark's business (docs/benchmarks.md, "warm start"); these tests
check what the restore does.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import open_app, read_labels, stratified, write_csv

CACHE = "pyodide-snapshots"

SAVED = """async () => {
  const state = window.teachboxInterpreter.state;
  for (let i = 0; i < 300 && state.snapshot === "none"; i++) await new Promise((r) => setTimeout(r, 100));
  return state.saved ? await state.saved : state.snapshot;
}"""

STORED = """async (name) => {
  const cache = await caches.open(name);
  return Promise.all((await cache.keys()).map(async (request) =>
    ({url: request.url, bytes: (await (await cache.match(request)).arrayBuffer()).byteLength})));
}"""


def _runtime_key(dist: Path, pyodide: str) -> str:
    digest = re.search(r'const RUNTIME = "([0-9a-f]{16})";', (dist / "interpreter.mjs").read_text()).group(1)
    return f"/pyodide-snapshot/{pyodide}/{digest}"


def _restart(page):  # noqa: ANN001, ANN202
    page.reload()
    return page.evaluate("() => window.teachbox.ready")


def _console(page, code: str) -> str:  # noqa: ANN001
    """Run `code` in the page's Python console; returns the console's last output line."""
    before = page.locator("#console-output").text_content() or ""
    page.locator("#console-input").fill(code)
    page.locator("#console-input").press("Control+Enter")
    page.wait_for_function("(n) => document.querySelector('#console-output').textContent.length > n", arg=len(before))
    page.wait_for_function("() => !document.querySelector('#console-output').textContent.trim().endsWith('>>>')")
    return (page.locator("#console-output").text_content() or "").strip().splitlines()[-1]


def test_second_start_restores_python_and_works(context, server, guard, dist_dir, scratch) -> None:  # noqa: ANN001
    page, first = open_app(context, server.url)
    assert first["interpreter"]["start"] == "fresh"
    assert page.evaluate(SAVED) == "stored"
    stored = page.evaluate(STORED, CACHE)
    assert [entry["url"].split(server.url.rstrip("/"))[-1] for entry in stored] == [
        _runtime_key(dist_dir, first["pyodide"])]
    assert stored[0]["bytes"] > 10_000_000  # the interpreter's whole memory: nothing was cut short
    assert "Python snapshot stored" in page.text_content("#status-log")

    second = _restart(page)
    assert second["interpreter"] == {"start": "snapshot", "loadMs": second["interpreter"]["loadMs"],
                                     "snapshot": "stored", "note": None}
    assert second["python"] == first["python"]
    draw = _console(page, "import random; print(random.random())")
    third = _restart(page)
    assert third["interpreter"]["start"] == "snapshot"
    assert _console(page, "import random; print(random.random())") != draw, "random was not reseeded"

    # The restored interpreter runs the whole product: CSV → embeddings → training → held-out accuracy, no leak.
    rows = read_labels("malaria")
    train = stratified(rows, 60, 11)
    test = stratified(rows, 40, 12, exclude={path for path, _ in train})
    urls = [write_csv(scratch, "snapshot", part, "malaria", file_name=f"{name}.csv")
            for name, part in (("train", train), ("test", test))]
    result = page.evaluate("""async ([train, test]) => {
      const baseline = teachbox.memory().numTensors;
      const loaded = await teachbox.loadDataset(train);
      await teachbox.train({});
      const scored = await teachbox.evaluate(test);
      teachbox.reset();
      return {samples: loaded.samples, accuracy: scored.accuracy, count: scored.count, baseline,
              after: teachbox.memory().numTensors};
    }""", urls)
    assert result["samples"] == 120 and result["count"] == 80
    assert result["accuracy"] >= 0.7, result
    assert result["after"] == result["baseline"]
    guard.check()


def test_damaged_snapshot_falls_back_to_a_normal_start(context, server, guard, dist_dir) -> None:  # noqa: ANN001
    page, first = open_app(context, server.url)
    assert page.evaluate(SAVED) == "stored"
    key = _runtime_key(dist_dir, first["pyodide"])
    page.evaluate("""async ([name, key]) => {
      const cache = await caches.open(name);
      const bytes = new Uint8Array(1 << 20).fill(7);  // the right key, bytes that are no snapshot
      await cache.put(key, new Response(bytes));
    }""", [CACHE, key])

    second = _restart(page)
    assert second["interpreter"]["start"] == "fresh"
    assert "could not be restored" in second["interpreter"]["note"]
    assert page.inner_text("#status-text").startswith("Ready:")
    assert len(page.evaluate("(url) => teachbox.embed(url)", "/shared/datasets/malaria/" +
                             read_labels("malaria")[0][0])) == 256
    # The broken copy was dropped and a good one made again: the start after that restores.
    assert page.evaluate(SAVED) == "stored"
    assert page.evaluate(STORED, CACHE)[0]["bytes"] > 10_000_000
    assert _restart(page)["interpreter"]["start"] == "snapshot"
    guard.check()
