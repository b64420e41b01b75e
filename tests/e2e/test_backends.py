"""Every TF.js backend is a first-class citizen: the main flows run on webgl (SwiftShader here) and on wasm, cpu gets
a smoke test, and one exported model predicts the same real images on all three.

One page per backend: `app` is module-scoped and parametrized, so pytest runs every flow on webgl, closes that page,
then runs them all again on wasm. The flows build on each other in file order (as in test_training.py): `trained`
(add from a CSV and from files, train frozen, evaluate) first; predictions, the live preview and the export use that
model; the fine-tune replaces it and a frozen retrain puts it back; the reload restores it; the cross-backend check
loads the cpu page's model last. The sets are tiny (10 malaria cells a class, read at 128 px, a few epochs) because
SwiftShader's WebGL is about 15 times slower than wasm here.
"""

from __future__ import annotations

import base64
import math
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import guarded_context, held_out_split, open_app, read_labels, stratified, write_csv
from tests.e2e.test_export import BLOB_FROM_B64, PREDICT_ALL, by_label, max_diff, run_snippet, snippet_code

BACKENDS = ["webgl", "wasm"]
SEED = 20241122
TRAIN_PER_CLASS, ADDED_PER_CLASS, TEST_PER_CLASS = 8, 2, 3
CPU_PER_CLASS = 4  # the cpu smoke test trains on this many of the training cells: embedding is slowest there
# Frozen training on every backend; tta 2 so predict, evaluate, the export and the cross-backend check average views.
OPTIONS = {"epochs": 4, "inputSize": "auto", "tta": 2, "seed": 7}
FINE_TUNE = {**OPTIONS, "fineTuneLayers": 2, "epochs": 1}
AGREE = 1e-3  # the promise across backends: the same model, the same images, probabilities within this

TO_B64 = """async (blob) => {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}"""


def _call(page, script: str, arg=None):  # noqa: ANN001, ANN202
    """page.evaluate that raises with the page's error code and message (a failed call names what failed)."""
    result = page.evaluate(f"""async (arg) => {{
      try {{ return {{value: await ({script})(arg)}}; }}
      catch (e) {{ return {{error: {{code: e.code, message: e.message}}}}; }}
    }}""", arg)
    assert "error" not in result, f"the page rejected: {result['error']}\n" + "\n".join(page.logs[-20:])
    return result["value"]


def _export(page) -> bytes:  # noqa: ANN001
    return base64.b64decode(_call(page, f"async () => ({TO_B64})(await teachbox.exportModel())"))


def _load_model(page, data: bytes) -> dict:  # noqa: ANN001
    return _call(page, f"async (b64) => teachbox.loadModel(({BLOB_FROM_B64})(b64))", base64.b64encode(data).decode())


def _tensors(page) -> int:  # noqa: ANN001
    return page.evaluate("() => teachbox.memory().numTensors")


def _settled_tensors(page, expected: int) -> int:  # noqa: ANN001
    """numTensors once the work a training sets off in the page has finished (the Results panel evaluates the new
    model and saves the report with it; on WebGL its reads are asynchronous and hold a tensor meanwhile)."""
    try:
        page.wait_for_function("(n) => teachbox.memory().numTensors === n", arg=expected, timeout=30_000)
    except Exception:  # noqa: BLE001 - the count is reported by the caller's assertion
        pass
    return _tensors(page)


@pytest.fixture(scope="module")
def split(scratch: Path, shared_dir: Path) -> dict:
    """Malaria cells: a training CSV, a disjoint test CSV, a few more cells per class to add as files, and a smaller
    training CSV for the cpu page."""
    split = held_out_split(scratch, "backends", "malaria", TRAIN_PER_CLASS, TEST_PER_CLASS, SEED)
    cpu_rows = [row for index, row in enumerate(split["train_rows"]) if index % TRAIN_PER_CLASS < CPU_PER_CLASS]
    taken = {path for path, _ in split["train_rows"] + split["test_rows"]}
    extra = stratified(read_labels("malaria"), ADDED_PER_CLASS, SEED + 2, exclude=taken)
    added: dict[str, list[str]] = {}
    for path, label in extra:
        added.setdefault(label, []).append(f"/shared/datasets/malaria/{path}")
    return {**split, "extra": added,
            "cpu_train": write_csv(scratch, "backends", cpu_rows, "malaria", file_name="cpu.csv"),
            "test_labels": [label for _, label in split["test_rows"]],
            "test_files": [shared_dir / "datasets" / "malaria" / path for path, _ in split["test_rows"]]}


