"""The measurements. Each scenario drives one kind of page and returns plain JSON-able numbers; run.py sequences
them, summarises them (median, min, max over runs) and prints the table.

All timings are taken inside the page with performance.now() (no Playwright round trips in the figures).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Browser, evaluate, log, open_page, percentile, summary

TIMEOUT_MS = 900_000  # one evaluate() may embed 1,400 images on a busy machine


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; `quick` validates the harness in a few minutes."""

    train_per_class: int
    test_per_class: int
    embed_images: int  # wasm throughput runs (Teachbox, bare)
    slow_embed_images: int  # webgl / cpu throughput runs (SwiftShader and plain JS are slow here)
    latency_predictions: int  # per latency run, per kind (decoded <img>, URL)
    memory_predictions: int
    webcam_seconds: float
    classic_epochs: int  # epochs actually run by the classic recipe; 50 are extrapolated from them

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(100, 50, 48, 4, 20, 60, 2.0, 1)
        return cls(700, 300, 200, 8, 50, 200, 5.0, 2)


@dataclass
class Data:
    """URLs (paths on the server) of the CSVs and image lists every scenario uses."""

    train_csv: str
    test_csv: str
    embed_csv: str
    slow_csv: str
    labels: list[str]
    predict_urls: list[str]  # real held-out images, for latency and the memory phase
    train_count: int
    test_count: int


def _training_run(page: Any, data: Data, label: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """reset → loadDataset(train CSV) → train(options; the defaults without) → evaluate(test CSV), on the active
    base. The reset empties the feature cache, so every run embeds its images again. Options are first made the
    project's settings, as ticking the Train panel's "Best accuracy" box does before images are added (the images
    are then embedded on the base that training uses)."""
    evaluate(page, "(settings) => window.teachbox.setSettings(settings)", options or {})
    loaded = evaluate(page, LOAD_DATASET, data.train_csv)
    trained = evaluate(page, TRAIN, options)
    scored = evaluate(page, EVALUATE, data.test_csv)
    row = {"load_s": loaded["seconds"], "samples": loaded["samples"], "load_errors": loaded["errors"],
           "embed_images_per_s": loaded["samples"] / loaded["seconds"], "train_s": trained["seconds"],
           "fit_s": trained["fit_seconds"], "epochs": trained["epochs"], "best_epoch": trained["best_epoch"],
           "val_accuracy": trained["val_accuracy"], "total_s": loaded["seconds"] + trained["seconds"],
           "accuracy": scored["accuracy"], "test_count": scored["count"], "eval_s": scored["seconds"],
           "input_size": trained["input_size"]}
    log(f"teachbox train {label} at {row['input_size']} px: load {row['load_s']:.1f} s + train "
        f"{row['train_s']:.1f} s ({row['epochs']} "
        f"epochs, best {row['best_epoch']}) = {row['total_s']:.1f} s; accuracy {row['accuracy']:.3f} on "
        f"{row['test_count']} (eval {row['eval_s']:.1f} s)")
    return row


def _training_summary(rows: list[dict[str, Any]], base: str) -> dict[str, Any]:
    keys = ("load_s", "train_s", "fit_s", "total_s", "epochs", "best_epoch", "accuracy", "eval_s",
            "embed_images_per_s")
    return {"base": base, "runs": rows, "input_size": rows[0]["input_size"],
            **{key: summary([r[key] for r in rows], 3) for key in keys}}


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before[k] if after.get(k) is not None and before.get(k) is not None else None
            for k in before}


def _latency(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2),
            "n": len(times)}


# -- Teachbox -----------------------------------------------------------------------------------------------------

