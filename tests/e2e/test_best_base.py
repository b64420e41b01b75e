"""On a build that ships a more accurate base, "Best accuracy" moves to it, and once the box is ticked images are
embedded on it as they are added, so Train does not embed them a second time (on the build CI tests, which ships
one base, best stays on it: test_quality.py). Its own build of two bases, one page."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DEFAULT_BASE, SHARED, build_dist, held_out_split, open_app, serving

BEST_BASE = "mobilenet_v1_0.75_224"


@pytest.fixture(scope="module")
def two_bases(tmp_path_factory, shared_dir, scratch):  # noqa: ANN001, ANN201
    dist = build_dist(tmp_path_factory.mktemp("two-bases") / "dist", [DEFAULT_BASE, SHARED / "models" / BEST_BASE])
    with serving(dist, shared_dir, scratch) as httpd:
        yield httpd


@pytest.fixture(scope="module")
def app(module_context, two_bases):  # noqa: ANN001, ANN201
    page, info = open_app(module_context, two_bases.url)
    assert info["base"]["id"] == DEFAULT_BASE.name and BEST_BASE in [b["id"] for b in info["bases"]]
    yield page
    assert module_context.guard.foreign == [], f"requests left 127.0.0.1: {module_context.guard.foreign}"


@pytest.fixture(scope="module")
def cells(scratch):  # noqa: ANN001, ANN201
    return held_out_split(scratch, "best-base", "malaria", 20, 10, 20261203)


# Loads the CSV, then trains; the phases of the progress events each step sent, and the base after each.
LOAD_THEN_TRAIN = """async ({train, test, options}) => {
  const phases = {load: new Set(), train: new Set()};
  let step = 'load';
  const off = teachbox.on('progress', (event) => phases[step].add(event.phase));
  try {
    const loaded = await teachbox.loadDataset(train);
    const afterLoad = teachbox.info().base.id;
    step = 'train';
    const trained = await teachbox.train(options);
    const heldOut = await teachbox.evaluate(test);
    return {samples: loaded.samples, afterLoad, afterTrain: teachbox.info().base.id, trained,
            modelBase: teachbox.project().model.base.id, accuracy: heldOut.accuracy,
            phases: {load: [...phases.load], train: [...phases.train]}};
  } finally { off(); }
}"""


def test_ticking_best_embeds_the_images_once_on_its_base(app, cells) -> None:  # noqa: ANN001
    app.locator("#opt-best").check()
    app.wait_for_function("teachbox.project().settings.quality === 'best'")
    run = app.evaluate(LOAD_THEN_TRAIN, {"train": cells["train"], "test": cells["test"],
                                         "options": {"quality": "best"}})
    assert run["samples"] == 40 and "embedding" in run["phases"]["load"]
    assert run["afterLoad"] == run["afterTrain"] == run["modelBase"] == BEST_BASE, run
    assert "embedding" not in run["phases"]["train"], f"Train embedded the images again: {run['phases']}"
    assert run["trained"]["solved"] and run["accuracy"] >= 0.8, run


def test_without_the_box_a_load_stays_on_the_active_base(app, cells) -> None:  # noqa: ANN001
    app.evaluate(f"() => {{ teachbox.reset(); return teachbox.useBase({DEFAULT_BASE.name!r}); }}")
    app.locator("#opt-best").uncheck()
    app.wait_for_function("teachbox.project().settings.quality === undefined")
    run = app.evaluate(LOAD_THEN_TRAIN, {"train": cells["train"], "test": cells["test"], "options": {}})
    assert run["afterLoad"] == run["afterTrain"] == run["modelBase"] == DEFAULT_BASE.name, run
    assert "embedding" not in run["phases"]["train"], run["phases"]
    # best, asked by a script without the box: it moves to its base at Train and embeds there
    best = app.evaluate(LOAD_THEN_TRAIN, {"train": cells["train"], "test": cells["test"],
                                          "options": {"quality": "best"}})
    assert best["afterLoad"] == DEFAULT_BASE.name and best["afterTrain"] == BEST_BASE, best
    assert "embedding" in best["phases"]["train"], best["phases"]


def test_a_load_embeds_with_the_crop_the_settings_ask_for(app, cells) -> None:  # noqa: ANN001
    """A project whose settings name a crop has its images embedded that way as they are added: Train reads them."""
    app.evaluate(f"() => {{ teachbox.reset(); return teachbox.useBase({DEFAULT_BASE.name!r}); }}")
    app.locator("#opt-best").uncheck()
    app.evaluate("() => teachbox.setSettings({crop: 'pad'})")
    run = app.evaluate(LOAD_THEN_TRAIN, {"train": cells["train"], "test": cells["test"], "options": {"crop": "pad"}})
    assert "embedding" in run["phases"]["load"] and "embedding" not in run["phases"]["train"], run["phases"]
    assert run["trained"]["options"]["crop"] == "pad" and run["accuracy"] >= 0.8, run