@pytest.fixture(scope="module", params=BACKENDS)
def app(request, browser, server):  # noqa: ANN001, ANN201
    """A Teachbox page on one backend, asked for with ?backend= (kept by reloads), in its own guarded context."""
    backend = request.param
    started = time.monotonic()
    with guarded_context(browser) as (ctx, _guard):
        page, info = open_app(ctx, server.url + f"?backend={backend}")
        assert info["backend"] == backend, f"asked for {backend}, got {info['backend']}: {info['backendReason']}"
        page.backend, page.ctx = backend, ctx
        yield page
        errors = [line for line in page.logs if line.startswith(("error:", "pageerror:"))]
        assert errors == [], f"the {backend} page logged errors: {errors}"
        print(f"\n{backend}: every flow took {time.monotonic() - started:.0f}s, boot included")


@pytest.fixture(scope="module")
def trained(app, split: dict) -> dict:  # noqa: ANN001
    """Images added from the training CSV and as files, a frozen training, an evaluation on the test CSV, and the
    predictions of the test images; numTensors right after the training is the page's baseline from then on."""
    started = time.monotonic()
    result = _call(app, """async ({train, extra, test, options}) => {
      const dataset = await teachbox.loadDataset(train);
      const added = [];
      for (const [label, urls] of Object.entries(extra)) {
        const files = [];
        for (const url of urls) files.push(new File([await (await fetch(url)).blob()], url.split('/').pop()));
        added.push(await teachbox.addImages(label, files));
      }
      const trained = await teachbox.train(options);
      const baseline = teachbox.memory().numTensors;
      const evaluation = await teachbox.evaluate(test);
      return {dataset, added, trained, baseline, evaluation, project: teachbox.project()};
    }""", {"train": split["train"], "extra": split["extra"], "test": split["test"], "options": OPTIONS})
    result["predictions"] = _call(app, PREDICT_ALL, split["test_urls"])
    trained = result["trained"]
    print(f"\n{app.backend}: added and trained in {time.monotonic() - started:.1f}s ({trained['epochs']} epochs, "
          f"fit {trained['fit_seconds']}s), test accuracy {result['evaluation']['accuracy']:.2f}")
    return result


def test_add_train_and_evaluate(trained: dict, split: dict) -> None:
    dataset, added = trained["dataset"], trained["added"]
    assert dataset["error_count"] == 0, dataset["errors"]
    assert dataset["counts"] == {"Parasitized": TRAIN_PER_CLASS, "Uninfected": TRAIN_PER_CLASS}
    assert [entry["errors"] for entry in added] == [[], []], added
    assert [entry["added"] for entry in added] == [ADDED_PER_CLASS, ADDED_PER_CLASS], added
    everything = TRAIN_PER_CLASS + ADDED_PER_CLASS
    assert added[-1]["counts"] == {"Parasitized": everything, "Uninfected": everything}
    run = trained["trained"]
    assert run["inputSize"] == trained["project"]["inputSize"] == 128, "~130 px cells are read at 128 px (auto)"
    assert run["train_count"] + run["val_count"] == 2 * everything and run["skipped"] == []
    assert 1 <= run["epochs"] == len(run["history"]) <= OPTIONS["epochs"] and run["tta"] == 2
    assert all(math.isfinite(entry["loss"]) and entry["loss"] > 0 for entry in run["history"]), run["history"]
    assert trained["project"]["model"]["labels"] == ["Parasitized", "Uninfected"]
    evaluation = trained["evaluation"]
    assert evaluation["count"] == 2 * TEST_PER_CLASS and evaluation["errors"] == []
    assert sum(sum(row) for row in evaluation["confusion"]) == 2 * TEST_PER_CLASS
    # evaluate() and predict() are one model: the held-out accuracy is the share of top predictions that are right.
    right = sum(ranked[0]["label"] == label for ranked, label in zip(trained["predictions"], split["test_labels"]))
    assert evaluation["accuracy"] == pytest.approx(right / len(split["test_labels"])), (evaluation, right)


