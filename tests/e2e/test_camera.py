"""The webcam in the class card and the preview beside its bars (issue 13, parts 1 and 2), through the UI with
Chromium's fake camera: hold to record by mouse and by Space with frames joining the card while held, timed
recording that honours its delay and duration, the camera picker, the camera's tracks stopped as soon as nothing
shows its picture, and the live picture and its bars side by side on a desktop and together on a phone, on every
backend.

The tests share one page in file order: the recording tests fill Class 1 and Class 2 with camera frames, which the
preview test trains on. Every getUserMedia stream the page gets is kept (an init script), so a test can see whether
the camera is really off: all its tracks ended, not just the picture hidden.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import guarded_context, open_app, read_labels, stratified, write_csv

HOSTILE = "<img src=x onerror=alert(1)>"
SCREENS = ROOT / "test-results" / "screens"

KEEP_STREAMS = """
window.cameraStreams = [];
const askForCamera = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const stream = await askForCamera(constraints);
  window.cameraStreams.push(stream);
  return stream;
};
"""

# How many times the live bars changed (their widths and percentages), counted by a MutationObserver.
COUNT_BAR_UPDATES = """() => {
  window.barUpdates = 0;
  new MutationObserver(() => { window.barUpdates += 1; })
    .observe(document.querySelector('#live-bars'), {subtree: true, attributes: true, characterData: true,
                                                    childList: true});
}"""


@pytest.fixture(scope="module")
def app(browser, server):  # noqa: ANN001, ANN201
    with guarded_context(browser) as (ctx, _guard):
        ctx.add_init_script(KEEP_STREAMS)
        page, _info = open_app(ctx, server.url)
        page.set_viewport_size({"width": 1366, "height": 850})
        page.set_default_timeout(60_000)
        yield page


def card(page, label: str):  # noqa: ANN001, ANN201
    return page.locator(".class-card").filter(has=page.get_by_role("heading", name=label, exact=True))


def shown_count(page, label: str) -> int:  # noqa: ANN001
    """The count a person reads on the card ("7 images")."""
    return int(re.match(r"\d+", card(page, label).locator(".count").text_content()).group())


def live_tracks(page) -> int:  # noqa: ANN001
    return page.evaluate("() => cameraStreams.flatMap((s) => s.getTracks())"
                         ".filter((t) => t.readyState === 'live').length")


def open_webcam(page, label: str):  # noqa: ANN001, ANN201
    """Press the card's Webcam button; returns the record button once the camera shows its picture."""
    card(page, label).get_by_role("button", name=f"Record from the webcam into class {label}").click()
    record = card(page, label).locator("#capture-record")
    page.wait_for_function("() => { const record = document.querySelector('#capture-record');"
                           " return !!record && !record.disabled; }")  # the capture may not be in the card yet
    return record


def wait_recorded(page) -> int:  # noqa: ANN001
    """Wait for the Classes panel to say how many pictures the recording took; returns that number."""
    page.wait_for_function("() => /^Recorded \\d+ picture/.test("
                           "document.querySelector('#data-messages .panel-notice').textContent)")
    text = page.locator("#data-messages .panel-notice").text_content()
    return int(re.search(r"Recorded (\d+)", text).group(1))


def wait_grows_while_held(page, label: str, above: int) -> None:  # noqa: ANN001
    """The card's own count passes `above` + 1 while the record button is still pressed: frames join as taken."""
    page.wait_for_function("""([label, above]) => {
      const card = [...document.querySelectorAll('.class-card')]
        .find((c) => c.querySelector('.class-name-text')?.textContent === label);
      const shown = parseInt(card.querySelector('.count').textContent, 10);
      const held = document.querySelector('#capture-record').getAttribute('aria-pressed') === 'true';
      if (!held) throw new Error(`the recording ended before frames showed: ${shown}`);
      return shown >= above + 2;
    }""", arg=[label, above], timeout=30_000)


