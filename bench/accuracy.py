"""Teachbox accuracy study: k-fold cross-validation (patient-grouped on malaria) of the levers the product already
has — the base model and the head's hyper-parameters — each with its cost in seconds to a trained model.

    python bench/accuracy.py [--datasets NAME ...] [--bases ID ...] [--grid-bases ID ...] [--folds 5] [--seed 0]
                             [--quick] [--dist DIR] [--json PATH] [--docs] [--render JSON]

Everything goes through `window.teachbox` in headless Chromium, one page per (data set, base): every image is
embedded once (loadDataset of the whole set), then each fold loads only its training rows — the page's feature
cache is keyed by image URL, so that re-embeds nothing — trains once per head setting and scores the fold's held-out
rows with evaluate(csvUrl). Writes bench/results/accuracy.json; --docs also rewrites docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import folds as F
import harness as H
import scenarios as S

from teachbox.data.splits import patient_id

DATASETS = ("malaria", "rock_paper_scissors", "cats_vs_dogs")
BASES = ("mobilenet_v1_0.25_224", "mobilenet_v1_0.75_224", "mobilenet_v2_0.35_224_no_top")
DEFAULT_HEAD = "default"
BEST = "quality best"  # tta "auto" (train_options.PRESETS); the page's base stays, as `base` is given
# The grid: train() options, each a lever a user can pull (choose some with --heads: the machine is small).
HEADS: dict[str, dict[str, Any]] = {
    DEFAULT_HEAD: {},
    "hiddenUnits 0": {"hiddenUnits": 0},
    "hiddenUnits 256": {"hiddenUnits": 256},
    "dropout 0.25, l2 1e-3": {"dropout": 0.25, "l2": 0.001},
    "learningRate 3e-3": {"learningRate": 0.003},
    "epochs 20, patience 5": {"epochs": 20, "patience": 5},
    "tta 2": {"tta": 2},
    "tta 4": {"tta": 4},
    "depths 1": {"depths": 1},
    "depths 2": {"depths": 2},
    "depths 2, tta auto": {"depths": 2, "tta": "auto"},
    "views 4": {"views": 4},
    BEST: {"quality": "best"},
    # Fine-tuning MobileNet v1's last depthwise-separable block (after the head, at most 10 epochs at a tenth of the
    # rate: train_options.FINE_TUNE_*)
    "fineTuneLayers 2": {"fineTuneLayers": 2},
    "fineTuneLayers 2, tta auto": {"fineTuneLayers": 2, "tta": "auto"},
    # A regularised linear head (sklearn's logistic regression with C = 0.01 on these embeddings is about l2 0.01)
    "linear, l2 0.01": {"hiddenUnits": 0, "l2": 0.01},
    "linear, l2 0.01, depths 2, views 2, tta 2": {"hiddenUnits": 0, "l2": 0.01, "depths": 2, "views": 2, "tta": 2},
    "linear, l2 0.01, depths 2, tta auto": {"hiddenUnits": 0, "l2": 0.01, "depths": 2, "tta": "auto"},
    # Training-only augmentation views on top of *best* (train_options.AUGMENT_VIEWS): a scale change, shifted
    # crops, colour shifts; each view is embedded once per image, so each costs that many embeddings more
    "best, augment zoom": {"quality": "best", "augment": ["zoom"]},
    "best, augment crops": {"quality": "best", "augment": ["crops"]},
    "best, augment colour": {"quality": "best", "augment": ["colour"]},
    # How an image becomes a square (the default cuts the centred square of its shorter side)
    "crop squash": {"crop": "squash"},
    "crop pad": {"crop": "pad"},
    "best, crop squash": {"quality": "best", "crop": "squash"},
    "best, crop pad": {"quality": "best", "crop": "pad"},
}
QUICK_PER_CLASS = 30
RESULTS = H.BENCH / "results" / "accuracy.json"
DOCS = H.ROOT / "docs" / "accuracy.md"
CONCLUSIONS = "## Conclusions"

LOAD = """async (url) => {
  const before = window.teachbox.project().embedded;
  const start = performance.now();
  const r = await window.teachbox.loadDataset(url);
  return {seconds: (performance.now() - start) / 1000, samples: r.samples, errors: r.error_count,
          embedded: window.teachbox.project().embedded - before};
}"""

USE_BASE = """async (id) => {
  const start = performance.now();
  const r = await window.teachbox.useBase(id);
  return {seconds: (performance.now() - start) / 1000, base: window.teachbox.info().base.id};
}"""

TRAIN_EVALUATE = """async ({options, test}) => {
  const start = performance.now();
  const r = await window.teachbox.train(options);
  const trained = performance.now();
  const e = await window.teachbox.evaluate(test);
  return {train_s: (trained - start) / 1000, eval_s: (performance.now() - trained) / 1000, accuracy: e.accuracy,
          test_count: e.count, eval_errors: e.errors.length, epochs: r.epochs, best_epoch: r.best_epoch,
          val_accuracy: r.val_accuracy, train_count: r.train_count, val_count: r.val_count, input_size: r.inputSize,
          tta: r.tta};
}"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/accuracy.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS), metavar="NAME")
    parser.add_argument("--bases", nargs="+", default=list(BASES), metavar="ID",
                        help="bases to cross-validate with the default head and the best preset (default: all three)")
    parser.add_argument("--grid-bases", nargs="+", default=[BASES[0]], metavar="ID",
                        help=f"bases on which the whole head grid runs (default: {BASES[0]})")
    parser.add_argument("--heads", nargs="+", choices=list(HEADS), default=list(HEADS), metavar="NAME",
                        help="the grid's settings to run on the grid bases (default: all)")
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_PER_CLASS} images per class and two head settings, to validate the harness")
    parser.add_argument("--dist", type=Path, help="reuse this built dist/ (it must hold every base asked for)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--docs", type=Path, nargs="?", const=DOCS, metavar="PATH",
                        help=f"also write the report there (default {DOCS.relative_to(H.ROOT)}; its hand-written "
                             "conclusions are kept)")
    parser.add_argument("--render", type=Path, metavar="JSON", help="measure nothing: render an earlier results file")
    return parser.parse_args(argv)


