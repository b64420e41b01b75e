"""Undo instead of fear, one keyboard stop per grid, and a phone where Train is near (issue 13, parts 7 and 10).

At 1366×850, in one page load: two classes filled through their file pickers (Class 1 with Uninfected cells planted
where the seeded split validates them, as test_ui does, so Results surely lists a mistake) and trained. Then each
thumbnail grid is one Tab stop with arrow keys inside; Delete removes the focused image and Ctrl+Z or the toast's
Undo puts it back at its place; the × shows on hover and focus only; Clear and a class's Delete ask nothing and undo;
a mistake deleted in Results comes back; and what IndexedDB holds after a reload (undone: all there, with its
embeddings; not undone: the delete stands). Then a 390×844 touch phone in a context of its own: each card shows one
row of thumbnails, so the Train panel is a short scroll away, and the × is always visible where nothing hovers.

The toast stays 10 s, and longer while hovered or focused: the tests act on it right after it appears.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from teachbox.data.splits import stratified_split

from tests.conftest import ROOT, SHARED
from tests.e2e.conftest import guarded_context, open_app

SCREENS = ROOT / "test-results" / "screens"
MALARIA = SHARED / "datasets" / "malaria" / "images"
PER_CLASS = 30
PLANTED = 3
VAL_PERCENT = 30
MAX_TABS = 35  # Tabs from the page top to Train, two classes of 30 images: 75 before one stop per grid, 29 after


def _pngs(folder: Path, count: int, skip: int = 0) -> list[Path]:
    return sorted(folder.iterdir())[skip:skip + count]


def _screen(name: str) -> str:
    SCREENS.mkdir(parents=True, exist_ok=True)
    return str(SCREENS / f"{name}.png")


def card(page, label: str):
    return page.locator(".class-card").filter(has=page.get_by_role("heading", name=label, exact=True))


def grid(page, label: str):
    return page.get_by_role("grid", name=f"Images of {label}")


def counts(page) -> dict:
    return page.evaluate("() => teachbox.project().counts")


def uids(page, label: str) -> list[str]:
    return page.evaluate("(label) => teachbox.samples({label, limit: 1000}).map((s) => s.uid)", label)


def focused(page) -> dict:
    """What has the keyboard focus: its role, name (aria-label) and, for an image, its uid."""
    return page.evaluate("""() => { const el = document.activeElement;
      return {role: el.getAttribute('role'), name: el.getAttribute('aria-label'), id: el.id,
              uid: el.dataset ? el.dataset.uid || null : null}; }""")


def tops(page, label: str) -> list[float]:
    """Where each thumbnail of a class stands (offsetTop): one value per row of the layout."""
    return page.evaluate("(name) => [...document.querySelectorAll(`[aria-label='${name}'] [role=gridcell]`)]"
                         ".map((item) => item.offsetTop)", f"Images of {label}")


def wait_focus(page, js_predicate: str) -> None:
    page.wait_for_function(f"() => {{ const el = document.activeElement; return !!({js_predicate}); }}")


def fill(page, label: str, images: list[Path]) -> None:
    card(page, label).locator("input[type=file]").set_input_files(images)
    page.wait_for_function("([label, n]) => teachbox.project().counts[label] === n", arg=[label, len(images)],
                           timeout=90_000)


def stored(page, samples: int) -> None:
    """Wait until IndexedDB holds `samples` images for the open project (its background save landed)."""
    page.wait_for_function("(n) => teachbox.projects().then((all) => all.find((p) => p.open).samples === n)",
                           arg=samples)


def toast(page):
    return page.locator("#undo-toast")


@pytest.fixture(scope="module")
def app(module_context, server):
    """Class 1 (Parasitized, with PLANTED Uninfected cells where the seeded split validates them) and Class 2
    (Uninfected), PER_CLASS each, trained; Results lists the planted cells as mistakes."""
    page, _info = open_app(module_context, server.url)
    page.set_viewport_size({"width": 1366, "height": 850})
    page.set_default_timeout(60_000)
    uninfected = _pngs(MALARIA / "Uninfected", PER_CLASS + PLANTED)
    class1 = list(_pngs(MALARIA / "Parasitized", PER_CLASS - PLANTED))
    _, val = stratified_split([0] * PER_CLASS + [1] * PER_CLASS, VAL_PERCENT / 100, 42)
    for position, image in zip(sorted(i for i in val if i < PER_CLASS)[:PLANTED], uninfected[:PLANTED]):
        class1.insert(position, image)
    fill(page, "Class 1", class1)
    fill(page, "Class 2", uninfected[PLANTED:])
    page.evaluate("(split) => teachbox.train({epochs: 8, validationSplit: split, seed: 42})", VAL_PERCENT / 100)
    page.wait_for_selector(".mistake .mistake-actions button", timeout=120_000)
    return page


def test_a_grid_of_thumbnails_is_one_tab_stop_with_arrow_keys_inside(app) -> None:
    app.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    presses = 0
    while focused(app)["id"] != "train-start":
        app.keyboard.press("Tab")
        presses += 1
        assert presses <= 200, "Tab never reached the Train button"
    expect(app.locator("#steps")).to_be_hidden()  # two columns: no step bar (and no Tab stops of it)
    print(f"\nTabs from the top of the page to Train with two classes of {PER_CLASS} images: {presses}")
    assert presses <= MAX_TABS, f"{presses} Tabs to reach Train"
    for label in ("Class 1", "Class 2"):
        stops = grid(app, label).locator("[tabindex='0']")
        expect(stops).to_have_count(1)
        expect(grid(app, label).locator(".thumb-remove[tabindex='-1']")).to_have_count(24)

    first = uids(app, "Class 2")
    app.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    while focused(app)["role"] != "gridcell":
        app.keyboard.press("Tab")
    assert focused(app)["uid"] == uids(app, "Class 1")[0], "Tab enters a grid at its first image"
    app.keyboard.press("Tab")
    assert focused(app)["role"] != "gridcell", "the next Tab leaves the grid"
    while focused(app)["role"] != "gridcell":
        app.keyboard.press("Tab")
    assert focused(app)["uid"] == first[0]
    for key, index in (("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1), ("End", 23), ("Home", 0)):
        app.keyboard.press(key)
        wait_focus(app, f"el.dataset.uid === {first[index]!r}")
    places = tops(app, "Class 2")
    columns = places.count(places[0])
    assert 4 <= columns < 24, columns
    app.keyboard.press("ArrowDown")
    wait_focus(app, f"el.dataset.uid === {first[columns]!r}")
    expect(grid(app, "Class 2").locator("[aria-selected=true]")).to_have_attribute("data-uid", first[columns])
    app.keyboard.press("PageDown")
    wait_focus(app, f"el.dataset.uid === {first[24]!r}")
    expect(card(app, "Class 2").locator(".page-text")).to_have_text(f"25–{PER_CLASS} of {PER_CLASS}")
    app.keyboard.press("PageUp")
    wait_focus(app, f"el.dataset.uid === {first[0]!r}")
    app.screenshot(path=_screen("undo-grid-focus-desktop"))


def test_delete_removes_the_focused_image_and_ctrl_z_puts_it_back_in_its_place(app) -> None:
    before = uids(app, "Class 2")
    grid(app, "Class 2").locator(f"[data-uid='{before[2]}']").focus()
    app.keyboard.press("Delete")
    expect(grid(app, "Class 2").locator(f"[data-uid='{before[2]}']")).to_have_count(0)
    assert counts(app)["Class 2"] == PER_CLASS - 1
    wait_focus(app, f"el.dataset.uid === {before[3]!r}")  # the focus stays in the grid, at the same place
    expect(toast(app)).to_be_visible()
    expect(app.locator("#undo-text")).to_have_text("Removed an image from “Class 2”.")
    expect(app.get_by_role("button", name="Undo")).to_be_visible()
    app.screenshot(path=_screen("undo-toast-desktop"))

    app.keyboard.press("Control+z")
    expect(app.locator("#undo-text")).to_have_text("Put back 1 image.")
    expect(app.get_by_role("button", name="Undo")).to_be_hidden()
    assert uids(app, "Class 2") == before, "the image came back elsewhere"
    wait_focus(app, f"el.dataset.uid === {before[2]!r}")

    app.keyboard.press("Backspace")  # Backspace deletes too; the toast's button undoes it, reached by Tab
    expect(app.get_by_role("button", name="Undo")).to_be_visible()
    app.get_by_role("button", name="Undo").focus()
    app.keyboard.press("Enter")
    expect(app.locator("#undo-text")).to_have_text("Put back 1 image.")
    assert uids(app, "Class 2") == before
    wait_focus(app, f"el.dataset.uid === {before[2]!r}")


def test_the_remove_control_shows_on_hover_and_focus_only(app) -> None:
    before = uids(app, "Class 2")
    item = grid(app, "Class 2").locator(f"[data-uid='{before[5]}']")
    other = grid(app, "Class 2").locator(f"[data-uid='{before[6]}']")
    app.mouse.move(0, 0)
    expect(other.locator(".thumb-remove")).to_have_css("opacity", "0")
    item.hover()
    expect(item.locator(".thumb-remove")).to_have_css("opacity", "1")
    expect(other.locator(".thumb-remove")).to_have_css("opacity", "0")
    item.locator(".thumb-remove").click()
    expect(item).to_have_count(0)
    assert counts(app)["Class 2"] == PER_CLASS - 1
    app.mouse.move(0, 0)
    expect(other.locator(".thumb-remove")).to_have_css("opacity", "1")  # it has the focus now
    app.get_by_role("button", name="Undo").click()
    expect(grid(app, "Class 2").locator(f"[data-uid='{before[5]}']")).to_have_count(1)
    assert uids(app, "Class 2") == before


def test_clear_and_delete_class_ask_nothing_and_undo(app) -> None:
    dialogs = []
    app.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ones, twos = uids(app, "Class 1"), uids(app, "Class 2")
    card(app, "Class 2").get_by_role("button", name="Remove all images of class Class 2").click()
    expect(card(app, "Class 2").locator(".count")).to_have_text("0 images")
    expect(app.locator("#confirm-dialog")).to_be_hidden()
    expect(app.locator("#undo-text")).to_have_text(f"Removed {PER_CLASS} images from “Class 2”.")
    # A newer delete replaces the toast: its Undo is for the class, and the cleared images stay cleared.
    card(app, "Class 1").get_by_role("button", name="Delete class Class 1").click()
    expect(app.locator(".class-card h3")).to_have_text(["Class 2"])
    expect(app.locator("#undo-text")).to_have_text("Deleted the class “Class 1”.")
    app.get_by_role("button", name="Undo").click()
    expect(app.locator(".class-card h3")).to_have_text(["Class 1", "Class 2"])
    expect(app.locator("#undo-text")).to_have_text(f"Put back the class “Class 1” with {PER_CLASS} images.")
    wait_focus(app, "el.getAttribute('aria-label') === 'Delete class Class 1'")
    assert uids(app, "Class 1") == ones and counts(app) == {"Class 1": PER_CLASS, "Class 2": 0}
    assert app.evaluate("() => teachbox.project().classes") == ["Class 1", "Class 2"], "the class moved"
    # The clear is still undoable from the API (the toast offers the newest delete only).
    app.evaluate("() => teachbox.undo()")
    expect(card(app, "Class 2").locator(".count")).to_have_text(f"{PER_CLASS} images")
    assert uids(app, "Class 2") == twos and dialogs == []
    with pytest.raises(Exception, match="nothing_to_undo|no deletion"):
        app.evaluate("() => teachbox.undo()")


def test_a_mistake_deleted_in_results_comes_back_with_its_buttons(app) -> None:
    mistake = app.locator(".mistake").first
    name = mistake.locator(".mistake-name").text_content()
    delete = mistake.get_by_role("button", name=f"Delete {name} from the project")
    ones = uids(app, "Class 1")
    delete.click()
    expect(mistake.locator(".mistake-status")).to_have_text("Deleted from the project.")
    expect(delete).to_be_disabled()
    assert counts(app)["Class 1"] == PER_CLASS - 1
    expect(app.locator("#undo-text")).to_have_text(f"Deleted {name}.")
    app.screenshot(path=_screen("undo-results-desktop"))
    app.get_by_role("button", name="Undo").click()
    expect(mistake.locator(".mistake-status")).to_have_text("Put back in the project.")
    expect(delete).to_be_enabled()
    expect(delete).to_be_focused()
    assert uids(app, "Class 1") == ones
    assert app.locator("#results-note").text_content().startswith("Validation accuracy"), "the note still says fixed"
    evaluation = app.evaluate("() => teachbox.evaluate()")
    assert name in [m["path"] for m in evaluation["misclassified"]], "the image left the validation split"


def test_an_undone_delete_is_all_in_storage_after_a_reload_and_one_not_undone_stands(app) -> None:
    twos = uids(app, "Class 2")
    item = grid(app, "Class 2").locator(f"[data-uid='{twos[4]}']")
    item.focus()
    app.keyboard.press("Delete")
    expect(item).to_have_count(0)
    total = 2 * PER_CLASS
    stored(app, total - 1)  # the delete is saved (its image leaves storage) before the undo writes it back
    app.keyboard.press("Control+z")
    expect(grid(app, "Class 2").locator(f"[data-uid='{twos[4]}']")).to_have_count(1)
    stored(app, total)
    app.reload()
    app.evaluate("() => teachbox.ready")
    assert uids(app, "Class 2") == twos, "storage lost the undone image or its place"
    expect(grid(app, "Class 2").locator("[role=gridcell]")).to_have_count(24)
    app.evaluate("() => teachbox.train({epochs: 2, validationSplit: 0.3, seed: 42})")
    assert app.evaluate("() => teachbox.project().embedded") == 0, "the undone image's embedding was not saved"

    grid(app, "Class 2").locator(f"[data-uid='{twos[0]}']").focus()
    app.keyboard.press("Delete")
    expect(toast(app)).to_be_visible()
    stored(app, total - 1)
    app.reload()
    app.evaluate("() => teachbox.ready")
    assert uids(app, "Class 2") == twos[1:], "a delete not undone must stand after a reload"
    expect(toast(app)).to_be_hidden()


@pytest.fixture(scope="module")
def phone(browser, server):
    """A 390×844 touch phone with two classes of 40 images."""
    with guarded_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                         device_scale_factor=2) as (ctx, _guard):
        page, _info = open_app(ctx, server.url)
        page.set_default_timeout(60_000)
        fill(page, "Class 1", _pngs(MALARIA / "Parasitized", 40))
        fill(page, "Class 2", _pngs(MALARIA / "Uninfected", 40))
        yield page


def test_on_a_phone_each_class_is_one_row_and_train_is_near(phone) -> None:
    for label in ("Class 1", "Class 2"):
        rows = len(set(tops(phone, label)))
        assert rows == 1, f"{label} shows {rows} rows of thumbnails"
        expect(card(phone, label).locator(".count")).to_have_text("40 images")
    train_top = phone.evaluate("() => document.querySelector('#train').getBoundingClientRect().top + scrollY")
    print(f"\nTrain panel at {train_top:.0f} px on a 390×844 phone with two classes of 40 images")
    assert train_top < 3 * 844, f"the Train panel starts {train_top:.0f} px down the page"
    remove = grid(phone, "Class 1").locator(".thumb-remove").first
    expect(remove).to_have_css("opacity", "1")  # no hover on a touch screen: always there
    assert phone.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    phone.screenshot(path=_screen("undo-phone-classes"), full_page=True)

    # The sticky step bar: Train is one tap away, and the bar stays at the top of the screen.
    phone.get_by_role("navigation", name="Steps").get_by_role("link", name="Train", exact=True).tap()
    expect(phone.locator("#train-title")).to_be_focused()
    expect(phone.locator("#train-title")).to_be_in_viewport()
    expect(phone.get_by_role("button", name="Train", exact=True)).to_be_in_viewport()
    steps_top = phone.evaluate("() => document.querySelector('#steps').getBoundingClientRect().top")
    assert 0 <= steps_top < 5 and phone.evaluate("() => scrollY") > 800, (steps_top, phone.evaluate("() => scrollY"))
    heading_top = phone.evaluate("() => document.querySelector('#train-title').getBoundingClientRect().top")
    steps_bottom = phone.evaluate("() => document.querySelector('#steps').getBoundingClientRect().bottom")
    assert heading_top >= steps_bottom, "the step bar covers the Train heading"
    assert phone.evaluate("() => { const s = document.querySelector('#steps'); return s.scrollWidth <= s.clientWidth; }"), \
        "the step bar's links do not fit a 390 px screen"
    phone.screenshot(path=_screen("undo-phone-train"))
    phone.get_by_role("link", name="Classes", exact=True).tap()
    expect(phone.locator("#classes-title")).to_be_focused()

    toggle = card(phone, "Class 1").locator(".rows-toggle")
    expect(toggle).to_have_text("Show all")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Show one row")
    assert len(set(tops(phone, "Class 1"))) > 1
    phone.screenshot(path=_screen("undo-phone-expanded"))
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    grid(phone, "Class 2").locator("[role=gridcell]").nth(1).locator(".thumb-remove").tap()
    expect(card(phone, "Class 2").locator(".count")).to_have_text("39 images")
    expect(phone.get_by_role("button", name="Undo")).to_be_visible()
    phone.screenshot(path=_screen("undo-phone-toast"))
    phone.get_by_role("button", name="Undo").tap()
    expect(card(phone, "Class 2").locator(".count")).to_have_text("40 images")
