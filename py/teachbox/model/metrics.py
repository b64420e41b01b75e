"""Validation metrics as a plain JSON-able dict, computed from predicted probabilities.

Accuracy alone hides a model that ignores a rare class, so per-class precision/recall and the confusion matrix come
with it; the misclassified list, most confident mistakes first, is what a person looks at to find mislabelled
images or a systematic confusion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from teachbox.errors import TeachboxError


def _ratio(numerator: int, denominator: int) -> float:
    """A rate that is 0.0 rather than a crash when nothing was predicted (or present) for a class."""
    return numerator / denominator if denominator else 0.0


def _bad(message: str) -> TeachboxError:
    return TeachboxError("bad_predictions", message)


def evaluate_predictions(
    true: Sequence[int],
    probs: Sequence[Sequence[float]],
    labels: Sequence[str],
    items: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score predictions: `true[i]` is item i's class index, `probs[i]` its probability per class in `labels` order.

    The predicted class is the most probable one (the first on ties). `items` (e.g. image paths) name the
    misclassified entries; without it their `path` is None and only `index` identifies them.
    """
    count = len(true)
    k = len(labels)
    if count == 0:
        raise TeachboxError(
            "no_predictions",
            "There are no validation images to evaluate; use a larger validation fraction or more images.",
        )
    if len(probs) != count or (items is not None and len(items) != count):
        raise _bad(f"Got {count} true labels but {len(probs)} predictions and {len(items or ())} item names.")
    confusion = [[0] * k for _ in range(k)]
    misclassified: list[dict[str, Any]] = []
    for index, (actual, row) in enumerate(zip(true, probs)):
        if len(row) != k or not all(math.isfinite(p) for p in row):
            raise _bad(f"Prediction {index} must have {k} finite probabilities, one per class; got {list(row)!r}.")
        if isinstance(actual, bool) or not isinstance(actual, int) or not 0 <= actual < k:
            raise _bad(f"True class {actual!r} of item {index} is not an index into the {k} classes.")
        predicted = max(range(k), key=row.__getitem__)
        confusion[actual][predicted] += 1
        if predicted != actual:
            misclassified.append(
                {
                    "index": index,
                    "path": items[index] if items is not None else None,
                    "true": labels[actual],
                    "predicted": labels[predicted],
                    "probability": float(row[predicted]),
                }
            )
    misclassified.sort(key=lambda entry: -entry["probability"])
    per_class = []
    for c, label in enumerate(labels):
        hits = confusion[c][c]
        precision = _ratio(hits, sum(confusion[r][c] for r in range(k)))
        recall = _ratio(hits, sum(confusion[c]))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {"label": label, "precision": precision, "recall": recall, "f1": f1, "count": sum(confusion[c])}
        )
    return {
        "accuracy": sum(confusion[c][c] for c in range(k)) / count,
        "count": count,
        "labels": list(labels),
        "per_class": per_class,
        "confusion": confusion,
        "misclassified": misclassified,
    }


def mean_log_likelihood(true: Sequence[int], probs: Sequence[Sequence[float]]) -> float:
    """The mean log-probability given to each image's true class (minus the log loss). It ranks models on a few
    hundred validation images more surely than accuracy, which moves only when an image crosses 0.5 and so ties or
    flips on one or two images; a zero probability counts as 1e-12 rather than minus infinity."""
    if not true or len(true) != len(probs):
        raise _bad(f"{len(true)} labels and {len(probs)} predictions: one per image, at least one.")
    return sum(math.log(max(row[label], 1e-12)) for row, label in zip(probs, true)) / len(true)