def test_predict_from_url_file_and_camera_leaves_no_tensor(app, trained: dict, split: dict) -> None:  # noqa: ANN001
    """The same image as a URL, a File and through the Preview panel's file picker; frames of the fake camera as a
    <video> and a <canvas>; a frozen retrain with the same seed. numTensors ends where the first training left it."""
    result = _call(app, """async ({urls, options}) => {
      const file = new File([await (await fetch(urls[0])).blob()], 'cell.png');
      const fromFile = await teachbox.predict(file);
      const stream = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: false});
      const video = document.createElement('video');
      video.muted = true;
      video.srcObject = stream;
      await video.play();
      const canvas = document.createElement('canvas');
      [canvas.width, canvas.height] = [video.videoWidth, video.videoHeight];
      canvas.getContext('2d').drawImage(video, 0, 0);
      const camera = {video: await teachbox.predict(video), canvas: await teachbox.predict(canvas),
                      again: await teachbox.predict(canvas), size: [video.videoWidth, video.videoHeight]};
      for (const track of stream.getTracks()) track.stop();
      const retrained = await teachbox.train(options);
      const afterRetrain = teachbox.memory().numTensors;
      const out = [];
      for (const url of urls) out.push(await teachbox.predict(url));
      return {fromFile, camera, retrained, afterRetrain, predictions: out, after: teachbox.memory().numTensors};
    }""", {"urls": split["test_urls"], "options": OPTIONS})
    assert max_diff([result["fromFile"]], trained["predictions"][:1]) < 1e-6, "a File and its URL differ"
    camera = result["camera"]
    assert camera["size"] == [320, 240], camera["size"]
    for ranked in (camera["video"], camera["canvas"]):
        assert sorted(by_label(ranked)) == ["Parasitized", "Uninfected"], ranked
        assert abs(sum(by_label(ranked).values()) - 1) < 1e-4, ranked
    assert camera["again"] == camera["canvas"], "the same frame predicted twice gave two answers"
    assert result["afterRetrain"] == result["after"] == trained["baseline"], \
        f"numTensors: {trained['baseline']} after training, {result['afterRetrain']} after a retrain, " \
        f"{result['after']} after predicting"
    # the same data, options and seed give the same model on the same backend
    assert result["retrained"]["history"] == trained["trained"]["history"]
    assert max_diff(result["predictions"], trained["predictions"]) < 1e-6

    before = _tensors(app)
    app.locator("#test-file").set_input_files(split["test_files"][0])
    app.wait_for_selector("#test-bars .bar-row.top")
    assert app.locator("#alert").text_content() == "", app.locator("#alert").text_content()
    top = app.locator("#test-bars .bar-row.top .bar-label").text_content()
    assert top == trained["predictions"][0][0]["label"], "the file picker and predict(url) disagree"
    assert _tensors(app) == before


def test_live_preview_predicts_camera_frames(app, trained: dict) -> None:  # noqa: ANN001
    """The Preview panel's live loop on the fake camera: it starts the camera, shows bars for several frames, stops
    cleanly and leaves no tensor behind."""
    app.evaluate("""() => {
      window.liveFrames = 0;  // each frame rewrites every bar's value
      new MutationObserver((records) => {
        window.liveFrames += records.filter((r) => r.target.classList.contains('bar-value')).length / 2;
      }).observe(document.querySelector('#live-bars'), {childList: true, subtree: true});
    }""")
    app.locator("#live-toggle").click()
    app.wait_for_function("() => window.liveFrames >= 3", timeout=60_000)
    app.locator("#live-toggle").click()
    app.wait_for_function("() => document.querySelector('#live-toggle').getAttribute('aria-pressed') === 'false'")
    # Nothing else uses the camera: stopping live preview lets it go (no video keeps a live track)
    app.wait_for_function("() => [...document.querySelectorAll('video')].every((v) => !v.srcObject"
                          " || v.srcObject.getTracks().every((t) => t.readyState === 'ended'))")
    app.wait_for_timeout(300)  # a prediction in flight when stopped finishes and disposes its tensors
    assert app.locator("#alert").text_content() == "", app.locator("#alert").text_content()
    labels = app.locator("#live-bars .bar-label").all_text_contents()
    assert sorted(labels) == ["Parasitized", "Uninfected"], labels
    print(f"\n{app.backend}: live preview showed {app.evaluate('() => window.liveFrames'):.0f} frames")
    assert _tensors(app) == trained["baseline"]


