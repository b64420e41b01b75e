"""Folders into classes (py/teachbox/ui/folders.py, plain Python): a folder that carries its labels.csv is read
through it, not as a folder of class folders."""

from __future__ import annotations

from teachbox.data.labels_csv import parse_labels_csv
from teachbox.ui.folders import Folder, folder_from_picked, labels_csv_in, match_csv, plan_folders

# What <input webkitdirectory> hands over for the folder "malaria" of ../shared: the CSV and images/<label>/…
PICKED = [("malaria/labels.csv", "csv"), ("malaria/PROVENANCE.md", "notes"),
          ("malaria/images/Parasitized/a.png", "pa"), ("malaria/images/Parasitized/b.png", "pb"),
          ("malaria/images/Uninfected/c.png", "uc")]
CSV = "path,label\nimages/Parasitized/a.png,Parasitized\nimages/Uninfected/c.png,Uninfected\nimages/gone.png,Uninfected\n"


def test_a_folder_with_labels_csv_is_found_and_its_rows_matched() -> None:
    folder = folder_from_picked(PICKED)
    assert plan_folders([folder]).classes == {"images": ["pa", "pb", "uc"]}  # what it used to become
    assert labels_csv_in(folder) == ("labels.csv", "csv")
    match = match_csv(parse_labels_csv(CSV, "https://local.invalid/").rows, folder, "")
    assert match.plan.classes == {"Parasitized": ["pa"], "Uninfected": ["uc"]}  # b.png is not listed: left out
    assert [row.path for row in match.missing] == ["images/gone.png"]


def test_the_shallowest_csv_wins_and_its_folder_is_the_prefix() -> None:
    nested = Folder("top", [("data/labels.csv", "outer"), ("data/more/labels.csv", "inner"), ("x.png", "x")])
    assert labels_csv_in(nested) == ("data/labels.csv", "outer")


def test_no_csv_or_two_at_one_depth_means_class_folders() -> None:
    assert labels_csv_in(Folder("cats", [("a.png", 1), ("notes.csv", 2)])) is None
    assert labels_csv_in(Folder("two", [("a/labels.csv", 1), ("b/labels.csv", 2)])) is None
