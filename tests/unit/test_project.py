"""Samples by class (Project, Sample) and the API's event emitter."""

from __future__ import annotations

from typing import Any

import pytest
from teachbox.data import project as project_module
from teachbox.data.class_index import ClassIndex
from teachbox.errors import TeachboxError
from teachbox.events import EVENTS, Emitter
from teachbox.data.project import Project, Sample

HOSTILE = '<img src=x onerror="alert(1)">'


def _samples(*labels: str) -> list[Sample]:
    return [Sample(label, f"images/{label}/{i}.png", f"{i}.png") for i, label in enumerate(labels)]


# --- Sample -------------------------------------------------------------------------------------------------------


def test_uid_is_the_url_for_string_sources() -> None:
    sample = Sample("cat", "data/cat/1.png", "1.png", line=3)
    assert sample.uid == "data/cat/1.png" and sample.line == 3
    assert Sample("cat", "data/cat/1.png", "other name").uid == sample.uid  # same URL, same cache key


def test_uid_is_unique_per_non_string_source() -> None:
    blob = object()
    first, same_blob = Sample("cat", blob, "a.png"), Sample("cat", blob, "a.png")
    second = Sample("cat", object(), "a.png")
    uids = {first.uid, second.uid, same_blob.uid}
    assert len(uids) == 3  # a dropped file is a new sample every time, even under the same name
    assert all(uid.startswith("file:") and uid.endswith(":a.png") for uid in uids)


def test_explicit_uid_is_kept() -> None:
    assert Sample("cat", object(), "a.png", uid="mine").uid == "mine"


# --- Project ------------------------------------------------------------------------------------------------------


def test_add_keeps_order_and_classes_by_first_appearance() -> None:
    project = Project()
    project.add(_samples("dog", "cat", "dog"))
    project.add(_samples(HOSTILE))
    assert project.classes.labels == ["dog", "cat", HOSTILE]
    assert [s.label for s in project.samples] == ["dog", "cat", "dog", HOSTILE]
    assert project.counts() == {"dog": 2, "cat": 1, HOSTILE: 1}
    assert project.label_indices() == [0, 1, 0, 2]
    assert project.label_indices(project.samples[1:2]) == [1]


def test_to_json_with_a_hostile_label() -> None:
    project = Project()
    project.add(_samples(HOSTILE, "b", HOSTILE))
    assert project.to_json() == {"classes": [HOSTILE, "b"], "counts": {HOSTILE: 2, "b": 1}, "samples": 3,
                                 "inputSize": None}


def test_remove_keeps_empty_classes_listed() -> None:
    project = Project()
    samples = _samples("cat", "dog", "dog")
    project.add(samples)
    project.remove({samples[0].uid, samples[2].uid, "not-there"})
    assert project.samples == [samples[1]]
    assert project.counts() == {"cat": 0, "dog": 1}
    assert project.to_json() == {"classes": ["cat", "dog"], "counts": {"cat": 0, "dog": 1}, "samples": 1,
                                 "inputSize": None}


def test_remove_nothing() -> None:
    project = Project()
    project.add(_samples("a", "b"))
    project.remove(set())
    assert len(project.samples) == 2


def test_label_indices_of_unknown_label() -> None:
    project = Project()
    project.add(_samples("a", "b"))
    with pytest.raises(TeachboxError) as caught:
        project.label_indices(_samples("c"))
    assert caught.value.code == "unknown_label"


def test_project_with_given_classes() -> None:
    project = Project(classes=ClassIndex(["b", "a"]))
    project.add(_samples("a"))
    assert project.counts() == {"b": 0, "a": 1}
    assert project.label_indices() == [1]


def test_max_samples_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_module, "MAX_SAMPLES", 3)
    project = Project()
    project.add(_samples("a", "b"))
    with pytest.raises(TeachboxError) as caught:
        project.add(_samples("a", "b"))
    assert caught.value.code == "too_many_samples" and "3" in caught.value.message
    assert len(project.samples) == 2  # all or nothing: the refused batch adds none
    assert project.classes.labels == ["a", "b"]
    project.add(_samples("c"))  # up to the limit is fine
    assert len(project.samples) == 3
    with pytest.raises(TeachboxError):
        project.add(_samples("d"))
    assert "d" not in project.classes


# --- Emitter ------------------------------------------------------------------------------------------------------


def _emitter() -> tuple[Emitter, list[tuple[Any, dict[str, Any]]]]:
    delivered: list[tuple[Any, dict[str, Any]]] = []
    return Emitter(lambda callback, payload: delivered.append((callback, payload))), delivered


def test_emit_delivers_to_every_listener_of_the_event() -> None:
    emitter, delivered = _emitter()
    emitter.on("progress", "cb1")
    emitter.on("progress", "cb2")
    emitter.on("trained", "cb3")
    emitter.emit("progress", {"epoch": 1})
    assert delivered == [("cb1", {"type": "progress", "epoch": 1}), ("cb2", {"type": "progress", "epoch": 1})]


