"""The fine-tuning tail's depthwise layer (site/kernels.js) supplies its own gradients because TF.js's wasm backend
has no depthwise backprop kernels. They must equal TF.js's own (run on the cpu backend, which has them), on cpu and
on wasm, and leave no tensor behind."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_app

# Seeded inputs (TF.js draws them in JS, alike on every backend) and a loss that weighs each output differently.
# native: TF.js's own depthwise conv and gradients; otherwise the trainable layer's, its kernel a layer variable.
GRADIENTS = """(native) => {
  const before = tf.memory().numTensors;
  const result = tf.tidy(() => {
    const x = tf.randomNormal([2, 7, 7, 5], 0, 1, "float32", 1);
    const kernel = tf.randomNormal([3, 3, 5, 1], 0, 1, "float32", 2);
    const bias = tf.randomNormal([5], 0, 1, "float32", 3);
    const weight = tf.randomNormal([2, 7, 7, 5], 0, 1, "float32", 4);
    const values = (y, gx, gk) => ({y: Array.from(y.dataSync()), x: Array.from(gx.dataSync()),
                                    k: Array.from(gk.dataSync())});
    const conv = (input, k) => tf.depthwiseConv2d(input, k, 1, "same").add(bias);
    if (native) {
      const [gx, gk] = tf.grads((input, k) => tf.sum(tf.mul(conv(input, k), weight)))([x, kernel]);
      return values(conv(x, kernel), gx, gk);
    }
    const layer = teachboxKernels.trainableDepthwise({kernelSize: 3, name: "probe"});
    layer.apply(x);
    layer.setWeights([kernel, bias]);
    const variable = layer.trainableWeights[0].read();
    const {grads} = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x), weight)), [variable]);
    const gx = tf.grad((input) => tf.sum(tf.mul(layer.apply(input), weight)))(x);
    const out = values(layer.apply(x), gx, grads[variable.name]);
    layer.dispose();
    return out;
  });
  return {...result, backend: tf.getBackend(), leaked: tf.memory().numTensors - before};
}"""


@pytest.fixture(scope="module")
def reference(module_context, server) -> dict:  # noqa: ANN001
    page, info = open_app(module_context, server.url + "?backend=cpu")
    assert info["backend"] == "cpu", info
    return page.evaluate(GRADIENTS, True)


def _worst(ours: list[float], theirs: list[float]) -> float:
    scale = max(1.0, *(abs(v) for v in theirs))
    return max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) / scale


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_depthwise_layer_gradients_equal_tfjs_own(reference, context, server, backend: str) -> None:  # noqa: ANN001
    page, info = open_app(context, server.url + f"?backend={backend}")
    assert info["backend"] == backend, info
    ours = page.evaluate(GRADIENTS, False)
    worst = {part: _worst(ours[part], reference[part]) for part in ("y", "x", "k")}
    print(f"\ntrainable depthwise on {backend} vs TF.js's own on cpu (max relative |Δ|): {worst}")
    assert ours["leaked"] == 0, f"{ours['leaked']} tensor(s) left behind"
    assert all(value < 1e-5 for value in worst.values()), worst
