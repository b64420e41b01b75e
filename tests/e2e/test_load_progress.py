"""The Data panel's progress line and Stop while a big folder is imported through the UI (issue 14, scale).

A folder of 2 × 400 real malaria cells is picked with *Choose image folder…*; the line appears with the count read
so far and the time left, stays in view while the Data panel is scrolled to the import form, and *Stop* ends the import with
"Stopped" said and the project as it was (the class added before it keeps its images; nothing of the stopped class
is adopted). A second import of the same folder, left to finish, brings every image and hides the line.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import ROOT, SHARED
from tests.e2e.conftest import open_app
from tests.e2e.test_panels import new_project

MALARIA = SHARED / "datasets" / "malaria" / "images"
SCREENS = ROOT / "test-results" / "screens"
PER_CLASS = 400


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    page, _ = open_app(module_context, server.url)
    page.ids = {}  # test_panels.new_project keeps the ids of the projects it made here
    page.set_viewport_size({"width": 1366, "height": 850})
    page.set_default_timeout(120_000)
    return page


@pytest.fixture(scope="module")
def big_folder(scratch):  # noqa: ANN001, ANN201
    """scratch/big/cells/<label>/…: 400 images per class, a folder of class folders."""
    folder = scratch / "big" / "cells"
    for label in ("Parasitized", "Uninfected"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for path in sorted(MALARIA.joinpath(label).glob("*.png"))[:PER_CLASS]:
            shutil.copyfile(path, folder / label / path.name)
    return folder


def counts(page) -> dict[str, int]:  # noqa: ANN001
    return page.evaluate("() => window.teachbox.project().counts")


def test_stop_ends_a_big_folder_import_and_keeps_the_project(app, big_folder) -> None:  # noqa: ANN001
    new_project(app, "Big folder")
    app.evaluate("() => { document.getElementById('import').open = true; }")  # open, whatever the last test left
    app.locator("#csv-folder").set_input_files(big_folder)
    app.locator("#csv-import").click()
    line = app.locator("#data-progress-text")
    # The second class is being read: the first one is in the project by then.
    app.wait_for_function("""() => !document.querySelector('#data-progress').hidden
      && /Reading images for “Uninfected”: \\d/.test(document.querySelector('#data-progress-text').textContent)""")
    text = line.text_content()
    assert re.fullmatch(r"Reading images for “Uninfected”: [\d,]+ of 400( — .*)?", text), text
    # The person is at the import form, low in the Data panel: the line has followed them there.
    app.locator("#import-report").scroll_into_view_if_needed()
    app.evaluate("() => window.scrollBy(0, 200)")
    assert app.locator("#data-stop").is_visible()
    box = app.locator("#data-progress").bounding_box()
    assert box is not None and 0 <= box["y"] < 850 - box["height"], f"the progress line is out of view: {box}"
    app.locator("#data-progress").screenshot(path=str(SCREENS / "data-progress-desktop.png"))
    app.locator("#data-stop").click()
    app.wait_for_function("() => document.querySelector('#data-progress').hidden")
    said = app.locator("#import-messages").text_content()
    assert "Stopped" in said, said
    assert counts(app) == {"Parasitized": PER_CLASS}, counts(app)
    assert app.evaluate("() => window.teachbox.project().busy") is None


def test_a_big_folder_import_left_alone_brings_every_image(app, big_folder) -> None:  # noqa: ANN001
    new_project(app, "Big folder, whole")
    app.evaluate("() => { document.getElementById('import').open = true; }")  # open, whatever the last test left
    app.locator("#csv-folder").set_input_files(big_folder)
    app.locator("#csv-import").click()
    app.wait_for_function("() => !document.querySelector('#data-progress').hidden")
    app.wait_for_function("() => window.teachbox.project().samples === 800 && !window.teachbox.project().busy")
    app.wait_for_function("() => document.querySelector('#data-progress').hidden")
    assert counts(app) == {"Parasitized": PER_CLASS, "Uninfected": PER_CLASS}