def test_the_camera_picker_lists_the_fake_camera(app) -> None:  # noqa: ANN001
    assert live_tracks(app) == 0
    open_webcam(app, "Class 1")
    app.locator(".capture-settings summary").click()
    options = app.locator("#camera-select option").all_text_contents()
    assert any("fake" in option.lower() for option in options), options
    assert app.locator("#capture-video").evaluate("(v) => v.videoWidth > 0 && !v.paused")
    assert live_tracks(app) == 1
    SCREENS.mkdir(parents=True, exist_ok=True)
    card(app, "Class 1").screenshot(path=str(SCREENS / "class-card-webcam-desktop.png"))


def test_hold_to_record_with_the_mouse_fills_the_card_while_held(app) -> None:  # noqa: ANN001
    record = open_webcam(app, "Class 1") if live_tracks(app) == 0 else app.locator("#capture-record")
    before = shown_count(app, "Class 1")
    record.hover()
    app.mouse.down()
    wait_grows_while_held(app, "Class 1", before)
    app.mouse.up()
    taken = wait_recorded(app)
    app.wait_for_function("(n) => teachbox.project().counts['Class 1'] === n", arg=before + taken)
    assert record.text_content() == "Hold to record"
    app.wait_for_timeout(800)  # nothing more is recorded after the button is let go
    assert shown_count(app, "Class 1") == before + taken
    assert card(app, "Class 1").locator(".thumbs canvas").count() == before + taken


def test_hold_space_records_into_the_card_it_was_opened_in(app) -> None:  # noqa: ANN001
    """Opening the webcam in Class 2 moves it there (one capture at a time) and gives its record button the focus:
    holding Space records into Class 2 and Class 1 keeps its count."""
    class1 = shown_count(app, "Class 1")
    before = shown_count(app, "Class 2")
    open_webcam(app, "Class 2")
    app.wait_for_function("() => document.activeElement.getAttribute('aria-label') === "
                          "'Hold to record camera pictures for Class 2'")
    assert card(app, "Class 1").locator("#capture").count() == 0
    app.keyboard.down("Space")
    wait_grows_while_held(app, "Class 2", before)
    app.keyboard.up("Space")
    taken = wait_recorded(app)
    app.wait_for_function("(n) => teachbox.project().counts['Class 2'] === n", arg=before + taken)
    app.wait_for_timeout(800)
    assert shown_count(app, "Class 2") == before + taken
    assert shown_count(app, "Class 1") == class1


def test_timed_recording_waits_the_delay_then_takes_fps_times_duration_frames(app) -> None:  # noqa: ANN001
    record = app.locator("#capture-record")
    if app.locator(".capture-settings").get_attribute("open") is None:
        app.locator(".capture-settings summary").click()
    app.get_by_label("Hold to record", exact=True).uncheck()
    assert record.text_content() == "Record"
    app.get_by_label("Frames per second").fill("4")
    app.get_by_label("Delay (s)").fill("1")
    app.get_by_label("Duration (s)").fill("2")
    before = shown_count(app, "Class 2")
    app.locator("#data-messages .panel-notice").evaluate("(p) => { p.textContent = ''; }")
    record.click()
    # The countdown shows, and nothing is recorded during it.
    app.wait_for_function("""(before) => {
      const text = document.querySelector('#capture-record').textContent;
      return text.startsWith('Starts in') && teachbox.project().counts['Class 2'] === before;
    }""", arg=before)
    assert wait_recorded(app) == 8  # 4 frames a second for 2 seconds, counted, not timed
    app.wait_for_function("(n) => teachbox.project().counts['Class 2'] === n", arg=before + 8)
    assert shown_count(app, "Class 2") == before + 8
    app.get_by_label("Hold to record", exact=True).check()
    assert record.text_content() == "Hold to record"


def test_the_camera_is_off_when_nothing_shows_it(app) -> None:  # noqa: ANN001
    assert live_tracks(app) == 1
    app.get_by_role("button", name="Close webcam").click()
    app.wait_for_function("() => cameraStreams.every((s) => s.getTracks().every((t) => t.readyState === 'ended'))")
    assert app.locator("#capture").count() == 0
    assert card(app, "Class 2").get_by_role("button", name="Webcam").get_attribute("aria-expanded") == "false"