TEACHBOX_READY = """async () => {
  const info = await window.teachbox.ready;
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  // When the page's files had arrived: the rest of the start-up is compiling and running (Pyodide, Python, TF.js).
  const resources = performance.getEntriesByType("resource").filter((r) => r.startTime < info.timings.ready);
  const ended = (test) => Math.max(0, ...resources.filter((r) => test(r.name)).map((r) => r.responseEnd));
  const files = {all: ended(() => true), pyodideWasm: ended((n) => n.endsWith("pyodide.asm.wasm")),
                 stdlib: ended((n) => n.endsWith("python_stdlib.zip")), python: ended((n) => n.includes("/py/teachbox")),
                 count: resources.length,
                 bytes: resources.reduce((sum, r) => sum + (r.transferSize || 0), 0)};
  return {timings: info.timings, fcp: paint ? paint.startTime : null, files, backend: info.backend,
          backendReason: info.backendReason, base: info.base, bases: info.bases.map((b) => b.id), version: info.version,
          python: info.python, pyodide: info.pyodide, tfjs: info.tfjs, interpreter: info.interpreter};
}"""

# After a start-up is measured: let the page finish what a visit longer than its start-up would (making the Python
# snapshot a normal start is followed by, site/interpreter.mjs), so the next, warm start sees a returning visitor's
# browser. Returns the snapshot's state.
SETTLE = """async () => {
  const state = window.teachboxInterpreter.state;
  for (let i = 0; i < 100 && state.snapshot === "none"; i++) await new Promise((r) => setTimeout(r, 100));
  return state.saved ? await state.saved : state.snapshot;
}"""

MEMORY = """async () => {
  // Two full collections with a pause between (video frames, Pyodide proxies and fetch bodies are freed lazily).
  for (let i = 0; i < 2; i++) { if (typeof window.gc === "function") window.gc(); await new Promise((r) => setTimeout(r, 200)); }
  const m = window.teachbox.memory();
  const wasm = tf.getBackend() === "wasm" && tf.backend().wasm ? tf.backend().wasm.HEAPU8.length : null;
  return {numTensors: m.numTensors, numBytes: m.numBytes, jsHeap: performance.memory ? performance.memory.usedJSHeapSize : null,
          tfWasmHeap: wasm};
}"""

BEST = {"quality": "best"}  # the Train panel's "Best accuracy" box

LOAD_DATASET = """async (url) => {
  window.teachbox.reset();
  const start = performance.now();
  const result = await window.teachbox.loadDataset(url);
  return {seconds: (performance.now() - start) / 1000, samples: result.samples, errors: result.error_count};
}"""

TRAIN = """async (options) => {
  const start = performance.now();
  const r = await window.teachbox.train(options || {});
  return {seconds: (performance.now() - start) / 1000, fit_seconds: r.fit_seconds, epochs: r.epochs,
          best_epoch: r.best_epoch, val_accuracy: r.val_accuracy, train_count: r.train_count, val_count: r.val_count,
          input_size: r.inputSize, tta: r.tta};
}"""

EVALUATE = """async (url) => {
  const start = performance.now();
  const r = await window.teachbox.evaluate(url);
  return {seconds: (performance.now() - start) / 1000, accuracy: r.accuracy, count: r.count, errors: r.errors.length};
}"""

PREDICT_TIMES = """async ({urls, kind}) => {
  const load = (url) => new Promise((resolve, reject) => {
    const img = new Image(); img.onload = () => resolve(img); img.onerror = () => reject(new Error(url)); img.src = url; });
  const items = kind === "img" ? await Promise.all(urls.map(load)) : urls;
  await window.teachbox.predict(items[0]);
  const times = [];
  for (const item of items) {
    const start = performance.now();
    await window.teachbox.predict(item);
    times.push(performance.now() - start);
  }
  return times;
}"""

PREDICT_MANY = """async (urls) => { for (const url of urls) await window.teachbox.predict(url); return urls.length; }"""

WEBCAM = """async (seconds) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
  const video = document.createElement("video");
  video.muted = true; video.playsInline = true; video.srcObject = stream;
  document.body.append(video);
  try {
    await video.play();
    while (!video.videoWidth) await new Promise((resolve) => setTimeout(resolve, 20));
    await window.teachbox.predict(video);
    let frames = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) { await window.teachbox.predict(video); frames++; }
    const elapsed = (performance.now() - start) / 1000;
    return {frames, seconds: elapsed, fps: frames / elapsed, width: video.videoWidth, height: video.videoHeight};
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    video.remove();
  }
}"""


