"""Training end to end in one page: real data sets, accuracy on held-out images, progress, cancel, no tensor leaks.

One Pyodide start for the whole module (module-scoped page). The two trained models are module-scoped fixtures, made
the first time a test asks, so every test runs alone (`pytest -k name`) and the file trains each just once:
`malaria_run` (the first training, whose figures test_malaria_trains_and_generalises checks) and `rps_run` (which
resets the page for rock-paper-scissors). They share the page in turn, so the malaria tests come first; pytest keeps
file order for any selection.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import held_out_split, open_app

SPLIT_SEED = 20240601


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    page, info = open_app(module_context, server.url)
    page.evaluate("""() => {
      window.progressEvents = [];
      teachbox.on('progress', (e) => window.progressEvents.push(e));
    }""")
    yield page
    assert module_context.guard.foreign == [], f"requests left 127.0.0.1: {module_context.guard.foreign}"


@pytest.fixture(scope="module")
def malaria(scratch):  # noqa: ANN001, ANN201
    return held_out_split(scratch, "malaria", "malaria", 200, 100, SPLIT_SEED)


@pytest.fixture(scope="module")
def rps(scratch):  # noqa: ANN001, ANN201
    return held_out_split(scratch, "rps", "rock_paper_scissors", 100, 40, SPLIT_SEED)


def _call(page, script: str, arg=None):  # noqa: ANN001, ANN202
    """page.evaluate whose promise rejections come back as {error: {code, message}} instead of raising."""
    return page.evaluate(f"""async (arg) => {{
      try {{ return await ({script})(arg); }}
      catch (e) {{ return {{error: {{code: e.code, message: e.message}}}}; }}
    }}""", arg)


@pytest.fixture(scope="module")
def malaria_run(app, malaria) -> dict:  # noqa: ANN001
    """The malaria CSV loaded, trained with the defaults and evaluated on the held-out CSV, with the progress events
    of it by phase and the tensor count after; the timings are printed."""
    started = time.monotonic()
    result = _call(app, """async ({train, test}) => {
      window.progressEvents.length = 0;
      const t0 = performance.now();
      const dataset = await teachbox.loadDataset(train);
      const t1 = performance.now();
      const loadEvents = window.progressEvents.length;
      const trained = await teachbox.train({});
      const trainPhases = [...new Set(window.progressEvents.slice(loadEvents).map((e) => e.phase))];
      const t2 = performance.now();
      const evaluation = await teachbox.evaluate(test);
      const t3 = performance.now();
      const phases = {};
      for (const e of window.progressEvents) phases[e.phase] = (phases[e.phase] || 0) + 1;
      const lastEmbedding = window.progressEvents.filter((e) => e.phase === 'embedding').pop();
      return {dataset, trained, evaluation, phases, trainPhases, lastEmbedding, tensors: teachbox.memory().numTensors,
              project: teachbox.project(), ms: {load: t1 - t0, train: t2 - t1, evaluate: t3 - t2}};
    }""", {"train": malaria["train"], "test": malaria["test"]})
    assert "error" not in result, f"malaria pipeline rejected: {result.get('error')}"
    trained, evaluation = result["trained"], result["evaluation"]
    print(f"\nmalaria: load {result['ms']['load'] / 1000:.1f}s, train {result['ms']['train'] / 1000:.1f}s "
          f"({trained['epochs']} epochs, best {trained['best_epoch']}, val_acc {trained['val_accuracy']}), "
          f"evaluate {result['ms']['evaluate'] / 1000:.1f}s, test accuracy {evaluation['accuracy']:.4f} "
          f"(wall {time.monotonic() - started:.1f}s)")
    return result


@pytest.fixture(scope="module")
def rps_run(app, rps) -> dict:  # noqa: ANN001
    """The page reset, the rock-paper-scissors CSV loaded, trained with the defaults and evaluated on its held-out
    CSV; the figures are printed."""
    started = time.monotonic()
    result = _call(app, """async ({train, test}) => {
      const reset = teachbox.reset();
      const dataset = await teachbox.loadDataset(train);
      const trained = await teachbox.train({});
      const evaluation = await teachbox.evaluate(test);
      return {reset, dataset, trained, evaluation};
    }""", {"train": rps["train"], "test": rps["test"]})
    assert "error" not in result, f"rock-paper-scissors pipeline rejected: {result.get('error')}"
    trained, evaluation = result["trained"], result["evaluation"]
    print(f"\nrock-paper-scissors: {trained['epochs']} epochs, val_acc {trained['val_accuracy']}, test accuracy "
          f"{evaluation['accuracy']:.4f} (wall {time.monotonic() - started:.1f}s)")
    return result


def test_malaria_trains_and_generalises(malaria_run: dict) -> None:
    result = malaria_run
    dataset, trained, evaluation = result["dataset"], result["trained"], result["evaluation"]
    assert dataset["error_count"] == 0 and dataset["errors"] == [], f"clean CSV reported errors: {dataset['errors']}"
    assert dataset["counts"] == {"Parasitized": 200, "Uninfected": 200}, f"counts {dataset['counts']}"
    assert dataset["samples"] == 400 and dataset["rows"] == 400, f"samples {dataset['samples']}, rows {dataset['rows']}"

    assert trained["cancelled"] is False
    assert trained["val_accuracy"] is not None, f"no val_accuracy in {trained}"
    assert len(trained["history"]) == trained["epochs"], \
        f"history has {len(trained['history'])} entries for {trained['epochs']} epochs"
    assert 1 <= trained["best_epoch"] <= trained["epochs"], f"best_epoch {trained['best_epoch']}"
    assert trained["train_count"] + trained["val_count"] == 400, \
        f"train {trained['train_count']} + val {trained['val_count']} != 400"
    assert trained["skipped"] == [], f"training skipped {trained['skipped']}"
    assert result["project"]["trained"] is True
    assert result["project"]["model"]["labels"] == ["Parasitized", "Uninfected"], result["project"]["model"]
    # The default reads at 224 px (upscaling these ~124 px cells is worth 4.6 points with few images).
    assert result["project"]["inputSize"] == trained["inputSize"] == 224, \
        f"project inputSize {result['project']['inputSize']}, trained at {trained['inputSize']}"
    assert trained["input_size"] == trained["inputSize"], "the deprecated spelling stays for one release"

    assert evaluation["count"] == 200, f"evaluated {evaluation['count']} of 200 test images"
    assert evaluation["errors"] == [], f"evaluation errors {evaluation['errors']}"
    assert evaluation["accuracy"] >= 0.85, f"malaria test accuracy {evaluation['accuracy']:.4f} < 0.85"
    confusion_total = sum(sum(row) for row in evaluation["confusion"])
    assert confusion_total == 200, f"confusion matrix sums to {confusion_total}, not 200"
    assert sorted(c["count"] for c in evaluation["per_class"]) == [100, 100], f"per_class {evaluation['per_class']}"

    phases = result["phases"]
    assert phases.get("embedding", 0) > 0 and phases.get("training", 0) > 0, f"progress events by phase: {phases}"
    assert phases["training"] == trained["epochs"], \
        f"{phases['training']} training progress events for {trained['epochs']} epochs"
    last = result["lastEmbedding"]
    assert last["done"] == last["total"] == 400, f"last embedding progress {last}"


def test_loading_embeds_what_the_default_training_reads(malaria_run: dict) -> None:
    """loadDataset embeds each image once, as the features the project's next training reads (two depths on this
    MobileNet), so Train goes straight to fitting: no embedding phase, no image embedded twice."""
    assert "embedding" not in malaria_run["trainPhases"], f"training embedded again: {malaria_run['trainPhases']}"
    # each training image once, then each held-out image once by evaluate()
    assert malaria_run["project"]["embedded"] == malaria_run["dataset"]["samples"] + malaria_run["evaluation"]["count"]


def test_tensor_count_stable_across_retrains_and_predicts(app, malaria, malaria_run: dict) -> None:  # noqa: ANN001
    baseline = malaria_run["tensors"]  # after the first training
    urls = [f"/scratch/malaria/{path}" for path, _ in malaria["test_rows"][::40]]  # 5 images, both classes
    result = _call(app, """async (urls) => {
      const counts = [];
      for (const seed of [11, 12]) {
        await teachbox.train({seed});
        counts.push(teachbox.memory().numTensors);
      }
      let sums = [];
      for (let i = 0; i < 100; i++) {
        const ranked = await teachbox.predict(urls[i % urls.length]);
        sums.push(ranked.reduce((s, r) => s + r.probability, 0));
      }
      return {counts, after: teachbox.memory().numTensors, minSum: Math.min(...sums), maxSum: Math.max(...sums)};
    }""", urls)
    assert "error" not in result, f"retrain/predict rejected: {result.get('error')}"
    assert result["counts"] == [baseline, baseline], \
        f"numTensors after retrains {result['counts']}, after the first train {baseline}"
    assert result["after"] == baseline, f"numTensors after 100 predicts {result['after']}, expected {baseline}"
    assert 0.999 < result["minSum"] <= result["maxSum"] < 1.001, \
        f"probabilities sum to {result['minSum']}..{result['maxSum']}"


@pytest.mark.usefixtures("malaria_run")
def test_an_input_size_asked_for_is_used_and_becomes_the_projects(app, malaria) -> None:  # noqa: ANN001
    """inputSize "auto" reads the ~124 px cells at 128 px (embedding events), keeps the 224 px features cached, and
    makes 128 the project's size, so training at 128 again re-embeds nothing; the default then returns to 224."""
    result = _call(app, """async (test) => {
      const embedded = () => window.progressEvents.filter((e) => e.phase === 'embedding').length;
      window.progressEvents.length = 0;
      const asked = await teachbox.train({inputSize: 'auto'});
      const afterAsked = embedded();
      const evaluation = await teachbox.evaluate(test);
      const project = teachbox.project();
      window.progressEvents.length = 0;
      const again = await teachbox.train({inputSize: 128});
      const againEmbedded = embedded();
      const back = await teachbox.train({});
      let refused;
      try { await teachbox.train({inputSize: 100}); } catch (e) { refused = {code: e.code, message: e.message}; }
      return {asked, afterAsked, evaluation, project, again, againEmbedded, back, refused, after: embedded()};
    }""", malaria["test"])
    assert "error" not in result, f"training with inputSize rejected: {result.get('error')}"
    print(f"\nmalaria at 128 px (auto): test accuracy {result['evaluation']['accuracy']:.4f}")
    assert result["asked"]["inputSize"] == 128 and result["asked"]["options"]["inputSize"] == "auto"
    assert result["afterAsked"] > 0, "no embedding progress: the 128 px features were not computed"
    assert result["evaluation"]["accuracy"] >= 0.78, f"accuracy at 128 px {result['evaluation']['accuracy']:.4f}"
    assert result["project"]["inputSize"] == 128
    assert result["again"]["inputSize"] == 128 and result["againEmbedded"] == 0, \
        f"training at 128 px again embedded {result['againEmbedded']} batches"
    assert result["back"]["inputSize"] == 224 and result["after"] == 0, "the 224 px features were cached"
    assert result["refused"]["code"] == "bad_option" and "inputSize" in result["refused"]["message"], result["refused"]


