"""Several tabs on one project: a save merges its tab's changes into the stored manifest (store/merge.py).

Each test plays tabs as project_db.save and Session.save do: a tab's `base` is the manifest its memory was last
reconciled with, `mine` its memory now; storage keeps whatever the latest merge wrote.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from teachbox.data.project import Project, Sample
from teachbox.errors import TeachboxError
from teachbox.store.manifest import LEGACY_MODEL, ProjectRecord, SampleRecord, memory_record
from teachbox.store.merge import merge, same_content


class Tab:
    """One tab's memory of a project: a Project plus the record fields, and the base it last reconciled with."""

    def __init__(self, stored: ProjectRecord) -> None:
        self.base = stored
        self.record = replace(stored)
        self.project = Project.restored(stored.classes, [Sample(s.label, s.uid, s.name, uid=s.uid)
                                                         for s in stored.samples], stored.input_size)
        self.renames: list[tuple[str, str]] = []
        self.model = stored.model
        self.feature_bytes = stored.feature_bytes

    def add(self, label: str, *uids: str) -> None:
        self.project.add([Sample(label, uid, f"{uid}.png", uid=uid) for uid in uids])

    def rename(self, old: str, new: str) -> None:
        self.project.rename_class(old, new)
        self.renames.append((old, new))

    def save(self, storage: list[ProjectRecord | None], now: float = 2.0) -> ProjectRecord:
        """Merge into storage[0] as one transaction would; the base becomes what this tab wrote of its memory."""
        sizes = {s.uid: 100 for s in self.project.samples}
        mine = memory_record(self.record, self.project, sizes, self.feature_bytes, 7 if self.model else 0,
                             self.model, now)
        storage[0] = merge(self.base, mine, storage[0], self.renames, now)
        self.base, self.renames = mine, []
        return storage[0]


def _stored() -> list[ProjectRecord | None]:
    record = ProjectRecord.new("Cells")
    record.classes = ["Parasitized", "Uninfected"]
    record.samples = [SampleRecord("p1", "Parasitized", "p1.png", None, 100),
                      SampleRecord("u1", "Uninfected", "u1.png", None, 100)]
    record.input_size = 224
    return [record]


def _labels(record: ProjectRecord) -> dict[str, str]:
    return {s.uid: s.label for s in record.samples}


def test_additions_in_two_tabs_both_survive() -> None:
    """The reported loss: two tabs each add images to a new class; storage keeps both, in save order."""
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.add("Cats", "c1", "c2")
    b.add("Dogs", "d1", "d2")
    a.save(storage)
    merged = b.save(storage)
    assert merged.classes == ["Parasitized", "Uninfected", "Cats", "Dogs"]
    assert _labels(merged) == {"p1": "Parasitized", "u1": "Uninfected", "c1": "Cats", "c2": "Cats",
                               "d1": "Dogs", "d2": "Dogs"}
    assert [s.size for s in merged.samples] == [100] * 6


def test_a_tab_that_has_not_read_the_other_tabs_work_does_not_remove_it_later() -> None:
    """After its save a tab's base is its own memory, not the merge: the other tab's samples, still missing from
    its memory, must not read as removed by it on its next save."""
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.add("Cats", "c1")
    a.save(storage)
    b.add("Dogs", "d1")
    b.save(storage)
    b.project.relabel({"d1"}, "Uninfected")
    b.project.take_class("Dogs")
    merged = b.save(storage)
    assert _labels(merged) == {"p1": "Parasitized", "u1": "Uninfected", "c1": "Cats", "d1": "Uninfected"}
    assert merged.classes == ["Parasitized", "Uninfected", "Cats"]


def test_a_rename_takes_along_images_another_tab_added_to_the_old_name() -> None:
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    b.add("Parasitized", "p2")
    b.save(storage)
    a.rename("Parasitized", "Infected")
    a.rename("Infected", "Sick")  # renames replay in order
    a.add("Sick", "p3")
    merged = a.save(storage)
    assert merged.classes == ["Sick", "Uninfected"], "the class keeps its position (its model output)"
    assert _labels(merged) == {"p1": "Sick", "u1": "Uninfected", "p2": "Sick", "p3": "Sick"}


def test_a_class_deleted_in_one_tab_is_not_resurrected_by_another_tabs_stale_save() -> None:
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.project.take_class("Parasitized")
    a.save(storage)
    b.add("Uninfected", "u2")  # b still shows Parasitized and p1: unchanged there, so not written back
    b.record.name = "Cells, cleaned"
    merged = b.save(storage)
    assert merged.classes == ["Uninfected"]
    assert _labels(merged) == {"u1": "Uninfected", "u2": "Uninfected"}
    assert merged.name == "Cells, cleaned"