def teachbox_ready(page: Any) -> dict[str, Any]:
    return evaluate(page, TEACHBOX_READY)


def preflight(browser: Browser, url: str) -> tuple[bool, str | None]:
    """Open Teachbox once (this also warms the OS file cache before the cold starts). Returns (bypass_csp, note):
    if the page cannot start under the Content-Security-Policy the server sends, the benchmark measures it with CSP
    bypassed and says so."""
    context = browser.context()
    try:
        page = open_page(context, url)
        teachbox_ready(page)
        return False, None
    except Exception as error:
        text = str(error)
        if "Content Security Policy" not in text:
            raise
        reason = text.split("\n")[0].split("could not start: ")[-1].split(" violates")[0]
        note = (f"Teachbox did not start under the Content-Security-Policy the server sends ({reason} violates "
                "it); every Teachbox page was measured with CSP bypassed (Playwright bypass_csp).")
        log("WARNING: " + note)
        return True, note
    finally:
        context.close()


def _cold_then_warm(browser: Browser, bypass_csp: bool, measure: Any) -> dict[str, Any]:
    """measure(context) in a new profile folder (cold), then again in the same folder after a browser restart
    (warm: HTTP cache, compiled wasm, IndexedDB and the service worker's cache are there)."""
    profile = Path(tempfile.mkdtemp(prefix="cold-", dir=browser.profiles))
    row: dict[str, Any] = {}
    try:
        for phase in ("cold", "warm"):
            context = browser.persistent(profile, bypass_csp)
            try:
                row[phase] = measure(context)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return row


def _teachbox_start(context: Any, url: str) -> dict[str, Any]:
    started = time.monotonic()
    page = open_page(context, url)
    info = teachbox_ready(page)
    wall = round(time.monotonic() - started, 2)
    snapshot = evaluate(page, SETTLE)
    return {"ready_ms": info["timings"]["ready"], "fcp_ms": info["fcp"],
            "python_start": info["interpreter"]["start"], "python_load_ms": info["interpreter"]["loadMs"],
            "snapshot_after": snapshot,
            "files_done_ms": round(info["files"]["all"], 1),
            "pyodide_wasm_done_ms": round(info["files"]["pyodideWasm"], 1),
            "transfer_bytes": info["files"]["bytes"], "requests": info["files"]["count"],
            "python_ms": info["timings"].get("python"), "backend_ms": info["timings"].get("backend"),
            "base_ms": info["timings"].get("base"), "base_source": info["base"].get("source"),
            "base_load_ms": info["base"].get("loadMs"), "wall_s": wall}


def _bare_pyodide_start(context: Any, server_url: str) -> dict[str, Any]:
    page = open_page(context, f"{server_url}bench/pyodide.html", TIMEOUT_MS)
    return {"python_ms": round(evaluate(page, "() => window.barePyodide")["pythonAt"], 1)}


