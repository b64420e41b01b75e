"""Bases side by side under *best*'s head, on CPython: the probe behind the two-base tables of docs/accuracy.md.

    python bench/pair_probe.py --dist DIST --sets SET [SET ...] [--datasets NAME ...] [--l2 0.045]
                               [--crop center-crop|squash|pad] [--folds 5] [--seed 0] [--cache DIR]

A set is one or more bases of DIST joined by `+`, each optionally read at another size: e.g.
`mobilenet_v1_0.75_224`, `mobilenet_v1_0.75_224+efficientnet_lite0_224@160`. Each base's features are the ones
the page's `depths: 2` makes from DIST's own model.json (the cut base the page runs): its output average-pooled
beside its mid-scale layer (`topology.earlier_depth`, the layer the page finds) max-pooled, for each image made
square as the page's `crop` option does (its default by default) and for its mirror image. A set's features are
its bases' side by side. The head is *best*'s: features standardised, softmax regression with L2 `--l2` on the
mean loss (C = 1 / (2 · l2 · n)), solved to its optimum (scikit-learn), and the mirror's probabilities averaged
in (`tta: 2`; the page's `"auto"` chooses 1 or 2 by its validation images, and holds 15 % of the training rows
out for that). Folds are bench/accuracy.py's (patient-grouped on malaria). Prints per set: mean ± sd over the
folds, each fold, and the paired difference from the first set.

Why on CPython: the page can only run one base per project, so a pair of bases cannot be measured there yet. The
same recipe reproduces the page's *best* on v1 α=0.75 on malaria (0.951 here, 0.949 in the page, fold by fold
within 0.006: accuracy.md, runs 7 and 9). Embeddings are cached under `--cache` (by data set, base, size, crop and
the model file's hash), so adding a set costs only its new bases. Needs the `keras` extra (TensorFlow,
tensorflowjs) and scikit-learn, like depth_probe.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import depth_probe as D
import folds as F
import harness as H

from teachbox.data.geometry import CROP_MODES, DEFAULT_CROP
from teachbox.data.splits import patient_id
from teachbox.model.topology import earlier_depth, layer_infos

CACHE = H.BENCH / "results" / "pair_probe"


def base_files(dist: Path, base: str) -> tuple[Path, str, str]:
    """(model.json, output layer, mid-scale layer) of one of DIST's bases; the page's [-1, 1] scaling only."""
    catalog = json.loads((dist / "models" / "bases.json").read_text(encoding="utf-8"))
    entry = next((b for b in catalog["bases"] if b["id"] == base), None)
    if entry is None:
        sys.exit(f"{dist} has no base {base!r}; it has {', '.join(b['id'] for b in catalog['bases'])}")
    if entry.get("preprocess", "tf") != "tf":
        sys.exit(f"{base} scales pixels as {entry['preprocess']!r}; this probe reads images as [-1, 1] only")
    model_json = dist / "models" / base / entry["modelJson"]
    tap = earlier_depth(layer_infos(json.loads(model_json.read_text(encoding="utf-8"))["modelTopology"]))
    if tap is None:
        sys.exit(f"{base} has no mid-scale layer for the page's second depth")
    return model_json, entry["cutLayer"], tap


def base_features(dist: Path, spec: str, dataset: str, cache: Path,
                  crop: str) -> tuple[list[str], list[str], np.ndarray]:
    """(paths, labels, [2, N, F]: the image and its mirror) of one `base[@size]`, embedded once and cached."""
    base, _, size = spec.partition("@")
    size = int(size or D.SIZE)
    model_json, output, tap = base_files(dist, base)
    file = cache / f"{dataset}__{base}@{size}__{crop}__{model_json.stem}.npz"
    if file.exists():
        saved = np.load(file)
        return list(saved["paths"]), list(saved["labels"]), saved["features"]
    views = []
    for mirrored in (False, True):
        paths, labels, pooled = D.embed(model_json, H.SHARED / "datasets" / dataset, size, [output, tap], mirrored,
                                        crop)
        views.append(np.concatenate([D.features(pooled, f"{output}:avg"), D.features(pooled, f"{tap}:max")], 1))
    features = np.stack(views)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, paths=paths, labels=labels, features=features)
    return paths, labels, features


def cross_validate(views: np.ndarray, labels: list[str], fold_of: list[int], k: int, l2: float) -> list[float]:
    """*best*'s head per fold, scored with the mirror's probabilities averaged in."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y, fold = np.array(labels), np.array(fold_of)
    scores = []
    for f in range(k):
        train, test = fold != f, fold == f
        scaler = StandardScaler().fit(views[0][train])
        head = LogisticRegression(C=1 / (2 * l2 * train.sum()), max_iter=5000)
        head.fit(scaler.transform(views[0][train]), y[train])
        probabilities = sum(head.predict_proba(scaler.transform(view[test])) for view in views) / len(views)
        scores.append(float((head.classes_[probabilities.argmax(1)] == y[test]).mean()))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, required=True, help="a build holding every base the sets name")
    parser.add_argument("--sets", nargs="+", required=True, metavar="SET", help="bases joined by +, each [@size]")
    parser.add_argument("--datasets", nargs="+", default=["malaria"])
    parser.add_argument("--l2", type=float, default=0.045, help="the head's L2 (default: *best*'s, 0.045)")
    parser.add_argument("--crop", choices=CROP_MODES, default=DEFAULT_CROP,
                        help=f"how an image becomes a square (the page's `crop`; default {DEFAULT_CROP})")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"embeddings cache (default {CACHE})")
    args = parser.parse_args()
    for dataset in args.datasets:
        reference = None
        for spec in args.sets:
            parts = [base_features(args.dist, base, dataset, args.cache, args.crop) for base in spec.split("+")]
            paths, labels = parts[0][0], parts[0][1]
            views = np.concatenate([features for _, _, features in parts], 2)
            fold_of = F.grouped_folds(labels, [patient_id(p) for p in paths], args.folds, args.seed)
            scores = cross_validate(views, labels, fold_of, args.folds, args.l2)
            reference = reference or scores
            paired = [a - b for a, b in zip(scores, reference, strict=True)]
            print(f"{dataset}\t{spec}\t{statistics.mean(scores):.4f} ± {statistics.stdev(scores):.4f}\t"
                  f"{' '.join(f'{s:.3f}' for s in scores)}\tpaired {statistics.mean(paired):+.4f} ± "
                  f"{statistics.stdev(paired):.4f}", flush=True)


if __name__ == "__main__":
    main()