# -- data -----------------------------------------------------------------------------------------------------------

@dataclass
class Folded:
    """One data set, its rows, the fold of every row and the CSV URLs the page loads."""

    name: str
    rows: list[tuple[str, str]]
    fold_of: list[int]
    all_csv: str
    train_csvs: list[str]
    test_csvs: list[str]

    def describe(self) -> dict[str, Any]:
        groups = {patient_id(path) for path, _ in self.rows}
        per_fold = []
        for fold in range(len(self.train_csvs)):
            _, test = F.split_rows(self.rows, self.fold_of, fold)
            per_fold.append({"test_images": len(test), "test_groups": len({patient_id(p) for p, _ in test}),
                             "classes": dict(sorted(_count(label for _, label in test).items()))})
        return {"images": len(self.rows), "groups": len(groups), "grouped": len(groups) < len(self.rows),
                "folds": per_fold}


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def fold_dataset(scratch: Path, name: str, k: int, seed: int, quick: bool) -> Folded:
    """Rows → folds (whole patient_id groups; for data sets whose names carry no group that is one image per group,
    i.e. a stratified k-fold) → one CSV of all rows plus a training and a test CSV per fold."""
    rows = H.read_labels(name)
    if quick:
        rows = H.stratified(rows, QUICK_PER_CLASS, seed=seed)
    fold_of = F.grouped_folds([label for _, label in rows], [patient_id(path) for path, _ in rows], k, seed)
    parts = {"all": rows}
    for fold in range(k):
        parts[f"fold{fold}-train"], parts[f"fold{fold}-test"] = F.split_rows(rows, fold_of, fold)
    urls = write_csvs(scratch / name, parts, name)
    return Folded(name, rows, fold_of, urls["all"], [urls[f"fold{f}-train"] for f in range(k)],
                  [urls[f"fold{f}-test"] for f in range(k)])


