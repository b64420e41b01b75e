// Google's Teachable Machine library (@teachablemachine/image) driven the way the TM web app drives it: every image
// centre-cropped into a 224×224 canvas, addExample(classIndex, canvas) one at a time, then train() with the app's
// settings (epochs 50, learningRate 0.001, batchSize 16, denseUnits 100) and predict(image).
(() => {
  "use strict";
  const C = window.benchCommon;
  const APP_SETTINGS = { epochs: 50, learningRate: 0.001, batchSize: 16, denseUnits: 100 };
  let model = null, labels = [], testEmbeddings = null;

  async function init() {
    const backend = await C.initTf("wasm");
    return { backend, tfjs: tf.version.tfjs, tmImage: tmImage.version };
  }

  function argmax(values) {
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    return best;
  }

  window.tmBench = {
    ready: init(),
    // A fresh TeachableMobileNet (createTeachable fetches and truncates the v2 α=0.35 base: timed as loadMs).
    async create(classLabels, seed) {
      if (model) model.dispose();
      labels = classLabels;
      const start = C.now();
      model = await tmImage.createTeachable({
        tfjsVersion: tf.version.tfjs, tmVersion: "2.4.5", packageVersion: tmImage.version,
        packageName: "@teachablemachine/image", modelName: "bench", timeStamp: new Date().toISOString(), labels,
      }, { version: 2, alpha: 0.35 });
      model.setLabels(labels);
      if (seed) model.setSeed(String(seed));
      return { loadMs: C.now() - start };
    },
    async addExamples(csvUrl) {
      const rows = await C.readCsv(csvUrl);
      const canvas = document.createElement("canvas");
      const start = C.now();
      await C.pipelined(rows, async (bitmaps, chunk) => {
        for (let i = 0; i < bitmaps.length; i++) {
          await model.addExample(labels.indexOf(chunk[i].label), C.cropToCanvas(bitmaps[i], canvas));
        }
      });
      const seconds = (C.now() - start) / 1000;
      return { count: rows.length, seconds, imagesPerSec: rows.length / seconds };
    },
    // Re-use the examples of a model already filled by addExamples (same images) in a new model with another seed.
    async cloneExamplesInto(seed) {
      const examples = model.examples.map((perClass) => perClass.slice());
      await this.create(labels, seed);
      model.examples = examples;
    },
    async train() {
      const epochTimes = [];
      let last = C.now();
      const start = last;
      await model.train(APP_SETTINGS, {
        onEpochEnd: async () => { const t = C.now(); epochTimes.push(t - last); last = t; },
      });
      return { seconds: (C.now() - start) / 1000, epochs: epochTimes.length, epochMs: epochTimes };
    },
    // Accuracy through the library's own predict() on each image's 224×224 canvas.
    async evaluate(csvUrl, keepEmbeddings) {
      const rows = await C.readCsv(csvUrl);
      const canvas = document.createElement("canvas");
      let correct = 0, predictMs = 0;
      const embeddings = [];
      const start = C.now();
      await C.pipelined(rows, async (bitmaps, chunk) => {
        for (let i = 0; i < bitmaps.length; i++) {
          C.cropToCanvas(bitmaps[i], canvas);
          const t = C.now();
          const result = await model.predict(canvas);
          predictMs += C.now() - t;
          if (result[argmax(result.map((r) => r.probability))].className === chunk[i].label) correct++;
          if (keepEmbeddings) {
            const input = tf.tidy(() => tf.browser.fromPixels(canvas).toFloat().div(127).sub(1).expandDims(0));
            const e = model.truncatedModel.predict(input);
            embeddings.push({ data: e.dataSync().slice(), label: chunk[i].label });
            input.dispose();
            e.dispose();
          }
        }
      });
      const seconds = (C.now() - start) / 1000;
      if (keepEmbeddings) testEmbeddings = embeddings;
      // seconds: the whole pass (decode, crop, predict, and the embedding capture when asked); predictSeconds: predict() only
      return { accuracy: correct / rows.length, count: rows.length, seconds, predictSeconds: predictMs / 1000 };
    },
    // Accuracy of the current model on the test embeddings kept by evaluate(…, true): the same numbers predict()
    // computes (its joint model is truncated base → trained head), without re-embedding every test image.
    async evaluateCached() {
      let correct = 0;
      for (const item of testEmbeddings) {
        const out = tf.tidy(() => model.trainingModel.predict(tf.tensor2d(item.data, [1, item.data.length])));
        if (labels[argmax(await out.data())] === item.label) correct++;
        out.dispose();
      }
      return { accuracy: correct / testEmbeddings.length, count: testEmbeddings.length };
    },
    async predictLatency(urls, kind) {
      const items = kind === "img" ? await C.loadImages(urls) : urls;
      const predict = async (item) => {
        const image = typeof item === "string" ? await C.decode(item) : item;
        const result = await model.predict(image);
        if (image !== item) image.close();
        return result;
      };
      await predict(items[0]);
      return C.timeEach(predict, items);
    },
    async webcam(seconds) {
      try {
        return await C.webcamLoop((video) => model.predict(video), seconds);
      } finally {
        C.stopCamera();
      }
    },
    memory: C.memory,
  };
})();
