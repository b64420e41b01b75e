"""Undoing deletions: Project.take/put_back, ClassIndex.insert and the Removals kept for undo (data/removals.py)."""

from __future__ import annotations

import pytest
from teachbox.data.project import Project, Sample
from teachbox.data.removals import LIMIT, Removal, Removals
from teachbox.errors import TeachboxError


def _project() -> Project:
    project = Project()
    project.add([Sample(label, f"{label}/{i}.png", f"{i}.png") for i, label in
                 enumerate(["cat", "dog", "cat", "bird", "dog", "cat"])])
    return project


def _order(project: Project) -> list[str]:
    return [s.uid for s in project.samples]


def test_samples_go_back_to_their_places_and_labels() -> None:
    project = _project()
    before = _order(project)
    first = project.take({"cat/2.png", "cat/5.png"})
    second = project.take({"dog/1.png"})
    assert _order(project) == ["cat/0.png", "bird/3.png", "dog/4.png"]
    project.put_back(second)
    project.put_back(first)
    assert _order(project) == before
    assert project.counts() == {"cat": 3, "dog": 2, "bird": 1}


def test_a_deleted_class_comes_back_at_its_output_index_with_its_images() -> None:
    project = _project()
    position, taken = project.take_class("dog")
    assert project.classes.labels == ["cat", "bird"]
    back = project.put_back(taken, (position, "dog"))
    assert project.classes.labels == ["cat", "dog", "bird"]
    assert [s.uid for s in back] == ["dog/1.png", "dog/4.png"]
    assert _order(project) == _order(_project())


def test_an_empty_class_deleted_comes_back_and_a_class_made_again_meanwhile_is_joined() -> None:
    project = _project()
    project.add_class("fish")
    position, taken = project.take_class("fish")
    project.put_back(taken, (position, "fish"))
    assert project.classes.labels == ["cat", "dog", "bird", "fish"]
    position, taken = project.take_class("dog")
    project.add_class("dog")  # a new class of the old name, at the end: the images join it, nothing is doubled
    project.put_back(taken, (position, "dog"))
    assert project.classes.labels == ["cat", "bird", "fish", "dog"] and project.counts()["dog"] == 2


def test_a_sample_that_is_back_already_is_not_doubled() -> None:
    project = _project()
    taken = project.take({"cat/0.png"})
    project.add([taken[0][1]])
    assert project.put_back(taken) == []
    assert _order(project).count("cat/0.png") == 1


def test_removals_undo_the_newest_or_the_named_one_and_keep_only_the_last_few() -> None:
    removals = Removals()
    kept = [Removal([]) for _ in range(LIMIT + 2)]
    for removal in kept:
        removals.keep(removal)
    assert removals.take(kept[3].token) is kept[3]
    assert removals.take() is kept[-1]
    with pytest.raises(TeachboxError) as gone:
        removals.take(kept[0].token)  # dropped: only the last LIMIT are kept
    assert gone.value.code == "nothing_to_undo"
    removals.clear()
    with pytest.raises(TeachboxError):
        removals.take()


def test_images_deleted_from_a_class_renamed_since_go_back_under_its_new_name() -> None:
    project = _project()
    removals = Removals()
    cats = Removal(project.take({"cat/2.png"}))
    removals.keep(cats)
    position, taken = project.take_class("dog")
    removals.keep(Removal(taken, (position, "dog")))
    project.add_class("dog")
    project.rename_class("cat", "kitten")
    removals.renamed("cat", "kitten")
    project.rename_class("dog", "puppy")  # the new "dog", not the deleted one
    removals.renamed("dog", "puppy")
    dogs = removals.take()
    assert dogs.class_place == (1, "dog") and dogs.summary()["labels"] == ["dog"]
    assert removals.take().summary() == {"undo": cats.token, "samples": 1, "classes": [], "labels": ["kitten"]}
