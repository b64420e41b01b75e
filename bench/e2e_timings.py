"""Project storage at scale, timed: adding 1,000 malaria images as Files (embedded, then saved to IndexedDB in one
transaction) and restoring them when the page is loaded again (`info().timings.restore_ms`), the figures
docs/decisions.md quotes. This was an end-to-end test that printed them; what it checked, tests/e2e/test_projects.py checks at 40
images. A run still stops when a figure would not mean what it says: fewer than 1,000 images after adding or after
the reload, a training after the reload that embeds again, or a request that left the test server.

    python bench/e2e_timings.py [--dist DIR] [--runs N]

Without --dist it builds the benchmark's dist into a temporary folder, as bench/run.py does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as H

PER_CLASS = 500
SEED = 7
MALARIA = "/shared/datasets/malaria/"

# Files made in the page from same-origin URLs, as a person's picked files would be; kept on window so that fetching
# them is not timed. Returns their total size in bytes.
FETCH_FILES = """async (byLabel) => {
  window.benchFiles = {};
  for (const [label, urls] of Object.entries(byLabel)) {
    window.benchFiles[label] = await Promise.all(urls.map(async (url) =>
      new File([await (await fetch(url)).blob()], url.split('/').pop(), {type: 'image/png'})));
  }
  return Object.values(window.benchFiles).flat().reduce((bytes, file) => bytes + file.size, 0);
}"""

# addImages per class, timed; the time from the last embedding batch to the call's end is the save transaction.
ADD_FILES_TIMED = """async () => {
  let lastBatch = 0, saving = 0;
  const off = teachbox.on('progress', (e) => { if (e.done === e.total) lastBatch = performance.now(); });
  const started = performance.now();
  for (const [label, files] of Object.entries(window.benchFiles)) {
    await teachbox.addImages(label, files);
    saving += performance.now() - lastBatch;
  }
  off();
  return {total: performance.now() - started, saving, samples: teachbox.project().samples};
}"""

TRAIN_PHASES = """async (options) => {
  const phases = new Set();
  const off = teachbox.on('progress', (event) => phases.add(event.phase));
  await teachbox.train(options);
  off();
  return {phases: [...phases], embedded: teachbox.project().embedded};
}"""

FIGURES = {  # key: label in the report
    "add_s": "addImages of 1,000 Files (embed + save), s",
    "save_s": "  of which the save transaction, s",
    "reload_s": "reload to teachbox.ready, s",
    "restore_ms": "  of which the restore (timings.restore_ms), ms",
}


def check(condition: bool, message: str) -> None:
    """Stop the run: the figure measured would not be the one reported."""
    if not condition:
        raise SystemExit(f"bench/e2e_timings.py: {message}")


def add_and_restore(browser: H.Browser, url: str, by_label: dict[str, list[str]]) -> dict[str, Any]:
    """One run in a fresh profile: add the images to an empty project, then reload and train without embedding."""
    context = browser.context()
    try:
        page = H.open_page(context, url)
        H.evaluate(page, "() => window.teachbox.ready")
        H.evaluate(page, "() => { for (const c of teachbox.project().classes) teachbox.deleteClass(c); }")
        size = H.evaluate(page, FETCH_FILES, by_label)
        added = H.evaluate(page, ADD_FILES_TIMED)
        check(added["samples"] == 2 * PER_CLASS, f"{added['samples']} samples after adding {2 * PER_CLASS}")
        started = time.monotonic()
        page.reload()
        info = H.evaluate(page, "() => window.teachbox.ready")
        reload_s = time.monotonic() - started
        restored = H.evaluate(page, "() => teachbox.project().samples")
        check(restored == 2 * PER_CLASS, f"{restored} samples restored of {2 * PER_CLASS}")
        trained = H.evaluate(page, TRAIN_PHASES, {"epochs": 5})
        check("embedding" not in trained["phases"] and trained["embedded"] == 0,
              f"training after the reload embedded again: {trained}")
        return {"megabytes": size / 2**20, "add_s": added["total"] / 1000, "save_s": added["saving"] / 1000,
                "reload_s": reload_s, "restore_ms": info["timings"]["restore_ms"]}
    finally:
        context.close()


def report(rows: list[dict[str, Any]]) -> str:
    lines = [f"1,000 malaria images ({rows[0]['megabytes']:.1f} MB), {len(rows)} run(s): median (min–max)"]
    for key, label in FIGURES.items():
        stat = H.summary([row[key] for row in rows], digits=2)
        lines.append(f"{label:<48} {stat['median']:>8} ({stat['min']}–{stat['max']})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/e2e_timings.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="a built dist/ to serve (default: build one into a temporary folder)")
    parser.add_argument("--runs", type=int, default=1, help="repetitions, each in a fresh profile (default 1)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    by_label: dict[str, list[str]] = {}
    for path, label in H.stratified(H.read_labels("malaria"), PER_CLASS, SEED):
        by_label.setdefault(label, []).append(MALARIA + path)
    rows = []
    with tempfile.TemporaryDirectory(prefix="teachbox-e2e-timings-") as tmp:
        dist = args.dist.resolve() if args.dist else H.build_dist(Path(tmp) / "dist")
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        with H.serve(dist, scratch) as server, sync_playwright() as playwright:
            browser = H.Browser(playwright)
            browser.launch()
            try:
                for run in range(1, max(1, args.runs) + 1):
                    H.log(f"run {run}: adding {2 * PER_CLASS} images, then reloading")
                    rows.append(add_and_restore(browser, server.url, by_label))
                check(browser.foreign_requests() == [], f"requests left 127.0.0.1: {browser.foreign_requests()}")
            finally:
                browser.close()
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
