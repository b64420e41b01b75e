"""Teachbox benchmark: start-up, embedding throughput, time to a trained model, accuracy, predict latency, webcam
frames/s and memory, with Google's Teachable Machine library, the classic TF.js recipe and a bare TF.js loop as
peers on the same images in the same run.

    python bench/run.py [--dist DIR] [--runs 3] [--quick] [--only SECTION ...] [--json PATH] [--docs]

Prints a markdown table and writes bench/results/latest.json (+ latest.md beside it); --docs also rewrites
docs/benchmarks.md. See docs/development.md, "Benchmarks", and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as H
import scenarios as S

SECTIONS = ("start", "teachbox", "backends", "bare", "classic", "tm")
V1 = "mobilenet_v1_0.25_224"
V2 = "mobilenet_v2_0.35_224_no_top"
RESULTS = H.BENCH / "results"
SCALE_START, SCALE_END = "<!-- scale: written by bench/scale.py --docs -->", "<!-- /scale -->"  # scale.py's markers


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="reuse this built dist/ (it must contain both bases) instead of "
                                                  "building one into a temporary folder")
    parser.add_argument("--keep-dist", type=Path, metavar="DIR",
                        help="build into DIR (e.g. bench/dist) and keep it, for later --dist runs")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of every figure (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="small counts (2×100 training, 2×50 test images, …) to validate the harness")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                        help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="results file")
    parser.add_argument("--docs", action="store_true", help="also rewrite docs/benchmarks.md from this run")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="measure nothing: print the table of an earlier results file (with --docs: rewrite "
                             "docs/benchmarks.md from it)")
    return parser.parse_args(argv)


# -- data ---------------------------------------------------------------------------------------------------------

def prepare_data(scratch: Path, sizes: S.Sizes, server_url: str) -> S.Data:
    """Malaria cells: a stratified training set and a disjoint stratified test set (fixed seeds), CSVs in scratch."""
    rows = H.read_labels("malaria")
    train = H.stratified(rows, sizes.train_per_class, seed=1, shuffle=True)
    test = H.stratified(rows, sizes.test_per_class, seed=2, exclude={path for path, _ in train},
                        shuffle=True)
    embed = train[:sizes.embed_images]  # prefix of a seeded shuffle of a stratified draw: still balanced
    slow = train[:sizes.slow_embed_images]
    csvs = {name: H.write_csv(scratch, name, part, "malaria")
            for name, part in (("train", train), ("test", test), ("embed", embed), ("slow", slow))}
    predict_urls = [f"{server_url}scratch/test/{path}" for path, _ in test]
    return S.Data(csvs["train"], csvs["test"], csvs["embed"], csvs["slow"], sorted({label for _, label in rows}),
                  predict_urls, len(train), len(test))


# -- running ------------------------------------------------------------------------------------------------------

def section(results: dict[str, Any], name: str, fn: Any) -> Any:
    """Run one measurement; a failure is recorded (and printed) and the benchmark goes on with the next one."""
    started = time.monotonic()
    H.log(f"== {name}")
    try:
        value = fn()
    except Exception as error:  # noqa: BLE001 - one broken peer must not lose the other figures
        H.log(f"!! {name} failed: {error}")
        results.setdefault("errors", {})[name] = traceback.format_exc(limit=3) + str(error)
        value = None
    results.setdefault("section_seconds", {})[name] = round(time.monotonic() - started, 1)
    return value


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sizes = S.Sizes.for_mode(args.quick)
    runs = max(1, args.runs)
    only = set(args.only or SECTIONS)
    results: dict[str, Any] = {
        "schema": 1, "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "mode": "quick" if args.quick else "full", "runs": runs, "sizes": sizes.__dict__,
        "machine": H.machine(), "notes": [], "teachbox": {}, "peers": {},
    }
    if "tm" in only and not H.TM_PACKAGE.is_dir():
        raise SystemExit("bench/peers has no @teachablemachine/image: run "
                         "`npm install --prefix bench/peers` (or `npm ci --prefix bench/peers`) first")
    with tempfile.TemporaryDirectory(prefix="teachbox-bench-") as tmp:
        tmp_path = Path(tmp)
        if args.dist:
            dist = args.dist.resolve()
        else:
            dist = H.build_dist((args.keep_dist or tmp_path / "dist").resolve())
        bases = [b["id"] for b in json.loads((dist / "models" / "bases.json").read_text())["bases"]]
        results["dist"] = {"path": str(dist), "bases": bases}
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        with H.serve(dist, scratch) as server, sync_playwright() as playwright:
            data = prepare_data(scratch, sizes, server.url)
            results["data"] = {"dataset": "malaria", "train_images": data.train_count, "test_images": data.test_count,
                               "embed_images": sizes.embed_images, "slow_embed_images": sizes.slow_embed_images,
                               "labels": data.labels, "split_seeds": {"train": 1, "test": 2}}
            browser = H.Browser(playwright)
            browser.launch()
            results["browser"] = {"name": "chromium", "version": browser.version, "executable": H.CHROMIUM,
                                  "headless": True, "args": H.CHROMIUM_ARGS}
            try:
                measure(results, browser, server.url, data, sizes, runs, only, bases)
            finally:
                results["foreign_requests"] = browser.foreign_requests()
                results["tm_model_requests"] = sorted({f for g in browser.guards for f in g.tm_files})
                browser.close()
    results["machine"]["loadavg_end"] = H.loadavg()
    return results


def fused_plan(topology: dict[str, Any]) -> dict[str, Any] | None:
    """The fused plan Teachbox makes for a model (py/teachbox/model/fusion_plan.py, pure Python), as JSON."""
    from teachbox.model.fusion_plan import plan_fused

    plan = plan_fused(topology)
    return None if plan is None else plan.to_json()


def measure(results: dict[str, Any], browser: H.Browser, url: str, data: S.Data, sizes: S.Sizes, runs: int,
            only: set[str], bases: list[str]) -> None:
    teachbox, peers = results["teachbox"], results["peers"]
    v2 = V2 if V2 in bases else None
    if v2 is None:
        results["notes"].append(f"the dist has no {V2} base: its rows are missing (build with both --weights)")
    bypass = False
    if only & {"start", "teachbox", "backends"}:
        bypass, note = section(results, "preflight", lambda: S.preflight(browser, url)) or (False, None)
        if note:
            results["notes"].append(note)
        results["teachbox_csp_bypassed"] = bypass
    if "start" in only:
        teachbox["start"] = section(results, "start", lambda: S.teachbox_starts(browser, url, runs, bypass))
    if "teachbox" in only:
        main = section(results, "teachbox", lambda: S.teachbox_main(browser, url, data, sizes, runs, bypass, v2))
        if main:
            info = main.pop("info")
            results["versions"] = {"teachbox": info["version"], "python": info["python"],
                                   "pyodide": info["pyodide"], "tfjs": info["tfjs"]}
            results["backend"] = {"name": info["backend"], "reason": info["backendReason"]}
            teachbox.update(main)
    if "backends" in only:
        for backend in ("webgl", "cpu"):
            value = section(results, f"teachbox-{backend}", lambda backend=backend: S.teachbox_backend_page(
                browser, url, backend, data.slow_csv, runs, bypass))
            if value:
                teachbox.setdefault("embedding", {})[f"{backend}/{value['base']}"] = value
                if value["backend_used"] != backend:
                    results["notes"].append(f"?backend={backend} ran on {value['backend_used']}")
    if "bare" in only:
        peers["bare"] = {}
        size = get(teachbox, "training", "input_size")
        if size is None:
            size = 224
            results["notes"].append("Teachbox's training was not measured in this run: the bare loop ran at 224 px")
        for base in [V1] + ([v2] if v2 else []):
            value = section(results, f"bare-{base}", lambda base=base: S.bare(browser, url, base, data, sizes, runs,
                                                                                base == V1, size, fused_plan))
            if value:
                peers["bare"][base] = value
    if "classic" in only:
        peers["classic"] = section(results, "classic", lambda: S.classic(browser, url, data, sizes))
    if "tm" in only:
        tm = section(results, "teachable-machine", lambda: S.teachable_machine(browser, url, data, sizes, runs))
        if tm:
            tm["package"] = {"name": "@teachablemachine/image", "version": H.package_version(H.TM_PACKAGE),
                             "reports_version": tm["info"].get("tmImage"), "base": V2,
                             "settings": {"epochs": 50, "learningRate": 0.001, "batchSize": 16, "denseUnits": 100}}
        peers["teachable_machine"] = tm
    if browser.foreign_requests():
        results["notes"].append(f"requests left 127.0.0.1 (aborted): {browser.foreign_requests()[:5]}")


# -- table --------------------------------------------------------------------------------------------------------

def get(tree: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree or tree[key] is None:
            return None
        tree = tree[key]
    return tree


def cell(stat: Any, digits: int = 1, prefix: str = "") -> str:
    if not isinstance(stat, dict) or stat.get("median") is None:
        return "—"
    text = f"{prefix}{stat['median']:,.{digits}f}"
    if stat.get("n", 1) > 1 and stat["min"] != stat["max"]:
        text += f" ({stat['min']:,.{digits}f}–{stat['max']:,.{digits}f})"
    return text


def ratio(peer: Any, ours: Any) -> str:
    if not isinstance(peer, dict) or not isinstance(ours, dict) or not peer.get("median") or not ours.get("median"):
        return "—"
    return f"{peer['median'] / ours['median']:.2f}×"


def table(results: dict[str, Any]) -> str:
    tb, peers = results["teachbox"], results["peers"]
    tm, classic = peers.get("teachable_machine") or {}, peers.get("classic") or {}
    bare_v1, bare_v2 = get(peers, "bare", V1) or {}, get(peers, "bare", V2) or {}
    sizes = results["sizes"]
    n_train, n_test = get(results, "data", "train_images"), get(results, "data", "test_images")
    k = classic.get("epochs_run", sizes["classic_epochs"])
    emb = tb.get("embedding") or {}
    px = get(tb, "training", "input_size") or bare_v1.get("input_size")
    at = f" at {px} px" if px else ""
    rows: list[tuple[str, Any, Any, Any, Any, int]] = [
        # (figure, Teachbox, Teachable Machine, classic, bare, digits)
        ("**Start-up** (bare: Pyodide alone from the same dist)", None, None, None, None, 0),
        ("cold start → `teachbox.ready` (ms; bare: Pyodide's first Python statement)",
         get(tb, "start", "cold_ready_ms"), None, None, get(tb, "start", "cold_bare_pyodide_ms"), 0),
        ("warm start → `teachbox.ready` (ms; bare: Pyodide's first Python statement)",
         get(tb, "start", "warm_ready_ms"), None, None, get(tb, "start", "warm_bare_pyodide_ms"), 0),
        ("cold: Pyodide's wasm received by (ms)", get(tb, "start", "cold_pyodide_wasm_done_ms"), None, None, None, 0),
        ("cold: the app's first Python statement at (ms)", get(tb, "start", "cold_python_ms"), None, None,
         get(tb, "start", "cold_bare_pyodide_ms"), 0),
        ("warm: the app's first Python statement at (ms)", get(tb, "start", "warm_python_ms"), None, None,
         get(tb, "start", "warm_bare_pyodide_ms"), 0),
        ("cold: Pyodide started normally in (ms)", get(tb, "start", "cold_python_load_ms"), None, None, None, 0),
        ("warm: Pyodide restored from its stored snapshot in (ms)", get(tb, "start", "warm_python_load_ms"), None,
         None, None, 0),
        ("warm: TF.js backend chosen at (ms)", get(tb, "start", "warm_backend_ms"), None, None, None, 0),
        ("cold first contentful paint (ms)", get(tb, "start", "cold_fcp_ms"), None, None, None, 0),
        ("warm first contentful paint (ms)", get(tb, "start", "warm_fcp_ms"), None, None, None, 0),
        (f"**Embedding throughput** (images/s, higher is better; Teachbox and bare{at}, the size Teachbox trained "
         "at with default settings; TM and classic always 224 px)", None, None, None, None, 0),
        (f"wasm, MobileNet v1 α=0.25, {sizes['embed_images']} images (bare: `model.predict`)",
         get(emb, f"wasm/{V1}", "images_per_s"), None, None, get(bare_v1, "embedding", "images_per_s"), 1),
        ("… bare running the base as Teachbox's fused ops", get(emb, f"wasm/{V1}", "images_per_s"), None, None,
         get(bare_v1, "embedding_fused", "images_per_s"), 1),
        (f"wasm, MobileNet v2 α=0.35, {sizes['embed_images']} images (TM: addExample, {n_train} images)",
         get(emb, f"wasm/{V2}", "images_per_s"), get(tm, "add_images_per_s"), None,
         get(bare_v2, "embedding", "images_per_s"), 1),
        ("… bare running the base as Teachbox's fused ops", get(emb, f"wasm/{V2}", "images_per_s"), None, None,
         get(bare_v2, "embedding_fused", "images_per_s"), 1),
        (f"webgl (SwiftShader), v1, {sizes['slow_embed_images']} images", get(emb, f"webgl/{V1}", "images_per_s"),
         None, None, None, 2),
        (f"cpu, v1, {sizes['slow_embed_images']} images", get(emb, f"cpu/{V1}", "images_per_s"), None, None, None, 2),
        (f"wasm, v1, loading the {n_train}-image training CSV", get(tb, "training", "embed_images_per_s"),
         None, None, None, 1),
        (f"**Malaria {n_train} images → trained model** (seconds, lower is better)", None, None, None, None, 0),
        ("load + embed the training images (classic: decode only)", get(tb, "training", "load_s"), tm.get("add_s"),
         classic.get("load_s"), None, 1),
        (f"train, 50 epochs max (classic: extrapolated from {k})", get(tb, "training", "train_s"), tm.get("train_s"),
         classic.get("train_50_s_extrapolated"), None, 1),
        ("**time to trained model**", get(tb, "training", "total_s"), tm.get("total_s"),
         classic.get("total_s_extrapolated"), None, 1),
        ("epochs run (Teachbox stops early; TM always 50) [no ratio]", get(tb, "training", "epochs"),
         tm.get("epochs"), H.summary([k]) if classic else None, None, 0),
        (f"**accuracy** on {n_test} held-out images (classic: after {k} epoch(s))", get(tb, "training", "accuracy"),
         tm.get("accuracy"), classic.get("accuracy_after_epochs_run"), None, 3),
        ("*Teachbox `quality: \"best\"`:* time to trained model", get(tb, "training_best", "total_s"),
         tm.get("total_s"), None, None, 1),
        ("*Teachbox `quality: \"best\"`:* accuracy", get(tb, "training_best", "accuracy"), tm.get("accuracy"), None,
         None, 3),
        ("*same base as TM (v2 α=0.35), Teachbox 1 run:* time to trained model", get(tb, "training_v2", "total_s"),
         tm.get("total_s"), None, None, 1),
        ("*same base as TM:* accuracy", get(tb, "training_v2", "accuracy"), tm.get("accuracy"), None, None, 3),
        (f"**Prediction** (ms, lower is better; Teachbox's model and bare{at}; TM runs v2 α=0.35 at 224 px)",
         None, None, None, None, 0),
        ("predict(decoded `<img>`) median", get(tb, "predict", "img", "median_ms"),
         get(tm, "predict", "img", "median_ms"), None, get(bare_v1, "predict", "img", "median_ms"), 1),
        ("predict(decoded `<img>`) p95", get(tb, "predict", "img", "p95_ms"), get(tm, "predict", "img", "p95_ms"),
         None, get(bare_v1, "predict", "img", "p95_ms"), 1),
        ("… bare running the models as Teachbox's fused ops: median", get(tb, "predict", "img", "median_ms"),
         None, None, get(bare_v1, "predict_fused", "img", "median_ms"), 1),
        ("predict(image URL) median (fetch + decode + predict)", get(tb, "predict", "url", "median_ms"),
         get(tm, "predict", "url", "median_ms"), None, get(bare_v1, "predict", "url", "median_ms"), 1),
        ("… bare running the models as Teachbox's fused ops: median", get(tb, "predict", "url", "median_ms"),
         None, None, get(bare_v1, "predict_fused", "url", "median_ms"), 1),
        ("predict(image URL) p95", get(tb, "predict", "url", "p95_ms"), get(tm, "predict", "url", "p95_ms"), None,
         get(bare_v1, "predict", "url", "p95_ms"), 1),
        ("webcam loop, frames/s (higher is better)", get(tb, "webcam", "fps"), get(tm, "webcam", "fps"), None,
         get(bare_v1, "webcam", "fps"), 1),
    ]
    header = ("| figure | Teachbox | Teachable Machine | TM ÷ TB | classic recipe | classic ÷ TB | bare TF.js | "
              "bare ÷ TB |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for name, ours, tm_v, classic_v, bare_v, digits in rows:
        if ours is None and tm_v is None and classic_v is None and bare_v is None:
            lines.append(f"| {name} | | | | | | | |")
            continue
        rate = ratio
        if name.endswith(" [no ratio]"):
            name, rate = name[:-len(" [no ratio]")], (lambda *_: "")
        approx = "~" if "extrapolated" in name or "trained model" in name else ""
        lines.append(f"| {name} | {cell(ours, digits)} | {cell(tm_v, digits)} | {rate(tm_v, ours)} | "
                     f"{cell(classic_v, digits, approx)} | {rate(classic_v, ours)} | {cell(bare_v, digits)} | "
                     f"{rate(bare_v, ours)} |")
    memory = tb.get("memory")
    if memory:
        lines.append(f"| **Memory** after {memory['trainings']} trainings + {memory['predictions']} predictions "
                     "(vs after ready; then after reset()) | | | | | | | |")
        for key, label, scale, unit in (("numTensors", "numTensors", 1, ""), ("numBytes", "numBytes", 1e6, " MB"),
                                        ("jsHeap", "JS heap", 1e6, " MB"),
                                        ("tfWasmHeap", "TF.js wasm heap", 1e6, " MB")):
            base, after, reset = (memory[phase].get(key) for phase in ("baseline", "after", "after_reset"))
            if base is None or after is None or reset is None:
                continue
            digits = 0 if scale == 1 else 1
            lines.append(f"| {label} | {base / scale:,.{digits}f} → {after / scale:,.{digits}f}{unit} "
                         f"(Δ {(after - base) / scale:+,.{digits}f}); after reset {reset / scale:,.{digits}f}{unit} "
                         "| | | | | | |")
    return "\n".join(lines)


def legend(results: dict[str, Any]) -> str:
    runs = results["runs"]
    return (f"Cells: median (min–max) over {runs} run(s); one value where there is one measurement. Ratios are "
            "peer ÷ Teachbox of the same figure (for times below 1 means the peer is faster; for images/s, "
            "frames/s and accuracy above 1 means the peer is faster or more accurate). Teachable Machine runs its own base (MobileNet v2 α=0.35); "
            "compare its embedding rate with Teachbox's v2 row. Its add-examples time is measured once (run 1); "
            "runs 2… retrain the same examples with other fixed seeds. The classic recipe runs once, a few epochs, "
            "extrapolated to 50 (\"~\").")


def machine_line(results: dict[str, Any]) -> str:
    m, b = results["machine"], results.get("browser", {})
    v = results.get("versions", {})
    backend = results.get("backend", {})
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM ({m['os']}); load average at start "
            f"{m.get('loadavg_start')}, at end {m.get('loadavg_end')}. Chromium {b.get('version')} headless. "
            f"Teachbox {v.get('teachbox')} (Python {v.get('python')}, Pyodide {v.get('pyodide')}, "
            f"TF.js {v.get('tfjs')}), backend {backend.get('name')} ({backend.get('reason')}).")


def accuracy_line(results: dict[str, Any]) -> str | None:
    """Teachbox's and TM's median accuracies compared with the test set's own uncertainty: on n held-out images an
    accuracy near 0.9 is only known to about ±2.4 points (95%), so a smaller gap says nothing either way."""
    ours, theirs = get(results, "teachbox", "training", "accuracy"), get(results, "peers", "teachable_machine",
                                                                         "accuracy")
    n = get(results, "data", "test_images")
    if not (isinstance(ours, dict) and isinstance(theirs, dict) and n):
        return None
    a, b = ours["median"], theirs["median"]
    half = 1.96 * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    verdict = "within" if abs(a - b) <= half else "outside"
    return (f"Accuracy: Teachbox {a:.3f}, Teachable Machine {b:.3f} (medians) on the same {n} held-out images: "
            f"difference {a - b:+.3f}, {verdict} the ±{half:.3f} that {n} test images can resolve (95%, normal "
            "approximation).")


def report(results: dict[str, Any]) -> str:
    heading = (f"Mode: {results['mode']}, {results['runs']} run(s), {results['created']}, "
               f"{results.get('wall_seconds', '?')} s in all. Command: `{results['command']}`")
    parts = [heading, "", table(results), "", legend(results), "", "Machine: " + machine_line(results)]
    accuracy = accuracy_line(results)
    if accuracy:
        parts += ["", accuracy]
    notes = list(results.get("notes", []))
    if results["mode"] == "quick":
        notes.insert(0, "quick mode validates the harness: small counts (accuracy on "
                        f"{get(results, 'data', 'test_images')} images moves by several points between runs); "
                        "compare figures from full runs only.")
    machine_info = results["machine"]
    busiest = max((load[0] for load in (machine_info.get("loadavg_start"), machine_info.get("loadavg_end")) if load),
                  default=0)
    if machine_info.get("cores") and busiest > 0.5 * machine_info["cores"]:
        notes.insert(0, f"the 1-minute load average reached {busiest} on {machine_info['cores']} cores: other "
                        "processes competed for the CPU, so single figures are noisy (peers and Teachbox ran at "
                        "different moments).")
    for note in notes:
        parts.append(f"\nNote: {note}")
    for name in results.get("errors", {}):
        parts.append(f"\nFailed section: {name} (see errors in the JSON)")
    return "\n".join(parts)


DOCS_HEADER = """# Benchmarks