def test_preview_shows_the_picture_beside_its_bars(app) -> None:  # noqa: ANN001
    """Train on the recorded frames (renaming Class 2 to markup first: labels are text), then Live preview: the
    bars move while the video plays, beside it at 1366×850 and both on screen at 390×844; the camera stays on while
    a card also shows it and goes off when neither does."""
    rename = card(app, "Class 2").get_by_role("button", name="Rename class Class 2")
    rename.click()
    app.keyboard.press("Control+A")
    app.keyboard.type(HOSTILE)
    app.keyboard.press("Enter")
    app.wait_for_function("(label) => teachbox.project().classes.includes(label)", arg=HOSTILE)
    app.locator("#opt-epochs").fill("5")
    app.locator("#train-start").click()
    app.wait_for_function("() => teachbox.project().trained && !teachbox.project().busy", timeout=180_000)

    app.evaluate(COUNT_BAR_UPDATES)
    app.locator("#live-toggle").click()
    app.wait_for_selector("#live-bars .bar-row.top")
    app.wait_for_function("() => window.barUpdates >= 6")  # predictions keep coming, not one and done
    labels = app.locator("#live-bars .bar-label").all_text_contents()
    assert sorted(labels) == sorted(["Class 1", HOSTILE]), labels
    assert app.locator("img").count() == 0, "a label became markup"

    video = app.locator("#preview-video").bounding_box()
    bars = app.locator("#live-bars").bounding_box()
    assert video["x"] + video["width"] <= bars["x"], (video, bars)  # side by side, the picture first
    assert bars["y"] < video["y"] + video["height"] and video["y"] < bars["y"] + bars["height"], (video, bars)
    SCREENS.mkdir(parents=True, exist_ok=True)
    app.locator("#preview").screenshot(path=str(SCREENS / "preview-live-desktop.png"))

    app.set_viewport_size({"width": 390, "height": 844})
    app.locator(".preview-stage").scroll_into_view_if_needed()
    app.wait_for_timeout(300)
    for selector in ("#preview-video", "#live-bars"):
        box = app.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844, (selector, box)
    app.locator("#preview").screenshot(path=str(SCREENS / "preview-live-390.png"))
    app.set_viewport_size({"width": 1366, "height": 850})

    # One stream for both: a card's webcam opened and closed during live preview leaves the camera on.
    open_webcam(app, "Class 1")
    app.get_by_role("button", name="Close webcam").click()
    assert live_tracks(app) == 1
    app.locator("#live-toggle").click()
    app.wait_for_function("() => cameraStreams.every((s) => s.getTracks().every((t) => t.readyState === 'ended'))")
    assert app.locator("#preview-video").is_hidden()


@pytest.mark.parametrize("backend", ["wasm", "cpu", "webgl"])
def test_live_preview_on_every_backend(browser, server, scratch, backend: str) -> None:  # noqa: ANN001
    """A model trained by script on each backend (the set-up), then the person's Live preview: bars that move."""
    rows = stratified(read_labels("malaria"), 6, 3)
    url = write_csv(scratch, "camera-backends", rows, "malaria")
    with guarded_context(browser) as (ctx, _guard):
        page, info = open_app(ctx, f"{server.url}?backend={backend}")
        assert info["backend"] == backend, info.get("backendReason")
        page.set_default_timeout(120_000)
        page.evaluate("async (url) => { await teachbox.loadDataset(url); await teachbox.train({epochs: 3}); }", url)
        # the Results panel evaluates the new model and grows when it shows the results: let the page settle first
        page.wait_for_selector("#confusion-table")
        page.wait_for_function("() => !document.querySelector('#live-toggle').disabled")
        page.evaluate(COUNT_BAR_UPDATES)
        page.locator("#live-toggle").click()
        page.wait_for_function("() => window.barUpdates >= 4")
        assert sorted(page.locator("#live-bars .bar-label").all_text_contents()) == ["Parasitized", "Uninfected"]
        page.locator("#live-toggle").click()
