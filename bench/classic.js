// The classic TF.js transfer-learning recipe of the tutorials: load the full MobileNet, cut it at conv_pw_13_relu,
// freeze it, stack flatten → dense(100, relu) → dense(classes, softmax) on top, and model.fit on the images, so
// every epoch runs every image through the base again (no embedding cache). The head settings match Teachable
// Machine's (Adam 0.001, batch 16, 15% validation). Images are kept in memory as 224×224 RGB bytes (the recipe's
// image tensors, stored compactly so 1,400 images fit) and turned into [-1, 1] float batches by a tf.data generator.
(() => {
  "use strict";
  const C = window.benchCommon;
  const SIZE = C.SIZE, PIXELS = SIZE * SIZE * 3;
  // The recipe's batch, for decoding and evaluation too. With the bare loop's 32 there, its accuracy after 2 epochs
  // read 0.50 in two full runs, 0.86 with 16 (not understood; its base runs batch norm in training mode in fit).
  const RECIPE_BATCH = 16;
  let model = null, images = [], labels = [];

  async function init() {
    const backend = await C.initTf(C.param("backend", "wasm"));
    const start = C.now();
    const mobilenet = await tf.loadLayersModel("/shared/models/mobilenet_v1_0.25_224/model.json");
    const cut = mobilenet.getLayer("conv_pw_13_relu");
    const truncated = tf.model({ inputs: mobilenet.inputs, outputs: cut.output });
    truncated.layers.forEach((layer) => { layer.trainable = false; });  // frozen base, as the tutorials do
    truncated.trainable = false;
    window.classicBase = truncated;
    return { backend, tfjs: tf.version.tfjs, loadMs: C.now() - start };
  }

  function build(classes) {
    if (model) model.layers.slice(1).forEach((layer) => layer.dispose());
    model = tf.sequential();
    model.add(window.classicBase);
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 100, activation: "relu", kernelInitializer: "varianceScaling" }));
    model.add(tf.layers.dense({ units: classes, activation: "softmax", kernelInitializer: "varianceScaling", useBias: false }));
    model.compile({ optimizer: tf.train.adam(0.001), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  }

  // Teachbox's crop + resize, kept as bytes (0..255) until batched.
  function toBytes(bitmap) {
    const input = C.toInput(bitmap);  // [-1, 1]
    const values = input.dataSync();
    input.dispose();
    const bytes = new Uint8Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) bytes[i] = Math.round((values[i] + 1) * 127.5);
    return bytes;
  }

  function batches(indices, batchSize, shuffle) {
    return tf.data.generator(function* () {
      const order = indices.slice();
      if (shuffle) tf.util.shuffle(order);
      for (let start = 0; start < order.length; start += batchSize) {
        const part = order.slice(start, start + batchSize);
        yield tf.tidy(() => {
          const flat = new Float32Array(part.length * PIXELS);
          part.forEach((index, row) => {
            const bytes = images[index].bytes;
            const offset = row * PIXELS;
            for (let i = 0; i < PIXELS; i++) flat[offset + i] = bytes[i] / 127.5 - 1;
          });
          const xs = tf.tensor4d(flat, [part.length, SIZE, SIZE, 3]);
          const ys = tf.oneHot(tf.tensor1d(part.map((i) => images[i].label), "int32"), labels.length).toFloat();
          return { xs, ys };
        });
      }
    });
  }

  window.classic = {
    ready: init(),
    async load(csvUrl) {
      const rows = await C.readCsv(csvUrl);
      labels = C.labelsOf(rows);
      images = [];
      const start = C.now();
      await C.pipelined(rows, async (bitmaps, chunk) => {
        bitmaps.forEach((bitmap, i) => images.push({ bytes: toBytes(bitmap), label: labels.indexOf(chunk[i].label) }));
      }, RECIPE_BATCH);
      const seconds = (C.now() - start) / 1000;
      return { count: images.length, seconds, imagesPerSec: images.length / seconds };
    },
    // Fit `epochs` epochs (a few: each one re-embeds every image); 15% per class held out for validation.
    async train(epochs, seed) {
      build(labels.length);
      let state = seed >>> 0 || 1;
      const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
      const train = [], val = [];
      labels.forEach((_, label) => {
        const mine = images.map((image, i) => [image, i]).filter(([image]) => image.label === label).map(([, i]) => i);
        for (let i = mine.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [mine[i], mine[j]] = [mine[j], mine[i]]; }
        const cut = Math.ceil(0.15 * mine.length);
        val.push(...mine.slice(0, cut));
        train.push(...mine.slice(cut));
      });
      const epochMs = [];
      let last = C.now();
      const start = last;
      await model.fitDataset(batches(train, RECIPE_BATCH, true), {
        epochs, validationData: batches(val, RECIPE_BATCH, false),
        callbacks: { onEpochEnd: async () => { const t = C.now(); epochMs.push(t - last); last = t; } },
      });
      return { seconds: (C.now() - start) / 1000, epochs: epochMs.length, epochMs, trainCount: train.length,
               valCount: val.length };
    },
    async evaluate(csvUrl) {
      const rows = await C.readCsv(csvUrl);
      let correct = 0;
      const start = C.now();
      await C.pipelined(rows, async (bitmaps, chunk) => {
        const inputs = bitmaps.map(C.toInput);
        const batch = tf.concat(inputs, 0);
        inputs.forEach((t) => t.dispose());
        const predicted = tf.tidy(() => model.predict(batch).argMax(1));
        batch.dispose();
        const indices = await predicted.data();
        predicted.dispose();
        chunk.forEach((row, i) => { if (labels[indices[i]] === row.label) correct++; });
      }, RECIPE_BATCH);
      return { accuracy: correct / rows.length, count: rows.length, seconds: (C.now() - start) / 1000 };
    },
    freeImages() { images = []; },
    memory: C.memory,
  };
})();
