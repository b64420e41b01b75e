"""Untrusted data sets in one page: every bad row or file is reported with its code, good rows are kept, nothing
crashes, a hostile label is kept verbatim and never executed, and a rejected CSV leaves the project as it was."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SHARED, open_app, read_labels, stratified, write_bad_images, write_csv

NAME = "errors"
BASE = f"/scratch/{NAME}"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    page, _ = open_app(module_context, server.url)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(f"{dialog.type}: {dialog.message}"), dialog.dismiss()))
    yield page
    assert page.dialogs == [], f"the page opened dialogs: {page.dialogs}"


@pytest.fixture(scope="module")
def files(scratch):  # noqa: ANN001, ANN201
    """The mixed CSV: good malaria rows plus one row per kind of problem; returns what each row should become."""
    rows = read_labels("malaria")
    picked = stratified(rows, 11, 5)
    parasitized = [row for row in picked if row[1] == "Parasitized"]
    uninfected = [row for row in picked if row[1] == "Uninfected"]
    good = parasitized[:10] + uninfected[:10]
    hostile_image = uninfected[10][0]
    real_png = SHARED / "datasets" / "malaria" / good[0][0]
    bad = write_bad_images(scratch / NAME / "bad", real_png)
    expected = {  # path -> code
        "images/Parasitized/does_not_exist.png": "missing",
        "../malaria/images/" + good[1][0].split("images/", 1)[1]: "outside_folder",
        "http://example.com/cat.png": "outside_folder",
        f"bad/{bad['empty']}": "empty_file",
        f"bad/{bad['text']}": "not_an_image",
        f"bad/{bad['truncated']}": "undecodable",
        f"bad/{bad['bomb']}": "too_large",
    }
    csv_rows = [
        *good[:5],
        (good[5][0], ""),                      # blank label (this image is listed nowhere else)
        *good[6:12],
        good[2],                               # duplicate of an earlier row
        *((path, "Parasitized") for path in expected),
        (hostile_image, HOSTILE),
        (f"bad/{bad['big']}", "huge"),
        *good[12:],
    ]
    url = write_csv(scratch, NAME, csv_rows, "malaria")
    one_class = write_csv(scratch, NAME, good[:6], file_name="one_class.csv")
    headerless = write_csv(scratch, NAME, good[:4], header=[], file_name="headerless.csv")
    # Lines: header is line 1, so csv_rows[i] is on line i + 2.
    lines = {i + 2: row for i, row in enumerate(csv_rows)}
    return {"url": url, "good": good, "expected": expected, "hostile_image": hostile_image, "big": f"bad/{bad['big']}",
            "lines": lines, "one_class": one_class, "headerless": headerless,
            "bomb": f"bad/{bad['bomb']}", "blank_line": 5 + 2, "duplicate_line": 12 + 2}


@pytest.fixture(scope="module")
def mixed(app, files):  # noqa: ANN001, ANN201
    result = app.evaluate("""async (url) => {
      const t0 = performance.now();
      const before = teachbox.memory().numTensors;
      try {
        const summary = await teachbox.loadDataset(url);
        return {summary, ms: performance.now() - t0, before, after: teachbox.memory().numTensors,
                project: teachbox.project()};
      } catch (e) {
        return {error: {code: e.code, message: e.message, details: e.details}};
      }
    }""", files["url"])
    assert "error" not in result, f"loadDataset of the mixed CSV rejected: {result.get('error')}"
    print(f"\nmixed CSV loaded in {result['ms'] / 1000:.1f}s; errors: "
          + ", ".join(f"{e['path']}={e['code']}" for e in result["summary"]["errors"]))
    return result


def _by_path(summary: dict) -> dict:
    return {error["path"]: error for error in summary["errors"]}


def test_each_bad_row_has_its_code_and_good_rows_are_kept(mixed, files) -> None:  # noqa: ANN001
    summary = mixed["summary"]
    errors = _by_path(summary)
    for path, code in files["expected"].items():
        assert path in errors, f"{path} (expected {code}) was not reported; errors: {summary['errors']}"
        assert errors[path]["code"] == code, f"{path}: code {errors[path]['code']!r}, expected {code!r} " \
                                             f"({errors[path]['message']})"
        assert errors[path]["message"], f"{path}: empty message"
    blank = [e for e in summary["errors"] if e["line"] == files["blank_line"]]
    assert [e["code"] for e in blank] == ["blank_cell"], f"line {files['blank_line']} (blank label): {blank}"
    duplicate = [e for e in summary["errors"] if e["line"] == files["duplicate_line"]]
    assert [e["code"] for e in duplicate] == ["duplicate_row"], \
        f"line {files['duplicate_line']} (duplicate): {duplicate}"
    for error in summary["errors"]:
        row = files["lines"].get(error["line"])
        assert row is not None and (error["path"] in (None, row[0])), f"error on line {error['line']} names " \
                                                                       f"{error['path']!r}, the line holds {row}"

    good = files["good"]
    kept_good = len(good) - 1  # the blank-label row's image is listed nowhere else
    big_kept = summary["counts"].get("huge", 0)
    expected_errors = len(files["expected"]) + 2 + (1 - big_kept)  # + blank + duplicate (+ big if refused)
    assert summary["error_count"] == len(summary["errors"]) == expected_errors, \
        f"{summary['error_count']} errors reported, expected {expected_errors}: {summary['errors']}"
    assert summary["counts"]["Parasitized"] == 9 and summary["counts"]["Uninfected"] == 10, \
        f"kept counts {summary['counts']} (want Parasitized 9, Uninfected 10)"
    assert summary["samples"] == kept_good + 1 + big_kept, \
        f"{summary['samples']} samples kept, expected {kept_good} good + hostile + {big_kept} big"
    assert mixed["project"]["samples"] == summary["samples"]
    assert mixed["after"] == mixed["before"], f"numTensors {mixed['before']} -> {mixed['after']} across loadDataset"


def test_huge_images_are_accepted_or_refused_cleanly(app, mixed, files) -> None:  # noqa: ANN001
    summary = mixed["summary"]
    errors = _by_path(summary)
    big = files["big"]
    if summary["counts"].get("huge") == 1:
        assert big not in errors, f"the 8000×8000 PNG is both kept and reported: {errors[big]}"
        print("\n8000×8000 PNG: accepted")
    else:
        assert big in errors, f"the 8000×8000 PNG is neither kept nor reported; counts {summary['counts']}"
        assert errors[big]["code"] in ("too_large", "undecodable"), f"8000×8000 PNG refused with {errors[big]}"
        print(f"\n8000×8000 PNG: refused with {errors[big]['code']}")
    bomb = errors[files["bomb"]]
    assert bomb["code"] == "too_large" and "20000×20000" in bomb["message"], f"20000×20000 header PNG: {bomb}"
    # The page survived: it still embeds a real image.
    embedding = app.evaluate("(url) => teachbox.embed(url)", f"{BASE}/{files['good'][0][0]}")
    assert len(embedding) == 256


def test_hostile_label_is_kept_verbatim_and_never_runs(app, mixed) -> None:  # noqa: ANN001
    summary = mixed["summary"]
    assert HOSTILE in summary["classes"], f"classes {summary['classes']} lack the label {HOSTILE!r} exactly"
    assert summary["counts"][HOSTILE] == 1
    assert app.evaluate("() => teachbox.project().classes").count(HOSTILE) == 1
    assert app.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0, "the label became markup"
    assert app.dialogs == [], f"the page opened dialogs: {app.dialogs}"


def test_headerless_csv_rejects_and_keeps_project(app, mixed, files) -> None:  # noqa: ANN001
    result = app.evaluate("""async (url) => {
      const before = teachbox.project();
      try { await teachbox.loadDataset(url); return {resolved: true}; }
      catch (e) { return {code: e.code, message: e.message, before, after: teachbox.project()}; }
    }""", files["headerless"])
    assert result.get("code") == "csv_header", f"header-less CSV gave {result}"
    assert result["after"]["samples"] == result["before"]["samples"] == mixed["summary"]["samples"], \
        f"project samples {result['before']['samples']} -> {result['after']['samples']} after a rejected CSV"
    assert result["after"]["counts"] == mixed["summary"]["counts"]
    assert result["after"]["busy"] is None


LOAD = """async ([url, options]) => {
  const before = teachbox.project();
  try { return {summary: await teachbox.loadDataset(url, options), before, after: teachbox.project()}; }
  catch (e) { return {code: e.code, message: e.message, details: e.details, before, after: teachbox.project()}; }
}"""


def test_a_csv_that_is_not_utf8_is_refused_and_a_bom_is_not(app, mixed, files, scratch) -> None:  # noqa: ANN001
    """Latin-1 label bytes are refused naming the line (never turned into U+FFFD labels); the same rows in UTF-8
    with a byte-order mark load with their labels exact."""
    used = {path for path, _ in files["good"]} | {files["hostile_image"]}
    fresh = [path for path, _ in read_labels("malaria") if path not in used][:4]
    rows = [(path, "Parasité" if i % 2 else "Uninfecté") for i, path in enumerate(fresh)]
    text = "path,label\r\n" + "".join(f"{path},{label}\r\n" for path, label in rows)
    (scratch / NAME / "latin1.csv").write_bytes(text.encode("latin-1"))
    (scratch / NAME / "bom.csv").write_bytes(text.encode("utf-8-sig"))

    refused = app.evaluate(LOAD, [f"{BASE}/latin1.csv", {"append": True}])
    assert refused.get("code") == "csv_encoding", f"a Latin-1 CSV gave {refused}"
    assert refused["message"].startswith("Line 2 of the CSV is not UTF-8") and "UTF-8" in refused["message"], \
        refused["message"]
    assert refused["details"]["line"] == 2
    assert refused["after"]["counts"] == refused["before"]["counts"] == mixed["summary"]["counts"]

    loaded = app.evaluate(LOAD, [f"{BASE}/bom.csv", {"append": True}])
    assert "summary" in loaded, f"the UTF-8 CSV with a BOM was refused: {loaded}"
    assert loaded["summary"]["error_count"] == 0, loaded["summary"]["errors"]
    assert loaded["after"]["counts"]["Parasité"] == 2 and loaded["after"]["counts"]["Uninfecté"] == 2
    assert not any("\ufffd" in label for label in loaded["after"]["classes"])


def test_a_csv_away_from_its_images_stops_after_its_first_rows(app, mixed, scratch,  # noqa: ANN001
                                                            module_context) -> None:  # noqa: ANN001
    """2,000 rows that all point at missing files: loading stops once the first 50 are read (two batches of 32
    requested, not 2,000), with one message that asks whether the CSV is in the images' folder."""
    rows = [(f"photos/{i:05d}.png", "cat" if i % 2 else "dog") for i in range(2000)]
    url = write_csv(scratch, NAME, rows, file_name="elsewhere.csv")
    before = len(module_context.guard.urls)
    result = app.evaluate(LOAD, [url, None])
    requested = [u for u in module_context.guard.urls[before:] if "/photos/" in u]
    assert result.get("code") == "first_rows_failed", f"2,000 missing rows gave {result}"
    assert result["message"].startswith("None of the first 50 images exist next to the CSV"), result["message"]
    assert "images' folder" in result["message"] and "line 2" in result["message"]
    assert result["details"]["reason"] == "missing" and len(result["details"]["errors"]) == 50
    print(f"\n2,000 missing rows: {len(requested)} requested before loading stopped")
    assert 50 <= len(requested) <= 64, f"{len(requested)} images were requested before loading stopped"
    assert result["after"]["counts"] == result["before"]["counts"] and result["after"]["busy"] is None


