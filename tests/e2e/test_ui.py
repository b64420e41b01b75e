"""The person-facing UI end to end, in one page load: classes from files, a dropped folder, camera frames recorded
with the keyboard, training with charts, results with a confusion matrix and a fixed mistake, preview, export and
import, the Python console, hostile labels, CSV imports, and screenshots at desktop and phone widths.

Every test runs alone (`pytest -k name`) and the file runs as one suite on one page load: the page is module-scoped,
and what several tests need is a module-scoped fixture built on it once, when a test first asks: `planted` (two
classes filled through their file pickers), `trained` (a third class from the camera and a training run, all by
keyboard) and `hostile_label` (a class renamed to markup, after training). Tests that change the page keep those
states valid for the tests after them in file order, which any `-k` selection keeps: before training only Class 2
gains or loses images (Class 1 must stay as planted), after it only counts and labels change, and the CSV imports,
which replace the classes, come last.

Drag and drop: Playwright cannot drag a real folder from the desktop, so the drop is a DragEvent carrying a
DataTransfer built in the page; for the folder case the `webkitGetAsEntry()` of its item is replaced, for that one
dispatch, by a FileSystemDirectoryEntry look-alike (name, isDirectory, createReader().readEntries in two chunks,
file()) over real PNG files, which drives the UI's own directory walking code.
"""

from __future__ import annotations

import io
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from teachbox.data.splits import stratified_split

from tests.conftest import ROOT, SHARED
from tests.e2e.conftest import open_app, write_csv

HOSTILE = "<img src=x onerror=alert(1)>"
SCREENS = ROOT / "test-results" / "screens"
MALARIA = SHARED / "datasets" / "malaria" / "images"
RPS = SHARED / "datasets" / "rock_paper_scissors" / "images"
CLASS1_SIZE = 32
PLANTED = 3  # Uninfected cells labelled as Class 1 (Parasitized), placed where the seeded split validates them
VAL_PERCENT = 30
EPOCHS = 12
CLEARED = "To clear"  # test_clear_a_class's own class

CSP_WATCH = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""

FOLDER_DROP = """async ({urls, folder, selector}) => {
  const files = await Promise.all(urls.map(async (url) =>
    new File([await (await fetch(url)).blob()], url.split('/').pop(), {type: 'image/png'})));
  const fileEntry = (file) => ({isFile: true, isDirectory: false, name: file.name,
                                file: (ok) => setTimeout(() => ok(file), 0)});
  const dirEntry = (name, children) => ({isFile: false, isDirectory: true, name, createReader() {
    let chunks = [children.slice(0, 2), children.slice(2), []];
    return {readEntries: (ok) => setTimeout(() => ok(chunks.shift() || []), 0)};
  }});
  const half = Math.ceil(files.length / 2);
  const root = dirEntry(folder, [...files.slice(0, half).map(fileEntry),
                                 dirEntry('nested', files.slice(half).map(fileEntry)),
                                 fileEntry(new File(['not an image'], 'notes.txt', {type: 'text/plain'}))]);
  const transfer = new DataTransfer();
  transfer.items.add(new File([''], folder));
  const original = DataTransferItem.prototype.webkitGetAsEntry;
  DataTransferItem.prototype.webkitGetAsEntry = function () { return root; };
  try {
    const target = document.querySelector(selector);
    const init = {bubbles: true, cancelable: true, dataTransfer: transfer};
    target.dispatchEvent(new DragEvent('dragover', init));
    return target.dispatchEvent(new DragEvent('drop', init));
  } finally {
    DataTransferItem.prototype.webkitGetAsEntry = original;
  }
}"""

FILES_DROP = """async ({urls, selector}) => {
  const transfer = new DataTransfer();
  for (const url of urls) {
    transfer.items.add(new File([await (await fetch(url)).blob()], url.split('/').pop(), {type: 'image/png'}));
  }
  const init = {bubbles: true, cancelable: true, dataTransfer: transfer};
  const target = document.querySelector(selector);
  target.dispatchEvent(new DragEvent('dragover', init));
  return target.dispatchEvent(new DragEvent('drop', init));
}"""


