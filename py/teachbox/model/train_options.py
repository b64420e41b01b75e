"""Training options and the bookkeeping of a run (best epoch, early stopping, time left): pure, unit-tested.

Defaults follow Teachable Machine's recipe (dense 100 → softmax, Adam 0.001, batch 16, 50 epochs) with the fixes that
make it stable: features standardised, dropout 0.5 and L2 3e-3 on the hidden layer, and the epoch with the best
validation loss kept instead of whatever the last epoch happened to be (measured choices: docs/decisions.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from teachbox.arguments import number, whole
from teachbox.data.geometry import CROP_MODES, DEFAULT_CROP, INPUT_SIZE, INPUT_SIZES
from teachbox.errors import TeachboxError

AUTO = "auto"
# The symmetries of a square an image is also seen in: `views` N trains on the first N (each embedded once and
# cached), `tta` N averages predictions over the first N, and `tta: "auto"` picks N among AUTO_TTA by the
# validation images (turned views help rotation-free images such as cells and hurt photos with an up, such as hands:
# docs/accuracy.md). Kernels: site/kernels.js `view`.
VIEW_SETS = {
    1: ("id",),
    2: ("id", "hflip"),
    4: ("id", "hflip", "rot90", "transpose"),
    8: ("id", "hflip", "rot90", "transpose", "vflip", "rot180", "rot270", "antitranspose"),
}
VIEWS = VIEW_SETS[8]
# `augment`: more training views beside the symmetries, by group, each a fixed transform (so a view is embedded once
# and cached like the symmetries, and a seeded run repeats): a scale change, shifted crops, and colour shifts of
# lighting and white balance (stains and cameras differ). Training only: predictions never average over them.
# Kernels: site/kernels.js `view`. They measured no gain (docs/accuracy.md, run 9), so no preset uses them.
AUGMENT_VIEWS = {
    "zoom": ("zoom",),  # the central 80 %, scaled up to the input size
    "crops": ("crop-tl", "crop-tr", "crop-bl", "crop-br"),  # the four corners' 85 % squares
    "colour": ("brighter", "darker", "warmer", "cooler"),  # brightness ×1.15 / ×0.85; red and blue ×1.1 / ×0.9
}
# `quality` presets: option values a preset sets unless the caller gives them. "best" also prefers the first of
# BEST_BASES the build ships (session.py). What each does and what it measured: docs/accuracy.md.
AUTO_TTA = (1, 2)  # 4 scored no better on malaria (docs/accuracy.md, run 7) and embeds 3 views, not 1
PRESETS: dict[str, dict[str, Any]] = {"default": {}, "best": {"hiddenUnits": 0, "l2": 0.045, "tta": AUTO}}
BEST_BASES = ("mobilenet_v1_0.75_224",)

# camelCase names the API accepts → dataclass fields.
_API_NAMES = {
    "epochs": "epochs", "batchSize": "batch_size", "learningRate": "learning_rate",
    "validationSplit": "validation_split", "seed": "seed", "hiddenUnits": "hidden_units", "dropout": "dropout",
    "l2": "l2", "patience": "patience", "fineTuneLayers": "fine_tune_layers", "base": "base", "crop": "crop",
    "inputSize": "input_size", "views": "views", "tta": "tta", "depths": "depths", "quality": "quality",
    "augment": "augment",
}


@dataclass(frozen=True)
class TrainOptions:
    """Everything a training run can be told; `from_api` validates what a caller passes."""

    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 0.001
    validation_split: float = 0.15
    seed: int = 42
    hidden_units: int = 100
    dropout: float = 0.5
    l2: float = 0.003
    patience: int = 15
    fine_tune_layers: int = 0
    base: str | None = None
    crop: str = DEFAULT_CROP
    # "auto": chosen from the project's images (geometry.auto_input_size). Not the default: it costs accuracy on
    # small projects (docs/decisions.md).
    input_size: int | str = INPUT_SIZE
    views: int = 1
    tta: int | str = 1
    # 2: the base's mid-scale layer max-pooled beside its output (topology.earlier_depth); "auto": 2 where the base
    # has that layer and no layer is fine-tuned, else 1.
    depths: int | str = AUTO
    quality: str = "default"  # the preset the other values started from
    augment: tuple[str, ...] = ()  # AUGMENT_VIEWS groups, in that table's order

    @classmethod
    def from_api(cls, given: dict[str, Any] | None) -> TrainOptions:
        given = dict(given or {})
        unknown = sorted(set(given) - set(_API_NAMES))
        if unknown:
            raise TeachboxError("bad_option", f"Unknown training option(s): {', '.join(unknown)}. "
                                              f"Known: {', '.join(_API_NAMES)}.")
        quality = given.get("quality") or "default"
        if quality not in PRESETS:
            raise TeachboxError("bad_option", f"quality must be one of {', '.join(PRESETS)}, not {quality!r}.")
        preset = dict(PRESETS[quality])
        values = {_API_NAMES[name]: value for name, value in {**preset, **given}.items() if value is not None}
        if "augment" in values:
            values["augment"] = augment_groups(values["augment"])
        options = cls(**{**values, "quality": quality})
        options.validate()
        return options

    def validate(self) -> None:
        whole(self.epochs, "epochs", 1, 1000)
        whole(self.batch_size, "batchSize", 1, 4096)
        whole(self.hidden_units, "hiddenUnits", 0, 4096)
        whole(self.patience, "patience", 0, 1000)
        whole(self.fine_tune_layers, "fineTuneLayers", 0, 50)
        whole(self.seed, "seed", -(2**31), 2**31 - 1)
        number(self.learning_rate, "learningRate", 1e-7, 1.0)
        number(self.validation_split, "validationSplit", 0.0, 0.9)
        number(self.dropout, "dropout", 0.0, 0.95)
        number(self.l2, "l2", 0.0, 1.0)
        if isinstance(self.views, bool) or self.views not in VIEW_SETS:
            raise TeachboxError("bad_option", f"views must be one of {', '.join(map(str, VIEW_SETS))}, "
                                              f"not {self.views!r}.")
        if self.tta != AUTO and (isinstance(self.tta, bool) or self.tta not in VIEW_SETS):
            raise TeachboxError("bad_option", f"tta must be \"auto\" or one of {', '.join(map(str, VIEW_SETS))}, "
                                              f"not {self.tta!r}.")
        if self.depths != AUTO and (isinstance(self.depths, bool) or self.depths not in (1, 2)):
            raise TeachboxError("bad_option", f"depths must be \"auto\", 1 or 2, not {self.depths!r}.")
        if self.depths == 2 and self.fine_tune_layers > 0:
            raise TeachboxError("bad_option", "depths pools a layer below the fine-tuned ones; it cannot be combined "
                                              "with fineTuneLayers.")
        if self.crop not in CROP_MODES:
            raise TeachboxError("bad_option", f"crop must be one of {', '.join(CROP_MODES)}, not {self.crop!r}.")
        if self.input_size != AUTO and (isinstance(self.input_size, bool) or self.input_size not in INPUT_SIZES):
            raise TeachboxError("bad_option", f"inputSize must be \"auto\" or one of "
                                              f"{', '.join(map(str, INPUT_SIZES))}, not {self.input_size!r}.")

    def asked_size(self) -> int | None:
        """The input size this run asks for, or None for "auto" (then the project's images decide)."""
        return None if self.input_size == AUTO else int(self.input_size)

    def solves_exactly(self) -> bool:
        """A linear head on a frozen base is convex: it is solved to its optimum (L-BFGS, model/lbfgs.py), and
        epochs, batchSize, learningRate, dropout and patience do not apply."""
        return self.hidden_units == 0 and self.fine_tune_layers == 0

    def depths_on(self, has_mid_scale: bool) -> int:
        """The depths a frozen-base run pools on a base that has (or lacks) the mid-scale layer: "auto" takes it
        where there is one; an explicit 2 on a base without one is refused by the base (extractor.depth_dim)."""
        return (2 if has_mid_scale else 1) if self.depths == AUTO else int(self.depths)

    def view_names(self) -> tuple[str, ...]:
        """The views training embeds and learns from: the symmetries `views` asks for, then `augment`'s."""
        return VIEW_SETS[self.views] + tuple(view for group in self.augment for view in AUGMENT_VIEWS[group])

    def test_views(self) -> tuple[str, ...]:
        """The views the validation images need: those a prediction averages over (1: the image as it is), or with
        "auto" every candidate's."""
        return VIEW_SETS[max(AUTO_TTA) if self.tta == AUTO else self.tta]

    def tta_candidates(self) -> tuple[int, ...]:
        """The view counts the validation images choose among ("auto"), or the one asked for."""
        return AUTO_TTA if self.tta == AUTO else (int(self.tta),)

    def to_json(self) -> dict[str, Any]:
        reverse = {field: name for name, field in _API_NAMES.items()}
        return {reverse[f.name]: list(value) if isinstance(value := getattr(self, f.name), tuple) else value
                for f in fields(self)}


def augment_groups(given: Any) -> tuple[str, ...]:
    """`augment` as the API takes it (a group name, or a list of them) → the groups in AUGMENT_VIEWS order, each
    once: the same choice always names the same views, in the same order, so a seeded run repeats."""
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise TeachboxError("bad_option", f"augment must be a list of {', '.join(AUGMENT_VIEWS)}, not {given!r}.")
    unknown = sorted(set(names) - set(AUGMENT_VIEWS))
    if unknown:
        raise TeachboxError("bad_option", f"augment must be a list of {', '.join(AUGMENT_VIEWS)}; unknown: "
                                          f"{', '.join(map(repr, unknown))}.")
    return tuple(group for group in AUGMENT_VIEWS if group in names)


# Fine-tuning's second stage (tail + head from the trained head): at most this many epochs, at this fraction of the
# learning rate. Each epoch runs the tail on every training image, so it costs far more than a head epoch.
FINE_TUNE_EPOCHS = 10
FINE_TUNE_RATE = 0.1


@dataclass
class EpochTracker:
    """Which epoch to keep and when to stop: lowest validation loss wins; `patience` epochs without gain stop."""

    patience: int
    best_epoch: int = -1
    best_loss: float = math.inf
    history: list[dict[str, float]] | None = None

    stage_start: int = 0  # patience counts from here too: a new stage gets its own epochs to improve

    def next_stage(self, first_epoch: int) -> None:
        self.stage_start = first_epoch

    def update(self, epoch: int, logs: dict[str, float]) -> tuple[bool, bool]:
        """Record an epoch; returns (is_new_best, should_stop)."""
        if self.history is None:
            self.history = []
        self.history.append({"epoch": epoch + 1, **{k: round(float(v), 6) for k, v in logs.items()}})
        loss = logs.get("val_loss", logs.get("loss", math.inf))
        if math.isfinite(loss) and loss < self.best_loss - 1e-7:
            self.best_loss, self.best_epoch = loss, epoch
            return True, False
        stop = self.patience > 0 and epoch - max(self.best_epoch, self.stage_start - 1) >= self.patience
        return False, stop

    def best_logs(self) -> dict[str, float]:
        return self.history[self.best_epoch] if self.history and self.best_epoch >= 0 else {}


def eta_seconds(done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the average pace so far; None before there is a pace to extrapolate."""
    if done <= 0 or total <= done:
        return None if done <= 0 else 0.0
    return round(elapsed_s / done * (total - done), 1)


def summary(options: TrainOptions, tracker: EpochTracker, seconds: float, cancelled: bool) -> dict[str, Any]:
    """What train() resolves with."""
    best = tracker.best_logs()
    return {
        "history": tracker.history or [],
        "epochs": len(tracker.history or []),
        "best_epoch": tracker.best_epoch + 1,
        "val_accuracy": best.get("val_acc"),
        "val_loss": best.get("val_loss"),
        "accuracy": best.get("acc"),
        "seconds": round(seconds, 2),
        "cancelled": cancelled,
        "options": options.to_json(),
    }
