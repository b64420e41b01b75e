"""Results last: the last evaluation is saved with the model, comes back on reload and with a project import, and
"Evaluate again" works after a reload (the validation images' uids travel with the model)."""

from __future__ import annotations

import base64

from tests.e2e.conftest import B64_OF_BLOB, held_out_split, open_app

EXPORT_B64 = f"async () => ({B64_OF_BLOB})(await teachbox.exportProject())"


def _results(page) -> dict:  # noqa: ANN001
    page.wait_for_selector("#confusion-table")
    return {"note": page.locator("#results-note").text_content(),
            "confusion": page.locator("#confusion-table").inner_text(),
            "enabled": page.is_enabled("#results-evaluate")}


def test_results_come_back_after_a_reload_and_an_import(context, browser, server, scratch) -> None:  # noqa: ANN001
    split = held_out_split(scratch, "results_last", "malaria", 30, 2, seed=31)
    page, _ = open_app(context, server.url)
    page.evaluate("(url) => teachbox.loadDataset(url).then(() => teachbox.train({epochs: 10, seed: 3}))",
                  split["train"])
    first = _results(page)
    evaluation = page.evaluate("() => teachbox.project().model.evaluation")
    assert evaluation and evaluation["count"] > 0, evaluation
    accuracy = f"{evaluation['accuracy'] * 100:.1f}%"
    assert accuracy in first["note"], first

    page.reload()
    page.evaluate("() => window.teachbox.ready")
    again = _results(page)
    print(f"\nafter a reload: {again['note']!r}")
    assert again["confusion"] == first["confusion"], "the confusion matrix changed across the reload"
    assert accuracy in again["note"] and "Saved with the model" in again["note"], again
    assert again["enabled"], "Evaluate again is disabled after a reload"
    page.click("#results-evaluate")
    page.wait_for_function("() => !document.querySelector('#results-note').textContent.includes('Saved with')")
    assert page.locator("#confusion-table").inner_text() == first["confusion"], \
        "evaluating the restored model on its validation images gave other results"
    reevaluated = page.evaluate("() => teachbox.evaluate()")
    assert reevaluated["accuracy"] == evaluation["accuracy"] and reevaluated["count"] == evaluation["count"]

    data = page.evaluate(EXPORT_B64)
    fresh = browser.new_context()
    try:
        other, _ = open_app(fresh, server.url)
        other.evaluate("""async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          await teachbox.importProject(new Blob([bytes], {type: 'application/zip'}));
        }""", data)
        imported = _results(other)
        assert imported["confusion"] == first["confusion"], (imported["confusion"], first["confusion"])
        assert accuracy in imported["note"] and "Saved with the model" in imported["note"], imported
        assert len(base64.b64decode(data)) > 1000
    finally:
        fresh.close()
