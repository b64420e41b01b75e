"""Saved projects: manifest round trip and checks, key layout, names, and the incremental save plan."""

from __future__ import annotations

import pytest
from teachbox.errors import TeachboxError
from teachbox.store.manifest import (
    MAX_NAME,
    ProjectRecord,
    SampleRecord,
    Saved,
    blob_key,
    check_name,
    feature_key,
    persistable,
    plan_save,
    project_range,
    unique_name,
)

POOLED = "mobilenet_v1_0.25_224|center-crop|pooled"
FINETUNE = "mobilenet_v1_0.25_224|center-crop|conv_pw_12_relu"


def _record() -> ProjectRecord:
    record = ProjectRecord.new("  Cells   of   March ")
    record.classes = ["Parasitized", "Uninfected", "Empty"]
    record.samples = [SampleRecord("file:ab-1:a.png", "Parasitized", "a.png", None, 1200),
                      SampleRecord("http://x/b.png", "Uninfected", "b.png", 3, 800)]
    record.settings = {"epochs": 20, "crop": "pad"}
    record.feature_bytes, record.model_bytes = 2048, 5000
    record.input_size = 128
    return record


def test_manifest_round_trips_with_empty_classes_in_order() -> None:
    record = _record()
    assert record.name == "Cells of March"  # whitespace collapsed
    again = ProjectRecord.from_json(record.to_json())
    assert again == record
    assert again.classes == ["Parasitized", "Uninfected", "Empty"]
    assert again.bytes == 1200 + 800 + 2048 + 5000
    summary = again.summary()
    assert summary["samples"] == 2 and summary["trained"] is True and summary["bytes"] == again.bytes


@pytest.mark.parametrize("change", [
    lambda j: j.update(schema=99),
    lambda j: j.update(name=None),
    lambda j: j.update(classes="Parasitized"),
    lambda j: j.update(samples=[["uid", "Parasitized", "a.png", None]]),
    lambda j: j.update(samples=[["uid", "Nope", "a.png", None, 1]]),
    lambda j: j.update(updated="yesterday"),
    lambda j: j.update(settings=[]),
    lambda j: j.update(modelBytes=True),
    lambda j: j.update(inputSize=100),
    lambda j: j.update(inputSize="128"),
])
def test_malformed_manifests_are_refused(change) -> None:
    manifest = _record().to_json()
    change(manifest)
    with pytest.raises(TeachboxError) as caught:
        ProjectRecord.from_json(manifest)
    assert caught.value.code == "bad_saved_project"


def test_manifests_from_before_input_sizes_read_as_224() -> None:
    """Their embeddings were computed at 224 px: restoring them at another size would mix two kinds of features."""
    manifest = _record().to_json()
    del manifest["inputSize"]
    assert ProjectRecord.from_json(manifest).input_size == 224
    empty = ProjectRecord.new("empty").to_json()
    del empty["inputSize"]
    assert ProjectRecord.from_json(empty).input_size is None  # no images yet: chosen from the first ones


def test_ids_are_unique() -> None:
    assert len({ProjectRecord.new("p").id for _ in range(50)}) == 50


@pytest.mark.parametrize("name", ["", "   ", None, 42, "x" * (MAX_NAME + 1)])
def test_bad_names(name) -> None:
    with pytest.raises(TeachboxError) as caught:
        check_name(name)
    assert caught.value.code == "bad_name"


def test_names_are_kept_as_text() -> None:
    assert check_name('<img src=x onerror="alert(1)">') == '<img src=x onerror="alert(1)">'
    assert unique_name("P", ["P", "P (2)", "Q"]) == "P (3)"
    assert unique_name("New", ["P"]) == "New"


def test_every_key_of_a_project_sorts_inside_its_range() -> None:
    """IndexedDB orders arrays element-wise and arrays after strings; Python's list order agrees for these keys, so
    the range [id] .. [id, []] holds exactly one project's keys."""
    def order(key: list) -> tuple:  # IndexedDB's ordering for these shapes: strings < arrays
        return tuple((1, order(part)) if isinstance(part, list) else (0, part) for part in key)

    low, high = project_range("p1")
    inside = [blob_key("p1", "file:x"), feature_key("p1", POOLED, "http://a/b.png"), blob_key("p1", "")]
    outside = [blob_key("p0", "z"), blob_key("p10", "a"), blob_key("p2", "a"), ["p0~"]]
    for key in inside:
        assert order(low) < order(key) < order(high), key
    for key in outside:
        assert not order(low) <= order(key) <= order(high), key


def test_only_pooled_embeddings_are_kept() -> None:
    assert persistable(POOLED) and not persistable(FINETUNE) and not persistable("eval:123")


def test_save_plan_writes_only_what_changed() -> None:
    model = object()
    first = plan_save(Saved(), ["a", "b"], [(POOLED, "a"), (POOLED, "b"), (FINETUNE, "a")], model)
    assert first.put_blobs == ["a", "b"] and first.delete_blobs == []
    assert first.put_features == [(POOLED, "a"), (POOLED, "b")], "fine-tuning activations are not stored"
    assert first.put_model and not first.delete_model
    saved = first.after(Saved(), model)

    same = plan_save(saved, ["a", "b"], [(POOLED, "a"), (POOLED, "b")], model)
    assert (same.put_blobs, same.delete_blobs, same.put_features, same.delete_features) == ([], [], [], [])
    assert not same.put_model and not same.delete_model

    removed = plan_save(saved, ["b", "c"], [(POOLED, "a"), (POOLED, "b"), (POOLED, "c")], None)
    assert removed.put_blobs == ["c"] and removed.delete_blobs == ["a"]
    assert removed.put_features == [(POOLED, "c")] and removed.delete_features == [(POOLED, "a")]
    assert removed.delete_model and not removed.put_model
    after = removed.after(saved, None)
    assert after.uids == {"b", "c"} and after.features == {(POOLED, "b"), (POOLED, "c")} and after.model is None

    retrained = plan_save(after, ["b", "c"], [(POOLED, "b"), (POOLED, "c")], object())
    assert retrained.put_model, "a new classifier object is a new model to store"


def test_a_big_save_is_cut_into_chunks_and_a_small_one_stays_one() -> None:
    from teachbox.store.manifest import CHUNK_BYTES, CHUNK_OPS, put_chunks

    def op(i: int) -> tuple[str, str, str, None]:
        return ("blobs", "put", f"k{i}", None)

    assert put_chunks([]) == [[]]
    assert put_chunks([(op(1), 10), (op(2), 10)]) == [[op(1), op(2)]]
    many = put_chunks([(op(i), 1) for i in range(CHUNK_OPS * 2 + 3)])
    assert [len(chunk) for chunk in many] == [CHUNK_OPS, CHUNK_OPS, 3]
    heavy = put_chunks([(op(i), CHUNK_BYTES // 2 + 1) for i in range(3)])
    assert [len(chunk) for chunk in heavy] == [1, 1, 1]  # two would pass the byte limit
    huge = put_chunks([(op(0), CHUNK_BYTES * 3), (op(1), 1)])
    assert [len(chunk) for chunk in huge] == [1, 1]  # one record over the limit still goes, alone
    assert [o for chunk in many for o in chunk] == [op(i) for i in range(CHUNK_OPS * 2 + 3)]  # order kept