def test_export_runs_in_bare_tfjs_on_the_same_backend(app, trained: dict, split: dict, server, scratch) -> None:  # noqa: ANN001
    """The zip and the Export panel's snippet, in a page with TF.js alone on this backend, reproduce Teachbox."""
    data = _export(app)
    result = run_snippet(app.ctx, server, scratch, f"backends_{app.backend}", data, snippet_code(app),
                         split["test_urls"], app.backend)
    assert result["backend"] == app.backend and result["tta"] == ["id", "hflip"], result
    diff = max_diff(trained["predictions"], result["out"])
    print(f"\n{app.backend}: bare TF.js with the page's snippet, max |Δp| {diff:.1e}")
    assert diff <= 1e-4, f"the snippet on {app.backend} differs from Teachbox by {diff:.2e}"


@pytest.mark.finetune
def test_fine_tune_trains_exports_and_does_not_leak(app, trained: dict, split: dict, server, scratch) -> None:  # noqa: ANN001
    """fineTuneLayers 2 (MobileNet v1's last depthwise-separable block; on wasm its depthwise gradients come from
    site/kernels.js) trains, predicts, exports a model the snippet reproduces on this backend, and a frozen retrain
    brings numTensors back to the baseline."""
    started = time.monotonic()
    result = _call(app, """async ({urls, options}) => {
      const fineTuned = await teachbox.train(options);
      const out = [];
      for (const url of urls) out.push(await teachbox.predict(url));
      return {fineTuned, predictions: out, model: teachbox.project().model};
    }""", {"urls": split["test_urls"], "options": FINE_TUNE})
    seconds = time.monotonic() - started
    fine_tuned = result["fineTuned"]
    assert result["model"]["base"]["fineTunedLayers"] == 2, result["model"]["base"]
    assert fine_tuned["fine_tune_from_epoch"] is not None and fine_tuned["epochs"] == len(fine_tuned["history"])
    # tail and head trained together beat the head alone on validation, so the fine-tuned weights are the ones kept
    assert fine_tuned["best_epoch"] >= fine_tuned["fine_tune_from_epoch"], fine_tuned["history"]
    data = _export(app)
    snippet = run_snippet(app.ctx, server, scratch, f"backends_{app.backend}_tuned", data, snippet_code(app),
                          split["test_urls"], app.backend)
    diff = max_diff(result["predictions"], snippet["out"])
    print(f"\n{app.backend}: fine-tuned in {seconds:.1f}s ({fine_tuned['epochs']} epochs, the tail from epoch "
          f"{fine_tuned['fine_tune_from_epoch']}, best {fine_tuned['best_epoch']}, val_loss "
          f"{[entry['val_loss'] for entry in fine_tuned['history']]}); the snippet reproduces it within {diff:.1e}")
    assert diff <= 1e-4, f"the fine-tuned model's snippet on {app.backend} differs from Teachbox by {diff:.2e}"
    predicting = _tensors(app)
    _call(app, PREDICT_ALL, split["test_urls"])
    assert _tensors(app) == predicting, "predicting with the fine-tuned model left tensors behind"
    _call(app, "(options) => teachbox.train(options)", OPTIONS)
    assert _settled_tensors(app, trained["baseline"]) == trained["baseline"], \
        "fine-tune then frozen retrain did not return to the baseline"


def test_best_solves_its_linear_head_on_this_backend(app, trained: dict, split: dict) -> None:  # noqa: ANN001
    """quality "best" (a linear head solved by L-BFGS, with the loss and gradient computed by this backend) trains
    in one solve, classifies the held-out cells, holds two tensors fewer than the default model (no hidden layer)
    and a default retrain brings numTensors back to the baseline."""
    result = _call(app, """async ({test, options}) => {
      const best = await teachbox.train({quality: "best", seed: options.seed});
      const evaluation = await teachbox.evaluate(test);
      const tensors = teachbox.memory().numTensors;
      await teachbox.train(options);
      return {best, evaluation, tensors};
    }""", {"test": split["test"], "options": OPTIONS})
    best = result["best"]
    print(f"\n{app.backend}: best solved in {best['fit_seconds']}s, tta {best['tta']}, val_loss "
          f"{best['val_loss']:.3f}, test accuracy {result['evaluation']['accuracy']:.2f} "
          f"(default {trained['evaluation']['accuracy']:.2f})")
    assert best["options"]["hiddenUnits"] == 0 and best["epochs"] == 1 and best["best_epoch"] == 1
    assert result["evaluation"]["accuracy"] >= trained["evaluation"]["accuracy"] - 1 / (2 * TEST_PER_CLASS)
    assert result["tensors"] == trained["baseline"] - 2, (result["tensors"], trained["baseline"])
    assert _settled_tensors(app, trained["baseline"]) == trained["baseline"], "best then default left tensors"


