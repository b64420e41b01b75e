"""Which depth of a MobileNet, pooled how, best tells classes apart on unseen groups: the probe behind `depths: 2`.

    python bench/depth_probe.py [--bases ID ...] [--datasets NAME ...] [--combos SPEC ...] [--only-combos]
                                [--size 224] [--folds 5] [--seed 0]

For every base and data set it embeds each image once on CPython (the TF.js layers model.json in ../shared/models
read by tensorflowjs; the page's centre crop and [-1, 1] scaling at 224 px, or `--size`), keeping each block's
activation both average- and max-pooled, then cross-validates a standardised logistic regression (C = 0.01, the regularised linear
probe) on the same folds as bench/accuracy.py: patient-grouped on malaria, stratified on the others. Prints one line
per (layer, pooling) and per feature combination, mean ± sd over the folds.

It measures features, not the product: the page's head, its validation split and its early stopping come after
(bench/accuracy.py measures those). It is fast (no browser) so every block can be tried, which the page cannot
afford. Needs the `keras` extra (TensorFlow, tensorflowjs) and scikit-learn; both are study tools, not the app's.
A combination is written `layer:pool+layer:pool`, e.g. `conv_pw_6_relu:max+conv_pw_13_relu:avg`.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import folds as F
import harness as H

from teachbox.data.splits import patient_id

SIZE = 224
BATCH = 64
# The layers whose pooled output can stand in for a block: v1's pointwise activations, v2's expansions, depthwise
# activations, projections and residual sums, and the last activation.
LAYER_ENDINGS = ("_relu", "_add", "project_BN")
DEFAULT_COMBOS = {
    "mobilenet_v1": ["conv_pw_13_relu:avg", "conv_pw_12_relu:avg+conv_pw_13_relu:avg",
                     "conv_pw_6_relu:max+conv_pw_13_relu:avg"],
    "mobilenet_v2": ["out_relu:avg", "block_15_add:avg+out_relu:avg", "block_7_expand_relu:max+out_relu:avg"],
}


def embed(base: Path, data: Path, size: int = SIZE, layers: list[str] | None = None, mirrored: bool = False,
          crop: str = "center-crop") -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """(paths, labels, {layer: [N, 2C] average- then max-pooled activations}) of every image in data/labels.csv,
    read at `size` pixels (the convolutions take any size; the base is rebuilt for it). `base` is a model.json or
    the folder holding one; `layers` defaults to every block's (LAYER_ENDINGS); `mirrored` reads each image
    flipped left to right (the page's `hflip` view); `crop` is the page's option of that name (`center-crop`: the
    centred square of the shorter side, `squash`: the whole image stretched square, `pad`: the whole image centred
    on a black square)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflowjs
    import tf_keras
    from PIL import Image

    model = tensorflowjs.converters.load_keras_model(str(base if base.suffix == ".json" else base / "model.json"))
    if size != SIZE:
        config = model.get_config()
        config["layers"][0]["config"]["batch_input_shape"] = [None, size, size, 3]
        resized = tf_keras.Model.from_config(config)
        resized.set_weights(model.get_weights())
        model = resized
    names = layers or [layer.name for layer in model.layers if layer.name.endswith(LAYER_ENDINGS)]
    probe = tf_keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    with open(data / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def read(path: str) -> np.ndarray:
        image = Image.open(data / path).convert("RGB")
        if crop != "squash":  # PIL's crop box may reach outside the image: that part is black, as in the page
            side = min(image.size) if crop == "center-crop" else max(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
        square = image.resize((size, size), Image.BILINEAR)
        pixels = np.asarray(square, np.float32) / 127.5 - 1
        return pixels[:, ::-1] if mirrored else pixels

    pooled: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(rows), BATCH):
        batch = np.stack([read(row["path"]) for row in rows[start:start + BATCH]])
        for name, value in zip(names, probe(batch, training=False), strict=True):
            value = value.numpy()
            pooled[name].append(np.concatenate([value.mean((1, 2)), value.max((1, 2))], 1))
    return [r["path"] for r in rows], [r["label"] for r in rows], {k: np.concatenate(v) for k, v in pooled.items()}


def features(pooled: dict[str, np.ndarray], spec: str) -> np.ndarray:
    """The columns a combination names: `layer:avg`, `layer:max` or `layer:both`, joined by `+`."""
    parts = []
    for item in spec.split("+"):
        name, _, how = item.partition(":")
        half = pooled[name].shape[1] // 2
        parts.append({"avg": pooled[name][:, :half], "max": pooled[name][:, half:], "both": pooled[name]}[how])
    return np.concatenate(parts, 1)


def cross_validate(x: np.ndarray, labels: list[str], fold_of: list[int], k: int) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y, fold = np.array(labels), np.array(fold_of)
    scores = []
    for f in range(k):
        train, test = fold != f, fold == f
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=3000)).fit(x[train], y[train])
        scores.append(float(probe.score(x[test], y[test])))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", nargs="+", default=["mobilenet_v1_0.25_224", "mobilenet_v1_0.75_224",
                                                         "mobilenet_v2_0.35_224_no_top"])
    parser.add_argument("--datasets", nargs="+", default=["malaria"])
    parser.add_argument("--combos", nargs="+", help="feature combinations to score besides every single layer "
                                                    "(default: the output, `depths: 2` before and after this probe)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-combos", action="store_true", help="score the combinations, not every single layer")
    parser.add_argument("--size", type=int, default=SIZE, help="input size in pixels (default 224, the page's)")
    args = parser.parse_args()
    for dataset in args.datasets:
        data = H.SHARED / "datasets" / dataset
        for base in args.bases:
            paths, labels, pooled = embed(H.SHARED / "models" / base, data, args.size)
            fold_of = F.grouped_folds(labels, [patient_id(p) for p in paths], args.folds, args.seed)
            family = "mobilenet_v2" if "v2" in base else "mobilenet_v1"
            specs = [] if args.only_combos else [f"{name}:{how}" for name in pooled for how in ("avg", "max")]
            specs += args.combos or DEFAULT_COMBOS[family]
            for spec in dict.fromkeys(specs):
                scores = cross_validate(features(pooled, spec), labels, fold_of, args.folds)
                print(f"{dataset}\t{base}@{args.size}\t{spec}\t"
                      f"{statistics.mean(scores):.4f} ± {statistics.stdev(scores):.4f}"
                      f"\t{' '.join(f'{s:.3f}' for s in scores)}", flush=True)


if __name__ == "__main__":
    main()