def write_csvs(folder: Path, parts: dict[str, list[tuple[str, str]]], dataset: str) -> dict[str, str]:
    """<part>.csv files side by side in one folder (URL paths returned by part). One folder, one `images` link:
    an image then has the same URL in every CSV, and the page's feature cache is keyed by URL, so a fold's
    training rows find the embeddings the whole-set load computed (harness.write_csv gives each CSV its own
    folder, hence its own image URLs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").symlink_to(H.SHARED / "datasets" / dataset / "images", target_is_directory=True)
    urls = {}
    for part, rows in parts.items():
        with open(folder / f"{part}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["path", "label"])
            writer.writerows(rows)
        urls[part] = f"/scratch/{folder.name}/{part}.csv"
    return urls


# -- measuring ------------------------------------------------------------------------------------------------------

def measure_page(browser: H.Browser, url: str, data: Folded, base: str, heads: dict[str, dict[str, Any]]
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One page on one base: embed every image once, then per fold load its training rows and train + evaluate each
    head setting. Returns the page's figures and one row per (head, fold)."""
    context = browser.context()
    try:
        page = H.open_page(context, url, S.TIMEOUT_MS)
        S.teachbox_ready(page)
        H.evaluate(page, S.SETTLE)  # the first visit's snapshot worker must not compete with what is measured
        switched = H.evaluate(page, USE_BASE, base)
        embedded = H.evaluate(page, LOAD, data.all_csv)
        H.log(f"{data.name} on {base}: {embedded['embedded']} images embedded in {embedded['seconds']:.1f} s")
        page_figures = {"dataset": data.name, "base": base, "use_base_s": switched["seconds"],
                        "active_base": switched["base"], "embed_s": embedded["seconds"],
                        "embedded": embedded["embedded"], "samples": embedded["samples"],
                        "load_errors": embedded["errors"], "fold_loads": []}
        rows = []
        for fold, (train_csv, test_csv) in enumerate(zip(data.train_csvs, data.test_csvs)):
            loaded = H.evaluate(page, LOAD, train_csv)
            page_figures["fold_loads"].append(loaded)
            for head, options in heads.items():
                result = H.evaluate(page, TRAIN_EVALUATE, {"options": {**options, "base": base}, "test": test_csv})
                rows.append(_row(data.name, base, head, fold, result, loaded, embedded))
                H.log(f"{data.name} {base} fold {fold} {head}: accuracy {result['accuracy']:.3f} "
                      f"on {result['test_count']}, train {result['train_s']:.1f} s ({result['epochs']} epochs), "
                      f"eval {result['eval_s']:.1f} s")
        return page_figures, rows
    finally:
        context.close()


def _row(dataset: str, base: str, head: str, fold: int, result: dict[str, Any], loaded: dict[str, Any],
         embedded: dict[str, Any]) -> dict[str, Any]:
    """A (head, fold) result with its cost: embedding the fold's training images (at the rate this page measured
    over the whole set) plus the training itself."""
    embed_s = embedded["seconds"] * loaded["samples"] / embedded["samples"]
    return {"dataset": dataset, "base": base, "head": head, "fold": fold, **result,
            "fold_load_s": loaded["seconds"], "fold_reembedded": loaded["embedded"],
            "embed_s": round(embed_s, 2), "seconds_to_model": round(embed_s + result["train_s"], 2)}


