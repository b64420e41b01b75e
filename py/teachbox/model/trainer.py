"""Transfer learning in the page: features once, a small head trained on them, one model out.

Frozen base (fineTuneLayers = 0): cached pooled embeddings → standardise → dense(relu, L2) → dropout → softmax,
with the standardisation folded into the first dense layer afterwards so the exported model needs no extra step.
Fine-tuning (K > 0): a private copy of the base is split; the frozen part's activations are cached once and each
epoch trains only the last K weighted layers + the head. The page's shared base is never modified.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teachbox import __version__
from teachbox import jsbridge
from teachbox.data.class_index import check_trainable
from teachbox.model.classifier import Classifier, dispose_layers, model_layers
from teachbox.errors import TeachboxError
from teachbox.model.extractor import FeatureExtractor
from teachbox.model.feature_store import Encoder, FeatureStore
from teachbox.model.finetune_plan import FineTunePlan, TailBlock, plan_fine_tuning
from teachbox.jsbridge import tf
from teachbox.model.export_zip import FORMAT, FORMAT_VERSION
from teachbox.data.geometry import INPUT_SIZE, Preprocessing
from teachbox.data.project import Project, Sample
from teachbox.data.splits import stratified_split
from teachbox.model.topology import layer_infos
from teachbox.model.train_options import EpochTracker, TrainOptions, eta_seconds, summary

Progress = Callable[[dict[str, Any]], None]


@dataclass
class Prepared:
    """The encoder for a run, and (when fine-tuning) the private base copy and the plan for its tail."""

    encoder: Encoder
    base: FeatureExtractor
    copy: Any = None
    plan: FineTunePlan | None = None


def _key_prefix(base: FeatureExtractor, preprocessing: Preprocessing) -> str:
    """Names what the features depend on; 224 px keeps the key it had before sizes were chosen, so the embeddings
    of projects saved then stay valid."""
    size = "" if preprocessing.size == INPUT_SIZE else f"@{preprocessing.size}"
    return f"{base.base_id}|{preprocessing.mode}{size}"


def pooled_encoder(base: FeatureExtractor, preprocessing: Preprocessing) -> Encoder:
    return Encoder(f"{_key_prefix(base, preprocessing)}|pooled", base.runner, (base.feature_dim,), True, preprocessing)


async def prepare(base: FeatureExtractor, reload: Callable[[], Any], options: TrainOptions, size: int) -> Prepared:
    """The encoder whose features this run trains on, reading images at `size` pixels."""
    preprocessing = Preprocessing(mode=options.crop, size=size)
    if options.fine_tune_layers == 0:
        return Prepared(pooled_encoder(base, preprocessing), base)
    plan = plan_fine_tuning(layer_infos(jsbridge.topology(base.model)), options.fine_tune_layers)  # fails before any loading
    copy = await reload()
    frozen = tf.model(jsbridge.to_js({"inputs": copy.inputs, "outputs": copy.getLayer(plan.split).output}))
    # The activations' shape at this input size (the layers' own shapes leave height and width open).
    probe = jsbridge.tidy(lambda: frozen.predict(tf.zeros(jsbridge.to_js([1, size, size, 3]))))
    shape = tuple(int(d) for d in list(probe.shape.to_py())[1:])
    probe.dispose()
    encoder = Encoder(f"{_key_prefix(base, preprocessing)}|{plan.split}", frozen, shape, False, preprocessing)
    return Prepared(encoder, base, copy, plan)


class FoldedTail:
    """The planned tail as Dense layers with batch norm folded in (see finetune.py), and the write-back."""

    def __init__(self, copy: Any, plan: FineTunePlan) -> None:
        self.copy, self.plan = copy, plan
        self.dense = [tf.layers.dense(jsbridge.to_js({"units": int(copy.getLayer(b.conv).getConfig().filters),
                                                      "name": f"teachbox_ft_{b.conv}"})) for b in plan.blocks]

    def apply(self, inputs: Any) -> Any:
        tensor = inputs
        for block, dense in zip(self.plan.blocks, self.dense):
            tensor = dense.apply(tensor)
            for name in block.activations:
                tensor = self.copy.getLayer(name).apply(tensor)
        return tensor

    def load_from_base(self) -> None:
        """Dense kernel/bias = the conv (1×1) kernel with the batch norm's affine map folded in."""
        for block, dense in zip(self.plan.blocks, self.dense):
            def fold(block: TailBlock = block) -> Any:
                conv = self.copy.getLayer(block.conv)
                weights = list(conv.getWeights())
                kernel = weights[0].reshape(jsbridge.to_js([weights[0].shape[2], weights[0].shape[3]]))
                bias = weights[1].clone() if len(weights) > 1 else tf.zerosLike(kernel.sum(0))
                if block.norm is not None:
                    gamma, beta, mean, variance = self._norm_parts(block.norm)
                    scale = gamma.div(tf.sqrt(variance.add(self._epsilon(block.norm))))
                    kernel, bias = kernel.mul(scale), bias.sub(mean).mul(scale).add(beta)
                return jsbridge.to_js([kernel, bias])

            values = jsbridge.tidy(fold)
            dense.setWeights(values)
            for tensor in values:
                tensor.dispose()

    def write_back(self) -> None:
        """Trained Dense weights → the base copy's conv kernel; its batch norm becomes `x + bias`."""
        for block, dense in zip(self.plan.blocks, self.dense):
            conv = self.copy.getLayer(block.conv)
            kernel, bias = list(dense.getWeights())

            def conv_weights() -> Any:
                shaped = kernel.reshape(jsbridge.to_js([1, 1, kernel.shape[0], kernel.shape[1]]))
                return jsbridge.to_js([shaped, bias.clone()] if len(conv.getWeights()) > 1 else [shaped])

            def norm_weights() -> Any:
                norm = self.copy.getLayer(block.norm)
                ones = tf.onesLike(bias)
                parts = {"gamma": ones.mul(math.sqrt(1 + self._epsilon(block.norm))), "beta": bias.clone(),
                         "moving_mean": tf.zerosLike(bias), "moving_variance": ones}
                return jsbridge.to_js([parts[_weight_kind(w)] for w in norm.weights])

            for layer, build in ((conv, conv_weights), *(((self.copy.getLayer(block.norm), norm_weights),)
                                                        if block.norm is not None else ())):
                values = jsbridge.tidy(build)
                layer.setWeights(values)
                for tensor in values:
                    tensor.dispose()
            if block.norm is None and len(conv.getWeights()) == 1:
                raise TeachboxError("internal", f"{block.conv} has neither bias nor batch norm to hold a bias.")

    def _norm_parts(self, name: str) -> tuple[Any, Any, Any, Any]:
        norm = self.copy.getLayer(name)
        parts = {_weight_kind(w): value for w, value in zip(norm.weights, norm.getWeights())}
        ones = tf.onesLike(parts["moving_mean"])
        return (parts.get("gamma", ones), parts.get("beta", tf.zerosLike(ones)), parts["moving_mean"],
                parts["moving_variance"])

    def _epsilon(self, name: str) -> float:
        return float(self.copy.getLayer(name).getConfig().epsilon)