def teachbox_starts(browser: Browser, url: str, runs: int, bypass_csp: bool) -> dict[str, Any]:
    """Cold then warm start of Teachbox, and of bare Pyodide from the same dist (its floor: loadPyodide and one
    Python statement), alternating run by run so both see the same machine load."""
    server_url = url.split("?")[0]
    rows, floor = [], []
    for run in range(runs):
        row = _cold_then_warm(browser, bypass_csp, lambda context: _teachbox_start(context, url))
        floor.append(_cold_then_warm(browser, False, lambda context: _bare_pyodide_start(context, server_url)))
        log(f"start run {run + 1}/{runs}: " + "; ".join(
            f"{phase} ready {row[phase]['ready_ms']:.0f} ms (files in by {row[phase]['files_done_ms']:.0f} ms, "
            f"{row[phase]['transfer_bytes'] / 1e6:.1f} MB over the wire; backend at {row[phase]['backend_ms']:.0f}, "
            f"base from {row[phase]['base_source']} in {row[phase]['base_load_ms']:.0f} ms; Python "
            f"{row[phase]['python_start']} in {row[phase]['python_load_ms']} ms; "
            f"bare Pyodide ran Python at {floor[-1][phase]['python_ms']:.0f} ms)" for phase in ("cold", "warm")))
        rows.append(row)
    result: dict[str, Any] = {"runs": rows, "bare_pyodide_runs": floor}
    for phase in ("cold", "warm"):
        for key in ("ready_ms", "fcp_ms", "files_done_ms", "pyodide_wasm_done_ms", "python_ms", "backend_ms",
                    "base_ms", "base_load_ms", "python_load_ms", "transfer_bytes"):
            result[f"{phase}_{key}"] = summary([r[phase][key] for r in rows], 1)
        result[f"{phase}_bare_pyodide_ms"] = summary([r[phase]["python_ms"] for r in floor], 1)
    return result


def teachbox_embedding(page: Any, csv: str, runs: int, label: str) -> dict[str, Any]:
    """loadDataset(N images) / seconds: it fetches, decodes, preprocesses and embeds every image."""
    values, counts = [], []
    for run in range(runs):
        result = evaluate(page, LOAD_DATASET, csv)
        values.append(result["samples"] / result["seconds"])
        counts.append(result["samples"])
        log(f"teachbox embed {label} run {run + 1}/{runs}: {result['samples']} images in {result['seconds']:.2f} s "
            f"= {values[-1]:.1f} img/s")
    evaluate(page, "() => window.teachbox.reset()")
    return {"images": counts[0], "images_per_s": summary(values, 2)}


def teachbox_backend_page(browser: Browser, base_url: str, backend: str, csv: str, runs: int,
                          bypass_csp: bool) -> dict[str, Any]:
    """Embedding throughput on ?backend=…; `backend_used` says what the page really ran on."""
    context = browser.context(bypass_csp)
    try:
        page = open_page(context, f"{base_url}?backend={backend}", TIMEOUT_MS)
        info = teachbox_ready(page)
        evaluate(page, SETTLE)
        result = teachbox_embedding(page, csv, runs, f"{backend}/{info['base']['id']}")
        return {**result, "backend_used": info["backend"], "base": info["base"]["id"]}
    finally:
        context.close()