def test_scattered_failures_are_still_reported_per_row(app, mixed, files, scratch) -> None:  # noqa: ANN001
    """60 missing rows with two good ones among them (one within the first 50): everything is read, each missing
    row is reported on its line, and the good ones are added."""
    used = {path for path, _ in files["good"]} | {files["hostile_image"]}
    fresh = [path for path, _ in read_labels("malaria") if path not in used][-2:]
    rows = [(f"images/gone/{i:03d}.png", "Parasitized") for i in range(60)]
    rows.insert(30, (fresh[0], "scattered"))
    rows.insert(55, (fresh[1], "scattered"))
    url = write_csv(scratch, NAME, rows, file_name="scattered.csv")
    result = app.evaluate(LOAD, [url, {"append": True}])
    assert "summary" in result, f"a CSV with scattered missing rows was refused: {result}"
    summary = result["summary"]
    assert summary["error_count"] == 60 and {e["code"] for e in summary["errors"]} == {"missing"}
    lines = {e["line"] for e in summary["errors"]}
    assert lines == {i + 2 for i, (path, _) in enumerate(rows) if path.startswith("images/gone/")}
    assert result["after"]["counts"]["scattered"] == 2


def test_a_redirect_off_the_site_is_named_and_one_on_it_is_followed(app, mixed, files, server,  # noqa: ANN001
                                                                    module_context) -> None:  # noqa: ANN001
    """A CSV or image URL the server redirects to another origin fails as `redirected`, saying so (the browser
    itself only says "Failed to fetch"), and no request leaves the site: the page's CSP blocks the redirect (the
    violations it reports are this test's, expected) and the module's guard sees no foreign request. A redirect
    within the site is followed as before."""
    away, here = f"{BASE}/away/", f"{BASE}/here/"
    real = f"{BASE}/{files['good'][0][0]}"
    app.route(f"**{away}**", lambda route: route.fulfill(status=302, headers={"Location": "http://elsewhere.test/x"}))
    app.route(f"**{here}**", lambda route: route.fulfill(status=302, headers={"Location": server.url + real[1:]}))
    try:
        result = app.evaluate("""async ([away, here]) => {
          const failure = async (call) => { try { await call(); return null; }
                                            catch (e) { return {code: e.code, message: e.message}; } };
          return {csv: await failure(() => teachbox.loadDataset(away + "labels.csv")),
                  image: await failure(() => teachbox.embed(away + "cat.png")),
                  followed: (await teachbox.embed(here + "cell.png")).length};
        }""", [away, here])
    finally:
        app.unroute(f"**{away}**")
        app.unroute(f"**{here}**")
    guard = module_context.guard
    blocked = [report for report in guard.policy if "http://elsewhere.test/x" in report]
    assert blocked and all("connect-src" in report for report in blocked), guard.policy
    guard.policy[:] = [report for report in guard.policy if report not in blocked]
    for what in ("csv", "image"):
        error = result[what]
        assert error is not None and error["code"] == "redirected", f"{what} redirected off the site gave {error}"
        assert "redirects it to another address" in error["message"] and away in error["message"], error["message"]
        assert "Failed to fetch" not in error["message"]
    assert result["followed"] == 256, "an image redirected within the site was not read"


