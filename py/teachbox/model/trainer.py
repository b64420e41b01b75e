"""Transfer learning in the page: features once, a small head trained on them, one model out.

Frozen base (fineTuneLayers = 0): cached pooled embeddings → standardise → dense(relu, L2) → dropout → softmax
(Adam epochs), or with no hidden units a softmax solved to its optimum (model/lbfgs.py), with the standardisation
folded into the first dense layer afterwards so the exported model needs no extra step.
Fine-tuning (K > 0): a private copy of the base is split; the frozen part's activations are cached once. The head is
first trained as above on the untouched tail's pooled output; then the last K weighted layers and the head train
together from there, at a tenth of the learning rate, for at most FINE_TUNE_EPOCHS epochs (the usual two-stage
recipe: a fresh head's first gradients would otherwise wreck the pretrained layers). The page's shared base is never
modified.
This module runs a run; model/train_plan.py decides its parts and browser/tf_training.py does the TF.js work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from teachbox import __version__
from teachbox.browser import environment, tf_training, tfjs
from teachbox.data.class_index import check_trainable
from teachbox.data.geometry import Preprocessing
from teachbox.data.project import Project, Sample
from teachbox.model import lbfgs
from teachbox.model.classifier import Classifier
from teachbox.model.extractor import FeatureExtractor
from teachbox.model.feature_store import Encoder, FeatureStore
from teachbox.model.finetune_plan import FineTunePlan, plan_fine_tuning
from teachbox.model.metrics import mean_log_likelihood
from teachbox.model.topology import layer_infos
from teachbox.model.train_options import (
    FINE_TUNE_EPOCHS,
    FINE_TUNE_RATE,
    VIEW_SETS,
    EpochTracker,
    TrainOptions,
    eta_seconds,
    summary,
)
from teachbox.model.train_plan import classifier_metadata, feature_key, skipped_report, split_samples, view_key

Progress = Callable[[dict[str, Any]], None]


@dataclass
class Prepared:
    """The encoder for a run, and (when fine-tuning) the private base copy and the plan for its tail."""

    encoder: Encoder
    base: FeatureExtractor
    copy: Any = None
    plan: FineTunePlan | None = None


def pooled_encoder(base: FeatureExtractor, preprocessing: Preprocessing, views: tuple[str, ...] = ("id",),
                   depths: int = 1) -> Encoder:
    # "pooled2" named the average-pooled previous block `depths: 2` pooled before it took the mid-scale layer: a new
    # name, so features cached then are never read as today's.
    part = "pooled" if depths == 1 else f"pooled{depths}-{base.earlier}-max"
    return Encoder(feature_key(base.base_id, preprocessing, part), base.runner, (base.depth_dim(depths),), True,
                   preprocessing, views, depths)


async def prepare(base: FeatureExtractor, reload: Callable[[], Any], options: TrainOptions, size: int) -> Prepared:
    """The encoder whose features this run trains on, reading images at `size` pixels."""
    preprocessing = Preprocessing(mode=options.crop, size=size, scaling=base.scaling)
    if options.fine_tune_layers == 0:
        depths = options.depths_on(base.earlier is not None)
        return Prepared(pooled_encoder(base, preprocessing, options.view_names(), depths), base)
    plan = plan_fine_tuning(layer_infos(tfjs.topology(base.model)), options.fine_tune_layers)  # fails before loading
    copy = await reload()
    frozen = tf_training.frozen_part(copy, plan.split)
    shape = tf_training.activation_shape(frozen, size)
    encoder = Encoder(feature_key(base.base_id, preprocessing, plan.split), frozen, shape, False, preprocessing,
                      options.view_names())
    return Prepared(encoder, base, copy, plan)


async def train(project: Project, store: FeatureStore, prepared: Prepared, options: TrainOptions,
                progress: Progress, cancelled: Callable[[], bool]) -> tuple[Classifier, dict[str, Any], dict]:
    """Train a classifier on the project's samples; returns (classifier, summary, split)."""
    started = time.monotonic()
    check_trainable(project.counts())
    encoder = prepared.encoder
    failures = await store.ensure(project.samples, encoder, embedding_progress(progress, started), cancelled)
    usable = [s for s in project.samples if s.uid not in failures]
    check_trainable(project.classes.counts(s.label for s in usable))
    train_set, val_set = split_samples(project, usable, options)
    await _embed_test_views(store, val_set, encoder, options.test_views(), cancelled)
    classes = len(project.classes)
    fit_started = time.monotonic()
    head = tf_training.head_layers(classes, options.hidden_units, options.dropout, options.l2, options.seed)
    x = _training_rows(store, train_set, encoder)
    y = tf_training.one_hot(project.label_indices(train_set) * len(encoder.views), classes)
    xv = store.matrix(val_set, encoder.key, encoder.shape) if val_set else None
    yv = tf_training.one_hot(project.label_indices(val_set), classes) if val_set else None
    tail = None if encoder.pooled else tf_training.FoldedTail(prepared.copy, prepared.plan.blocks)
    tuned_epochs = 0 if tail is None else min(options.epochs, FINE_TUNE_EPOCHS)
    tracker = EpochTracker(patience=options.patience if xv is not None else 0)
    owned: list[Any] = [x, y, xv, yv]
    trainable = head_model = None
    first = 0  # the first fine-tuning epoch's index
    try:
        # Stage 1, the head on pooled features: the cached embeddings, or (fine-tuning) the untouched tail's
        # pooled output, which is the same thing computed from the cached activations at the split.
        if tail is None:
            pooled, pooled_val = x, xv
        else:
            trainable = tf_training.trainable_model(encoder.shape, head, tail)
            pooled = tf_training.tail_pooled(trainable, x, options.batch_size)
            pooled_val = tf_training.tail_pooled(trainable, xv, options.batch_size) if xv is not None else None
            owned += [pooled, pooled_val]
        standardizer = tf_training.Standardizer(pooled)
        owned += [standardizer.apply(pooled), standardizer.apply(pooled_val) if pooled_val is not None else None]
        head_model = tf_training.trainable_model(tuple(tfjs.shape(pooled)[1:]), head, None)
        try:
            if options.solves_exactly():
                # A linear head on frozen features is convex: solved to its optimum, reported as one epoch.
                logs = await tf_training.solve_linear(head[-1], (owned[-2], y, owned[-1], yv), options.l2,
                                                      _solver(cancelled))
                _epoch_hook(tracker, 1, progress, cancelled)(0, logs)
            else:
                await tf_training.fit(head_model, (owned[-2], y, owned[-1], yv), options.epochs, options.batch_size,
                                      options.learning_rate, options.seed,
                                      _epoch_hook(tracker, options.epochs + tuned_epochs, progress, cancelled))
            # Stage 2 (fine-tuning): tail and head together from there, at a tenth of the rate, so the head's first
            # gradients do not wreck the pretrained tail; an epoch that does not beat stage 1 is not kept.
            if tail is not None and not cancelled():
                standardizer.set_layer(trainable)
                first = len(tracker.history or [])
                tracker.next_stage(first)
                await tf_training.fit(trainable, (x, y, xv, yv), tuned_epochs, options.batch_size,
                                      options.learning_rate * FINE_TUNE_RATE, options.seed + 1,
                                      _epoch_hook(tracker, first + tuned_epochs, progress, cancelled, first),
                                      keep_start=True)
            standardizer.fold_into(head[0])
        finally:
            standardizer.dispose()
        if tail is not None:
            tf_training.identity_standardize(trainable)
            tail.write_back()
        features_model = head_model if tail is None else trainable
        views = await _chosen_views(store, val_set, encoder, features_model, project, options)
    except BaseException:
        tfjs.dispose_layers([*head, *(tfjs.model_layers(trainable) if trainable is not None else [])])
        raise
    finally:
        for tensor in owned:
            if tensor is not None:
                tensor.dispose()
    result = summary(options, tracker, time.monotonic() - started, cancelled())
    result["fit_seconds"] = round(time.monotonic() - fit_started, 2)
    result["train_count"], result["val_count"] = len(train_set), len(val_set)
    result["skipped"] = skipped_report(project, failures)
    result["tta"] = len(views)
    result["solved"] = options.solves_exactly()  # one solve, not epochs: nothing stopped early
    if tail is not None:
        result["fine_tune_from_epoch"] = first + 1 if len(tracker.history or []) > first else None
    classifier = _classifier(prepared, features_model, head, project.classes.labels, options, result, views)
    return classifier, result, {"train": train_set, "val": val_set}


