"""Labelled data in, through the UI of a default build (issue 13, part 8 and the sample of part 9), on one page:

1. a folder that holds its labels.csv, picked with the import form's folder input and no CSV chosen, becomes the
   CSV's classes with the CSV's counts; the report lists the rows it skipped and why (screenshots at 1366×850 and
   390×844), and it is gone once a new project is made;
   the same folder dropped on the page is read the same way;
2. the CSV address field's example is the bundled sample's address, and typing it loads the sample;
3. "Try a sample" loads the 2 × 40 malaria cells the default build ships, and training on them works.

Tests run in file order on one page (module-scoped); each one starts by making a new project, so `-k` works.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT, SHARED
from tests.e2e.conftest import open_app
from tests.e2e.test_offline import poll
from tests.e2e.test_panels import new_project
from tests.e2e.test_ui import FOLDER_DROP

MALARIA = SHARED / "datasets" / "malaria" / "images"
SCREENS = ROOT / "test-results" / "screens"
SAMPLE_CSV = "samples/malaria-cells/labels.csv"
SAMPLE_CARDS = {"Parasitized": "40 images", "Uninfected": "40 images"}
SIZES = {"desktop": {"width": 1366, "height": 850}, "phone": {"width": 390, "height": 844}}

CARDS = """() => Object.fromEntries([...document.querySelectorAll('.class-card')].map(
  (card) => [card.querySelector('h3').textContent, card.querySelector('.count').textContent]))"""


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    page, _ = open_app(module_context, server.url)
    page.ids = {}
    page.set_viewport_size(SIZES["desktop"])
    page.set_default_timeout(60_000)
    return page


def cards(page) -> dict[str, str]:  # noqa: ANN001
    return page.evaluate(CARDS)


def report(page) -> str:  # noqa: ANN001
    return page.locator("#import-report").text_content() or ""


def labelled_folder(scratch) -> tuple:  # noqa: ANN001
    """scratch/labelled/cells: images/<label>/…, an unlisted image, and a labels.csv (labels other than the folder
    names) with a missing file and a blank label among its rows."""
    folder = scratch / "labelled" / "cells"
    picks = {"Parasitized": sorted(MALARIA.joinpath("Parasitized").glob("*.png"))[:4],
             "Uninfected": sorted(MALARIA.joinpath("Uninfected").glob("*.png"))[:3]}
    lines = ["path,label"]
    for label, paths in picks.items():
        for path in paths:
            (folder / "images" / label).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / "images" / label / path.name)
            lines.append(f"images/{label}/{path.name},{'Infected' if label == 'Parasitized' else 'Healthy'}")
    shutil.copyfile(sorted(MALARIA.joinpath("Uninfected").glob("*.png"))[5], folder / "images" / "unlisted.png")
    lines += ["images/Uninfected/not_there.png,Healthy", f"images/Parasitized/{picks['Parasitized'][0].name},"]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, len(lines) - 1, len(lines)  # the folder, the missing row's line, the blank label's line


def test_a_folder_with_labels_csv_is_read_through_it(app, scratch) -> None:  # noqa: ANN001
    folder, missing_line, blank_line = labelled_folder(scratch)
    new_project(app, "Folder with CSV")
    app.locator("#import summary").click()
    app.locator("#csv-folder").set_input_files(folder)  # a directory input: Playwright uploads the whole folder
    assert "read through its labels.csv" in app.locator("#csv-chosen").text_content()
    app.locator("#csv-import").click()
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Imported')")
    poll(app, CARDS, lambda value: value == {"Infected": "4 images", "Healthy": "3 images"}, timeout=30)
    text = report(app)
    assert "from cells as the folder's labels.csv lists them" in text, text
    assert "2 rows skipped" in text, text
    assert f"line {missing_line}: images/Uninfected/not_there.png is not in the folder cells." in text, text
    assert f"line {blank_line}: The label on this line is empty." in text, text
    assert text.index(f"line {missing_line}") < text.index(f"line {blank_line}"), "rows listed in the CSV's order"
    SCREENS.mkdir(parents=True, exist_ok=True)
    for tag, size in SIZES.items():
        app.set_viewport_size(size)
        app.locator("#import").scroll_into_view_if_needed()
        app.locator("#import").screenshot(path=str(SCREENS / f"import-report-{tag}.png"))
    app.set_viewport_size(SIZES["desktop"])

    new_project(app, "After the import")
    assert report(app) == ""
    assert app.locator("#import-report li").count() == 0


def test_a_dropped_folder_with_labels_csv_is_read_through_it(app, scratch) -> None:  # noqa: ANN001
    """Dropped on the page (not on a class): test_ui's look-alike of a dropped folder puts the first half of the files
    at its top and the rest in `nested/`; the CSV there names them so."""
    folder = scratch / "dropped"
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in zip(("a.png", "b.png", "c.png"), sorted(MALARIA.joinpath("Parasitized").glob("*.png")),
                          strict=False):
        shutil.copyfile(path, folder / name)
    (folder / "labels.csv").write_text("path,label\na.png,Dropped infected\nnested/b.png,Dropped infected\n"
                                       "nested/c.png,Dropped healthy\nnested/zz.png,Dropped healthy\n", encoding="utf-8")
    new_project(app, "Dropped folder")
    urls = [f"/scratch/dropped/{name}" for name in ("labels.csv", "a.png", "b.png", "c.png")]
    assert app.evaluate(FOLDER_DROP, {"urls": urls, "folder": "dropped", "selector": ".panel-head h2"}) is False
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Imported')")
    counts = app.evaluate("() => teachbox.project().counts")
    assert {label: count for label, count in counts.items() if count} == {"Dropped infected": 2, "Dropped healthy": 1}
    assert app.locator("#import-report").is_visible()  # the import form opened to show it
    assert "line 5: nested/zz.png is not in the folder dropped." in report(app), report(app)


def test_the_address_example_is_the_bundled_sample_and_loads(app) -> None:  # noqa: ANN001
    new_project(app, "By address")
    field = app.locator("#csv-url")
    if not field.is_visible():
        app.locator("#import summary").click()
    assert field.get_attribute("placeholder") == SAMPLE_CSV
    field.fill(field.get_attribute("placeholder"))
    field.press("Enter")
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Loaded 80 images')")
    poll(app, CARDS, lambda value: value == SAMPLE_CARDS, timeout=30)
    assert "skipped" not in report(app)


def test_try_a_sample_loads_2_by_40_and_trains(app) -> None:  # noqa: ANN001
    new_project(app, "Sample")
    menu = app.get_by_label("Sample data set").locator("option").all_text_contents()
    assert menu == ["Malaria cells — 2 classes, 80 images, 954 kB"], menu
    app.get_by_role("button", name="Try a sample").click()
    if app.locator("#confirm-dialog").evaluate("(dialog) => dialog.open"):  # the example classes hold no images
        app.locator("#confirm-ok").click()
    poll(app, CARDS, lambda value: value == SAMPLE_CARDS, timeout=60)
    app.locator("#opt-epochs").fill("10")
    app.locator("#train-start").click()
    app.wait_for_selector("#confusion-table", timeout=180_000)
    assert app.locator("#train-messages .panel-alert").is_hidden(), app.locator("#train-messages").text_content()
    assert app.evaluate("() => teachbox.project().trained")
    summary = app.locator("#train-summary").text_content()
    assert "accuracy" in summary.lower(), summary