def teachbox_main(browser: Browser, base_url: str, data: Data, sizes: Sizes, runs: int, bypass_csp: bool,
                  v2_base: str | None) -> dict[str, Any]:
    """One wasm page: memory baseline, `runs` × (load CSV → train → evaluate), 3 trainings + N predictions for
    memory, predict latency, webcam loop, then embedding throughput of both bases."""
    context = browser.context(bypass_csp)
    out: dict[str, Any] = {}
    try:
        page = open_page(context, base_url, TIMEOUT_MS)
        info = teachbox_ready(page)
        out["info"] = info
        evaluate(page, SETTLE)  # the first visit's snapshot worker must not compete with what is measured
        baseline = evaluate(page, MEMORY)
        trainings, rows = 0, []
        for run in range(runs):
            rows.append(_training_run(page, data, f"{info['base']['id']} run {run + 1}/{runs}"))
            trainings += 1
        out["training"] = _training_summary(rows, info["base"]["id"])
        best = [_training_run(page, data, f"{info['base']['id']} best run {run + 1}/{runs}", BEST)
                for run in range(runs)]
        out["training_best"] = {**_training_summary(best, info["base"]["id"]), "options": BEST}
        # *best* moved the page to its base and left its preset in the settings: back to the default base and
        # settings, and one more training, so the model the memory, latency and webcam figures measure (and the
        # embedding figure's base) are the default's, as their rows say.
        evaluate(page, "(id) => window.teachbox.useBase(id)", info["base"]["id"])
        evaluate(page, "() => window.teachbox.setSettings({})")
        evaluate(page, TRAIN)
        trainings += 1
        while trainings < 3:  # the memory figure is "after 3 trainings" at least: retrain on the loaded data set
            evaluate(page, TRAIN)
            trainings += 1
        urls = (data.predict_urls * (sizes.memory_predictions // len(data.predict_urls) + 1))[:sizes.memory_predictions]
        evaluate(page, PREDICT_MANY, urls)
        after = evaluate(page, MEMORY)
        out["predict"] = predict_latency(page, PREDICT_TIMES, data, sizes, runs, "teachbox")
        out["webcam"] = webcam(page, WEBCAM, sizes, runs, "teachbox")
        evaluate(page, "() => window.teachbox.reset()")
        after_reset = evaluate(page, MEMORY)
        out["memory"] = {"trainings": trainings, "predictions": len(urls), "baseline": baseline, "after": after,
                         "after_reset": after_reset,
                         "delta": _delta(after, baseline), "delta_after_reset": _delta(after_reset, baseline),
                         "note": "after = right after the trainings and predictions (data set and model still "
                                 "loaded); after_reset = after the latency/webcam runs and teachbox.reset()"}
        log(f"teachbox memory: numTensors {baseline['numTensors']} → {after['numTensors']} "
            f"(after reset {after_reset['numTensors']}), JS heap {baseline['jsHeap'] / 1e6:.1f} → "
            f"{after['jsHeap'] / 1e6:.1f} MB (after reset {after_reset['jsHeap'] / 1e6:.1f} MB)")
        out["embedding"] = {f"wasm/{info['base']['id']}": teachbox_embedding(page, data.embed_csv, runs,
                                                                              f"wasm/{info['base']['id']}")}
        if v2_base:
            evaluate(page, "(id) => window.teachbox.useBase(id)", v2_base)
            out["embedding"][f"wasm/{v2_base}"] = teachbox_embedding(page, data.embed_csv, runs, f"wasm/{v2_base}")
            # Once on Teachable Machine's base, to tell the pipeline from the base in the comparison with TM.
            out["training_v2"] = _training_summary([_training_run(page, data, f"{v2_base} (1 run)")], v2_base)
    finally:
        context.close()
    return out


def predict_latency(page: Any, script: str, data: Data, sizes: Sizes, runs: int, who: str) -> dict[str, Any]:
    """Single-image predict latency: `runs` × N predictions on decoded <img> elements and on image URLs."""
    urls = data.predict_urls[:sizes.latency_predictions]
    result: dict[str, Any] = {}
    for kind in ("img", "url"):
        per_run = [_latency(evaluate(page, script, {"urls": urls, "kind": kind})) for _ in range(runs)]
        result[kind] = {"runs": per_run, "median_ms": summary([r["median_ms"] for r in per_run], 2),
                        "p95_ms": summary([r["p95_ms"] for r in per_run], 2), "predictions": len(urls)}
        log(f"{who} predict({kind}): median {result[kind]['median_ms']['median']} ms, "
            f"p95 {result[kind]['p95_ms']['median']} ms")
    return result


def webcam(page: Any, script: str, sizes: Sizes, runs: int, who: str) -> dict[str, Any]:
    rows = [evaluate(page, script, sizes.webcam_seconds) for _ in range(runs)]
    rates = ", ".join(f"{r['fps']:.1f}" for r in rows)
    log(f"{who} webcam: {rates} frames/s")
    return {"runs": rows, "fps": summary([r["fps"] for r in rows], 2), "seconds": sizes.webcam_seconds,
            "frame": f"{rows[0]['width']}x{rows[0]['height']}"}


# -- bare TF.js floor ---------------------------------------------------------------------------------------------

BARE_PREDICT = "({urls, kind}) => window.bare.predictLatency(urls, kind)"
BARE_WEBCAM = "(seconds) => window.bare.webcam(seconds)"


def _bare_embedding(page: Any, data: Data, runs: int, label: str) -> dict[str, Any]:
    values = []
    for run in range(runs):
        r = evaluate(page, "(url) => window.bare.embed(url)", data.embed_csv)
        values.append(r["imagesPerSec"])
        log(f"bare embed {label} run {run + 1}/{runs}: {r['count']} images in {r['seconds']:.2f} s "
            f"= {r['imagesPerSec']:.1f} img/s")
    return {"images": r["count"], "images_per_s": summary(values, 2)}


def bare(browser: Browser, server_url: str, base: str, data: Data, sizes: Sizes, runs: int, full: bool,
         size: int, plan: Any) -> dict[str, Any]:
    """The floor: the same work as Teachbox without Python, at the input size Teachbox trained at; embedding and
    predicting both with the layers models' `predict` and with the fused ops Teachbox runs them as (`plan(topology)`
    is fusion.plan_fused as JSON, or None)."""
    context = browser.context(bypass_csp=True)
    try:
        page = open_page(context, f"{server_url}bench/bare.html?backend=wasm&base={base}&size={size}", TIMEOUT_MS)
        info = evaluate(page, "() => window.bare.ready")
        out: dict[str, Any] = {"info": info, "input_size": size,
                               "embedding": _bare_embedding(page, data, runs, f"wasm/{base}")}
        out["predict"] = predict_latency(page, BARE_PREDICT, data, sizes, runs, f"bare/{base}")
        if full:
            out["webcam"] = webcam(page, BARE_WEBCAM, sizes, runs, f"bare/{base}")
        topologies = evaluate(page, "() => window.bare.topologies()")
        plans = [plan(topology) for topology in topologies]
        if None not in plans:  # the same loops on the fused ops Teachbox runs the base and a classifier as
            evaluate(page, "(plans) => window.bare.useFused(plans)", plans)
            out["embedding_fused"] = _bare_embedding(page, data, runs, f"wasm/{base} fused")
            out["predict_fused"] = predict_latency(page, BARE_PREDICT, data, sizes, runs, f"bare/{base} fused")
        out["memory"] = evaluate(page, "() => window.bare.memory()")
        return out
    finally:
        context.close()


# -- classic recipe -----------------------------------------------------------------------------------------------

def classic(browser: Browser, server_url: str, data: Data, sizes: Sizes, seed: int = 1) -> dict[str, Any]:
    """One bounded run: load the images, fit `classic_epochs` epochs (each re-embeds every image), extrapolate 50."""
    context = browser.context(bypass_csp=True)
    try:
        page = open_page(context, f"{server_url}bench/classic.html?backend=wasm", TIMEOUT_MS)
        info = evaluate(page, "() => window.classic.ready")
        loaded = evaluate(page, "(url) => window.classic.load(url)", data.train_csv)
        log(f"classic load: {loaded['count']} images in {loaded['seconds']:.1f} s")
        trained = evaluate(page, "([epochs, seed]) => window.classic.train(epochs, seed)",
                           [sizes.classic_epochs, seed])
        per_epoch_s = [ms / 1000 for ms in trained["epochMs"]]
        # The first epoch also pays one-time costs (kernel set-up, the generator's first batches); when more than
        # one epoch ran, extrapolate from the later ones.
        steady = per_epoch_s[1:] if len(per_epoch_s) > 1 else per_epoch_s
        epoch_s = sum(steady) / len(steady)
        train_50 = per_epoch_s[0] + epoch_s * 49
        log(f"classic train: {len(per_epoch_s)} epoch(s) {', '.join(f'{s:.1f}' for s in per_epoch_s)} s "
            f"→ 50 epochs ≈ {train_50:.0f} s")
        evaluate(page, "() => window.classic.freeImages()")
        scored = evaluate(page, "(url) => window.classic.evaluate(url)", data.test_csv)
        log(f"classic accuracy after {len(per_epoch_s)} epoch(s): {scored['accuracy']:.3f}")
        return {"info": info, "load_s": summary([loaded["seconds"]], 2), "images": loaded["count"],
                "epochs_run": len(per_epoch_s), "epoch_s": summary(per_epoch_s, 2),
                "train_50_s_extrapolated": summary([train_50], 1),
                "total_s_extrapolated": summary([loaded["seconds"] + train_50], 1),
                "accuracy_after_epochs_run": summary([scored["accuracy"]], 3), "eval_s": summary([scored["seconds"]], 2),
                "train_count": trained["trainCount"], "val_count": trained["valCount"]}
    finally:
        context.close()


# -- Teachable Machine --------------------------------------------------------------------------------------------

TM_PREDICT = "({urls, kind}) => window.tmBench.predictLatency(urls, kind)"
TM_WEBCAM = "(seconds) => window.tmBench.webcam(seconds)"


def teachable_machine(browser: Browser, server_url: str, data: Data, sizes: Sizes, runs: int) -> dict[str, Any]:
    """Run 1: createTeachable → addExample for every training image → train → predict every test image.
    Runs 2…n: a new model with another fixed seed, given run 1's examples (same images, same embeddings), trained
    and scored on run 1's test embeddings: training time and accuracy vary with the seed, adding examples does not."""
    context = browser.context(bypass_csp=True, route=True)
    try:
        page = open_page(context, f"{server_url}bench/tm.html", TIMEOUT_MS)
        info = evaluate(page, "() => window.tmBench.ready")
        baseline = evaluate(page, "() => window.tmBench.memory()")
        rows = []
        for run in range(runs):
            seed = f"bench-{run + 1}"
            row: dict[str, Any] = {"seed": seed}
            if run == 0:
                created = evaluate(page, "([labels, seed]) => window.tmBench.create(labels, seed)", [data.labels, seed])
                added = evaluate(page, "(url) => window.tmBench.addExamples(url)", data.train_csv)
                row.update(load_ms=created["loadMs"], add_s=added["seconds"], add_images_per_s=added["imagesPerSec"],
                           images=added["count"])
            else:
                evaluate(page, "(seed) => window.tmBench.cloneExamplesInto(seed)", seed)
            trained = evaluate(page, "() => window.tmBench.train()")
            row.update(train_s=trained["seconds"], epochs=trained["epochs"])
            if run == 0:
                scored = evaluate(page, "(url) => window.tmBench.evaluate(url, true)", data.test_csv)
                row.update(eval_s=scored["seconds"], eval_predict_s=scored["predictSeconds"], eval_via="predict()")
            else:
                scored = evaluate(page, "() => window.tmBench.evaluateCached()")
                row.update(eval_via="cached test embeddings → trained head")
            row.update(accuracy=scored["accuracy"], test_count=scored["count"])
            rows.append(row)
            log(f"teachable machine run {run + 1}/{runs} (seed {seed}): "
                + (f"add {row['add_s']:.1f} s + " if run == 0 else "") +
                f"train {row['train_s']:.1f} s; accuracy {row['accuracy']:.3f}")
        first = rows[0]
        out: dict[str, Any] = {
            "info": info, "runs": rows, "load_ms": summary([first["load_ms"]], 1),
            "add_s": summary([first["add_s"]], 2), "add_images_per_s": summary([first["add_images_per_s"]], 2),
            "train_s": summary([r["train_s"] for r in rows], 2),
            "total_s": summary([first["add_s"] + r["train_s"] for r in rows], 2),
            "accuracy": summary([r["accuracy"] for r in rows], 3), "eval_s": summary([first["eval_s"]], 2),
            "epochs": summary([r["epochs"] for r in rows], 0),
        }
        out["predict"] = predict_latency(page, TM_PREDICT, data, sizes, runs, "teachable machine")
        out["webcam"] = webcam(page, TM_WEBCAM, sizes, runs, "teachable machine")
        after = evaluate(page, "() => window.tmBench.memory()")
        out["memory"] = {"baseline": baseline, "after": after, "delta": _delta(after, baseline)}
        return out
    finally:
        context.close()