def plan(args: argparse.Namespace) -> list[tuple[str, str, dict[str, dict[str, Any]]]]:
    """(data set, base, head settings) per page, in the order they run: the head grids first (on every data set),
    then the other bases with the default head and the best preset — so a run cut short still has the grid of every
    data set."""
    names = [DEFAULT_HEAD] + [name for name in args.heads if name != DEFAULT_HEAD]
    grid = {name: HEADS[name] for name in (names[:2] if args.quick else names)}
    default = {DEFAULT_HEAD: HEADS[DEFAULT_HEAD], BEST: HEADS[BEST]}
    others = [base for base in dict.fromkeys(args.bases) if base not in args.grid_bases]
    return ([(name, base, grid) for base in args.grid_bases for name in args.datasets]
            + [(name, base, default) for name in args.datasets for base in others])


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {
        "schema": 1, "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/accuracy.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "mode": "quick" if args.quick else "full", "folds": args.folds, "seed": args.seed, "heads": HEADS,
        "machine": H.machine(), "datasets": {}, "pages": [], "rows": [], "errors": [],
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="teachbox-accuracy-") as tmp:
        tmp_path = Path(tmp)
        dist = args.dist.resolve() if args.dist else build_dist(tmp_path / "dist")
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        folded = {name: fold_dataset(scratch, name, args.folds, args.seed, args.quick) for name in args.datasets}
        results["datasets"] = {name: data.describe() for name, data in folded.items()}
        with H.serve(dist, scratch) as server, sync_playwright() as playwright:
            browser = H.Browser(playwright)
            browser.launch()
            results["browser"] = {"name": "chromium", "version": browser.version, "args": H.CHROMIUM_ARGS}
            try:
                results["teachbox"] = page_info(browser, server.url)
                for name, base, heads in plan(args):
                    run_page(results, browser, server.url, folded[name], base, heads, args.json)
            finally:
                results["foreign_requests"] = browser.foreign_requests()
                browser.close()
    results["machine"]["loadavg_end"] = H.loadavg()
    results["wall_s"] = round(time.monotonic() - started, 1)
    return results