def test_emit_without_listeners_delivers_nothing() -> None:
    emitter, delivered = _emitter()
    for event in EVENTS:
        emitter.emit(event, {})
    assert delivered == []


def test_unsubscribe() -> None:
    emitter, delivered = _emitter()
    off = emitter.on("dataset", "cb")
    keep = emitter.on("dataset", "other")
    off()
    off()  # a second call is harmless
    emitter.emit("dataset", {"samples": 2})
    assert delivered == [("other", {"type": "dataset", "samples": 2})]
    keep()
    emitter.emit("dataset", {})
    assert len(delivered) == 1


def test_listener_that_unsubscribes_during_emit() -> None:
    calls: list[str] = []
    offs: dict[str, Any] = {}

    def deliver(callback: str, payload: dict[str, Any]) -> None:
        calls.append(callback)
        offs[callback]()

    emitter = Emitter(deliver)
    offs["a"] = emitter.on("cancelled", "a")
    offs["b"] = emitter.on("cancelled", "b")
    emitter.emit("cancelled", {})
    emitter.emit("cancelled", {})
    assert calls == ["a", "b"]


def test_unknown_event_is_bad_option() -> None:
    emitter, _ = _emitter()
    with pytest.raises(TeachboxError) as caught:
        emitter.on("finished", "cb")
    assert caught.value.code == "bad_option"
    assert "finished" in caught.value.message and "progress" in caught.value.message


# --- editing classes and samples (the UI's label-cleaning loop) ----------------------------------------------------


def test_rename_class_keeps_its_output_index_and_relabels_its_samples() -> None:
    project = Project()
    project.add(_samples("cat", "dog", "cat"))
    project.rename_class("cat", HOSTILE)
    assert project.classes.labels == [HOSTILE, "dog"]
    assert project.counts() == {HOSTILE: 2, "dog": 1}
    assert project.label_indices() == [0, 1, 0]
    with pytest.raises(TeachboxError) as refused:
        project.rename_class("dog", HOSTILE)
    assert refused.value.code == "duplicate_label"


def test_delete_class_removes_its_samples_and_shifts_later_classes() -> None:
    project = Project()
    project.add(_samples("cat", "dog", "bird", "dog"))
    position, taken = project.take_class("dog")
    assert position == 1 and [i for i, _ in taken] == [1, 3] and all("/dog/" in s.uid for _, s in taken)
    assert project.classes.labels == ["cat", "bird"]
    assert project.label_indices() == [0, 1]
    with pytest.raises(TeachboxError) as unknown:
        project.take_class("dog")
    assert unknown.value.code == "unknown_label"


def test_add_class_refuses_duplicates_and_empty_classes_are_counted() -> None:
    project = Project()
    project.add_class("Class 1")
    project.add_class("Class 2")
    assert project.counts() == {"Class 1": 0, "Class 2": 0}
    with pytest.raises(TeachboxError) as duplicate:
        project.add_class("Class 1")
    assert duplicate.value.code == "duplicate_label"


def test_relabel_moves_only_named_samples_and_creates_the_target_class() -> None:
    project = Project()
    samples = _samples("cat", "dog", "cat")
    project.add(samples)
    assert project.relabel({samples[0].uid, samples[1].uid}, "fox") == 2
    assert project.counts() == {"cat": 1, "dog": 0, "fox": 2}
    assert project.relabel({samples[0].uid}, "fox") == 0  # already there


def test_page_windows_samples_per_class() -> None:
    project = Project()
    project.add(_samples(*(["cat"] * 5 + ["dog"] * 3)))
    assert [s.name for s in project.page("cat", 2, 2)] == ["2.png", "3.png"]
    assert len(project.page(None, 6, 100)) == 2
    assert project.page("dog", 5, 10) == []


# --- saved projects ---------------------------------------------------------------------------------------------------


def test_restored_project_keeps_class_order_and_empty_classes() -> None:
    samples = [Sample("b", "u/1.png", "1.png"), Sample("a", "u/2.png", "2.png")]
    project = Project.restored(["a", "empty", "b"], samples, 160)
    assert project.classes.labels == ["a", "empty", "b"]
    assert project.counts() == {"a": 1, "empty": 0, "b": 1}
    assert project.input_size == 160 and project.to_json()["inputSize"] == 160


def test_copy_is_independent_for_tentative_additions() -> None:
    project = Project.restored(["a"], [Sample("a", "u/1.png", "1.png")], 128)
    copy = project.copy()
    copy.add([Sample("new", "u/2.png", "2.png")])
    assert project.classes.labels == ["a"] and len(project.samples) == 1
    assert copy.classes.labels == ["a", "new"] and len(copy.samples) == 2
    assert copy.input_size == 128, "a tentative addition keeps the size the project's images are read at"


def test_file_uids_carry_a_per_page_prefix() -> None:
    """A reloaded page restarts the counter, so uids of files saved by an earlier page must not be reproducible."""
    uid = Sample("cat", object(), "a.png").uid
    assert uid.startswith(f"file:{project_module._PAGE}-")
    assert len(project_module._PAGE) == 8