def test_rock_paper_scissors_three_classes(rps_run: dict) -> None:
    result = rps_run
    assert result["reset"]["samples"] == 0 and result["reset"]["trained"] is False, f"reset() gave {result['reset']}"
    dataset, trained, evaluation = result["dataset"], result["trained"], result["evaluation"]
    assert dataset["error_count"] == 0, f"errors {dataset['errors']}"
    assert dataset["counts"] == {"paper": 100, "rock": 100, "scissors": 100}, f"counts {dataset['counts']}"
    assert dataset["inputSize"] == trained["inputSize"] == 224, "300×300 photos must be read at 224 px"
    assert trained["val_accuracy"] is not None and len(trained["history"]) == trained["epochs"]
    assert evaluation["count"] == 120, f"evaluated {evaluation['count']} of 120"
    assert evaluation["accuracy"] >= 0.90, f"rock-paper-scissors test accuracy {evaluation['accuracy']:.4f} < 0.90"
    assert sum(sum(row) for row in evaluation["confusion"]) == 120


@pytest.mark.usefixtures("rps_run")
def test_cancel_keeps_previous_model(app, rps) -> None:  # noqa: ANN001
    result = _call(app, """async (url) => {
      const before = teachbox.memory().numTensors;
      const modelBefore = teachbox.project().model;
      const predictedBefore = await teachbox.predict(url);
      let trainingEvents = 0, cancelReturned = null;
      const cancelledEvents = [];
      const offProgress = teachbox.on('progress', (e) => {
        if (e.phase !== 'training' || trainingEvents++ > 0) return;
        setTimeout(() => { cancelReturned = teachbox.cancel(); }, 0);
      });
      const offCancelled = teachbox.on('cancelled', (e) => cancelledEvents.push(e));
      let outcome;
      try {
        const r = await teachbox.train({epochs: 300, patience: 0, seed: 99});
        outcome = {resolved: true, epochs: r.epochs, cancelled: r.cancelled};
      } catch (e) {
        outcome = {code: e.code, message: e.message};
      }
      offProgress(); offCancelled();
      const project = teachbox.project();
      const predictedAfter = await teachbox.predict(url);
      return {before, after: teachbox.memory().numTensors, modelBefore, project, predictedBefore, predictedAfter,
              outcome, trainingEvents, cancelReturned, cancelledEvents, idleCancel: teachbox.cancel()};
    }""", rps["test_urls"][0])
    assert "error" not in result, f"cancel scenario failed outside train(): {result.get('error')}"
    outcome = result["outcome"]
    print(f"\ncancel: {result['trainingEvents']} epoch(s) ran; train() gave {outcome}")
    assert outcome.get("code") == "cancelled", f"train() after cancel() gave {outcome}"
    assert result["cancelReturned"] is True, f"cancel() during training returned {result['cancelReturned']}"
    assert result["trainingEvents"] < 300, f"{result['trainingEvents']} epochs ran before the cancel took effect"
    assert len(result["cancelledEvents"]) == 1, f"cancelled events: {result['cancelledEvents']}"
    assert result["idleCancel"] is False, "cancel() with nothing running returned true"
    project = result["project"]
    assert project["trained"] is True and project["busy"] is None, f"project after cancel: {project}"
    # The model's saved evaluation may arrive meanwhile (the Results panel evaluates each new model): not a change.
    after, before = ({k: v for k, v in model.items() if k != "evaluation"}
                     for model in (project["model"], result["modelBefore"]))
    assert after == before, f"model changed by a cancelled train: {after} vs {before}"
    assert result["predictedAfter"] == result["predictedBefore"], \
        f"predictions changed: {result['predictedBefore']} -> {result['predictedAfter']}"
    assert result["after"] == result["before"], \
        f"numTensors {result['before']} before the cancelled train, {result['after']} after"


