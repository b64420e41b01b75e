"""Messages where the person acts, and settings that belong to the project (issue 13, parts 5 and 6), in one page
load: each panel says its own results and failures, and forgets them when another project opens; a new project
starts at the defaults and "Reset to defaults" goes back to them; a training a script starts with its own options
leaves the project's settings alone, yet the Train panel shows it and Results follow it. Then the small ones: the
delete question, a model whose classes are not the project's, the console's names, plurals, live preview's canvas.

The tests share the page in file order (each leaves the state the next one starts from): the page's first project
("Malaria" here) is loaded by CSV and trained; "Fresh" is an empty project beside it.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_app, read_labels, stratified, write_csv

PER_CLASS = 12
HOSTILE = "<img src=x onerror=alert(1)>"
DEFAULT_FIELDS = {"#opt-epochs": "50", "#opt-lr": "0.001", "#opt-hidden": "100", "#opt-val": "15"}


@pytest.fixture(scope="module")
def app(module_context, server, scratch):
    page, _info = open_app(module_context, server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    rows = stratified(read_labels("malaria"), PER_CLASS, 7)
    page.csv_url = write_csv(scratch, "panels", rows + [("images/missing.png", "Uninfected")], "malaria")
    page.ids = {"Malaria": page.evaluate("() => teachbox.project().id")}  # the page's first project
    return page


def said(page, panel: str) -> str:
    return page.locator(f"#{panel}-messages .panel-notice").text_content() or ""


def panel_alert(page, panel: str) -> str:
    box = page.locator(f"#{panel}-messages .panel-alert")
    return "" if box.is_hidden() else box.locator("[role=alert]").text_content()


def fields(page) -> dict[str, str]:
    return {selector: page.locator(selector).input_value() for selector in DEFAULT_FIELDS}


def new_project(page, name: str) -> None:
    page.get_by_role("button", name="New", exact=True).click()
    page.locator("#project-name").fill(name)
    page.keyboard.press("Enter")
    page.wait_for_function("(name) => teachbox.project().name === name", arg=name)
    page.ids[name] = page.evaluate("() => teachbox.project().id")


def open_project(page, name: str) -> None:
    ident = page.ids[name]
    page.locator("#project-select").select_option(ident)
    page.wait_for_function("(id) => teachbox.project().id === id", arg=ident)


def test_messages_appear_in_the_panel_acted_on_and_clear_when_the_project_changes(app) -> None:
    app.locator("#import summary").click()
    app.locator("#csv-url").fill(app.csv_url)
    app.locator("#csv-url-load").click()
    app.wait_for_function("() => document.querySelector('#import-report').textContent.startsWith('Loaded')")
    assert said(app, "import").startswith(f"Loaded {2 * PER_CLASS} images from "), said(app, "import")
    assert "1 row skipped" in app.locator("#import-report").text_content()
    assert app.locator("#notice").text_content() == "", "a panel's result went to the page's notice"

    app.locator("#opt-epochs").fill("0")
    app.locator("#train-start").click()
    app.wait_for_function("() => !document.querySelector('#train-messages .panel-alert').hidden")
    assert "epochs" in panel_alert(app, "train")
    assert app.locator("#alert-box").is_hidden(), "a panel's failure went to the page's alert"
    region = app.locator("#train-messages")
    assert region.locator(".panel-notice").get_attribute("aria-live") == "polite"
    assert region.locator("[role=alert]").get_attribute("aria-live") == "assertive"

    new_project(app, "Fresh")
    assert "New project “Fresh”" in app.locator("#notice").text_content()  # a global event: the page's notice
    assert panel_alert(app, "train") == "" and said(app, "import") == ""
    assert app.locator("#import-report").text_content() == "", "the old CSV report stayed in a new project"
    open_project(app, "Malaria")
    assert panel_alert(app, "train") == "" and app.locator("#import-report").text_content() == ""


def test_a_new_project_starts_at_the_defaults_and_reset_goes_back(app) -> None:
    app.locator("#opt-epochs").fill("1000")
    app.locator("#opt-lr").fill("0.01")
    app.locator("#opt-val").fill("25")
    app.locator("#train-start").click()  # the Train button saves what it trains with; early stopping ends it
    app.wait_for_function("() => document.querySelector('#train-phase').textContent === 'Done.'", timeout=120_000)
    app.wait_for_selector("#confusion-table")
    chosen = {"#opt-epochs": "1000", "#opt-lr": "0.01", "#opt-hidden": "100", "#opt-val": "25"}
    assert app.evaluate("() => teachbox.project().settings.epochs") == 1000

    open_project(app, "Fresh")
    assert fields(app) == DEFAULT_FIELDS, "a project without settings shows the defaults"
    assert app.evaluate("() => teachbox.project().settings") == {}
    assert app.locator("#train-summary").text_content() == ""
    assert app.locator("#confusion-table").count() == 0, "another project's results stayed"

    open_project(app, "Malaria")
    assert fields(app) == chosen
    app.get_by_role("button", name="Reset to defaults").click()
    assert fields(app) == DEFAULT_FIELDS
    assert "defaults" in said(app, "train")
    assert app.evaluate("() => teachbox.project().settings") == {}


def test_a_script_training_keeps_the_settings_and_the_panels_follow_it(app) -> None:
    app.locator("#opt-epochs").fill("30")
    app.locator("#train-start").click()
    app.wait_for_function("() => document.querySelector('#train-phase').textContent === 'Done.'", timeout=120_000)
    app.wait_for_selector("#confusion-table")
    settings = app.evaluate("() => teachbox.project().settings")
    before = fields(app)
    app.evaluate("""() => {
      document.querySelector('#confusion-table').dataset.old = 'yes';
      window.seen = {stop: [], phases: []};
      const stop = document.querySelector('#train-stop'), phase = document.querySelector('#train-phase');
      new MutationObserver(() => seen.stop.push(stop.disabled)).observe(stop, {attributes: true});
      new MutationObserver(() => seen.phases.push(phase.textContent))
        .observe(phase, {childList: true, characterData: true, subtree: true});
    }""")
    result = app.evaluate("() => teachbox.train({epochs: 20, learningRate: 0.01, hiddenUnits: 0})")
    app.wait_for_function("() => document.querySelector('#train-phase').textContent === 'Done.'")
    seen = app.evaluate("() => seen")
    assert False in seen["stop"], "the Train panel did not show the script's run as running"
    assert any(text.startswith("Training: epoch") for text in seen["phases"]), seen["phases"]
    summary = app.locator("#train-summary").text_content()
    assert summary.startswith(f"Trained {result['epochs']} epoch"), summary
    app.wait_for_selector("#confusion-table:not([data-old])")  # Results evaluated the new model
    assert app.locator("#results-note").text_content().startswith("Validation accuracy")
    app.wait_for_function("() => !document.querySelector('#train-start').disabled")
    assert app.locator("#train-stop").is_disabled()

    assert app.evaluate("() => teachbox.project().settings") == settings, "the script's options became settings"
    assert fields(app) == before
    assert app.evaluate("() => teachbox.project().model.training.options.learningRate") == 0.01


def test_the_delete_question_names_only_what_the_project_has(app) -> None:
    dialog = app.locator("#confirm-dialog")
    app.get_by_role("button", name="Delete…").click()
    dialog.wait_for(state="visible")
    assert f"with its {2 * PER_CLASS} images and its model" in app.locator("#confirm-text").text_content()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    open_project(app, "Fresh")
    app.get_by_role("button", name="Delete…").click()
    dialog.wait_for(state="visible")
    text = app.locator("#confirm-text").text_content()
    assert "model" not in text and "images" not in text, text
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")


def test_a_model_for_other_classes_is_named_and_nothing_is_lost(app, tmp_path) -> None:
    open_project(app, "Malaria")
    with app.expect_download() as download:
        app.locator("#export-download").click()
    path = tmp_path / "model.zip"
    download.value.save_as(path)
    open_project(app, "Fresh")
    app.evaluate("(label) => teachbox.renameClass('Class 2', label)", HOSTILE)
    classes = app.evaluate("() => teachbox.project().classes")
    app.locator("#import-model").set_input_files(path)
    app.wait_for_function("() => !document.querySelector('#export-messages .panel-alert').hidden")
    warning = panel_alert(app, "export")
    assert "“Parasitized”, “Uninfected”" in warning and "are not this project's" in warning, warning
    assert f"“Class 1”, “{HOSTILE}”" in warning, "labels are shown as text"
    assert app.locator("#app img").count() == 0
    assert said(app, "export").startswith("Imported model.zip")
    assert app.evaluate("() => teachbox.project().classes") == classes
    assert app.evaluate("() => teachbox.project().model.labels") == ["Parasitized", "Uninfected"]


def test_the_console_has_the_js_names_and_plurals_are_english(app) -> None:
    def run(code: str) -> str:
        app.locator("#console-clear").click()
        app.locator("#console-input").fill(code)
        app.locator("#console-run").click()
        app.wait_for_function("() => document.querySelector('#console-output').textContent.length > 0")
        app.wait_for_function("() => !document.querySelector('#console-run').disabled")
        return app.locator("#console-output").text_content()

    output = run("[p['name'] for p in await teachbox.projects()]")
    assert "'My project'" in output and "'Fresh'" in output, output
    output = run("teachbox")
    assert "loadDataset" in output and "setSettings" in output and "newProject" in output, output
    output = run("teachbox.load_dataset")
    assert "AttributeError" in output and "loadDataset" in output, output
    output = run("from teachbox.ui.intake import plural\n"
                 "[plural(1, 'class'), plural(3, 'class'), plural(2, 'image'), plural(12, 'epoch')]")
    assert "['1 class', '3 classes', '2 images', '12 epochs']" in output, output


def test_live_preview_reads_its_canvas_without_a_warning(app) -> None:
    open_project(app, "Malaria")
    app.locator("#live-toggle").click()
    app.wait_for_selector("#live-bars .bar-row.top")
    app.wait_for_timeout(1500)
    app.locator("#live-toggle").click()
    assert not [line for line in app.logs if "willReadFrequently" in line]

