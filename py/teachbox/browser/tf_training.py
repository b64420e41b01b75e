"""Training in TF.js: the head's layers, standardisation, the folded fine-tuning tail, `fit` with the best epoch
kept, a linear head solved to its optimum (`solve_linear`), and the one model from image to probabilities that a
run produces.

model/trainer.py decides what to train (plans, splits, options, metadata); this module is how TF.js does it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import js  # type: ignore[import-not-found]

from teachbox.browser import kernels
from teachbox.browser.convert import to_js
from teachbox.browser.tfjs import tidy, values_now
from teachbox.errors import TeachboxError

tf = js.tf
# Called after each epoch with (epoch index, logs); answers (keep these weights as the best, stop now).
EpochHook = Callable[[int, dict[str, float]], tuple[bool, bool]]
TAIL_POOL = "teachbox_tail_pool"
TAIL_STANDARDIZE = "teachbox_tail_standardize"


def head_layers(classes: int, hidden_units: int, dropout: float, l2: float, seed: int) -> list[Any]:
    """dense(relu, L2) → dropout → dense(softmax), or with no hidden units dense(softmax, L2): a regularised linear
    model on the features. Initialisers and dropout seeded, so two runs with one seed start alike (and `fit` draws
    the batches' order from the seed too)."""

    def init(offset: int) -> Any:
        return tf.initializers.glorotNormal(to_js({"seed": seed + offset}))

    regularizer = tf.regularizers.l2(to_js({"l2": l2})) if l2 > 0 else None
    layers = []
    if hidden_units > 0:
        layers.append(tf.layers.dense(to_js({"units": hidden_units, "activation": "relu",
                                             "kernelRegularizer": regularizer, "kernelInitializer": init(1),
                                             "name": "teachbox_hidden"})))
        if dropout > 0:
            layers.append(tf.layers.dropout(to_js({"rate": dropout, "seed": seed + 2, "name": "teachbox_dropout"})))
    layers.append(tf.layers.dense(to_js({"units": classes, "activation": "softmax", "kernelInitializer": init(3),
                                         "kernelRegularizer": None if hidden_units > 0 else regularizer,
                                         "name": "teachbox_output"})))
    return layers


def _apply(layers: list[Any], tensor: Any) -> Any:
    for layer in layers:
        tensor = layer.apply(tensor)
    return tensor


def one_hot(indices: list[int], classes: int) -> Any:
    return tidy(lambda: tf.oneHot(tf.tensor1d(to_js(indices), "int32"), classes).toFloat())


def activation_shape(model: Any, size: int) -> tuple[int, ...]:
    """The shape of one image's output at this input size (the layers' own shapes leave height and width open)."""
    probe = tidy(lambda: model.predict(tf.zeros(to_js([1, size, size, 3]))))
    try:
        return tuple(int(d) for d in list(probe.shape)[1:])
    finally:
        probe.dispose()


STD_FLOOR = 0.1  # no feature's std is taken below this share of the mean std


class Standardizer:
    """Per-feature mean and std of the training features: makes the head's optimisation well-conditioned.

    A feature (nearly) constant over a few training images, e.g. a ReLU channel that none of them lights, would
    otherwise be divided by ~1e-6, and any new image that lights it gets a value of 1e5 that swamps the prediction;
    flooring its std at a share of the typical one keeps every standardised value in proportion."""

    def __init__(self, features: Any) -> None:
        moments = tf.moments(features, 0)
        self.mean = moments.mean

        def floored() -> Any:
            std = tf.sqrt(moments.variance)
            return tf.maximum(std, tf.mean(std).mul(STD_FLOOR).add(1e-6))

        self.std = tidy(floored)
        moments.variance.dispose()

    def apply(self, features: Any) -> Any:
        return tidy(lambda: features.sub(self.mean).div(self.std))

    def fold_into(self, dense: Any) -> None:
        """Rewrite dense(x') with x' = (x - mean) / std as an equivalent dense(x): W/std, b - (mean/std)·W."""
        kernel, bias = list(dense.getWeights())

        def fold() -> Any:
            scaled = kernel.div(self.std.expandDims(1))
            shift = tf.matMul(self.mean.div(self.std).expandDims(0), kernel).squeeze(to_js([0]))
            return to_js([scaled, bias.sub(shift)])

        _set_weights(dense, tidy(fold))

    def set_layer(self, model: Any) -> None:
        """The fine-tuning model's frozen standardising layer computes (x - mean) / std."""
        scale = self.std

        def weights() -> Any:
            inverse = tf.onesLike(scale).div(scale)
            return to_js([tf.eye(int(scale.shape[0])).mul(inverse), self.mean.mul(inverse).neg()])

        _set_weights(model.getLayer(TAIL_STANDARDIZE), tidy(weights))

    def dispose(self) -> None:
        self.mean.dispose()
        self.std.dispose()


def identity_standardize(model: Any) -> None:
    """After the standardisation is folded into the head: the fine-tuning model's standardising layer passes its
    input through, so that model still scores cached activations correctly (evaluate, tta "auto")."""
    layer = model.getLayer(TAIL_STANDARDIZE)
    size = int(layer.getWeights()[1].shape[0])
    _set_weights(layer, tidy(lambda: to_js([tf.eye(size), tf.zeros(to_js([size]))])))


def _set_weights(layer: Any, values: Any) -> None:
    layer.setWeights(values)
    for tensor in values:
        tensor.dispose()


class FoldedTail:
    """The planned tail as trainable layers with batch norm folded in, and the write-back. `blocks` are
    model/finetune_plan.py's TailBlocks (conv, norm, activations: layer names of `copy`; kind): a pointwise conv
    trains as a Dense layer over the channel axis, a depthwise one as kernels.js's trainable depthwise layer."""

    def __init__(self, copy: Any, blocks: Sequence[Any]) -> None:
        self.copy, self.blocks = copy, list(blocks)
        self.trained = [self._trainable(block) for block in self.blocks]

    def _trainable(self, block: Any) -> Any:
        config = self.copy.getLayer(block.conv).getConfig()
        name = f"teachbox_ft_{block.conv}"
        if block.kind == "depthwise":
            return kernels.trainable_depthwise(int(config.kernelSize[0]), name)
        return tf.layers.dense(to_js({"units": int(config.filters), "name": name}))

    def apply(self, inputs: Any) -> Any:
        tensor = inputs
        for block, layer in zip(self.blocks, self.trained):
            tensor = layer.apply(tensor)
            for name in block.activations:
                tensor = self.copy.getLayer(name).apply(tensor)
        return tensor

    def load_from_base(self) -> None:
        """Trainable kernel/bias = the conv's kernel (a pointwise one as [in, out]) and bias with the batch norm's
        affine map folded in: scale = gamma / sqrt(variance + epsilon) per output channel."""
        for block, layer in zip(self.blocks, self.trained):
            def fold(block: Any = block) -> Any:
                weights = list(self.copy.getLayer(block.conv).getWeights())
                kernel = weights[0]
                if block.kind == "pointwise":
                    kernel = kernel.reshape(to_js([kernel.shape[2], kernel.shape[3]]))
                channels = int(kernel.shape[2] if block.kind == "depthwise" else kernel.shape[1])
                bias = weights[1].clone() if len(weights) > 1 else tf.zeros(to_js([channels]))
                if block.norm is not None:
                    gamma, beta, mean, variance = self._norm_parts(block.norm)
                    scale = gamma.div(tf.sqrt(variance.add(self._epsilon(block.norm))))
                    kernel = kernel.mul(scale.reshape(to_js([channels, 1])) if block.kind == "depthwise" else scale)
                    bias = bias.sub(mean).mul(scale).add(beta)
                return to_js([kernel, bias])

            _set_weights(layer, tidy(fold))

    def write_back(self) -> None:
        """Trained kernels → the base copy's convs (shaped as they were); each batch norm becomes `x + bias`."""
        for block, layer in zip(self.blocks, self.trained):
            self._write_block(block, layer)

    def _write_block(self, block: Any, layer: Any) -> None:
        conv = self.copy.getLayer(block.conv)
        kernel, bias = list(layer.getWeights())
        shape = list(conv.getWeights()[0].shape)
        has_bias = len(conv.getWeights()) > 1
        if block.norm is None and not has_bias:
            raise TeachboxError("internal", f"{block.conv} has neither bias nor batch norm to hold a bias.")

        def conv_weights() -> Any:
            shaped = kernel.reshape(to_js(shape))
            return to_js([shaped, bias.clone()] if has_bias else [shaped])

        _set_weights(conv, tidy(conv_weights))
        if block.norm is not None:
            norm = self.copy.getLayer(block.norm)
            epsilon = self._epsilon(block.norm)

            def norm_weights() -> Any:
                ones = tf.onesLike(bias)
                parts = {"gamma": ones.mul(math.sqrt(1 + epsilon)), "beta": bias.clone(),
                         "moving_mean": tf.zerosLike(bias), "moving_variance": ones}
                return to_js([parts[_weight_kind(w)] for w in norm.weights])

            _set_weights(norm, tidy(norm_weights))

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


def frozen_part(copy: Any, split: str) -> Any:
    """The private base copy up to the fine-tuning split: its activations are computed once and cached."""
    return tf.model(to_js({"inputs": copy.inputs, "outputs": copy.getLayer(split).output}))


def trainable_model(shape: tuple[int, ...], head: list[Any], tail: FoldedTail | None) -> Any:
    """features → probabilities: the head alone, or (fine-tuning) the folded tail, pooling and the head."""
    inputs = tf.input(to_js({"shape": list(shape)}))
    if tail is None:
        outputs = _apply(head, inputs)
    else:
        pooled = tf.layers.globalAveragePooling2d(to_js({"name": TAIL_POOL})).apply(tail.apply(inputs))
        # Frozen (x - mean) / std between pooling and head, set by Standardizer.set_layer: the head trains on
        # standardised features in both stages and its L2 weighs the same weights in both.
        standardize = tf.layers.dense(to_js({"units": int(pooled.shape[-1]), "trainable": False,
                                             "name": TAIL_STANDARDIZE}))
        outputs = _apply(head, standardize.apply(pooled))
    model = tf.model(to_js({"inputs": inputs, "outputs": outputs, "name": "teachbox_trainable"}))
    if tail is not None:
        tail.load_from_base()
    return model


def tail_pooled(model: Any, features: Any, batch_size: int) -> Any:
    """[N, C]: the pooled output of a trainable_model's tail for cached activations at the split (the base's own
    pooled features while the tail is untouched)."""
    pooled = tf.model(to_js({"inputs": model.inputs, "outputs": model.getLayer(TAIL_POOL).output}))
    return pooled.predict(features, to_js({"batchSize": batch_size}))


class Snapshot:
    """Copies of a model's weights at its best epoch."""

    def __init__(self) -> None:
        self.weights: list[Any] = []

    def take(self, model: Any) -> None:
        self.dispose()
        self.weights = [w.clone() for w in model.getWeights()]

    def restore(self, model: Any) -> None:
        if self.weights:
            model.setWeights(to_js(self.weights))

    def dispose(self) -> None:
        for tensor in self.weights:
            tensor.dispose()
        self.weights = []


async def fit(model: Any, data: tuple[Any, Any, Any, Any], epochs: int, batch_size: int, learning_rate: float,
              seed: int, on_epoch: EpochHook, keep_start: bool = False) -> None:
    """Adam on categorical cross-entropy, one epoch at a time. Each epoch visits the rows in an order drawn from
    `seed` (TF.js's own shuffling uses Math.random, so two runs with one seed would differ). After each epoch
    `on_epoch` says whether to keep these weights as the best (they are restored at the end) and whether to stop.
    `keep_start`: the weights it starts from count as kept until an epoch is better (a second training stage that
    does not improve leaves the first stage's model)."""
    x, y, xv, yv = data
    model.compile(to_js({"optimizer": tf.train.adam(learning_rate), "loss": "categoricalCrossentropy",
                         "metrics": ["acc"]}))
    snapshot = Snapshot()
    if keep_start:
        snapshot.take(model)
    rows = int(x.shape[0])
    draw = random.Random(seed)
    try:
        for epoch in range(epochs):
            order = list(range(rows))
            draw.shuffle(order)
            indices = tf.tensor1d(to_js(order), "int32")
            xs, ys = tf.gather(x, indices), tf.gather(y, indices)
            indices.dispose()
            try:
                options = to_js({"epochs": 1, "batchSize": batch_size, "shuffle": False, "verbose": 0,
                                 "yieldEvery": "never"})
                options.callbacks = js.teachboxKernels.yieldingCallbacks()  # the page's turns (kernels.js)
                if xv is not None:
                    options.validationData = to_js([xv, yv])
                history = (await model.fit(xs, ys, options)).history.to_py()
            finally:
                xs.dispose()
                ys.dispose()
            best, stop = on_epoch(epoch, {name: float(values[-1]) for name, values in history.items()})
            if best:
                snapshot.take(model)
            if stop:
                break
        snapshot.restore(model)
    finally:
        snapshot.dispose()
        if model.optimizer is not None:
            model.optimizer.dispose()


# (objective, start) → its minimum, an object with `point` and `value` (model/lbfgs.py `minimize`).
Solver = Callable[[Callable[[list[float]], tuple[float, list[float]]], list[float]], Awaitable[Any]]


async def solve_linear(dense: Any, data: tuple[Any, Any, Any, Any], l2: float, solver: Solver) -> dict[str, float]:
    """Set a softmax dense layer (on standardised features) to the minimum of mean cross-entropy + l2 · |kernel|²
    over (x, y), which `solver` finds from zero weights with the loss and gradient computed here (model/lbfgs.py:
    the exact optimum beat Adam epochs on the same objective). Returns the logs an epoch of `fit` reports: loss,
    acc, and val_loss, val_acc when (xv, yv) are given."""
    x, y, xv, yv = data
    rows, dims = (int(d) for d in x.shape)
    classes = int(y.shape[1])
    split = dims * classes

    def objective(params: list[float]) -> tuple[float, list[float]]:
        def compute() -> Any:
            flat = tf.tensor1d(to_js(params))
            kernel = flat.slice(0, split).reshape(to_js([dims, classes]))
            logits = tf.matMul(x, kernel).add(flat.slice(split))
            loss = y.mul(tf.logSoftmax(logits)).sum().neg().div(rows).add(kernel.square().sum().mul(l2))
            error = tf.softmax(logits).sub(y).div(rows)
            kernel_gradient = tf.matMul(x, error, True, False).add(kernel.mul(2 * l2))
            return tf.concat(to_js([loss.reshape(to_js([1])), kernel_gradient.reshape(to_js([-1])), error.sum(0)]))

        values = values_now(compute)
        return values[0], values[1:]

    found = await solver(objective, [0.0] * (split + classes))
    _set_weights(dense, [tf.tensor2d(to_js(found.point[:split]), to_js([dims, classes])),
                         tf.tensor1d(to_js(found.point[split:]))])
    logs = {"loss": found.value, "acc": _accuracy(dense, x, y)}
    if xv is not None:
        logs["val_loss"], logs["val_acc"] = _cross_entropy(dense, xv, yv), _accuracy(dense, xv, yv)
    return logs


def _accuracy(dense: Any, x: Any, y: Any) -> float:
    return values_now(lambda: dense.apply(x).argMax(1).equal(y.argMax(1)).toFloat().mean())[0]


def _cross_entropy(dense: Any, x: Any, y: Any) -> float:
    """Mean cross-entropy of the dense layer's probabilities (the val_loss `fit` reports, without the penalty)."""
    return values_now(lambda: y.mul(dense.apply(x).clipByValue(1e-7, 1).log()).sum().neg().div(int(x.shape[0])))[0]


def image_model(base_model: Any, head: list[Any], earlier: str | None = None) -> tuple[Any, list[Any]]:
    """(base → global average pooling → head as one model, the layers it added). With `earlier`, that layer's
    output is max-pooled too and concatenated before the output's, as the fused runner's `embed` does."""
    pool = tf.layers.globalAveragePooling2d(to_js({"name": "teachbox_pool"}))
    pooled = pool.apply(base_model.outputs[0])
    added = [pool]
    if earlier:
        early_pool = tf.layers.globalMaxPooling2d(to_js({"name": "teachbox_pool_earlier"}))
        joined = tf.layers.concatenate(to_js({"axis": -1, "name": "teachbox_depths"}))
        pooled = joined.apply(to_js([early_pool.apply(base_model.getLayer(earlier).output), pooled]))
        added += [early_pool, joined]
    outputs = _apply(head, pooled)
    return tf.model(to_js({"inputs": base_model.inputs, "outputs": outputs, "name": "teachbox_classifier"})), added
