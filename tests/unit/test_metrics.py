"""Validation metrics against a small example worked out by hand."""

from __future__ import annotations

import json
import math

import pytest
from teachbox.errors import TeachboxError
from teachbox.model.metrics import evaluate_predictions, mean_log_likelihood

LABELS = ["a", "b", "c"]
TRUE = [0, 0, 1, 1, 2, 2]
PROBS = [
    [0.7, 0.2, 0.1],  # a -> a
    [0.2, 0.5, 0.3],  # a -> b (wrong, 0.5)
    [0.1, 0.8, 0.1],  # b -> b
    [0.6, 0.3, 0.1],  # b -> a (wrong, 0.6)
    [0.1, 0.1, 0.8],  # c -> c
    [0.1, 0.2, 0.7],  # c -> c
]
ITEMS = [f"img/{i}.png" for i in range(6)]


def test_hand_computed_example() -> None:
    result = evaluate_predictions(TRUE, PROBS, LABELS, ITEMS)
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["count"] == 6
    assert result["labels"] == LABELS
    assert result["confusion"] == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]
    per_class = {entry["label"]: entry for entry in result["per_class"]}
    assert per_class["a"] == {"label": "a", "precision": 0.5, "recall": 0.5, "f1": 0.5, "count": 2}
    assert per_class["b"] == {"label": "b", "precision": 0.5, "recall": 0.5, "f1": 0.5, "count": 2}
    assert per_class["c"] == {"label": "c", "precision": 1.0, "recall": 1.0, "f1": 1.0, "count": 2}
    assert result["misclassified"] == [
        {"index": 3, "path": "img/3.png", "true": "b", "predicted": "a", "probability": 0.6},
        {"index": 1, "path": "img/1.png", "true": "a", "predicted": "b", "probability": 0.5},
    ]
    json.dumps(result)


def test_unequal_precision_and_recall() -> None:
    # 3 true a (2 right, 1 called b), 1 true b (called b): a P=1 R=2/3, b P=1/2 R=1.
    result = evaluate_predictions([0, 0, 0, 1], [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]], ["a", "b"])
    a, b = result["per_class"]
    assert (a["precision"], a["recall"]) == (1.0, pytest.approx(2 / 3))
    assert a["f1"] == pytest.approx(0.8)
    assert (b["precision"], b["recall"], b["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert result["misclassified"] == [{"index": 2, "path": None, "true": "a", "predicted": "b", "probability": 0.7}]


def test_never_predicted_class_has_zero_precision() -> None:
    result = evaluate_predictions([0, 1, 1], [[0.6, 0.4], [0.9, 0.1], [0.5, 0.5]], ["x", "y"])
    x, y = result["per_class"]
    assert result["confusion"] == [[1, 0], [2, 0]]  # a tie goes to the first class
    assert (y["precision"], y["recall"], y["f1"], y["count"]) == (0.0, 0.0, 0.0, 2)
    assert x["precision"] == pytest.approx(1 / 3) and x["recall"] == 1.0
    assert [m["probability"] for m in result["misclassified"]] == [0.9, 0.5]


def test_empty_input_is_a_user_error() -> None:
    with pytest.raises(TeachboxError) as info:
        evaluate_predictions([], [], LABELS)
    assert info.value.code == "no_predictions"


@pytest.mark.parametrize(
    ("true", "probs", "items"),
    [
        ([0, 1], [[0.5, 0.5, 0.0]], None),  # fewer predictions than labels
        ([0], [[0.5, 0.5]], None),  # wrong number of classes
        ([3], [[0.2, 0.3, 0.5]], None),  # true class out of range
        ([0], [[float("nan"), 0.3, 0.5]], None),  # non-finite probability
        ([0], [[0.2, 0.3, 0.5]], ["a.png", "b.png"]),  # items of the wrong length
    ],
)
def test_inconsistent_input_is_rejected(true: list[int], probs: list[list[float]], items: list[str] | None) -> None:
    with pytest.raises(TeachboxError) as info:
        evaluate_predictions(true, probs, LABELS, items)
    assert info.value.code == "bad_predictions"


def test_log_likelihood_ranks_what_accuracy_ties() -> None:
    labels = [0, 1, 1]
    confident = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    hesitant = [[0.55, 0.45], [0.45, 0.55], [0.6, 0.4]]
    same_accuracy = [evaluate_predictions(labels, probs, ["x", "y"])["accuracy"] for probs in (confident, hesitant)]
    assert same_accuracy[0] == same_accuracy[1] == pytest.approx(2 / 3)
    assert mean_log_likelihood(labels, confident) > mean_log_likelihood(labels, hesitant)
    assert mean_log_likelihood([0], [[1.0, 0.0]]) == 0.0
    assert mean_log_likelihood([1], [[1.0, 0.0]]) == pytest.approx(math.log(1e-12)), "a certain mistake is finite"


def test_log_likelihood_needs_one_prediction_per_label() -> None:
    for true, probs in (([], []), ([0, 1], [[0.5, 0.5]])):
        with pytest.raises(TeachboxError) as info:
            mean_log_likelihood(true, probs)
        assert info.value.code == "bad_predictions"