def test_labels_with_bidi_overrides_are_refused(app, mixed, files, scratch) -> None:  # noqa: ANN001
    """A label holding a right-to-left override (`…\u202eevil` displays as "live") could pose as another: its row is
    skipped with bad_label, as addClass refuses it; the other rows load."""
    used = {path for path, _ in files["good"]} | {files["hostile_image"]}
    fresh = [path for path, _ in read_labels("malaria") if path not in used][4:6]
    url = write_csv(scratch, NAME, [(fresh[0], "Parasitized\u202eevil"), (fresh[1], "bidi-ok")], file_name="bidi.csv")
    result = app.evaluate(LOAD, [url, {"append": True}])
    assert "summary" in result, result
    assert [(e["line"], e["code"]) for e in result["summary"]["errors"]] == [(2, "bad_label")]
    assert "U+202E" in result["summary"]["errors"][0]["message"]
    assert result["after"]["counts"]["bidi-ok"] == 1
    assert not any("\u202e" in label for label in result["after"]["classes"])
    thrown = app.evaluate("() => { try { teachbox.addClass('cat\u2067x'); } catch (e) { return e.code; } }")
    assert thrown == "bad_label"


def test_one_class_loads_but_cannot_train(app, files) -> None:  # noqa: ANN001
    """Loads another data set over the one `mixed` loaded, so it comes last: the tests before read the page as
    `mixed` left it."""
    result = app.evaluate("""async (url) => {
      const summary = await teachbox.loadDataset(url);
      try { await teachbox.train({epochs: 2}); return {summary, trained: true}; }
      catch (e) { return {summary, code: e.code, message: e.message, project: teachbox.project()}; }
    }""", files["one_class"])
    labels = {label for _, label in files["good"][:6]}
    assert len(labels) == 1, f"test setup: one_class.csv has labels {labels}"
    assert result["summary"]["classes"] == sorted(labels) and result["summary"]["error_count"] == 0, result["summary"]
    assert result.get("code") == "one_class", f"train on one class gave {result}"
    assert "two classes" in result["message"], f"one_class message: {result['message']!r}"
    assert result["project"]["busy"] is None and result["project"]["trained"] is False