def _weight_kind(weight: Any) -> str:
    """gamma / beta / moving_mean / moving_variance from a batch-norm weight's name (`conv_pw_13_bn/gamma`)."""
    return str(weight.originalName).rsplit("/", 1)[-1]


def _head_layers(options: TrainOptions, classes: int) -> list[Any]:
    """dense(relu, L2) → dropout → dense(softmax); initialisers and dropout seeded from options.seed, so two runs
    with one seed start alike (TF.js still shuffles batches with Math.random)."""

    def init(offset: int) -> Any:
        return tf.initializers.glorotNormal(jsbridge.to_js({"seed": options.seed + offset}))

    layers = []
    if options.hidden_units > 0:
        regularizer = tf.regularizers.l2(jsbridge.to_js({"l2": options.l2})) if options.l2 > 0 else None
        layers.append(tf.layers.dense(jsbridge.to_js({"units": options.hidden_units, "activation": "relu",
                                                      "kernelRegularizer": regularizer, "kernelInitializer": init(1),
                                                      "name": "teachbox_hidden"})))
        if options.dropout > 0:
            layers.append(tf.layers.dropout(jsbridge.to_js({"rate": options.dropout, "seed": options.seed + 2,
                                                            "name": "teachbox_dropout"})))
    layers.append(tf.layers.dense(jsbridge.to_js({"units": classes, "activation": "softmax",
                                                  "kernelInitializer": init(3), "name": "teachbox_output"})))
    return layers


def _apply(layers: list[Any], tensor: Any) -> Any:
    for layer in layers:
        tensor = layer.apply(tensor)
    return tensor