def build_dist(out: Path) -> Path:
    """The dist with every base of the study (harness.build_dist builds the benchmark's two)."""
    command = [sys.executable, str(H.ROOT / "build.py")]
    for base in BASES:
        command += ["--weights", str(H.MODELS / base)]
    H.log("building dist with " + ", ".join(BASES))
    subprocess.run(command + ["--out", str(out)], cwd=H.ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def page_info(browser: H.Browser, url: str) -> dict[str, Any]:
    """Versions, backend and the bases this dist offers (one short page)."""
    context = browser.context()
    try:
        info = S.teachbox_ready(H.open_page(context, url, S.TIMEOUT_MS))
        return {"version": info["version"], "backend": info["backend"], "pyodide": info.get("pyodide"),
                "tfjs": info.get("tfjs"), "bases": info["bases"], "default": info["base"]["id"]}
    finally:
        context.close()


def run_page(results: dict[str, Any], browser: H.Browser, url: str, data: Folded, base: str,
             heads: dict[str, dict[str, Any]], json_path: Path) -> None:
    """Measure one page; a failure is recorded and the study goes on. Results are saved after every page, so a
    run stopped half-way keeps what it measured."""
    started = time.monotonic()
    try:
        page_figures, rows = measure_page(browser, url, data, base, heads)
        page_figures["wall_s"] = round(time.monotonic() - started, 1)
        results["pages"].append(page_figures)
        results["rows"].extend(rows)
    except Exception as error:  # noqa: BLE001 - one broken page must not lose the others
        H.log(f"!! {data.name} on {base} failed: {error}")
        results["errors"].append({"dataset": data.name, "base": base, "error": str(error)[:2000]})
    write_json(results, json_path)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


# -- statistics and tables ------------------------------------------------------------------------------------------

def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def levers(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    """One line per (base, head) of a data set: accuracy over folds, the paired difference from the reference
    (default base, default head: same folds, so fold difficulty cancels) and the seconds to a trained model."""
    rows = [row for row in results["rows"] if row["dataset"] == dataset]
    by_lever: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_lever.setdefault((row["base"], row["head"]), {})[row["fold"]] = row
    reference = by_lever.get((BASES[0], DEFAULT_HEAD), {})
    lines = []
    for (base, head), per_fold in by_lever.items():
        ordered = [per_fold[fold] for fold in sorted(per_fold)]
        accuracy = [row["accuracy"] for row in ordered]
        paired = [per_fold[f]["accuracy"] - reference[f]["accuracy"] for f in sorted(per_fold) if f in reference]
        lines.append({"base": base, "head": head, "accuracy": mean_sd(accuracy), "per_fold": accuracy,
                      "delta": mean_sd(paired) if paired and (base, head) != (BASES[0], DEFAULT_HEAD) else None,
                      "seconds": mean_sd([row["seconds_to_model"] for row in ordered]),
                      "embed_s": mean_sd([row["embed_s"] for row in ordered]),
                      "train_s": mean_sd([row["train_s"] for row in ordered]),
                      "epochs": mean_sd([row["epochs"] for row in ordered])})
    return lines


def beats_noise(delta: tuple[float, float] | None, n: int) -> str:
    """A paired difference whose mean is more than two standard errors from zero (about p < 0.05 for 5 folds would
    need 2.78; 2 is the lenient screen) — 'yes'/'no'; '' for the reference."""
    if delta is None:
        return ""
    mean, sd = delta
    if sd == 0:
        return "yes" if mean else "no"
    return "yes" if abs(mean) > 2 * sd / n ** 0.5 else "no"


def table(results: dict[str, Any], dataset: str) -> list[str]:
    out = ["| base | head | accuracy (mean ± sd) | per fold | Δ vs default, paired | beats noise | "
           "s to a trained model (embed + train) | epochs |",
           "|---|---|---|---|---|---|---|---|"]
    for line in levers(results, dataset):
        per_fold = " ".join(f"{value:.3f}" for value in line["per_fold"])
        delta = "reference" if line["delta"] is None else f"{line['delta'][0]:+.3f} ± {line['delta'][1]:.3f}"
        out.append(f"| {line['base']} | {line['head']} | {line['accuracy'][0]:.3f} ± {line['accuracy'][1]:.3f} | "
                   f"{per_fold} | {delta} | {beats_noise(line['delta'], len(line['per_fold']))} | "
                   f"{line['seconds'][0]:.1f} ({line['embed_s'][0]:.1f} + {line['train_s'][0]:.1f}) | "
                   f"{line['epochs'][0]:.0f} |")
    return out


def pages_table(results: dict[str, Any]) -> list[str]:
    out = ["| data set | base | images embedded | embed s | images/s | fold reloads: s (re-embedded) | "
           "page wall s |", "|---|---|---|---|---|---|---|"]
    for page in results["pages"]:
        reloads = ", ".join(f"{load['seconds']:.1f} ({load['embedded']})" for load in page["fold_loads"])
        out.append(f"| {page['dataset']} | {page['base']} | {page['embedded']} | {page['embed_s']:.1f} | "
                   f"{page['embedded'] / page['embed_s']:.0f} | {reloads} | {page.get('wall_s', '')} |")
    return out


def folds_table(results: dict[str, Any]) -> list[str]:
    out = ["| data set | images | groups | grouped by | test images per fold | test groups per fold |",
           "|---|---|---|---|---|---|"]
    for name, info in results["datasets"].items():
        by = "patient (`patient_id`)" if info["grouped"] else "none (one image per group: stratified k-fold)"
        out.append(f"| {name} | {info['images']} | {info['groups']} | {by} | "
                   f"{' / '.join(str(f['test_images']) for f in info['folds'])} | "
                   f"{' / '.join(str(f['test_groups']) for f in info['folds'])} |")
    return out


def markdown(results: dict[str, Any], conclusions: str) -> str:
    m, tb = results["machine"], results.get("teachbox", {})
    lines = [
        "# Accuracy study",
        "",
        "Which of the levers Teachbox already has (the base model, the head's training options) buy accuracy, and "
        "what each costs in seconds to a trained model. Generated by `bench/accuracy.py`; the numbers below are "
        "from one run on one machine.",
        "",
        "## Run",
        "",
        f"- Command: `{results['command']}` ({results['mode']}, {results['wall_s'] / 60:.0f} min wall)",
        "- Dist: `build.py " + " ".join(f"--weights ../shared/models/{base}" for base in BASES) + "` (what the "
        "script builds into a temporary folder when no `--dist` is given; the first base is the default)",
        f"- Date: {results['created']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; load average {m['loadavg_start']} at the "
        f"start, {m.get('loadavg_end')} at the end (other jobs shared the machine)",
        f"- Browser: headless Chromium {results.get('browser', {}).get('version')}; Teachbox {tb.get('version')} on "
        f"the {tb.get('backend')} backend (Pyodide {tb.get('pyodide')}, TF.js {tb.get('tfjs')})",
        "- Head grid: " + "; ".join(f"`{name}` = `{json.dumps(opts)}`" for name, opts in results["heads"].items())
        + " (every other option at its default: 50 epochs, patience 15, batch 16, validationSplit 0.15, seed 42, "
          "224 px center crop, depths \"auto\"). `hiddenUnits 0` is softmax regression on the standardised embedding "
          "(no dropout; its L2 applies to the softmax layer since 2026-12-02, none before). `depths 2` is the base's "
          "mid-scale layer max-pooled beside its output since 2026-12-03 (the previous block, averaged, before), and "
          "the default where the base has it.",
        "",
        "## Folds",
        "",
        f"{results['folds']} folds, seed {results['seed']} (`bench/folds.py`). The group of an image is "
        "`teachbox.data.splits.patient_id(path)`: for malaria the NIH file-name prefix before `_IMG` (the patient's "
        "smear), so no patient is in both a fold's training and test rows. Rock-paper-scissors (random 16-character "
        "names) and cats vs dogs (`cat.<n>.jpg`) carry no grouping key in their names, so every image is its own group "
        "and the folds are a plain stratified k-fold (their PROVENANCE.md: near-duplicate groups were drawn at most "
        "once each when the development part was made, so leakage between folds is unlikely but not ruled out). "
        "Whole groups are placed largest first into the fold that keeps each class's count closest to a k-th of the "
        "class. Within a fold, `train()` still holds out its own 15 % validation split (rows of the training folds) "
        "for early stopping; the test fold is only seen by `evaluate(csvUrl)`.",
        "",
        *folds_table(results),
        "",
        "## Method and cost",
        "",
        "One page per (data set, base): `useBase(id)`, `loadDataset(all rows)` embeds every image once (the "
        "\"embed s\" below), then per fold `loadDataset(fold's training rows)` — a new project in the same page — "
        "and for each head setting `train(options)` then `evaluate(fold's test CSV)`. Seconds to a trained model = the "
        "fold's training images × this page's measured embedding time per image + `train()`'s wall time. Evaluation "
        "time is not part of it.",
        "",
        *pages_table(results),
        "",
    ]
    for name in results["datasets"]:
        lines += [f"## {name}", "", *table(results, name), ""]
    lines += ["Δ vs default is the per-fold difference from `mobilenet_v1_0.25_224` + default head on the same "
              "folds (mean ± sd); \"beats noise\" = the mean Δ is more than two standard errors from zero.", ""]
    if results["errors"]:
        lines += ["## Failures", ""] + [f"- {e['dataset']} on {e['base']}: {e['error'][:300]}"
                                         for e in results["errors"]] + [""]
    return "\n".join(lines) + "\n" + conclusions


def kept_conclusions(path: Path) -> str:
    """The hand-written conclusions of the report at `path` (regenerating the tables keeps them)."""
    if not path.is_file():
        return f"{CONCLUSIONS}\n\n(to be written from the tables above)\n"
    text = path.read_text(encoding="utf-8")
    start = text.find(CONCLUSIONS)
    return text[start:] if start >= 0 else f"{CONCLUSIONS}\n\n(to be written from the tables above)\n"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text(encoding="utf-8"))
    else:
        results = run(args)
        write_json(results, args.json)
    text = markdown(results, kept_conclusions(args.docs or DOCS))
    print(text)
    if args.docs:
        args.docs.write_text(text, encoding="utf-8")
        H.log(f"wrote {args.docs}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
