// Shared helpers of the benchmark pages (bare.html, classic.html, tm.html): CSV reading, decoding, Teachbox's
// preprocessing re-implemented in plain TF.js, a pipelined batch embedder, latency and webcam loops, memory numbers.
// Loaded after TF.js; everything hangs off window.benchCommon. No inline code anywhere (the server sends a CSP).
(() => {
  "use strict";
  // The model input side: ?size= (the bare floor runs at the size Teachbox trained at); 224 otherwise, which is
  // also what Teachable Machine and the classic recipe always use.
  const SIZE = Number(new URLSearchParams(location.search).get("size") || 224);
  const EDGE_INSET = 1 / 256;  // as py/teachbox/data/geometry.py: keep the last pixel row/column inside the box
  const BATCH = 32;            // as py/teachbox/model/feature_store.py

  const now = () => performance.now();

  async function readCsv(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const lines = (await response.text()).split(/\r?\n/).filter((line) => line.trim());
    const header = lines.shift().split(",");
    const pathAt = header.indexOf("path"), labelAt = header.indexOf("label");
    return lines.map((line) => {
      const cells = line.split(",");
      return { path: cells[pathAt], label: cells[labelAt], url: new URL(cells[pathAt], new URL(url, location.href)).href };
    });
  }

  function labelsOf(rows) {
    return [...new Set(rows.map((row) => row.label))].sort();
  }

  async function decode(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return createImageBitmap(await response.blob());
  }

  function span(extent, side) {
    const offset = (extent - side) / 2;
    return [offset / (extent - 1), (offset + side - 1 - EDGE_INSET) / (extent - 1)];
  }

  function sizeOf(image) {
    if (image instanceof HTMLVideoElement) return [image.videoWidth, image.videoHeight];
    if (image instanceof HTMLImageElement) return [image.naturalWidth, image.naturalHeight];
    return [image.width, image.height];
  }

  // Teachbox's preprocessing: centre square crop + bilinear resize in one cropAndResize, then x / 127.5 - 1.
  function toInput(image) {
    const [width, height] = sizeOf(image);
    const side = Math.min(width, height);
    const [x1, x2] = span(width, side), [y1, y2] = span(height, side);
    return tf.tidy(() => {
      const pixels = tf.browser.fromPixels(image).toFloat().expandDims(0);
      return tf.image.cropAndResize(pixels, [[y1, x1, y2, x2]], [0], [SIZE, SIZE], "bilinear", 0).div(127.5).sub(1);
    });
  }

  // The same crop drawn into a 224×224 canvas (what Teachable Machine's app feeds its library).
  function cropToCanvas(image, canvas) {
    const [width, height] = sizeOf(image);
    const side = Math.min(width, height);
    canvas = canvas || document.createElement("canvas");
    canvas.width = SIZE;
    canvas.height = SIZE;
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(image, (width - side) / 2, (height - side) / 2, side, side, 0, 0, SIZE, SIZE);
    return canvas;
  }

  // Decode every row in batches of 16, decoding batch k+1 while batch k is processed (as Teachbox does).
  // `process(bitmaps, rows)` may be async; bitmaps are closed afterwards.
  async function pipelined(rows, process, batch = BATCH) {
    const chunks = [];
    for (let i = 0; i < rows.length; i += batch) chunks.push(rows.slice(i, i + batch));
    const decodeChunk = (chunk) => Promise.all(chunk.map((row) => decode(row.url)));
    let pending = chunks.length ? decodeChunk(chunks[0]) : null;
    for (let index = 0; index < chunks.length; index++) {
      const bitmaps = await pending;
      if (index + 1 < chunks.length) pending = decodeChunk(chunks[index + 1]);
      try {
        await process(bitmaps, chunks[index]);
      } finally {
        bitmaps.forEach((bitmap) => bitmap.close());
      }
    }
  }

  // Pooled embeddings of every row: fetch + decode + preprocess + model.predict + mean over h, w, batched.
  async function embedRows(model, rows) {
    const features = [];
    await pipelined(rows, async (bitmaps) => {
      const inputs = bitmaps.map(toInput);
      const batch = tf.concat(inputs, 0);
      inputs.forEach((t) => t.dispose());
      const pooled = tf.tidy(() => tf.mean(model.predict(batch), [1, 2]));
      batch.dispose();
      const flat = await pooled.data();
      const dim = pooled.shape[1];
      pooled.dispose();
      for (let row = 0; row < bitmaps.length; row++) features.push(flat.slice(row * dim, (row + 1) * dim));
    });
    return features;
  }

  async function loadImages(urls) {
    return Promise.all(urls.map((url) => new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`could not load ${url}`));
      img.src = url;
    })));
  }

  // Milliseconds of each `await fn(item)`.
  async function timeEach(fn, items) {
    const times = [];
    for (const item of items) {
      const start = now();
      await fn(item);
      times.push(now() - start);
    }
    return times;
  }

  let stream = null, video = null;
  async function camera() {
    if (video) return video;
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    document.body.append(video);
    await video.play();
    while (!video.videoWidth) await new Promise((resolve) => setTimeout(resolve, 20));
    return video;
  }

  // Loop `await predict(video)` for `seconds`: frames (predictions) per second on the fake camera.
  async function webcamLoop(predict, seconds) {
    const source = await camera();
    await predict(source);  // first call outside the timing (a canvas/texture path may initialise)
    let frames = 0;
    const start = now();
    while (now() - start < seconds * 1000) {
      await predict(source);
      frames++;
    }
    const elapsed = (now() - start) / 1000;
    return { frames, seconds: elapsed, fps: frames / elapsed, width: source.videoWidth, height: source.videoHeight };
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    if (video) video.remove();
    stream = video = null;
  }

  async function memory() {
    // Two full collections with a pause between (--js-flags=--expose-gc), as bench/scenarios.py does for Teachbox.
    for (let i = 0; i < 2; i++) { if (typeof window.gc === "function") window.gc(); await new Promise((r) => setTimeout(r, 200)); }
    const numbers = tf.memory();
    return {
      numTensors: numbers.numTensors, numBytes: numbers.numBytes,
      jsHeap: performance.memory ? performance.memory.usedJSHeapSize : null,
      tfWasmHeap: tf.getBackend() === "wasm" && tf.backend().wasm ? tf.backend().wasm.HEAPU8.length : null,
    };
  }

  async function initTf(backend) {
    tf.wasm.setWasmPaths(new URL("/vendor/tfjs/", location.href).href);
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
    await tf.ready();
    return tf.getBackend();
  }

  function param(name, fallback) {
    return new URLSearchParams(location.search).get(name) || fallback;
  }

  window.benchCommon = {
    SIZE, BATCH, now, readCsv, labelsOf, decode, toInput, cropToCanvas, pipelined, embedRows, loadImages, timeEach,
    camera, webcamLoop, stopCamera, memory, initTf, param,
  };
})();