def test_a_class_deletion_removes_only_what_the_deleting_tab_had_seen() -> None:
    """Images another tab added meanwhile are additions, not stale state: they and their class survive."""
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    b.add("Parasitized", "p2")
    b.save(storage)
    a.project.take_class("Parasitized")
    merged = a.save(storage)
    assert _labels(merged) == {"u1": "Uninfected", "p2": "Parasitized"}
    assert merged.classes == ["Parasitized", "Uninfected"]


def test_removed_samples_stay_removed_and_relabels_of_stored_ones_apply() -> None:
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.project.remove({"p1"})
    a.save(storage)
    b.project.relabel({"p1", "u1"}, "Unsure")  # p1 is gone in storage (its image too): not brought back
    merged = b.save(storage)
    assert _labels(merged) == {"u1": "Unsure"}
    assert merged.classes == ["Parasitized", "Uninfected", "Unsure"], "a class emptied elsewhere stays listed"


def test_name_settings_input_size_and_model_are_each_tabs_where_it_changed_them() -> None:
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.record.settings = {"epochs": 30}
    a.project.input_size = 128
    a.model = "model-a"  # a trained: its save stored a model
    a.save(storage)
    b.record.name = "Renamed in b"
    b.add("Uninfected", "u2")
    merged = b.save(storage)
    assert (merged.name, merged.settings, merged.input_size) == ("Renamed in b", {"epochs": 30}, 128)
    assert (merged.model, merged.model_bytes) == ("model-a", 7), "an edit never replaces another tab's model"
    b.model = "model-b"  # b trains later: the later training is the project's model
    assert b.save(storage).model == "model-b"
    a.model = None  # a resets: its model is gone
    assert (a.save(storage).model, storage[0].model_bytes) == (None, 0)


def test_feature_bytes_add_up_across_tabs() -> None:
    storage = _stored()
    a, b = Tab(storage[0]), Tab(storage[0])
    a.feature_bytes += 3000
    b.feature_bytes += 500
    a.save(storage)
    assert b.save(storage).feature_bytes == 3500


def test_a_project_deleted_elsewhere_is_not_saved_again_but_a_new_one_is_written_whole() -> None:
    storage = _stored()
    tab = Tab(storage[0])
    tab.add("Parasitized", "p2")
    with pytest.raises(TeachboxError) as caught:
        tab.save([None])
    assert caught.value.code == "project_deleted"

    new = ProjectRecord.new("Imported")
    project = Project.restored(["A"], [Sample("A", "a1", "a1.png", uid="a1")], 224)
    mine = memory_record(new, project, {"a1": 50}, 1000, 0, None, 5.0)
    assert merge(None, mine, None, [], 5.0) == mine


def test_same_content_ignores_sizes_and_times() -> None:
    record = _stored()[0]
    assert same_content(record, replace(record, updated=99.0, feature_bytes=123))
    assert not same_content(record, replace(record, name="Other"))
    assert not same_content(record, replace(record, samples=record.samples[:1]))


def test_manifests_without_a_model_token_still_open() -> None:
    """Projects saved before tabs merged their saves have no model token: a stored model gets a fixed one."""
    record = _stored()[0]
    record.model, record.model_bytes = "token", 5000
    assert ProjectRecord.from_json(record.to_json()) == record
    old = record.to_json()
    del old["model"]
    assert ProjectRecord.from_json(old).model == LEGACY_MODEL
    old["modelBytes"] = 0
    assert ProjectRecord.from_json(old).model is None
    with pytest.raises(TeachboxError):
        ProjectRecord.from_json({**record.to_json(), "model": 42})


def test_a_deletion_undone_after_its_save_puts_images_and_class_back_in_their_places() -> None:
    """Undo re-adds what a saved delete removed: the merge puts it where this tab's memory has it, so storage (what
    a reload shows) has the same order as the page, and the save does not look like another tab's change."""
    storage = _stored()
    a = Tab(storage[0])
    a.add("Parasitized", "p2")
    a.add("Uninfected", "u2")
    a.save(storage)
    class_place = a.project.take_class("Parasitized")
    taken = a.project.take({"u1"})
    a.save(storage)
    assert [s.uid for s in storage[0].samples] == ["u2"]
    a.project.put_back(taken)
    a.project.put_back(class_place[1], (class_place[0], "Parasitized"))
    mine_order = [s.uid for s in a.project.samples]
    assert mine_order == ["p1", "u1", "p2", "u2"]
    merged = a.save(storage, now=3.0)
    assert [s.uid for s in merged.samples] == mine_order
    assert merged.classes == ["Parasitized", "Uninfected"]
    assert same_content(merged, a.base)