def _pngs(folder: Path, count: int, skip: int = 0) -> list[Path]:
    return sorted(folder.iterdir())[skip:skip + count]


def _url(path: Path) -> str:
    return "/shared/" + path.relative_to(SHARED).as_posix()


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    module_context.add_init_script(CSP_WATCH)
    page, _info = open_app(module_context, server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.set_default_timeout(30_000)
    yield page
    violations = page.evaluate("() => window.cspViolations")
    mine = [v for v in violations if v.split()[0] in ("style-src-attr", "style-src-elem", "style-src", "img-src",
                                                       "script-src-attr", "media-src")]
    assert mine == [], f"the UI caused CSP violations: {mine}"
    assert page.dialogs == [], f"the page opened native dialogs: {page.dialogs}"


def card(page, label: str):  # noqa: ANN001, ANN201
    """The class card whose heading is exactly `label`."""
    return page.locator(".class-card").filter(has=page.get_by_role("heading", name=label, exact=True))


def counts(page) -> dict:  # noqa: ANN001
    return page.evaluate("() => teachbox.project().counts")


def wait_count(page, label: str, predicate, timeout_s: float = 30) -> int:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = counts(page).get(label)
        if value is not None and predicate(value):
            return value
        page.wait_for_timeout(150)
    raise AssertionError(f"count of {label!r} never satisfied the condition: {counts(page)}; "
                         f"alerts: {alert_text(page)!r}")


def alert_text(page, *panels: str) -> str:  # noqa: ANN001
    """The failures shown: the page's alert and each panel's own (or those of `panels` only)."""
    where = ", ".join(f"#{panel}-messages [role=alert]" for panel in panels) or ".panel-alert [role=alert]"
    return page.evaluate("(where) => [...document.querySelectorAll(`#alert, ${where}`)].map((el) => el.textContent)"
                         ".join('')", where)


def said(page, panel: str) -> str:  # noqa: ANN001
    """What a panel's own status line says (ui/feedback.py)."""
    return page.locator(f"#{panel}-messages .panel-notice").text_content() or ""


def tab_to(page, js_predicate: str, shift: bool = False, limit: int = 400) -> int:  # noqa: ANN001
    """Press Tab (or Shift+Tab) until document.activeElement satisfies the predicate; returns the presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if shift else "Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({js_predicate}); }}"):
            return presses
    raise AssertionError(f"Tab never reached an element with {js_predicate}")


def _screen(name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    return SCREENS / f"{name}.png"


def shoot(page, panels: tuple[str, ...], whole_page: str | None = None) -> list[Path]:  # noqa: ANN001
    """Screenshots of panels (and optionally the whole page) at desktop and 360 px widths; at 360 px the page must
    not scroll sideways. Returns the files written."""
    written: list[Path] = []
    for width, tag in ((1280, "desktop"), (360, "360")):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 740})
        page.wait_for_timeout(400)  # layout, and the charts redraw on resize
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"horizontal scroll of {overflow}px at {width}px wide"
        if whole_page:
            written.append(_screen(f"{whole_page}-{tag}"))
            page.screenshot(path=str(written[-1]), full_page=True)
        for panel in panels:
            written.append(_screen(f"{panel}-{tag}"))
            page.locator(f"#{panel}").screenshot(path=str(written[-1]))
    page.set_viewport_size({"width": 1280, "height": 900})
    return written


def _wait_recording(page, name: str, frames: int) -> None:  # noqa: ANN001
    """Wait while a record button is held until it reports `frames` captured (the rate depends on machine load)."""
    page.wait_for_function("""([name, frames]) => {
      const button = document.querySelector(`button[aria-label="${name}"]`);
      const match = /Recording… (\\d+)/.exec(button.textContent);
      return match && Number(match[1]) >= frames;
    }""", arg=[name, frames], timeout=20_000)


@pytest.fixture(scope="module")
def planted(app) -> frozenset[str]:  # noqa: ANN001
    """Class 1 and Class 2 filled through their file pickers, with PLANTED Uninfected cells among Class 1's clean
    Parasitized ones; returns the planted cells' file names. They sit where the seeded split (seed 42, 30 %
    validation, classes in order: Class 1's draw depends on its own size only) puts validation items of Class 1, so
    the model, trained on clean Parasitized cells as Class 1, must get them "wrong": a guaranteed mistake to fix."""
    parasitized = _pngs(MALARIA / "Parasitized", CLASS1_SIZE - PLANTED)
    uninfected = _pngs(MALARIA / "Uninfected", 30 + PLANTED)
    mislabelled, clean = uninfected[:PLANTED], uninfected[PLANTED:]
    _, val = stratified_split([0] * CLASS1_SIZE + [1] * 30, VAL_PERCENT / 100, 42)
    positions = [i for i in val if i < CLASS1_SIZE][:PLANTED]
    class1 = list(parasitized)
    for position, image in zip(sorted(positions), mislabelled):
        class1.insert(position, image)

    card(app, "Class 1").locator("input[type=file]").set_input_files(class1)
    wait_count(app, "Class 1", lambda n: n == CLASS1_SIZE)
    card(app, "Class 2").locator("input[type=file]").set_input_files(clean)
    wait_count(app, "Class 2", lambda n: n == 30)
    return frozenset(p.name for p in mislabelled)


@dataclass(frozen=True)
class Trained:
    """What the keyboard-driven run of the `trained` fixture left for the tests that check it and its results."""

    planted: frozenset[str]  # file names of the Uninfected cells filed under Class 1 (the `planted` fixture)
    frames: int  # camera frames recorded into Class 3 while Space was held
    held_s: float  # how long Space was held for them
    val_count: int  # validation images, as the training summary reports them


@pytest.fixture(scope="module")
def trained(app, planted: frozenset[str]) -> Trained:  # noqa: ANN001
    """Keyboard only (Tab, Enter, Space): add Class 3, open its webcam, hold Space on its record button, type the
    epochs and validation share, start training and wait for the results. Done once for the module: every test
    that needs a trained model asks for this. The focus checks along the way fail it as soon as a step breaks."""
    app.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    tab_to(app, "el.id === 'add-class'")
    app.keyboard.press("Enter")
    app.wait_for_function("() => teachbox.project().classes.includes('Class 3')")
    assert app.evaluate("() => document.activeElement.classList.contains('rename-input')"), "new class: name field"
    app.keyboard.press("Enter")  # keep the proposed name
    assert app.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Rename class Class 3"

    tab_to(app, "el.getAttribute('aria-label') === 'Record from the webcam into class Class 3'")
    app.keyboard.press("Enter")
    record = "Hold to record camera pictures for Class 3"
    app.wait_for_function(f"() => document.activeElement.getAttribute('aria-label') === {record!r}")
    started = time.monotonic()
    app.keyboard.down("Space")
    _wait_recording(app, record, 5)
    app.keyboard.up("Space")
    held_s = time.monotonic() - started
    app.wait_for_function("() => /^Recorded \\d+ pictures/.test("
                          "document.querySelector('#data-messages .panel-notice').textContent)")
    frames = wait_count(app, "Class 3", lambda n: n >= 5)
    tab_to(app, "el.id === 'capture-close'")
    app.keyboard.press("Enter")

    tab_to(app, "el.id === 'opt-epochs'")
    app.keyboard.press("Control+A")
    app.keyboard.type(str(EPOCHS))
    tab_to(app, "el.id === 'opt-val'")
    app.keyboard.press("Control+A")
    app.keyboard.type(str(VAL_PERCENT))
    tab_to(app, "el.id === 'train-start'")
    app.screenshot(path=str(_screen("keyboard-focus-train-desktop")))
    app.keyboard.press("Space")
    app.wait_for_function("() => document.querySelector('#train-summary').textContent.length > 0",
                          timeout=120_000)
    app.wait_for_selector("#confusion-table", timeout=60_000)
    assert alert_text(app) == "", alert_text(app)
    summary = app.locator("#train-summary").text_content()
    val_count = int(re.search(r"and (\d+) validation images", summary).group(1))
    return Trained(planted=planted, frames=frames, held_s=held_s, val_count=val_count)


@pytest.fixture(scope="module")
def hostile_label(app, trained: Trained) -> None:  # noqa: ANN001
    """Class 2 renamed to markup through its rename field. After training (hence `trained`, unused otherwise): the
    results tests read the classes by their plain names."""
    card(app, "Class 2").get_by_role("button", name="Rename class Class 2").click()
    field = app.locator(".rename-input")
    field.fill(HOSTILE)
    field.press("Enter")
    app.wait_for_function("(label) => teachbox.project().classes.includes(label)", arg=HOSTILE)


def test_starts_with_two_classes(app) -> None:  # noqa: ANN001
    assert app.locator("#app").is_visible()
    labels = app.locator(".class-card h3").all_text_contents()
    assert labels == ["Class 1", "Class 2"], labels
    assert counts(app) == {"Class 1": 0, "Class 2": 0}
    shoot(app, (), whole_page="page-start")


@pytest.mark.usefixtures("planted")
def test_add_images_with_file_pickers(app) -> None:  # noqa: ANN001
    first = card(app, "Class 1")
    assert first.locator(".count").text_content() == f"{CLASS1_SIZE} images"
    # Images are read at the default 224 px, which the Advanced options show.
    assert app.evaluate("() => teachbox.project().inputSize") == 224
    assert app.locator("#opt-size").input_value() == "224"
    assert first.locator(".thumbs canvas").count() == 24, "page 1 shows 24 thumbnails"
    assert first.locator(".page-text").text_content() == f"1–24 of {CLASS1_SIZE}"
    first.get_by_role("button", name="Next ›").click()
    app.wait_for_function("() => document.querySelector('.class-card .page-text').textContent.startsWith('25')")
    assert first.locator(".thumbs canvas").count() == CLASS1_SIZE - 24
    first.get_by_role("button", name="‹ Prev").click()
    app.wait_for_function("() => document.querySelector('.class-card .page-text').textContent.startsWith('1–')")
    # Thumbnails are drawn (not blank) on their canvases.
    app.wait_for_function("""() => {
      const c = document.querySelector('.class-card .thumbs canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    }""")
    # One thumbnail's × removes that sample (of Class 2: Class 1 stays as planted).
    before = counts(app)["Class 2"]
    card(app, "Class 2").locator(".thumb-remove").first.click()
    wait_count(app, "Class 2", lambda n: n == before - 1)
    assert alert_text(app) == ""


@pytest.mark.usefixtures("planted")
def test_drop_folder_and_files(app) -> None:  # noqa: ANN001
    rps = [_url(p) for p in _pngs(RPS / "rock", 6)]
    assert app.evaluate(FOLDER_DROP, {"urls": rps, "folder": "Dropped folder", "selector": ".panel-head h2"}) is False
    wait_count(app, "Dropped folder", lambda n: n == 6)
    assert card(app, "Dropped folder").locator(".count").text_content() == "6 images"
    assert "Left out 1 file that is not an image." in said(app, "data")

    extra = [_url(p) for p in _pngs(MALARIA / "Uninfected", 3, skip=40)]
    before = counts(app)["Class 2"]
    assert app.evaluate(FILES_DROP, {"urls": extra, "selector": ".class-card:nth-child(2) .thumbs"}) is False
    wait_count(app, "Class 2", lambda n: n == before + 3)

    # Deleting the dropped class asks nothing: it goes at once, and the Undo toast could bring it back.
    dropped = card(app, "Dropped folder")
    dropped.get_by_role("button", name="Delete class Dropped folder").click()
    app.wait_for_function("() => !teachbox.project().classes.includes('Dropped folder')")
    assert app.locator("#confirm-dialog").is_hidden()
    assert app.locator("#undo-text").text_content() == "Deleted the class “Dropped folder”."
    app.screenshot(path=str(_screen("undo-delete-class-desktop")))
    assert card(app, "Dropped folder").count() == 0


def test_keyboard_only_adds_class_records_and_trains(app, trained: Trained) -> None:  # noqa: ANN001
    """The `trained` fixture did it all from the keyboard (its focus checks stop it at the step that breaks); here:
    Class 3 shows the frames recorded while Space was held, at no more than ~5 a second."""
    assert trained.frames <= trained.held_s * 5 + 2, \
        f"{trained.frames} frames in {trained.held_s:.1f} s: faster than ~5 per second"
    assert card(app, "Class 3").locator(".thumbs canvas").count() == trained.frames


@pytest.mark.usefixtures("trained")
def test_charts_are_drawn_with_a_text_alternative(app) -> None:  # noqa: ANN001
    for canvas_id in ("chart-loss", "chart-acc"):
        inked = app.evaluate("""(id) => {
          const c = document.getElementById(id);
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let colours = new Set(), inked = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 0) { inked++; colours.add(`${d[i] >> 4},${d[i + 1] >> 4},${d[i + 2] >> 4}`); }
          }
          return {inked, colours: colours.size, w: c.width, h: c.height};
        }""", canvas_id)
        assert inked["inked"] > 500 and inked["colours"] > 3, f"{canvas_id} looks blank: {inked}"
        assert "epochs" in app.locator(f"#{canvas_id}").get_attribute("aria-label")
    epochs = app.locator("#history-body tr").count()
    assert 1 <= epochs <= EPOCHS
    assert app.locator("#train-progress").get_attribute("value") is not None


def test_confusion_matrix_totals(app, trained: Trained) -> None:  # noqa: ANN001
    table = app.locator("#confusion-table")
    labels = table.locator("thead th[scope=col]").all_text_contents()[1:-1]
    assert labels == ["Class 1", "Class 2", "Class 3"], labels
    body = [[int(cell) for cell in row.locator("td").all_text_contents()] for row in table.locator("tbody tr").all()]
    grand = int(table.locator(".grand-total").text_content())
    cells = sum(sum(row[:-1]) for row in body)
    evaluation = app.evaluate("() => teachbox.evaluate()")
    assert cells == grand == evaluation["count"] == trained.val_count, (cells, grand, evaluation["count"])
    assert [row[:-1] for row in body] == evaluation["confusion"]
    assert [row[-1] for row in body] == [sum(r) for r in evaluation["confusion"]]
    assert table.locator("tbody th[scope=row]").all_text_contents() == labels
    assert app.locator("#per-class-table tbody tr").count() == 3
    samples = {s["uid"]: s for s in app.evaluate("() => teachbox.samples({limit: 1000})")}
    for mistake in evaluation["misclassified"]:  # each mistake names its project sample exactly
        sample = samples[mistake["uid"]]
        assert (sample["label"], sample["name"]) == (mistake["true"], mistake["path"]), (mistake, sample)


def test_move_a_misclassified_image(app, trained: Trained) -> None:  # noqa: ANN001
    mistakes = app.evaluate("() => teachbox.evaluate()")["misclassified"]
    assert mistakes, "no misclassified validation image although 3 mislabelled cells were validated"
    first = app.locator(".mistake").first
    name = first.locator(".mistake-name").text_content()
    true = first.locator("p", has_text="True:").locator("strong").text_content()
    target = first.locator(".mistake-actions button").first
    to = target.locator("span").text_content()
    before = counts(app)
    target.click()
    app.wait_for_function("() => document.querySelector('.mistake .mistake-status').textContent.startsWith('Moved')")
    after = counts(app)
    assert after[true] == before[true] - 1 and after[to] == before[to] + 1, (name, before, after)
    assert "train again" in app.locator("#results-note").text_content()
    print(f"\nmoved {name} from {true} to {to}; planted: {name in trained.planted}")


@pytest.mark.usefixtures("trained")
def test_preview_test_image_and_live_camera(app) -> None:  # noqa: ANN001
    image = _pngs(MALARIA / "Parasitized", 1, skip=100)
    app.locator("#test-file").set_input_files(image)
    app.wait_for_selector("#test-bars .bar-row.top")
    rows = app.locator("#test-bars .bar-row")
    assert rows.count() == 3
    top = app.locator("#test-bars .bar-row.top .bar-label").text_content()
    assert top in ("Class 1", "Class 2", "Class 3")
    assert app.locator("#test-bars .bar-row.top .bar-value").text_content().endswith("%")
    dropped = _pngs(MALARIA / "Uninfected", 1, skip=100)[0]
    app.evaluate(FILES_DROP, {"urls": [_url(dropped)], "selector": "#test-drop"})
    app.wait_for_function("(name) => document.querySelector('#preview-messages .panel-notice').textContent"
                          ".startsWith(name)", arg=dropped.name)

    before = app.evaluate("() => teachbox.memory().numTensors")
    app.locator("#live-toggle").click()
    app.wait_for_selector("#live-bars .bar-row.top")
    app.wait_for_timeout(1500)
    app.locator("#live-toggle").click()
    app.wait_for_function("() => document.querySelector('#live-toggle').getAttribute('aria-pressed') === 'false'")
    app.wait_for_timeout(300)  # a prediction in flight when stopped finishes and disposes its tensors
    after = app.evaluate("() => teachbox.memory().numTensors")
    assert after == before, f"numTensors {before} before live preview, {after} after"
    assert app.locator("#live-bars .bar-row").count() == 3

    # Hold to record with the mouse (pointer events; touch uses the same path).
    before = counts(app)["Class 3"]
    card(app, "Class 3").get_by_role("button", name="Record from the webcam into class Class 3").click()
    button = app.get_by_role("button", name="Hold to record camera pictures for Class 3")
    expect(button).to_be_enabled()  # it is disabled until the camera is on: a press before that is not a press
    button.hover()
    app.mouse.down()
    _wait_recording(app, "Hold to record camera pictures for Class 3", 3)
    app.mouse.up()
    wait_count(app, "Class 3", lambda n: n >= before + 3)
    app.locator("#capture-close").click()


@pytest.mark.usefixtures("hostile_label")
def test_hostile_label_is_text(app) -> None:  # noqa: ANN001
    assert card(app, HOSTILE).locator("h3").text_content() == HOSTILE
    assert app.locator("img").count() == 0, "a label became markup"
    assert app.dialogs == []
    # The label shows as text wherever it appears: the Classes panel's message, the Move buttons' names, the console.
    assert HOSTILE in said(app, "data")


@pytest.mark.usefixtures("trained")
def test_screenshots_of_training_views(app) -> None:  # noqa: ANN001
    app.evaluate("() => { document.querySelector('#train details').open = true; }")
    written = shoot(app, ("data", "train", "results", "preview"), whole_page="page-trained")
    assert len(written) == 10
    for path in written:  # real PNGs with content (a blank capture of a hidden panel is a few hundred bytes)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2_000, (path, len(data))
    # The trained views show what a person came for: the confusion matrix and both charts.
    assert app.locator("#confusion-table tbody tr").count() == 3
    assert app.locator("#train canvas").count() >= 2


@pytest.mark.usefixtures("trained")
def test_export_download_and_import(app, tmp_path, scratch, server) -> None:  # noqa: ANN001
    with app.expect_download() as info:
        app.locator("#export-download").click()
    download = info.value
    assert download.suggested_filename == "teachbox-model.zip"
    path = tmp_path / "teachbox-model.zip"
    download.save_as(path)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert {"model.json", "weights.bin", "metadata.json"} <= set(archive.namelist())
    snippet = app.locator("#snippet").text_content()
    assert "tf.loadLayersModel" in snippet and "cropAndResize" in snippet and "127.5" in snippet
    app.locator("#snippet-copy").click()
    app.wait_for_function("() => /clipboard|selected/.test(document.querySelector('#export-messages').textContent)")
    _snippet_matches_teachbox(app, snippet, path, scratch, server)

    # The model's classes are the project's unless test_hostile_label_is_text renamed one after training: then the
    # Export panel says so (and changes nothing).
    project = app.evaluate("() => teachbox.project()")
    renamed = set(project["classes"]) != set(project["model"]["labels"])
    app.locator("#import-model").set_input_files(path)
    app.wait_for_function("() => document.querySelector('#export-messages').textContent.startsWith('Imported')")
    assert ("are not this project's" in alert_text(app)) == renamed, alert_text(app)
    assert app.evaluate("() => teachbox.project().classes") == project["classes"]


def _snippet_matches_teachbox(app, snippet: str, zip_path: Path, scratch: Path, server) -> None:  # noqa: ANN001
    """The pasted snippet, in a page without Teachbox, predicts what teachbox.predict does for the same image."""
    folder = scratch / "ui_snippet"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder / "teachbox-model")
    (folder / "index.html").write_text("<!doctype html><title>snippet</title>", encoding="utf-8")
    code = snippet.split("<script>", 1)[1].rsplit("</script>", 1)[0]
    image = _url(_pngs(MALARIA / "Parasitized", 1, skip=120)[0])
    expected = app.evaluate("(url) => teachbox.predict(url)", image)
    bare = app.context.new_page()
    try:
        bare.goto(f"{server.url}scratch/ui_snippet/index.html")
        bare.add_script_tag(url="/vendor/tfjs/tf.min.js")
        got = bare.evaluate(f"""async (url) => {{
          {code}
          await tf.setBackend('cpu');
          const image = new Image();
          image.src = url;
          await image.decode();
          return classify(await loadTeachbox(), image);
        }}""", image)
    finally:
        bare.close()
    assert [e["label"] for e in got] == [e["label"] for e in expected], (got, expected)
    for mine, theirs in zip(got, expected):
        assert abs(mine["probability"] - theirs["probability"]) < 2e-3, (got, expected)


@pytest.mark.usefixtures("hostile_label")
def test_console_runs_python(app) -> None:  # noqa: ANN001
    samples = app.evaluate("() => teachbox.project().samples")
    app.locator("#console-input").fill("len(project.samples)")
    app.locator("#console-input").press("Control+Enter")
    app.wait_for_function("() => document.querySelector('#console-output').textContent.includes('>>> len')")
    output = app.locator("#console-output").text_content()
    assert output.strip().endswith(str(samples)), output
    app.locator("#console-input").fill("import asyncio\nawait asyncio.sleep(0)\nprint(teachbox.project()['classes'])")
    app.locator("#console-run").click()
    app.wait_for_function("() => document.querySelector('#console-output').textContent.includes('onerror')")
    assert app.locator("img").count() == 0
    shoot(app, ("export", "console"), whole_page="page-final")


def test_load_csv_by_address_and_from_a_folder(app, scratch) -> None:  # noqa: ANN001
    rows = [(f"images/{p.parent.name}/{p.name}", p.parent.name)
            for p in _pngs(MALARIA / "Parasitized", 5) + _pngs(MALARIA / "Uninfected", 5)]
    url = write_csv(scratch, "ui_csv", rows + [("images/missing.png", "Uninfected")], "malaria")
    app.locator("#import summary").click()
    app.locator("#csv-url").fill(url)
    app.locator("#csv-url").press("Enter")
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Loaded')")
    assert counts(app) == {"Parasitized": 5, "Uninfected": 5}
    assert "line 12" in app.locator("#import-report").text_content()
    assert app.locator(".class-card h3").all_text_contents() == ["Parasitized", "Uninfected"]

    folder = scratch / "ui_folder" / "cells"
    for path, label in rows[:6]:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MALARIA / label / Path(path).name, target)
    csv_path = folder / "labels.csv"
    csv_path.write_text("path,label\n" + "".join(f"{p},{label} cell\n" for p, label in rows[:6]), encoding="utf-8")
    app.locator("#import-append").check()
    app.locator("#csv-file").set_input_files(csv_path)
    app.locator("#csv-folder").set_input_files(folder)
    app.locator("#csv-import").click()
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Imported')")
    assert counts(app) == {"Parasitized": 5, "Uninfected": 5, "Parasitized cell": 5, "Uninfected cell": 1}, counts(app)
    assert alert_text(app, "data", "import") == ""  # (the Export panel still says its model is for other classes)


def test_clear_a_class(app) -> None:  # noqa: ANN001
    """On a class of its own, filled through its file picker: whatever the page holds, the rest stays as it was."""
    app.evaluate("(label) => teachbox.addClass(label)", CLEARED)
    cells = card(app, CLEARED)
    cells.locator("input[type=file]").set_input_files(_pngs(MALARIA / "Parasitized", 5))
    wait_count(app, CLEARED, lambda n: n == 5)
    cells.get_by_role("button", name=f"Remove all images of class {CLEARED}").click()  # no question: undo instead
    wait_count(app, CLEARED, lambda n: n == 0)
    assert cells.locator(".count").text_content() == "0 images"
    assert cells.locator(".thumbs canvas").count() == 0