def test_reload_restores_the_project_and_its_model(app, trained: dict, split: dict) -> None:  # noqa: ANN001
    before = app.evaluate("() => teachbox.project()")
    predictions = _call(app, PREDICT_ALL, split["test_urls"])
    app.reload()
    info = app.evaluate("() => window.teachbox.ready")
    assert info["backend"] == app.backend, info["backendReason"]
    restored = app.evaluate("() => teachbox.project()")
    for key in ("id", "name", "classes", "counts", "samples", "trained", "settings", "model", "inputSize"):
        assert restored[key] == before[key], f"{key}: {restored[key]!r} != {before[key]!r}"
    assert restored["embedded"] == 0, "restoring must not embed anything"
    diff = max_diff(_call(app, PREDICT_ALL, split["test_urls"]), predictions)
    assert diff < 1e-6, f"the restored model predicts {diff:.2e} away from the saved one"
    tensors = _tensors(app)
    _call(app, PREDICT_ALL, split["test_urls"])
    assert _tensors(app) == tensors


@pytest.fixture(scope="module")
def cpu_model(browser, server, split: dict) -> dict:  # noqa: ANN001
    """The cpu smoke test: a page on the cpu backend trains on part of the same training images (its embeddings are
    the slowest), evaluates, predicts the test images and exports its model, the zip every backend then loads; it
    loads that zip too, so cpu's reference predictions come from the zip as every backend's do. Its page is closed
    before the others need the CPU."""
    started = time.monotonic()
    with guarded_context(browser) as (ctx, _guard):
        page, info = open_app(ctx, server.url + "?backend=cpu")
        result = _call(page, """async ({train, test, options}) => {
          await teachbox.loadDataset(train);
          const trained = await teachbox.train(options);
          const baseline = teachbox.memory().numTensors;
          const evaluation = await teachbox.evaluate(test);
          return {trained, baseline, evaluation, after: teachbox.memory().numTensors};
        }""", {"train": split["cpu_train"], "test": split["test"], "options": OPTIONS})
        result["predictions"] = _call(page, PREDICT_ALL, split["test_urls"])
        result["tensors"] = _tensors(page)
        result["zip"] = _export(page)
        _load_model(page, result["zip"])
        result["from_zip"] = _call(page, PREDICT_ALL, split["test_urls"])
    print(f"\ncpu: ready in {info['timings']['ready'] / 1000:.0f}s; trained ({result['trained']['seconds']}s), "
          f"evaluated and exported in {time.monotonic() - started:.0f}s in all")
    return {**result, "info": info, "by_backend": {"cpu": result["from_zip"]}}


def test_cpu_smoke(cpu_model: dict) -> None:
    assert cpu_model["info"]["backend"] == "cpu", cpu_model["info"]["backendReason"]
    run = cpu_model["trained"]
    assert run["train_count"] + run["val_count"] == 2 * CPU_PER_CLASS and run["epochs"] >= 1
    # Features no training image lights once stood a validation image's prediction at 1e-7 whatever the epoch.
    val_losses = [entry["val_loss"] for entry in run["history"]]
    assert len(set(val_losses)) == len(val_losses) and min(val_losses) < 1, val_losses
    assert cpu_model["evaluation"]["count"] == 2 * TEST_PER_CLASS
    assert cpu_model["after"] == cpu_model["tensors"] == cpu_model["baseline"], "tensors left behind on cpu"
    assert max_diff(cpu_model["from_zip"], cpu_model["predictions"]) < 1e-6, "the zip does not hold the model"


def test_one_model_predicts_the_same_on_every_backend(app, cpu_model: dict, split: dict) -> None:  # noqa: ANN001
    """The cpu page's zip loaded here predicts the test images within AGREE of cpu and of every backend before."""
    loaded = _load_model(app, cpu_model["zip"])
    assert loaded["labels"] == ["Parasitized", "Uninfected"], loaded
    predictions = _call(app, PREDICT_ALL, split["test_urls"])
    cpu_model["by_backend"][app.backend] = predictions
    for other, theirs in cpu_model["by_backend"].items():
        if other != app.backend:
            diff = max_diff(predictions, theirs)
            print(f"\none model on {app.backend} and {other}: max |Δp| {diff:.1e} over {len(predictions)} images")
            assert diff <= AGREE, f"{app.backend} and {other} disagree by {diff:.2e} on the same model"
