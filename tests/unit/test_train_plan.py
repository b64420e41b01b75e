"""The trainer's planning on CPython: cache keys, the seeded split, the skipped report and the model's metadata."""

from __future__ import annotations

from teachbox.data.geometry import Preprocessing
from teachbox.data.project import Project, Sample
from teachbox.errors import TeachboxError
from teachbox.model.export_zip import FORMAT, FORMAT_VERSION
from teachbox.model.train_options import TrainOptions
from teachbox.model.train_plan import classifier_metadata, feature_key, skipped_report, split_samples, view_key
from teachbox.store.manifest import persistable


def _project(per_class: int) -> Project:
    project = Project()
    project.add([Sample(label, f"{label}/{i}.png", f"{i}.png", line=i + 2)
                 for label in ("cat", "dog") for i in range(per_class)])
    return project


def test_feature_keys_name_base_crop_size_and_part() -> None:
    assert feature_key("v1", Preprocessing(mode="center-crop", size=224), "pooled") == "v1|center-crop|pooled"
    assert feature_key("v1", Preprocessing(mode="center-crop", size=160), "pooled") == "v1|center-crop@160|pooled"
    assert feature_key("v1", Preprocessing(mode="squash", size=224), "conv_pw_12_relu") == "v1|squash|conv_pw_12_relu"


def test_the_split_is_seeded_stratified_and_disjoint() -> None:
    project = _project(20)
    options = TrainOptions(validation_split=0.25, seed=5)
    train, val = split_samples(project, project.samples, options)
    again = split_samples(project, project.samples, options)
    assert (train, val) == again
    assert not {s.uid for s in train} & {s.uid for s in val}
    assert len(train) + len(val) == 40
    assert sorted(s.label for s in val) == ["cat"] * 5 + ["dog"] * 5
    other = split_samples(project, project.samples, TrainOptions(validation_split=0.25, seed=6))
    assert {s.uid for s in other[1]} != {s.uid for s in val}


def test_skipped_report_names_files_and_lines() -> None:
    project = _project(2)
    bad = project.samples[1]
    report = skipped_report(project, {bad.uid: TeachboxError("undecodable", "1.png could not be decoded.")})
    assert report == [{"path": "1.png", "line": 3, "code": "undecodable", "message": "1.png could not be decoded."}]


def test_metadata_records_what_a_reader_needs() -> None:
    options = TrainOptions(epochs=7, fine_tune_layers=1)
    result = {"best_epoch": 3, "epochs": 5, "val_accuracy": 0.9, "val_loss": 0.3, "seconds": 1.5,
              "train_count": 30, "val_count": 10, "history": [{"epoch": 1}]}
    meta = classifier_metadata(["cat", "dog"], Preprocessing(mode="center-crop", size=160),
                               {"id": "v1", "label": "MobileNet", "cutLayer": "conv_pw_13_relu"}, options, result,
                               {"teachbox": "0.1.0"}, "2026-12-02T00:00:00.000Z")
    assert (meta["format"], meta["formatVersion"], meta["labels"]) == (FORMAT, FORMAT_VERSION, ["cat", "dog"])
    assert meta["inputSize"] == meta["preprocessing"]["size"] == 160
    assert meta["base"] == {"id": "v1", "label": "MobileNet", "cutLayer": "conv_pw_13_relu", "fineTunedLayers": 1}
    assert meta["training"]["options"]["epochs"] == 7 and "history" not in meta["training"]
    assert meta["training"]["best_epoch"] == 3 and meta["training"]["train_count"] == 30


def test_views_have_keys_of_their_own_and_are_saved_with_the_project() -> None:
    key = feature_key("v1", Preprocessing(mode="center-crop", size=224), "pooled")
    assert view_key(key, "id") == key, "the image as it is keeps the key saved projects already use"
    assert view_key(key, "hflip") == "v1|center-crop|pooled~hflip"
    assert persistable(view_key(key, "rot90")) and persistable(key)
    assert not persistable(view_key("v1|center-crop|conv_pw_12_relu", "hflip")), "fine-tuning activations stay"


def test_metadata_names_the_test_time_views() -> None:
    result = {"best_epoch": 1, "epochs": 1, "val_accuracy": 1.0, "val_loss": 0.1, "seconds": 1.0,
              "train_count": 4, "val_count": 2}
    prep = Preprocessing(mode="center-crop", size=224)
    with_tta = classifier_metadata(["a", "b"], prep, {"id": "v1"}, TrainOptions(tta=2), result, {}, "",
                                   ("id", "hflip"))
    assert with_tta["tta"] == ["id", "hflip"]
    assert "tta" not in classifier_metadata(["a", "b"], prep, {"id": "v1"}, TrainOptions(views=2), result, {}, "")