def _training_rows(store: FeatureStore, samples: list[Sample], encoder: Encoder) -> Any:
    """The training features: every view of every sample, view by view (labels repeat in the same order)."""
    parts = [store.matrix(samples, key, encoder.shape) for key in encoder.keys]
    if len(parts) == 1:
        return parts[0]
    joined = tfjs.tidy(lambda: tfjs.concat(parts))
    for part in parts:
        part.dispose()
    return joined


async def _chosen_views(store: FeatureStore, val_set: list[Sample], encoder: Encoder, trainable: Any,
                        project: Project, options: TrainOptions) -> tuple[str, ...]:
    """The views predictions average over: the one count asked for, or ("auto") the count among AUTO_TTA whose
    average gives the validation images' true classes the highest mean log-probability (fewer views on a tie;
    without validation images, none). Accuracy chose worse: on a few hundred images it ties or flips on one image
    (docs/accuracy.md, run 7)."""
    candidates = options.tta_candidates()
    if len(candidates) == 1:
        return VIEW_SETS[candidates[0]]
    if not val_set:
        return VIEW_SETS[1]
    truth = project.label_indices(val_set)
    shape = tuple(int(d) for d in tfjs.input_shape(trainable)[1:])
    scored = []
    for count in candidates:
        keys = [view_key(encoder.key, view) for view in VIEW_SETS[count]]
        probs = await store.averaged(val_set, keys, shape, trainable)
        scored.append((mean_log_likelihood(truth, probs), -count))
    return VIEW_SETS[-max(scored)[1]]