class Standardizer:
    """Per-feature mean and std of the training features: makes the head's optimisation well-conditioned."""

    def __init__(self, features: Any) -> None:
        moments = tf.moments(features, 0)
        self.mean = moments.mean
        self.std = jsbridge.tidy(lambda: tf.sqrt(moments.variance).add(1e-6))
        moments.variance.dispose()

    def apply(self, features: Any) -> Any:
        return jsbridge.tidy(lambda: features.sub(self.mean).div(self.std))

    def fold_into(self, dense: Any) -> None:
        """Rewrite dense(x') with x' = (x - mean) / std as an equivalent dense(x): W/std, b - (mean/std)·W."""
        kernel, bias = list(dense.getWeights())

        def fold() -> Any:
            scaled = kernel.div(self.std.expandDims(1))
            shift = tf.matMul(self.mean.div(self.std).expandDims(0), kernel).squeeze(jsbridge.to_js([0]))
            return jsbridge.to_js([scaled, bias.sub(shift)])

        folded = jsbridge.tidy(fold)
        dense.setWeights(folded)
        for tensor in folded:
            tensor.dispose()

    def dispose(self) -> None:
        self.mean.dispose()
        self.std.dispose()


class Snapshot:
    """Copies of a model's weights at its best epoch."""

    def __init__(self) -> None:
        self.weights: list[Any] = []

    def take(self, model: Any) -> None:
        self.dispose()
        self.weights = [w.clone() for w in model.getWeights()]

    def restore(self, model: Any) -> None:
        if self.weights:
            model.setWeights(jsbridge.to_js(self.weights))

    def dispose(self) -> None:
        for tensor in self.weights:
            tensor.dispose()
        self.weights = []


async def train(project: Project, store: FeatureStore, prepared: Prepared, options: TrainOptions,
                progress: Progress, cancelled: Callable[[], bool]) -> tuple[Classifier, dict[str, Any], dict]:
    """Train a classifier on the project's samples; returns (classifier, summary, split)."""
    started = time.monotonic()
    check_trainable(project.counts())
    encoder = prepared.encoder
    failures = await store.ensure(project.samples, encoder, _embedding_progress(progress, started), cancelled)
    usable = [s for s in project.samples if s.uid not in failures]
    check_trainable(project.classes.counts(s.label for s in usable))
    labels = project.label_indices(usable)
    train_idx, val_idx = stratified_split(labels, options.validation_split, options.seed)
    train_set, val_set = [usable[i] for i in train_idx], [usable[i] for i in val_idx]
    classes = len(project.classes)
    fit_started = time.monotonic()
    head_layers = _head_layers(options, classes)
    x, y = store.matrix(train_set, encoder.key, encoder.shape), _one_hot(project, train_set, classes)
    xv = store.matrix(val_set, encoder.key, encoder.shape) if val_set else None
    yv = _one_hot(project, val_set, classes) if val_set else None
    standardizer = Standardizer(x) if encoder.pooled else None
    trainable = None
    try:
        if standardizer is not None:
            x = _replace(x, standardizer.apply(x))
            xv = _replace(xv, standardizer.apply(xv)) if xv is not None else None
        trainable, tail = _trainable_model(prepared, head_layers)
        tracker = await _fit(trainable, x, y, xv, yv, options, progress, cancelled)
        if standardizer is not None:
            standardizer.fold_into(head_layers[0])
        if tail is not None:
            tail.write_back()
    except BaseException:
        dispose_layers([*head_layers, *(model_layers(trainable) if trainable is not None else [])])
        raise
    finally:
        for tensor in (x, y, xv, yv):
            if tensor is not None:
                tensor.dispose()
        if standardizer is not None:
            standardizer.dispose()
    result = summary(options, tracker, time.monotonic() - started, cancelled())
    result["fit_seconds"] = round(time.monotonic() - fit_started, 2)
    result["train_count"], result["val_count"] = len(train_set), len(val_set)
    result["skipped"] = _skipped(project, failures)
    classifier = _classifier(prepared, trainable, head_layers, project.classes.labels, options, result)
    return classifier, result, {"train": train_set, "val": val_set}


def _replace(old: Any, new: Any) -> Any:
    old.dispose()
    return new


def _one_hot(project: Project, samples: list[Sample], classes: int) -> Any:
    indices = project.label_indices(samples)
    return jsbridge.tidy(lambda: tf.oneHot(tf.tensor1d(jsbridge.to_js(indices), "int32"), classes).toFloat())