@pytest.mark.finetune
@pytest.mark.usefixtures("rps_run")
def test_fine_tune_layers_trains_and_does_not_leak(app, rps) -> None:  # noqa: ANN001
    """Fine-tuning MobileNet v1's whole last depthwise-separable block (fineTuneLayers=2) with two training views
    and two test-time views, on wasm (whose missing depthwise gradients kernels.js supplies): it trains, predicts,
    evaluates, and a frozen retrain afterwards brings numTensors back to the frozen baseline."""
    started = time.monotonic()
    result = _call(app, """async ({url, test}) => {
      await teachbox.train({seed: 3});
      const baseline = teachbox.memory().numTensors;
      let fineTuned = null, fineTuneError = null, predicted = null, evaluation = null, fineTunedModel = null;
      const t0 = performance.now();
      try {
        fineTuned = await teachbox.train({fineTuneLayers: 2, views: 2, tta: 2, epochs: 5});
        fineTunedModel = teachbox.project().model;
        predicted = await teachbox.predict(url);
        evaluation = await teachbox.evaluate(test);
      } catch (e) {
        fineTuneError = {code: e.code, message: e.message};
      }
      const ms = performance.now() - t0;
      const afterFineTune = teachbox.memory().numTensors;
      await teachbox.train({seed: 3});
      return {baseline, fineTuned, fineTuneError, predicted, accuracy: evaluation && evaluation.accuracy,
              afterFineTune, after: teachbox.memory().numTensors, ms, model: teachbox.project().model,
              fineTunedModel};
    }""", {"url": rps["test_urls"][0], "test": rps["test"]})
    assert "error" not in result, f"frozen train around the fine-tune rejected: {result.get('error')}"
    print(f"\nfine-tune (fineTuneLayers=2, views 2, tta 2, 5 epochs): {result['ms'] / 1000:.1f}s, "
          f"val_acc {result['fineTuned'] and result['fineTuned']['val_accuracy']}, test accuracy {result['accuracy']}, "
          f"numTensors baseline {result['baseline']} / after fine-tune {result['afterFineTune']} / "
          f"after frozen retrain {result['after']} (wall {time.monotonic() - started:.1f}s)")
    assert result["fineTuneError"] is None, \
        f"FINE-TUNE: train({{fineTuneLayers: 2, …}}), predict or evaluate rejected: {result['fineTuneError']}"
    fine_tuned = result["fineTuned"]
    assert fine_tuned["epochs"] == len(fine_tuned["history"]) and fine_tuned["epochs"] <= 10, \
        f"FINE-TUNE: {fine_tuned['epochs']} epochs, history {len(fine_tuned['history'])}"
    # the head first (at most 5 epochs), then tail and head together (at most 5 more)
    assert 2 <= fine_tuned["fine_tune_from_epoch"] <= 6, f"FINE-TUNE: second stage from {fine_tuned}"
    assert result["fineTunedModel"]["base"]["fineTunedLayers"] == 2, \
        f"FINE-TUNE: model metadata after fineTuneLayers=2: {result['fineTunedModel']['base']}"
    assert fine_tuned["tta"] == 2, f"FINE-TUNE: predictions average {fine_tuned['tta']} view(s), not 2"
    assert result["accuracy"] >= 0.8, f"FINE-TUNE: accuracy {result['accuracy']} on held-back images"
    predicted = result["predicted"]
    assert [p["label"] for p in predicted] and sorted(p["label"] for p in predicted) == ["paper", "rock", "scissors"], \
        f"FINE-TUNE: predict gave {predicted}"
    assert abs(sum(p["probability"] for p in predicted) - 1) < 1e-3, f"FINE-TUNE: probabilities {predicted}"
    assert result["model"]["training"]["options"]["fineTuneLayers"] == 0
    assert result["after"] == result["baseline"], \
        f"FINE-TUNE leak: numTensors {result['baseline']} after a frozen train, {result['after']} after " \
        f"fine-tune + frozen retrain ({result['afterFineTune']} right after the fine-tune)"
