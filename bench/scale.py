"""Teachbox at scale: 30,000 images through `loadDataset` and through the folder picker, in one Chromium.

    python bench/scale.py [--images 30000] [--data DIR] [--dist DIR] [--skip-folder] [--docs]

What it answers (issue 14, "scale"): does the page survive a data set the size of the whole NIH malaria set (27,558
cells), with progress and cancel working throughout, memory bounded, training on every cached embedding, a reload
that restores the project, and a page that still answers input while it embeds? Numbers, not pass/fail: it prints
a markdown table, writes bench/results/scale.json, and with --docs replaces the "Scale" section of
docs/benchmarks.md (bench/run.py --docs keeps that section).

The images: every malaria cell of ../shared (2,800) under new names, each turned by one of the eight symmetries of
a square and, past 8 × 2,800, cropped by a pixel, so that all 30,000 files differ (nothing can be served from a
cache of identical bytes). They are written once into --data (default: a folder in the system's temp dir) and
reused.

Memory figures: JS heap = `performance.memory.usedJSHeapSize` (Chromium runs with precise memory info); TF.js wasm
heap and Python heap = the byte length of the two WebAssembly memories (`teachbox.memory()`), which only grow;
IndexedDB = `navigator.storage.estimate().usage` (this origin's storage); Chromium memory = the proportional resident
memory (PSS) of all the browser's processes (/proc), also by kind of process (Playwright's driver, which runs the
browser for the benchmark, is shown apart and not counted). Responsiveness: a key pressed in a probe
field every few seconds, its delay from the browser receiving it to the handler running, and the page's long tasks
(PerformanceObserver "longtask": no input can be answered during one).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as H

RESULTS = H.BENCH / "results"
from run import SCALE_END as SECTION_END, SCALE_START as SECTION_START  # noqa: E402 - bench/run.py keeps the section
SAMPLE_EVERY_S = 3.0
LEAD = ("How it is measured: `bench/scale.py` ([development.md](development.md#benchmarks)); what was changed for these "
        "figures and what they show (the TF.js wasm heap is bounded by the batch, not the data set; the images' bytes "
        "stay in Chromium's memory; the tasks over 100 ms that remain): [decisions.md](decisions.md), "
        "\"30,000 images\". Memory cells are peaks while a phase ran, or what stays after two forced collections "
        "(\"settled\").")
MEMORY_KEYS = ("jsHeap", "tfWasmHeap", "pythonHeap", "idb", "rss")

# Installed once per page: the probe field, its key delays, and the long tasks since the last reset.
PROBE = """() => {
  if (window.__scale) return;
  const field = document.createElement("input");
  field.id = "scale-probe";
  field.setAttribute("aria-label", "benchmark probe");
  field.style.cssText = "position:fixed;right:0;bottom:0;width:40px;z-index:9999";
  document.body.append(field);
  const state = {delays: [], longTasks: [], run: null};
  field.addEventListener("keydown", (event) => state.delays.push(performance.now() - event.timeStamp));
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) state.longTasks.push(entry.duration);
  }).observe({type: "longtask"});
  window.__scale = state;
}"""

# One reading of every memory figure (no forced collection: this is what the page holds while it works).
SAMPLE = """async () => {
  const m = window.teachbox.memory();
  const storage = navigator.storage && navigator.storage.estimate ? await navigator.storage.estimate() : {};
  const run = window.__scale.run;
  return {t: performance.now(), jsHeap: performance.memory ? performance.memory.usedJSHeapSize : null,
          tfWasmHeap: m.tfWasmHeapBytes, pythonHeap: m.pythonHeapBytes, numTensors: m.numTensors,
          idb: storage.usage ?? null, progress: run ? run.progress : null, settled: run ? run.settled : null};
}"""

# Follow the page's progress events from now on, and start an API call without awaiting it (none for the folder
# picker: the page's own Import makes the call). Progress and outcome land in window.__scale.run.
START = """([method, args]) => {
  const run = {progress: null, settled: null, started: performance.now()};
  window.__scale.run = run;
  window.__scale.delays = [];
  window.__scale.longTasks = [];
  const off = window.teachbox.on("progress", (event) => { run.progress = {...event, t: performance.now()}; });
  if (!method) return;
  window.teachbox[method](...args).then(
    (result) => { run.settled = {ok: true, t: performance.now(), result}; },
    (error) => { run.settled = {ok: false, t: performance.now(), code: error.code, message: error.message}; },
  ).finally(off);
}"""

# Pressing Stop is `teachbox.cancel()` for a script; the UI's own Stop calls the same method.
CANCEL = "() => ({asked: performance.now(), running: window.teachbox.cancel()})"

FORCED_GC = """async () => {
  for (let i = 0; i < 2; i++) { if (typeof window.gc === "function") window.gc(); await new Promise((r) => setTimeout(r, 200)); }
}"""

RESPONSIVENESS = """() => ({delays: window.__scale.delays, longTasks: window.__scale.longTasks})"""


# -- the images -----------------------------------------------------------------------------------------------------

def make_images(folder: Path, count: int) -> Path:
    """folder/images/<label>/<name>.png + folder/labels.csv, written once (a marker file records the count)."""
    from PIL import Image

    marker = folder / f".complete-{count}"
    csv_path = folder / "labels.csv"
    if marker.exists():
        return csv_path
    by_label: dict[str, list[tuple[str, str]]] = {}
    for row in H.read_labels("malaria"):
        by_label.setdefault(row[1], []).append(row)
    sources = [row for group in zip(*by_label.values()) for row in group]  # classes interleaved: any N is balanced
    rows: list[tuple[str, str]] = []
    H.log(f"writing {count:,} images into {folder} (once)")
    for index in range(count):
        relative, label = sources[index % len(sources)]
        variant = index // len(sources)
        with Image.open(H.SHARED / "datasets" / "malaria" / relative) as image:
            picture = image.convert("RGB")
        if variant % 8:
            picture = picture.transpose(list(Image.Transpose)[variant % 8 - 1])
        if variant >= 8:
            picture = picture.crop((1, 1, picture.width - 1, picture.height - 1))
        path = f"images/{label}/cell_{index:05d}.png"
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        picture.save(folder / path, compress_level=1)
        rows.append((path, label))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label"])
    writer.writerows(rows)
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    marker.touch()
    return csv_path


# -- measuring ------------------------------------------------------------------------------------------------------

def sample(page: Any) -> dict[str, Any]:
    reading = H.evaluate(page, SAMPLE)
    reading["rss"], reading["pss_by_kind"] = chromium_rss()
    return reading


def chromium_rss() -> tuple[int | None, dict[str, int]]:
    """Proportional resident memory (PSS: shared pages split between the processes that share them, so nothing
    counts twice) of this benchmark's Chromium, i.e. every process below this one but Playwright's driver (a Node
    process that runs the browser for the benchmark, not part of what a person's browser pays): blobs and GPU and
    utility processes included, which no in-page figure shows. Returns that total and the PSS of each kind of
    process (renderer, browser, gpu-process, utility, zygote; the driver too, for the record)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    mine = {os.getpid()}
    for _ in range(8):  # driver → browser → its children
        mine |= {pid for pid, parent in parents.items() if parent in mine}
    by_kind: dict[str, int] = {}
    for pid in mine - {os.getpid()}:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            # Chromium rewrites its children's argv into one line (its process titles): split on spaces too.
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        kind = next((arg.split(b"=", 1)[1].decode() for arg in command if arg.startswith(b"--type=")),
                    "browser" if b"chrom" in command[0] else "driver")
        pss = sum(int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith("Pss:"))
        by_kind[kind] = by_kind.get(kind, 0) + pss
    return (sum(pss for kind, pss in by_kind.items() if kind != "driver") or None), by_kind


def watch(page: Any, until: Callable[[dict[str, Any]], bool], timeout_s: float) -> list[dict[str, Any]]:
    """Sample memory and progress every few seconds, pressing a key in the probe field each time, until `until`
    holds for a sample (or the call settled). Returns the samples."""
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    probe = page.locator("#scale-probe")
    while True:
        probe.press("a")
        reading = sample(page)
        samples.append(reading)
        done = reading["progress"] or {}
        H.log(f"   {done.get('phase', '-')} {done.get('done', done.get('epoch', ''))}/"
              f"{done.get('total', done.get('epochs', ''))}  JS {mb(reading['jsHeap'])}  "
              f"tf wasm {mb(reading['tfWasmHeap'])}  python {mb(reading['pythonHeap'])}  IDB {mb(reading['idb'])}  "
              f"PSS {mb(reading['rss'])} ({kinds(reading['pss_by_kind'])})")
        if reading["settled"] is not None or until(reading):
            return samples
        if time.monotonic() > deadline:
            raise TimeoutError(f"still running after {timeout_s:.0f} s")
        time.sleep(SAMPLE_EVERY_S)


def kinds(by_kind: dict[str, int]) -> str:
    """`renderer 812.3 MB, browser 301.0 MB, …`: a PSS reading by kind of process, largest first."""
    return ", ".join(f"{kind} {mb(pss)}" for kind, pss in sorted(by_kind.items(), key=lambda item: -item[1]))


def mb(value: float | None) -> str:
    return "—" if value is None else f"{value / 1e6:.1f} MB"


def run_call(page: Any, method: str, args: list[Any], timeout_s: float,
             cancel_at: float | None = None) -> dict[str, Any]:
    """Run teachbox[method](...args) to its end (or cancel it once `cancel_at` of its images are done); return its
    outcome, seconds, the memory peaks seen while it ran, and the page's responsiveness meanwhile."""
    H.evaluate(page, START, [method, args])
    def reached(reading: dict[str, Any]) -> bool:
        progress = reading["progress"] or {}
        return cancel_at is not None and progress.get("phase") == "embedding" and \
            progress.get("done", 0) >= cancel_at * max(1, progress.get("total", 1))
    samples = watch(page, reached, timeout_s)
    cancel = None
    if cancel_at is not None and samples[-1]["settled"] is None:
        cancel = H.evaluate(page, CANCEL)
        samples += watch(page, lambda _r: False, timeout_s)
    run = H.evaluate(page, "() => window.__scale.run")
    settled = run["settled"]
    outcome: dict[str, Any] = {
        "ok": settled["ok"], "code": settled.get("code"), "message": settled.get("message"),
        "seconds": round((settled["t"] - run["started"]) / 1000, 1),
        "peak": {key: max((s[key] or 0) for s in samples) for key in MEMORY_KEYS},
        "last_progress": run["progress"], "responsiveness": responsiveness(page), "samples": len(samples)}
    if cancel is not None:
        outcome["cancel_ms"] = round(settled["t"] - cancel["asked"])
        outcome["cancelled_at"] = samples[-2]["progress"] if len(samples) > 1 else None
    if settled["ok"]:
        outcome["result"] = {key: value for key, value in settled["result"].items()
                             if key in ("samples", "counts", "error_count", "val_accuracy", "epochs", "fit_seconds",
                                        "train_count", "val_count", "inputSize")}
    return outcome


def responsiveness(page: Any) -> dict[str, Any]:
    seen = H.evaluate(page, RESPONSIVENESS)
    delays, tasks = seen["delays"], seen["longTasks"]
    return {"probes": len(delays), "delay_median_ms": round(H.percentile(delays, 0.5), 1) if delays else None,
            "delay_max_ms": round(max(delays), 1) if delays else None,
            "long_tasks": len(tasks), "long_tasks_over_100ms": sum(t > 100 for t in tasks),
            "longest_task_ms": round(max(tasks), 1) if tasks else None}


def settled_memory(page: Any) -> dict[str, Any]:
    """Memory after two forced collections: what stays held, not what a phase touched on its way."""
    H.evaluate(page, FORCED_GC)
    reading = sample(page)
    return {key: reading[key] for key in (*MEMORY_KEYS, "numTensors", "pss_by_kind")}


def open_ready(context: Any, url: str) -> Any:
    page = H.open_page(context, url, timeout_ms=600_000)
    started = time.monotonic()
    H.evaluate(page, "() => window.teachbox.ready")
    page.ready_s = round(time.monotonic() - started, 1)
    H.evaluate(page, PROBE)
    return page


def folder_pick(page: Any, folder: Path, timeout_s: float) -> dict[str, Any]:
    """The person's way: *Choose image folder…* with a folder of one sub-folder per class, then *Import*; the page's
    progress comes through the same events. Ends when the project holds the images."""
    H.evaluate(page, START, [None, []])
    started = time.monotonic()
    page.locator("#csv-folder").set_input_files(folder)
    chosen_s = round(time.monotonic() - started, 1)
    page.locator("#csv-import").click()
    expected = sum(1 for _ in folder.rglob("*.png"))
    samples = watch(page, lambda r: H.evaluate(page, "() => window.teachbox.project().samples") >= expected,
                    timeout_s)
    return {"seconds": round(time.monotonic() - started, 1), "set_input_files_s": chosen_s,
            "samples": H.evaluate(page, "() => window.teachbox.project().samples"),
            "peak": {key: max((s[key] or 0) for s in samples) for key in MEMORY_KEYS},
            "responsiveness": responsiveness(page)}


def measure(args: argparse.Namespace, results: dict[str, Any], url: str, csv_url: str, folder: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = H.Browser(playwright)
        profile = Path(tempfile.mkdtemp(prefix="scale-", dir=browser.profiles))
        context = browser.persistent(profile)
        try:
            page = open_ready(context, url)
            info = H.evaluate(page, "() => window.teachbox.info()")
            results["backend"], results["base"] = info["backend"], info["base"]["id"]
            results["browser"] = H.evaluate(page, "() => (navigator.userAgent.match(/Chrome\\/([\\d.]+)/) || [])[1]")
            results["after_ready"] = settled_memory(page)
            H.log("== loadDataset, cancelled at 30 %")
            results["cancel"] = run_call(page, "loadDataset", [csv_url], args.timeout, cancel_at=0.3)
            results["cancel"]["project_samples_after"] = H.evaluate(page, "() => window.teachbox.project().samples")
            H.log("== loadDataset, all images")
            results["load"] = run_call(page, "loadDataset", [csv_url], args.timeout)
            results["after_load"] = settled_memory(page)
            H.log("== train on every cached embedding")
            results["train"] = run_call(page, "train", [{"epochs": args.epochs}], args.timeout)
            results["after_train"] = settled_memory(page)
            H.log("== predict after training")
            results["predict_ms"] = H.evaluate(page, """async (url) => {
              const start = performance.now(); await window.teachbox.predict(url); return performance.now() - start;
            }""", csv_url.replace("labels.csv", "images/Parasitized/cell_00000.png"))
            H.log("== reload")
            page.close()
            page = open_ready(context, url)
            project = H.evaluate(page, "() => window.teachbox.project()")
            results["reload"] = {"ready_s": page.ready_s, "samples": project["samples"], "trained": project["trained"],
                                 "restore_ms": H.evaluate(page, "() => window.teachbox.info().timings.restore_ms"),
                                 "bytes": project["bytes"], "memory": settled_memory(page)}
            if not args.skip_folder:
                H.log("== folder picker, a new project")
                H.evaluate(page, "() => window.teachbox.newProject('scale via folder')")
                page.locator("#import > summary").click()
                results["folder"] = folder_pick(page, folder / "images", args.timeout)
                results["after_folder"] = settled_memory(page)
        finally:
            results["foreign_requests"] = browser.foreign_requests()
            context.close()
            browser.close()


# -- report ---------------------------------------------------------------------------------------------------------

def render(results: dict[str, Any]) -> str:
    def memory_cells(m: dict[str, Any] | None) -> str:
        if not m:
            return "— | — | — | — | —"
        return " | ".join(mb(m.get(k)) for k in MEMORY_KEYS)

    def lag(r: dict[str, Any]) -> str:
        x = r["responsiveness"]
        return (f"key answered in {x['delay_median_ms']} ms median, {x['delay_max_ms']} ms max ({x['probes']} keys); "
                f"{x['long_tasks_over_100ms']} task(s) over 100 ms, longest {x['longest_task_ms']} ms")

    n = results["images"]
    lines = [f"{n:,} distinct PNG cells (../shared's 2,800 malaria cells turned, mirrored and cropped under new names), "
             f"{results['created']}, Chromium {results.get('browser', '?')}, backend {results.get('backend', '?')}. "
             f"Command: `{results['command']}`", "",
             "| phase | result | seconds | JS heap | TF.js wasm heap | Python heap | IndexedDB | Chromium (PSS) |",
             "|---|---|---|---|---|---|---|---|",
             f"| after `ready` | | | {memory_cells(results.get('after_ready'))} |"]
    cancel = results.get("cancel")
    if cancel:
        at = cancel.get("cancelled_at") or {}
        lines.append(f"| `loadDataset`, `cancel()` at {at.get('done', '?'):,} of {at.get('total', '?'):,} | "
                     f"{cancel['code'] or 'finished'} after {cancel.get('cancel_ms', '?')} ms; the project holds "
                     f"{cancel['project_samples_after']} images | {cancel['seconds']} | "
                     f"{memory_cells(cancel['peak'])} (peaks) |")
    load = results.get("load")
    if load:
        result = load.get("result") or {}
        lines.append(f"| `loadDataset`, all | {result.get('samples', load.get('code'))} images, "
                     f"{result.get('error_count', '?')} errors; {n / max(load['seconds'], 1e-9):.0f} images/s | "
                     f"{load['seconds']} | {memory_cells(load['peak'])} (peaks) |")
        lines.append(f"| … settled after it | | | {memory_cells(results.get('after_load'))} |")
    for name in ("cancel", "load", "train"):
        if results.get(name) and not results[name]["ok"] and results[name]["code"] != "cancelled":
            lines.append(f"| `{name}` FAILED | {results[name]['code']}: {results[name]['message']} | | |")
    train = results.get("train")
    if train:
        result = train.get("result") or {}
        lines.append(f"| `train` on the cached embeddings | {result.get('train_count')} + {result.get('val_count')} "
                     f"images, {result.get('epochs')} epochs, validation accuracy {result.get('val_accuracy')} | "
                     f"{train['seconds']} | {memory_cells(train['peak'])} (peaks) |")
        lines.append(f"| … settled after it | | | {memory_cells(results.get('after_train'))} |")
    reload = results.get("reload")
    if reload:
        lines.append(f"| reload → `ready` | {reload['samples']} images restored, model {'back' if reload['trained'] else 'LOST'}; "
                     f"restoring the project {reload['restore_ms']} ms | {reload['ready_s']} | "
                     f"{memory_cells(reload['memory'])} |")
    folder = results.get("folder")
    if folder:
        lines.append(f"| folder picker (*Choose image folder…*, *Import*) | {folder['samples']} images; choosing "
                     f"took {folder['set_input_files_s']} s | {folder['seconds']} | {memory_cells(folder['peak'])} (peaks) |")
        lines.append(f"| … settled after it | | | {memory_cells(results.get('after_folder'))} |")
    lines += ["", "Chromium's PSS by kind of process, settled (Playwright's driver, which is not counted, in brackets):"]
    for name, label in (("after_ready", "after `ready`"), ("after_load", "after `loadDataset`"),
                        ("after_train", "after `train`"), ("after_folder", "after the folder import")):
        if results.get(name) and results[name].get("pss_by_kind"):
            by_kind = dict(results[name]["pss_by_kind"])
            driver = by_kind.pop("driver", None)
            lines.append(f"- {label}: {kinds(by_kind)} [driver {mb(driver)}]")
    lines += ["", "Responsiveness while working (a key pressed in a field every few seconds; long tasks block input):"]
    for name, label in (("cancel", "loading until cancelled"), ("load", "loading"), ("train", "training"),
                        ("folder", "folder import")):
        if results.get(name):
            lines.append(f"- {label}: {lag(results[name])}")
    if results.get("predict_ms") is not None:
        lines.append(f"- one `predict(url)` after training: {results['predict_ms']:.0f} ms")
    lines.append(f"- requests outside the page's origin: {len(results.get('foreign_requests', []))}")
    if results.get("errors"):
        lines += ["", "Errors: " + "; ".join(f"{k}: {v.splitlines()[-1]}" for k, v in results["errors"].items())]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    docs = H.ROOT / "docs" / "benchmarks.md"
    current = docs.read_text(encoding="utf-8")
    block = f"{SECTION_START}\n## Scale: 30,000 images\n\n{LEAD}\n\n{text}\n{SECTION_END}\n"
    if SECTION_START in current:
        head, rest = current.split(SECTION_START, 1)
        current = head + block + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    docs.write_text(current, encoding="utf-8")


def build_dist(out: Path) -> Path:
    """The default build (v1 α=0.25, the base a first visit gets) from ../shared's copy."""
    command = [sys.executable, str(H.ROOT / "build.py"), "--weights", str(H.MODELS / "mobilenet_v1_0.25_224"),
               "--out", str(out)]
    H.log("building dist: " + " ".join(command[1:]))
    subprocess.run(command, cwd=H.ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/scale.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=30_000, help="how many images (default 30,000)")
    parser.add_argument("--data", type=Path, help="where the images are written once and reused "
                                                   "(default: <tmp>/teachbox-scale-<N>)")
    parser.add_argument("--dist", type=Path, help="a built dist/ (default: build one with v1 α=0.25 from ../shared)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs at most (default 50)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds any one phase may take")
    parser.add_argument("--skip-folder", action="store_true", help="measure loadDataset only")
    parser.add_argument("--docs", action="store_true", help="also rewrite the Scale section of docs/benchmarks.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    data = (args.data or Path(tempfile.gettempdir()) / f"teachbox-scale-{args.images}").resolve()
    data.mkdir(parents=True, exist_ok=True)
    make_images(data, args.images)
    results: dict[str, Any] = {
        "schema": 1, "images": args.images,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/scale.py " + " ".join(argv), "machine": H.machine()}
    with tempfile.TemporaryDirectory(prefix="teachbox-scale-") as tmp:
        dist = args.dist.resolve() if args.dist else build_dist(Path(tmp) / "dist")
        with H.serve(dist, data.parent) as server:
            started = time.monotonic()
            try:
                measure(args, results, server.url, f"/scratch/{data.name}/labels.csv", data)
            except Exception as error:  # noqa: BLE001 - what was measured before the failure is still reported
                results.setdefault("errors", {})["measure"] = f"{type(error).__name__}: {error}"
                H.log(f"!! {error}")
            results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_end"] = H.loadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = render(results)
    print(text)
    if args.docs:
        write_docs(text)
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