def _trainable_model(prepared: Prepared, head_layers: list[Any]) -> tuple[Any, FoldedTail | None]:
    """features → probabilities: the head alone, or (fine-tuning) the folded tail, pooling and the head."""
    encoder = prepared.encoder
    inputs = tf.input(jsbridge.to_js({"shape": list(encoder.shape)}))
    tail = None
    if encoder.pooled:
        outputs = _apply(head_layers, inputs)
    else:
        tail = FoldedTail(prepared.copy, prepared.plan)
        pooled = tf.layers.globalAveragePooling2d(jsbridge.to_js({"name": "teachbox_tail_pool"}))
        outputs = _apply(head_layers, pooled.apply(tail.apply(inputs)))
    model = tf.model(jsbridge.to_js({"inputs": inputs, "outputs": outputs, "name": "teachbox_trainable"}))
    if tail is not None:
        tail.load_from_base()
    return model, tail


async def _fit(model: Any, x: Any, y: Any, xv: Any, yv: Any, options: TrainOptions, progress: Progress,
               cancelled: Callable[[], bool]) -> EpochTracker:
    model.compile(jsbridge.to_js({"optimizer": tf.train.adam(options.learning_rate),
                                  "loss": "categoricalCrossentropy", "metrics": ["acc"]}))
    tracker = EpochTracker(patience=options.patience if xv is not None else 0)
    snapshot = Snapshot()
    started = time.monotonic()

    def on_epoch_end(epoch: int, logs: Any) -> None:
        values = {k: float(v) for k, v in logs.to_py().items()}
        best, stop = tracker.update(int(epoch), values)
        if best:
            snapshot.take(model)
        progress({"phase": "training", "epoch": int(epoch) + 1, "epochs": options.epochs, **values,
                  "eta_s": eta_seconds(int(epoch) + 1, options.epochs, time.monotonic() - started)})
        if stop or cancelled():
            model.stopTraining = True

    callback = jsbridge.create_proxy(on_epoch_end)
    config: dict[str, Any] = {"epochs": options.epochs, "batchSize": options.batch_size, "shuffle": True,
                              "verbose": 0}
    try:
        fit_options = jsbridge.to_js(config)
        fit_options.callbacks = jsbridge.to_js({"onEpochEnd": callback})
        if xv is not None:
            fit_options.validationData = jsbridge.to_js([xv, yv])
        await model.fit(x, y, fit_options)
        snapshot.restore(model)
    finally:
        callback.destroy()
        snapshot.dispose()
        if model.optimizer is not None:
            model.optimizer.dispose()
    return tracker


def _embedding_progress(progress: Progress, started: float) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        progress({"phase": "embedding", "done": done, "total": total,
                  "eta_s": eta_seconds(done, total, time.monotonic() - started)})
    return report


def _skipped(project: Project, failures: dict[str, TeachboxError]) -> list[dict[str, Any]]:
    by_uid = {s.uid: s for s in project.samples}
    return [{"path": by_uid[uid].name, "line": by_uid[uid].line, "code": error.code, "message": error.message}
            for uid, error in failures.items()]


def _classifier(prepared: Prepared, trainable: Any, head_layers: list[Any], labels: list[str],
                options: TrainOptions, result: dict[str, Any]) -> Classifier:
    """One model from image to probabilities, built from the (possibly fine-tuned) base and the trained head."""
    base_model = prepared.copy if prepared.copy is not None else prepared.base.model
    pool = tf.layers.globalAveragePooling2d(jsbridge.to_js({"name": "teachbox_pool"}))
    outputs = _apply(head_layers, pool.apply(base_model.outputs[0]))
    full = tf.model(jsbridge.to_js({"inputs": base_model.inputs, "outputs": outputs, "name": "teachbox_classifier"}))
    owned = [*head_layers, pool, *model_layers(trainable)] if prepared.copy is None else \
        [*model_layers(prepared.copy), *model_layers(trainable), pool]
    base = prepared.base
    metadata = {
        "format": FORMAT, "formatVersion": FORMAT_VERSION, "labels": labels,
        "preprocessing": prepared.encoder.preprocessing.to_json(),
        "base": {"id": base.base_id, "label": base.info.get("label", base.base_id),
                 "cutLayer": base.info.get("cutLayer"), "fineTunedLayers": options.fine_tune_layers},
        "inputSize": prepared.encoder.preprocessing.size,
        "training": {k: result[k] for k in ("best_epoch", "epochs", "val_accuracy", "val_loss", "seconds")}
        | {"options": options.to_json(), "train_count": result["train_count"], "val_count": result["val_count"]},
        "versions": {"teachbox": __version__, **jsbridge.versions()},
        "created": str(jsbridge.js.Date.new().toISOString()),
    }
    return Classifier(full, labels, prepared.encoder.preprocessing, metadata, head=trainable,
                      encoder_key=prepared.encoder.key, owned_layers=owned)
