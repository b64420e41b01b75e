"""What a training run decides before and after TF.js works: cache keys, the split, the skipped report and the
model's metadata. Pure, so it is unit-tested on CPython; model/trainer.py runs the plan."""

from __future__ import annotations

from typing import Any

from teachbox.data.geometry import INPUT_SIZE, Preprocessing
from teachbox.data.project import Project, Sample
from teachbox.data.splits import stratified_split
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import FORMAT, FORMAT_VERSION
from teachbox.model.train_options import TrainOptions

SUMMARY_KEYS = ("best_epoch", "epochs", "val_accuracy", "val_loss", "seconds")


def feature_key(base_id: str, preprocessing: Preprocessing, part: str) -> str:
    """Names what cached features depend on: the base, the crop, the size and which activations (`pooled`, or the
    layer a fine-tuning run splits at). 224 px keeps the key it had before sizes were chosen, so the embeddings of
    projects saved then stay valid."""
    size = "" if preprocessing.size == INPUT_SIZE else f"@{preprocessing.size}"
    return f"{base_id}|{preprocessing.mode}{size}|{part}"


def view_key(key: str, view: str) -> str:
    """The cache key of a view's features: the image as it is keeps the plain key (so caches and saved projects
    from before views existed stay valid), any other view adds `~view`."""
    return key if view == "id" else f"{key}~{view}"


def split_samples(project: Project, usable: list[Sample], options: TrainOptions) -> tuple[list[Sample], list[Sample]]:
    """(training, validation) samples: stratified by class and seeded, so one seed gives one split."""
    train_idx, val_idx = stratified_split(project.label_indices(usable), options.validation_split, options.seed)
    return [usable[i] for i in train_idx], [usable[i] for i in val_idx]


def skipped_report(project: Project, failures: dict[str, TeachboxError]) -> list[dict[str, Any]]:
    """The samples a run could not use, named as a person knows them (file name, CSV line) with why."""
    by_uid = {s.uid: s for s in project.samples}
    return [{"path": by_uid[uid].name, "line": by_uid[uid].line, "code": error.code, "message": error.message}
            for uid, error in failures.items()]


def classifier_metadata(labels: list[str], preprocessing: Preprocessing, base: dict[str, Any],
                        options: TrainOptions, result: dict[str, Any], versions: dict[str, str],
                        created: str, views: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """metadata.json of the trained model: what a later reader needs to feed it images and to trust it. `base` holds
    the base's id, label and cut layer; `views` those predictions average over."""
    return {
        "format": FORMAT, "formatVersion": FORMAT_VERSION, "labels": labels,
        "preprocessing": preprocessing.to_json(),
        "base": {**base, "fineTunedLayers": options.fine_tune_layers},
        "inputSize": preprocessing.size,
        **({"tta": list(views)} if len(views) > 1 else {}),
        "training": {k: result[k] for k in SUMMARY_KEYS}
        | {"options": options.to_json(), "train_count": result["train_count"], "val_count": result["val_count"]},
        "versions": versions,
        "created": created,
    }
