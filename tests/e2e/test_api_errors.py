"""Every method of window.teachbox fails the same way: wrong types, wrong counts and bad values throw (synchronous
methods) or reject (async ones) with a JS Error that has a string `code` and a sentence without a traceback, and a
project that was there before is still there, in memory and after a reload.

The methods are enumerated from `window.teachbox` itself: one without its own bad calls in BAD_VALUES fails the
test, so a new method cannot be forgotten.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_app, read_labels, stratified, write_csv

NAME = "api_errors"
KEPT = ("id", "name", "classes", "counts", "samples", "inputSize", "trained", "model", "settings")

# Calls every method must refuse, whatever it is: true and 42 are nothing any method takes, no method takes three
# arguments, and "Class 1" + true gives a two-argument method a right first argument and a wrong second one.
GENERIC = """[[true], [42], ["Class 1", true], [1, 2, 3]]"""

# Bad values for each method, with the code each must fail with. Built in the page (Blobs, functions); `ctx` has
# the open project's id, a sample uid and the URLs of this test's folder.
BAD_VALUES = """(ctx) => ({
  info: [[[1], "bad_option"]],
  memory: [[[1], "bad_option"]],
  project: [[[1], "bad_option"]],
  cancel: [[[1], "bad_option"]],
  reset: [[[1], "bad_option"]],
  storage: [[[1], "bad_option"]],
  projects: [[[1], "bad_option"]],
  exportModel: [[[1], "bad_option"]],
  exportProject: [[[1], "bad_option"]],
  samples: [[[{offset: -1}], "bad_option"], [[{limit: 1.5}], "bad_option"], [[{labels: "x"}], "bad_option"],
            [[{label: 5}], "bad_option"], [["Class 1"], "bad_option"]],
  addClass: [[[""], "blank_label"], [["   "], "blank_label"], [["Class 1"], "duplicate_label"],
             [["a\\u0007b"], "bad_label"], [["cat\\u202eevil"], "bad_label"], [["x".repeat(101)], "bad_label"], [[], "bad_option"],
             [[null], "bad_option"], [[["a"]], "bad_option"]],
  renameClass: [[["no such class", "y"], "unknown_label"], [["Class 1", ""], "blank_label"],
                [["Class 1", "Class 2"], "duplicate_label"], [["Class 1", "a\\nb"], "bad_label"],
                [["Class 1"], "bad_option"], [[5, "y"], "bad_option"]],
  deleteClass: [[["no such class"], "unknown_label"], [[{}], "bad_option"]],
  removeSamples: [[[5], "bad_option"], [[[5]], "bad_option"], [[{uid: ctx.uid}], "bad_option"]],
  undo: [[["no-such-deletion"], "nothing_to_undo"], [[5], "bad_option"], [["a", "b"], "bad_option"]],
  relabel: [[[5, "x"], "bad_option"], [[[ctx.uid], ""], "blank_label"], [[[ctx.uid], "a\\tb"], "bad_label"],
            [[[ctx.uid]], "bad_option"]],
  on: [[["unknown-event", () => {}], "bad_option"], [["dataset", "not a function"], "bad_option"],
       [["dataset"], "bad_option"], [[5, () => {}], "bad_option"]],
  embed: [[[ctx.missingImage], "missing"], [[{}], "bad_source"], [[new Blob(["not an image"])], "not_an_image"],
          [[], "bad_option"]],
  predict: [[[ctx.missingImage], "missing"], [[{}], "bad_source"], [[], "bad_option"]],
  explain: [[[ctx.missingImage], "missing"], [[{}], "bad_source"], [[ctx.image, "no such class"], "unknown_label"],
            [[ctx.image, 5], "bad_option"], [[], "bad_option"]],
  useBase: [[["no-such-base"], "unknown_base"], [[{cut: 5}], "bad_option"], [[{ids: "x"}], "bad_option"]],
  loadDataset: [[[ctx.missingCsv], "missing"], [[ctx.csv, {append: "yes"}], "bad_option"],
                [[ctx.csv, {apend: true}], "bad_option"], [[""], "bad_option"], [[], "bad_option"]],
  addImages: [[["", [new Blob(["x"])]], "blank_label"], [["x", []], "bad_option"], [["x", [5]], "bad_option"],
              [["x"], "bad_option"]],
  train: [[[{epochs: 0}], "bad_option"], [[{nope: 1}], "bad_option"], [[{crop: "zoom"}], "bad_option"]],
  setSettings: [[[{epochs: 0}], "bad_option"], [[{nope: 1}], "bad_option"], [["fast"], "bad_option"],
                [[[20]], "bad_option"]],
  evaluate: [[[ctx.missingCsv], "missing"], [[{}], "bad_option"]],
  loadModel: [[[new Blob(["not a zip"])], "bad_model_file"], [[{}], "bad_option"], [[], "bad_option"]],
  openClassifier: [[["no-such-classifier"], "unknown_classifier"], [[5], "bad_option"], [[], "bad_option"]],
  importProject: [[[new Blob(["not a zip"])], "bad_project_file"], [[{}], "bad_option"]],
  newProject: [[["x".repeat(81)], "bad_name"], [[{}], "bad_option"]],
  openProject: [[["no-such-id"], "unknown_project"], [[], "bad_option"]],
  renameProject: [[[ctx.id, ""], "bad_name"], [["no-such-id", "n"], "unknown_project"], [[ctx.id], "bad_option"]],
  deleteProject: [[[5], "bad_option"], [[], "bad_option"]],
})"""

WALK = """async (ctx) => {
  const table = (BAD_VALUES)(ctx);
  const methods = Object.keys(teachbox).filter((name) => typeof teachbox[name] === "function");
  const outcomes = [];
  for (const name of methods) {
    const cases = [...GENERIC.map((args) => [args, null]), ...(table[name] || [])];
    for (const [args, expected] of cases) {
      const outcome = {name, args: JSON.stringify(args), expected};
      try {
        const result = teachbox[name](...args);
        if (result && typeof result.then === "function") {
          outcome.kind = "rejected";
          await result;
          outcome.kind = "resolved";
        } else {
          outcome.kind = "returned";
        }
      } catch (e) {
        outcome.isError = e instanceof Error;
        outcome.code = e && e.code;
        outcome.message = e && e.message;
        outcome.hasDetails = !!e && typeof e.details === "object" && e.details !== null;
        outcome.kind = outcome.kind || "threw";
      }
      outcomes.push(outcome);
    }
  }
  return {methods, covered: Object.keys(table), outcomes};
}""".replace("BAD_VALUES", BAD_VALUES).replace("GENERIC", GENERIC)

SNAPSHOT = """async () => {
  const project = teachbox.project();
  return {project, samples: teachbox.samples({limit: 1000}).map((s) => [s.uid, s.label]),
          projects: (await teachbox.projects()).map((p) => [p.id, p.name, p.samples, p.classes, p.trained]),
          base: teachbox.info().base.id, tensors: teachbox.memory().numTensors};
}"""


@pytest.fixture(scope="module")
def setup(module_context, server, scratch):  # noqa: ANN001, ANN201
    """A trained project, then two empty classes: the state every bad call must leave as it was."""
    rows = stratified(read_labels("malaria"), 4, seed=3)
    csv = write_csv(scratch, NAME, rows, "malaria")
    page, _ = open_app(module_context, server.url)
    page.evaluate("""async (url) => {
      await teachbox.loadDataset(url);
      await teachbox.train({epochs: 2});
      teachbox.addClass("Class 1");  // classes the bad values can name
      teachbox.addClass("Class 2");
    }""", csv)
    # The Results panel evaluates every new model and saves the report with it: the state is settled after that.
    page.wait_for_function("() => teachbox.project().model.evaluation !== null")
    ctx = {"id": page.evaluate("() => teachbox.project().id"),
           "uid": page.evaluate("() => teachbox.samples({limit: 1})[0].uid"),
           "csv": csv, "missingCsv": f"/scratch/{NAME}/no-such.csv",
           "missingImage": f"/scratch/{NAME}/images/no-such.png", "image": f"/scratch/{NAME}/{rows[0][0]}"}
    return page, ctx


@pytest.fixture(scope="module")
def walk(setup):  # noqa: ANN001, ANN201
    page, ctx = setup
    before = page.evaluate(SNAPSHOT)
    result = page.evaluate(WALK, ctx)
    after = page.evaluate(SNAPSHOT)
    return {"page": page, "before": before, "after": after, **result}


def test_every_method_has_bad_calls(walk) -> None:  # noqa: ANN001
    methods = set(walk["methods"])
    assert len(methods) >= 29, f"window.teachbox has only {sorted(methods)}"
    assert methods == set(walk["covered"]), \
        f"methods without bad calls in BAD_VALUES: {sorted(methods - set(walk['covered']))}; " \
        f"listed but not methods: {sorted(set(walk['covered']) - methods)}"


def test_every_bad_call_fails_with_a_coded_error(walk) -> None:  # noqa: ANN001
    problems = []
    print(f"\n{len(walk['outcomes'])} bad calls to {len(walk['methods'])} methods")
    for outcome in walk["outcomes"]:
        call = f"{outcome['name']}({outcome['args'][1:-1]})"
        if outcome["kind"] in ("returned", "resolved"):
            problems.append(f"{call} {outcome['kind']} instead of failing")
            continue
        if not outcome["isError"] or not isinstance(outcome["code"], str) or not outcome["hasDetails"]:
            problems.append(f"{call} failed with a non-Error or without code/details: {outcome}")
            continue
        message = outcome["message"] or ""
        if "Traceback" in message or not message.strip() or len(message) > 400:
            problems.append(f"{call}: message is not a sentence for a person: {message!r}")
        expected = outcome["expected"] or ("bad_option", "bad_source")
        if outcome["code"] not in ((expected,) if isinstance(expected, str) else expected):
            problems.append(f"{call}: code {outcome['code']!r}, expected {expected!r} ({message})")
    assert not problems, f"{len(problems)} of {len(walk['outcomes'])} bad calls:\n" + "\n".join(problems)


def test_sync_methods_throw_and_async_methods_reject(walk) -> None:  # noqa: ANN001
    kinds: dict[str, set[str]] = {}
    for outcome in walk["outcomes"]:
        kinds.setdefault(outcome["name"], set()).add(outcome["kind"])
    mixed = {name: kind for name, kind in kinds.items() if len(kind) != 1}
    assert not mixed, f"methods that sometimes throw and sometimes reject: {mixed}"
    sync = {name for name, kind in kinds.items() if kind == {"threw"}}
    assert {"addClass", "renameClass", "deleteClass", "removeSamples", "relabel", "on", "samples"} <= sync


def test_nothing_is_lost(walk) -> None:  # noqa: ANN001
    before, after = walk["before"], walk["after"]
    assert {key: after["project"][key] for key in KEPT} == {key: before["project"][key] for key in KEPT}
    assert after["project"]["trained"] and after["project"]["busy"] is None
    assert after["samples"] == before["samples"]
    assert after["projects"] == before["projects"]
    assert after["base"] == before["base"]
    assert after["tensors"] == before["tensors"], f"numTensors {before['tensors']} -> {after['tensors']}"
    page = walk["page"]
    page.reload()
    page.evaluate("() => teachbox.ready")
    restored = page.evaluate(SNAPSHOT)
    assert {key: restored["project"][key] for key in KEPT} == {key: before["project"][key] for key in KEPT}
    assert restored["samples"] == before["samples"]
    assert restored["projects"] == before["projects"]