async def _embed_test_views(store: FeatureStore, samples: list[Sample], encoder: Encoder, views: tuple[str, ...],
                             cancelled: Callable[[], bool]) -> None:
    """The validation images in the test-time views training did not embed, so evaluating the new model averages
    over the same views its predictions will."""
    missing = tuple(view for view in views if view not in encoder.views)
    if missing and samples and not cancelled():
        await store.ensure(samples, replace(encoder, views=missing), lambda done, total: None, cancelled)


def _epoch_hook(tracker: EpochTracker, epochs: int, progress: Progress, cancelled: Callable[[], bool],
                offset: int = 0) -> tf_training.EpochHook:
    """Records each epoch (numbered from `offset`: a second stage continues the first's count), reports it with the
    time left, and says whether to keep it and whether to stop."""
    started = time.monotonic()

    def on_epoch(epoch: int, logs: dict[str, float]) -> tuple[bool, bool]:
        best, stop = tracker.update(offset + epoch, logs)
        progress({"phase": "training", "epoch": offset + epoch + 1, "epochs": epochs, **logs,
                  "eta_s": eta_seconds(epoch + 1, epochs - offset, time.monotonic() - started)})
        return best, stop or cancelled()

    return on_epoch


def _solver(cancelled: Callable[[], bool]) -> tf_training.Solver:
    """L-BFGS (model/lbfgs.py); after each step the page takes its turn, and a cancel stops it."""
    async def pause(_iteration: int, _value: float) -> bool:
        await asyncio.sleep(0)
        return cancelled()

    return lambda objective, start: lbfgs.minimize(objective, start, after_step=pause)


def embedding_progress(progress: Progress, started: float) -> Callable[[int, int], None]:
    """`{phase: "embedding", done, total, eta_s}` events: the time left is what a person waiting wants to know."""
    def report(done: int, total: int) -> None:
        progress({"phase": "embedding", "done": done, "total": total,
                  "eta_s": eta_seconds(done, total, time.monotonic() - started)})
    return report


def _classifier(prepared: Prepared, trainable: Any, head: list[Any], labels: list[str],
                options: TrainOptions, result: dict[str, Any], views: tuple[str, ...]) -> Classifier:
    """One model from image to probabilities, built from the (possibly fine-tuned) base and the trained head."""
    base_model = prepared.copy if prepared.copy is not None else prepared.base.model
    earlier = prepared.base.earlier if prepared.encoder.depths == 2 else None
    full, pooling = tf_training.image_model(base_model, head, earlier)
    owned = [*head, *pooling, *tfjs.model_layers(trainable)] if prepared.copy is None else \
        [*tfjs.model_layers(prepared.copy), *tfjs.model_layers(trainable), *pooling]
    base = prepared.base
    described = {"id": base.base_id, "label": base.info.get("label", base.base_id),
                 "cutLayer": base.info.get("cutLayer"), **({"earlierDepth": earlier} if earlier else {})}
    metadata = classifier_metadata(labels, prepared.encoder.preprocessing, described, options, result,
                                   {"teachbox": __version__, **environment.versions()}, environment.now_iso(), views)
    return Classifier(full, labels, prepared.encoder.preprocessing, metadata, head=trainable,
                      encoder_key=prepared.encoder.key, owned_layers=owned, views=views)