Produced by `python bench/run.py` (docs/development.md, "Benchmarks"); this page is rewritten by `python bench/run.py --docs`,
and the raw figures of the run (every run's value, spreads, versions) are in `bench/results/latest.json`.

## What is measured

Everything runs in headless Debian Chromium on one machine, on the same malaria cell images
(`../shared/datasets/malaria`: a stratified training draw with seed 1 and a disjoint stratified test draw with seed 2),
with DNS cut off for every host but 127.0.0.1 (`--host-resolver-rules`); requests leaving 127.0.0.1 are recorded in
the JSON (`foreign_requests`, expected empty). Teachable Machine's model URLs on storage.googleapis.com are answered
from `../shared/models/mobilenet_v2_0.35_224_no_top` by Playwright routing. All timings are `performance.now()`
inside the page.

- **Start-up**: a new browser with a new profile folder (cold), then a new browser on the same folder (warm: HTTP
  cache, compiled wasm, the IndexedDB copy of the base and the Python snapshot are there). The cold page is left
  open until the Python snapshot a first visit makes (site/interpreter.mjs) is stored, as it would be in any visit
  lasting more than a few seconds; the warm start restores it. `teachbox.ready` is `info().timings.ready`
  (ms since navigation); "the app's first Python statement" is `info().timings.python`, i.e. when Pyodide, PyScript
  and the `teachbox` package are up. The floor is bench/pyodide.html: `loadPyodide()` from the same dist's files and
  one Python statement, cold and warm in its own profile, alternating run by run with Teachbox's. First contentful
  paint from the Paint Timing API.
- **Embedding throughput**: `teachbox.loadDataset(csv)` of N images / seconds (it fetches, sniffs, decodes,
  preprocesses and embeds every image), on `?backend=wasm|webgl|cpu` and on each base of the build
  (`useBase`). Teachbox reads the images at the input size of its default settings (224 px; `inputSize: "auto"`
  would read these ~130 px cells at 128). The bare TF.js page does the same work at the same size (fetch →
  `createImageBitmap` → `cropAndResize` → batches of 32, next batch decoding while the model runs) with no Python,
  once with the layers model's `model.predict` (the plain TF.js way) and once with the fused ops Teachbox runs the
  base as (batch-norm folded into the convolutions, activations fused: `py/teachbox/model/fusion_plan.py`, whose plan the
  benchmark computes on CPython, run by the build's `kernels.js`): that second figure is Teachbox's floor. The
  same two ways for predict latency.
  Teachable Machine and the classic recipe always work at 224 px.
- **Time to trained model**: `reset()` → `loadDataset(train CSV)` → `train()` with defaults; accuracy is
  `evaluate(test CSV).accuracy`. *Best* runs first `setSettings({quality: "best"})`, as ticking the Train panel's
  box does before images are added (the images are then embedded once, on the base *best* trains on), then
  `train({quality: "best"})`. Teachable Machine (`@teachablemachine/image` 0.8.5 on this build's TF.js 4.22 +
  wasm): `createTeachable(…, {version: 2, alpha: 0.35})`, every image centre-cropped into a 224×224 canvas and
  `addExample`'d, `train({epochs: 50, learningRate: 0.001, batchSize: 16, denseUnits: 100})`, accuracy through its
  `predict()`. Its runs use fixed seeds (`setSeed("bench-N")`); run 1 adds the examples, runs 2… retrain the same
  examples with the next seed (adding examples costs the same every time). The classic recipe (bench/classic.js:
  MobileNet v1 0.25 cut at `conv_pw_13_relu`, frozen, flatten → dense(100) → softmax, `fitDataset` over the images
  every epoch) runs a few epochs; 50 are extrapolated from the steady epoch time ("~"). Its accuracy is after those
  few epochs only. Note that TF.js runs the frozen base's batch-norm layers in training mode inside `fit`, as the
  recipe does.
- **Prediction**: `teachbox.predict()` on decoded `<img>` elements and on image URLs (real held-out images), median
  and p95 per run; the webcam loop awaits `predict(video)` on Chromium's fake 640×480 camera for a few seconds. The
  model predicting is the default one trained on the malaria cells (at its input size; after the *best* runs the
  page goes back to the default base and settings and trains once more); the bare loop runs at that size too.
- **Accuracy** differences are compared with what the test set can resolve: 600 images pin an accuracy near 0.9
  down to about ±2.4 points (95%), so the line under the table says whether a gap is outside that.
- **Memory**: `teachbox.memory()` (numTensors, numBytes), `performance.memory.usedJSHeapSize` after two forced
  collections, and the TF.js wasm heap size (wasm memory only grows: a high-water mark), right after `ready`, after the
  trainings (at least 3) + the predictions, and after `reset()`.

"""


def write_docs(text: str) -> None:
    """Rewrite docs/benchmarks.md from this run, keeping the section bench/scale.py owns (its own, longer run)."""
    docs = H.ROOT / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    current = docs.read_text(encoding="utf-8") if docs.exists() else ""
    scale = ""
    if SCALE_START in current:
        scale = "\n" + SCALE_START + current.split(SCALE_START, 1)[1].split(SCALE_END, 1)[0] + SCALE_END + "\n"
    docs.write_text(DOCS_HEADER + "## Latest run\n\n" + text + "\n" + scale, encoding="utf-8")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text(encoding="utf-8"))
        text = report(results)
        if args.docs:
            write_docs(text)
        print(text)
        return 0
    started = time.monotonic()
    results = run(args)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    results["table_markdown"] = table(results)
    text = report(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.json.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    if args.docs:
        write_docs(text)
    print(text)
    print()
    print(json.dumps(results, indent=2, ensure_ascii=False))
    H.log(f"done in {results['wall_seconds']:.0f} s; wrote {args.json} and {args.json.with_suffix('.md')}")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
