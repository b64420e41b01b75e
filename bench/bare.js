// Bare TF.js loop: what Teachbox does for embedding and prediction, without Pyodide in between.
// ?backend=wasm|webgl|cpu, ?base=ID (an id of the build's models/bases.json). The models run as layers models
// (`model.predict`) until useFused(plans) switches embedding and prediction to the fused ops Teachbox runs them as
// (site/kernels.js, with the plans py/teachbox/model/fusion_plan.py makes, computed by the benchmark on CPython).
(() => {
  "use strict";
  const C = window.benchCommon;
  let base = null, classifier = null, embedder = null, predictor = null;

  async function init() {
    const backend = await C.initTf(C.param("backend", "wasm"));
    const catalog = await (await fetch("/models/bases.json")).json();
    const spec = catalog.bases.find((b) => b.id === C.param("base", catalog.default));
    const start = C.now();
    base = await tf.loadLayersModel(new URL("/" + spec.url, location.href).href);
    const warm = tf.tidy(() => tf.mean(base.predict(tf.zeros([1, C.SIZE, C.SIZE, 3])), [1, 2]));
    warm.dataSync();
    warm.dispose();
    return { backend, base: spec.id, featureDim: spec.featureDim, loadMs: C.now() - start, tfjs: tf.version.tfjs };
  }

  // Teachbox's exported model shape: base → global average pooling → dense(100, relu) → dense(classes, softmax).
  function makeClassifier(classes) {
    if (classifier) return;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(base.outputs[0]);
    const hidden = tf.layers.dense({ units: 100, activation: "relu" }).apply(pooled);
    const output = tf.layers.dense({ units: classes, activation: "softmax" }).apply(hidden);
    classifier = tf.model({ inputs: base.inputs, outputs: output });
  }

  async function predictOne(source) {
    const image = typeof source === "string" ? await C.decode(source) : source;
    const input = C.toInput(image);
    if (image !== source) image.close();
    const output = (predictor || classifier).predict(input);
    input.dispose();
    const values = await output.data();
    output.dispose();
    return Array.from(values);
  }

  window.bare = {
    ready: init(),
    async embed(csvUrl) {
      const rows = await C.readCsv(csvUrl);
      const start = C.now();
      const features = await C.embedRows(embedder || base, rows);
      const seconds = (C.now() - start) / 1000;
      return { count: features.length, seconds, imagesPerSec: features.length / seconds };
    },
    async predictLatency(urls, kind) {
      makeClassifier(2);
      const items = kind === "img" ? await C.loadImages(urls) : urls;
      await predictOne(items[0]);  // one untimed call: the classifier's first run
      return C.timeEach(predictOne, items);
    },
    async webcam(seconds) {
      makeClassifier(2);
      try {
        return await C.webcamLoop(predictOne, seconds);
      } finally {
        C.stopCamera();
      }
    },
    /** Keras topologies of the base and of the classifier predictions use, for the benchmark to plan. */
    topologies() {
      makeClassifier(2);
      return [base, classifier].map((model) => JSON.parse(model.toJSON(null, true)));
    },
    /** From now on embed and predict with the fused ops of these plans (py/teachbox/model/fusion_plan.py), as Teachbox does. */
    useFused([basePlan, classifierPlan]) {
      embedder = window.teachboxKernels.fused(base, basePlan);
      predictor = window.teachboxKernels.fused(classifier, classifierPlan);
    },
    memory: C.memory,
  };
})();
