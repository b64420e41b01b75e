"""Training options as the API takes them, and the bookkeeping of a run: best epoch, early stopping, time left."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from teachbox.errors import TeachboxError
from teachbox.model.train_options import AUGMENT_VIEWS, VIEWS, EpochTracker, TrainOptions, eta_seconds, summary

# --- TrainOptions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, {}])
def test_defaults(given: dict[str, Any] | None) -> None:
    options = TrainOptions.from_api(given)
    assert options == TrainOptions()
    assert (options.epochs, options.batch_size, options.learning_rate, options.validation_split,
            options.hidden_units, options.fine_tune_layers) == (50, 16, 0.001, 0.15, 100, 0)
    assert options.crop == "pad" and options.base is None


def test_camel_case_names_map_to_fields() -> None:
    options = TrainOptions.from_api({
        "epochs": 7, "batchSize": 32, "learningRate": 0.01, "validationSplit": 0.2, "seed": -3, "hiddenUnits": 0,
        "dropout": 0.5, "l2": 0.0, "patience": 0, "fineTuneLayers": 2, "base": "mobilenet_v2_0.35_224_no_top",
        "crop": "pad",
    })
    assert options == TrainOptions(epochs=7, batch_size=32, learning_rate=0.01, validation_split=0.2, seed=-3,
                                   hidden_units=0, dropout=0.5, l2=0.0, patience=0, fine_tune_layers=2,
                                   base="mobilenet_v2_0.35_224_no_top", crop="pad")


def test_none_values_mean_default() -> None:
    assert TrainOptions.from_api({"epochs": None, "crop": None}) == TrainOptions()


def test_whole_floats_are_accepted_for_int_options() -> None:
    # JavaScript numbers arrive as floats; 20.0 is a whole number.
    assert TrainOptions.from_api({"epochs": 20.0}).epochs == 20


@pytest.mark.parametrize("given,name", [
    ({"epochs": -1}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1001}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"epochs": True}, "epochs"),
    ({"epochs": "10"}, "epochs"),
    ({"epochs": math.nan}, "epochs"),
    ({"epochs": math.inf}, "epochs"),
    ({"patience": -math.inf}, "patience"),
    ({"batchSize": 0}, "batchSize"),
    ({"hiddenUnits": -5}, "hiddenUnits"),
    ({"patience": -1}, "patience"),
    ({"fineTuneLayers": 51}, "fineTuneLayers"),
    ({"seed": 2**31}, "seed"),
    ({"validationSplit": 0.95}, "validationSplit"),
    ({"validationSplit": -0.1}, "validationSplit"),
    ({"learningRate": "0.01"}, "learningRate"),
    ({"learningRate": 0}, "learningRate"),
    ({"learningRate": math.nan}, "learningRate"),
    ({"learningRate": math.inf}, "learningRate"),
    ({"learningRate": False}, "learningRate"),
    ({"dropout": 1.0}, "dropout"),
    ({"l2": math.nan}, "l2"),
    ({"crop": "zoom"}, "crop"),
    ({"crop": 3}, "crop"),
    ({"inputSize": 100}, "inputSize"),
    ({"inputSize": 256}, "inputSize"),
    ({"inputSize": "128"}, "inputSize"),
    ({"inputSize": True}, "inputSize"),
    ({"epoch": 10}, "epoch"),
    ({"batch_size": 8}, "batch_size"),
])
def test_invalid_values_are_refused_naming_the_option(given: dict[str, Any], name: str) -> None:
    with pytest.raises(TeachboxError) as caught:
        TrainOptions.from_api(given)
    assert caught.value.code == "bad_option"
    assert name in caught.value.message


def test_input_size_is_224_unless_asked_and_auto_leaves_it_to_the_images() -> None:
    assert TrainOptions().input_size == 224
    assert TrainOptions.from_api({}).asked_size() == 224
    assert TrainOptions.from_api({"inputSize": "auto"}).asked_size() is None
    assert TrainOptions.from_api({"inputSize": 160}).asked_size() == 160
    assert TrainOptions.from_api({"inputSize": 192.0}).asked_size() == 192


def test_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(TeachboxError) as caught:
        TrainOptions.from_api({"epochs": 5, "lr": 0.1})
    assert "lr" in caught.value.message and "learningRate" in caught.value.message


def test_to_json_round_trips_through_from_api() -> None:
    options = TrainOptions.from_api({"epochs": 3, "learningRate": 0.05, "crop": "squash", "base": "b",
                                     "fineTuneLayers": 1})
    data = options.to_json()
    assert set(data) == {"epochs", "batchSize", "learningRate", "validationSplit", "seed", "hiddenUnits", "dropout",
                         "l2", "patience", "fineTuneLayers", "base", "crop", "inputSize", "views", "tta", "depths",
                         "quality", "augment"}
    assert data["learningRate"] == 0.05 and data["fineTuneLayers"] == 1
    assert TrainOptions.from_api(data) == options
    assert TrainOptions.from_api(TrainOptions().to_json()) == TrainOptions()
    augmented = TrainOptions.from_api({"augment": ["colour", "zoom"]})
    assert augmented.to_json()["augment"] == ["zoom", "colour"], "a JSON list, in the table's order"
    assert TrainOptions.from_api(json.loads(json.dumps(augmented.to_json()))) == augmented


# --- EpochTracker -----------------------------------------------------------------------------------------------


def _run(tracker: EpochTracker, losses: list[float], key: str = "val_loss") -> list[tuple[bool, bool]]:
    return [tracker.update(epoch, {key: loss}) for epoch, loss in enumerate(losses)]


def test_best_epoch_is_lowest_val_loss() -> None:
    tracker = EpochTracker(patience=0)
    for epoch, (loss, val) in enumerate([(1.0, 0.9), (0.5, 0.4), (0.3, 0.6), (0.2, 0.5)]):
        tracker.update(epoch, {"loss": loss, "val_loss": val, "acc": 0.1 * epoch, "val_acc": 0.2 * epoch})
    assert tracker.best_epoch == 1
    assert tracker.best_loss == 0.4
    assert tracker.best_logs() == {"epoch": 2, "loss": 0.5, "val_loss": 0.4, "acc": 0.1, "val_acc": 0.2}


def test_update_reports_new_best() -> None:
    tracker = EpochTracker(patience=5)
    assert _run(tracker, [1.0, 0.5, 0.7, 0.4]) == [(True, False), (True, False), (False, False), (True, False)]


def test_patience_stops_after_n_epochs_without_improvement() -> None:
    tracker = EpochTracker(patience=2)
    assert _run(tracker, [1.0, 0.5, 0.6, 0.7]) == [(True, False), (True, False), (False, False), (False, True)]
    assert tracker.best_epoch == 1


def test_tiny_improvements_do_not_count() -> None:
    tracker = EpochTracker(patience=1)
    assert _run(tracker, [0.5, 0.5 - 1e-9]) == [(True, False), (False, True)]


def test_patience_zero_never_stops() -> None:
    tracker = EpochTracker(patience=0)
    results = _run(tracker, [0.1] + [1.0] * 200)
    assert not any(stop for _, stop in results)
    assert tracker.best_epoch == 0


def test_without_val_loss_uses_loss() -> None:
    tracker = EpochTracker(patience=3)
    _run(tracker, [0.9, 0.3, 0.5], key="loss")
    assert tracker.best_epoch == 1 and tracker.best_loss == 0.3


def test_non_finite_losses_never_win() -> None:
    tracker = EpochTracker(patience=0)
    _run(tracker, [math.nan, math.inf, 0.8, math.nan])
    assert tracker.best_epoch == 2


def test_no_epochs_no_best() -> None:
    tracker = EpochTracker(patience=3)
    assert tracker.best_logs() == {} and tracker.best_epoch == -1


def test_history_is_rounded_and_one_based() -> None:
    tracker = EpochTracker(patience=0)
    tracker.update(0, {"loss": 0.123456789})
    assert tracker.history == [{"epoch": 1, "loss": 0.123457}]


# --- eta_seconds and summary --------------------------------------------------------------------------------------


def test_eta_seconds() -> None:
    assert eta_seconds(0, 10, 5.0) is None
    assert eta_seconds(2, 10, 4.0) == 16.0
    assert eta_seconds(3, 10, 1.0) == round(1.0 / 3 * 7, 1)
    assert eta_seconds(10, 10, 30.0) == 0.0
    assert eta_seconds(12, 10, 30.0) == 0.0


def test_summary_fields() -> None:
    options = TrainOptions.from_api({"epochs": 3})
    tracker = EpochTracker(patience=0)
    tracker.update(0, {"loss": 1.0, "acc": 0.5, "val_loss": 0.8, "val_acc": 0.6})
    tracker.update(1, {"loss": 0.5, "acc": 0.7, "val_loss": 0.6, "val_acc": 0.75})
    tracker.update(2, {"loss": 0.3, "acc": 0.9, "val_loss": 0.7, "val_acc": 0.7})
    result = summary(options, tracker, 12.3456, cancelled=False)
    assert result == {
        "history": tracker.history,
        "epochs": 3,
        "best_epoch": 2,
        "val_accuracy": 0.75,
        "val_loss": 0.6,
        "accuracy": 0.7,
        "seconds": 12.35,
        "cancelled": False,
        "options": options.to_json(),
    }


def test_summary_of_a_run_cancelled_before_any_epoch() -> None:
    result = summary(TrainOptions(), EpochTracker(patience=1), 0.0, cancelled=True)
    assert result["history"] == [] and result["epochs"] == 0 and result["best_epoch"] == 0
    assert result["val_accuracy"] is None and result["val_loss"] is None and result["accuracy"] is None
    assert result["cancelled"] is True


def test_the_pages_fields_start_at_the_core_defaults() -> None:
    """The Train panel sends its fields' values, so a field that starts elsewhere silently changes the defaults
    (the dropout field once started at 0.25 while the measured default is 0.5)."""
    html = (Path(__file__).resolve().parents[2] / "site" / "index.html").read_text(encoding="utf-8")
    defaults = TrainOptions()
    fields = {"opt-epochs": defaults.epochs, "opt-batch": defaults.batch_size, "opt-lr": defaults.learning_rate,
              "opt-val": defaults.validation_split * 100, "opt-finetune": defaults.fine_tune_layers,
              "opt-hidden": defaults.hidden_units, "opt-dropout": defaults.dropout}
    for element_id, default in fields.items():
        found = re.search(rf'id="{element_id}"[^>]*\svalue="([^"]*)"', html)
        assert found, f"no value on #{element_id}"
        assert float(found.group(1)) == pytest.approx(default), f"#{element_id} starts at {found.group(1)}"
    for element_id, default in {"opt-crop": defaults.crop, "opt-size": defaults.input_size}.items():
        first = re.search(rf'<select id="{element_id}">\s*<option value="([^"]*)"', html)
        assert first and first.group(1) == str(default), f"#{element_id}'s first option is not {default!r}"


def test_augment_adds_training_views_by_group_in_one_order() -> None:
    options = TrainOptions.from_api({"views": 2, "tta": 2, "augment": ["colour", "zoom", "colour"]})
    assert options.augment == ("zoom", "colour"), "each group once, in AUGMENT_VIEWS order, however it was given"
    assert options.view_names() == ("id", "hflip", "zoom", "brighter", "darker", "warmer", "cooler")
    assert options.test_views() == ("id", "hflip"), "predictions never average over augmentations"
    assert TrainOptions.from_api({"augment": "crops"}).view_names() == ("id", "crop-tl", "crop-tr", "crop-bl",
                                                                        "crop-br"), "one group may be given bare"
    assert TrainOptions.from_api({"augment": []}) == TrainOptions()
    assert set(VIEWS).isdisjoint(view for views in AUGMENT_VIEWS.values() for view in views)
    unknown = "augment must be a list of zoom, crops, colour; unknown: 'blur'"
    for bad, words in (({"augment": ["zoom", "blur"]}, unknown),
                       ({"augment": 3}, "augment must be a list of zoom, crops, colour, not 3"),
                       ({"augment": ["zoom", 1]}, "augment must be a list")):
        with pytest.raises(TeachboxError) as caught:
            TrainOptions.from_api(bad)
        assert caught.value.code == "bad_option" and words in caught.value.message, (bad, caught.value.message)


def test_views_and_tta_are_checked_and_name_their_views() -> None:
    options = TrainOptions.from_api({"views": 4, "tta": 2})
    assert options.view_names() == ("id", "hflip", "rot90", "transpose")
    assert options.test_views() == ("id", "hflip")
    assert TrainOptions.from_api({"views": 2}).test_views() == ("id",), "without tta a prediction sees the image once"
    assert TrainOptions.from_api({"tta": 8}).view_names() == ("id",), "tta alone trains on the images as they are"
    assert TrainOptions().view_names() == ("id",)
    tuned = TrainOptions.from_api({"views": 2, "tta": 2, "fineTuneLayers": 2})
    assert tuned.view_names() == ("id", "hflip") and tuned.test_views() == ("id", "hflip")
    for bad, words in (({"views": 3}, "views must be one of 1, 2, 4, 8"), ({"views": True}, "views must be"),
                       ({"tta": 3}, 'tta must be "auto" or one of 1, 2, 4, 8'), ({"tta": True}, "tta must be"),
                       ({"depths": 3}, 'depths must be "auto", 1 or 2, not 3'),
                       ({"depths": True}, "depths must be"), ({"depths": "all"}, "depths must be"),
                       ({"depths": 2, "fineTuneLayers": 1}, "cannot be combined with fineTuneLayers")):
        with pytest.raises(TeachboxError) as caught:
            TrainOptions.from_api(bad)
        assert caught.value.code == "bad_option" and words in caught.value.message, (bad, caught.value.message)


def test_depths_auto_takes_the_mid_scale_layer_where_the_base_has_one() -> None:
    """The default pools two depths on a MobileNet (docs/accuracy.md, run 5) and one on a base without that layer;
    an explicit value is kept either way (a 2 the base cannot give is refused when the run starts)."""
    assert TrainOptions().depths == "auto"
    assert (TrainOptions().depths_on(True), TrainOptions().depths_on(False)) == (2, 1)
    for depths in (1, 2):
        options = TrainOptions.from_api({"depths": depths})
        assert (options.depths_on(True), options.depths_on(False)) == (depths, depths)
    assert TrainOptions.from_api({"depths": 2.0}).depths_on(False) == 2, "a JS number is a number"


def test_quality_presets_set_what_the_caller_does_not() -> None:
    best = TrainOptions.from_api({"quality": "best"})
    assert (best.views, best.tta, best.depths, best.hidden_units, best.l2, best.quality) == \
        (1, "auto", "auto", 0, 0.045, "best")
    assert best.solves_exactly() and not TrainOptions().solves_exactly()
    tuned_linear = TrainOptions.from_api({"quality": "best", "fineTuneLayers": 1})
    assert not tuned_linear.solves_exactly(), "a fine-tuned tail is not convex: Adam epochs"
    assert best.tta_candidates() == (1, 2) and best.test_views() == ("id", "hflip")
    mixed = TrainOptions.from_api({"quality": "best", "tta": 2, "views": 2, "epochs": 7})
    assert (mixed.views, mixed.tta, mixed.epochs) == (2, 2, 7), "explicit options win"
    tuned = TrainOptions.from_api({"quality": "best", "fineTuneLayers": 2})
    assert (tuned.depths, tuned.tta) == ("auto", "auto"), "fine-tuning is not refused"
    assert mixed.tta_candidates() == (2,)
    assert TrainOptions.from_api({"quality": "default"}) == TrainOptions()
    assert TrainOptions.from_api(best.to_json()) == best, "a run's options repeat it"
    with pytest.raises(TeachboxError) as caught:
        TrainOptions.from_api({"quality": "fast"})
    assert caught.value.code == "bad_option" and "quality must be one of default, best" in caught.value.message
