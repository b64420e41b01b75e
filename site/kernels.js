// The mechanical per-image work of Teachbox, in one JS call per image or per batch. Python (teachbox/data/image_reading.py,
// image_sources.py, image_header.py, geometry.py) decides everything: which bytes are an image, how big it may be, the crop
// box and the size; this only runs fetches, decodes and TF.js ops. Why JS: each Python→JS call and each awaited
// promise costs Pyodide tens to hundreds of microseconds, and a batch of 32 images took ~10 of them per image.
(() => {
  "use strict";
  const message = (error) => String((error && error.message) || error);
  // The longest a batch's model ops hold the main thread before the page gets a turn: input is answered within
  // about this (plus one op), well under the 100 ms a person notices.
  const SLICE_MS = 40;
  /** A turn for the page's input and rendering: the rest runs as a new task (a message: setTimeout is clamped to
   *  4 ms when nested). */
  const yieldToPage = () => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });

  const kernels = {
    /** [1, size, size, 3] float32: crop `box` ([y1, x1, y2, x2], normalised) + bilinear resize, then `scaling`
     *  (one of kernels.scalings: Keras' preprocess_input modes, named by Python's geometry.SCALINGS). */
    toInput(image, box, size, scaling = "tf") {
      return tf.tidy(() => {
        const pixels = tf.browser.fromPixels(image).toFloat().expandDims(0);
        return kernels.scalings[scaling](tf.image.cropAndResize(pixels, [box], [0], [size, size], "bilinear", 0));
      });
    },

    /** RGB pixels in [0, 255] -> a base's input. "caffe" is BGR minus the ImageNet means (VGG16, ResNet50). */
    scalings: {
      tf: (x) => x.div(127.5).sub(1),
      torch: (x) => x.div(255).sub([0.485, 0.456, 0.406]).div([0.229, 0.224, 0.225]),
      caffe: (x) => x.sub([123.68, 116.779, 103.939]).reverse(-1),
      none: (x) => x,
    },

    /**
     * Each source's bytes as a Blob (a URL is fetched) and at least its first `headerBytes` bytes, for Python to
     * sniff.
     * One result per source: {kind: "blob", blob, header}, {kind: "http", status, statusText} (the server said
     * no), {kind: "redirected" | "network", message} (see failedFetch), {kind: "unreadable", message} (a File that
     * cannot be read) or {kind: "pixels"} (not bytes: an <img>, <canvas>, … that Python reads itself).
     */
    async readAll(sources, headerBytes) {
      return Promise.all(sources.map(async (source) => {
        let blob = source;
        if (typeof source === "string") {
          let response;
          try {
            response = await fetch(source);
          } catch (error) {
            return { kind: await kernels.failedFetch(source), message: message(error) };
          }
          if (!response.ok) return { kind: "http", status: response.status, statusText: response.statusText };
          try {
            blob = await response.blob();
          } catch (error) {
            return { kind: "network", message: message(error) };
          }
        } else if (!(source instanceof Blob)) {
          return { kind: "pixels" };
        }
        try {
          // A small file is read whole: Blob.slice registers a new blob with the browser process, which costs more
          // than reading a small file outright.
          const part = blob.size <= 4 * headerBytes ? blob : blob.slice(0, headerBytes);
          return { kind: "blob", blob, header: new Uint8Array(await part.arrayBuffer()) };
        } catch (error) {
          return { kind: "unreadable", message: message(error) };
        }
      }));
    },

    /** Why a fetch of `url` that threw failed: "redirected" when the server answers it with a redirect the page
     *  could not follow (to another origin, which the page's CSP forbids, or in a loop), else "network" (no answer).
     *  A failed fetch says only "Failed to fetch"; asking again without following redirects tells the two apart. */
    async failedFetch(url) {
      try {
        const probe = await fetch(url, { redirect: "manual" });
        return probe.type === "opaqueredirect" ? "redirected" : "network";
      } catch (error) {
        return "network";
      }
    },

    /** An ImageBitmap per Blob, downscaled while decoding to sizes[i] ([width, height]) where given:
     *  {bitmap} or {error} per blob. Decoding runs off the main thread. */
    async decodeAll(blobs, sizes) {
      return Promise.all(blobs.map(async (blob, i) => {
        const size = sizes[i];
        try {
          const bitmap = size
            ? await createImageBitmap(blob, { resizeWidth: size[0], resizeHeight: size[1], resizeQuality: "high" })
            : await createImageBitmap(blob);
          return { bitmap, error: null };
        } catch (error) {
          return { bitmap: null, error: message(error) };
        }
      }));
    },

    /** A batch [N, h, w, 3] seen another way: "id", flips, 90° rotations and the transposes (the 8 symmetries of
     *  a square, py/teachbox/model/train_options.py VIEW_SETS), or a training-only augmentation (AUGMENT_VIEWS): a
     *  crop scaled back to the batch's size, or a colour shift done on the pixels (the batch is in `scaling`, so it
     *  is unscaled first, shifted, clipped to [0, 255] and scaled again). Call inside tf.tidy. */
    view(batch, name, scaling = "tf") {
      const t = () => tf.transpose(batch, [0, 2, 1, 3]);
      const crop = kernels.crops[name];
      if (crop) {
        const [n, h, w] = batch.shape;
        return tf.image.cropAndResize(batch, Array(n).fill(crop), [...Array(n).keys()], [h, w], "bilinear", 0);
      }
      const gains = kernels.colours[name];
      if (gains) {
        const pixels = kernels.unscalings[scaling](batch);
        return kernels.scalings[scaling](tf.clipByValue(pixels.mul(gains), 0, 255));
      }
      switch (name) {
        case "id": return batch;
        case "hflip": return tf.reverse(batch, 2);
        case "vflip": return tf.reverse(batch, 1);
        case "rot180": return tf.reverse(batch, [1, 2]);
        case "transpose": return t();
        case "rot90": return tf.reverse(t(), 2);
        case "rot270": return tf.reverse(t(), 1);
        case "antitranspose": return tf.reverse(t(), [1, 2]);
        default: throw new Error(`unknown view ${name}`);
      }
    },

    /** Crop views: [y1, x1, y2, x2], fractions of the image. */
    crops: {
      "zoom": [0.1, 0.1, 0.9, 0.9],
      "crop-tl": [0, 0, 0.85, 0.85],
      "crop-tr": [0, 0.15, 0.85, 1],
      "crop-bl": [0.15, 0, 1, 0.85],
      "crop-br": [0.15, 0.15, 1, 1],
    },

    /** Colour views: a gain per RGB channel (lighting; white balance). */
    colours: {
      brighter: [1.15, 1.15, 1.15],
      darker: [0.85, 0.85, 0.85],
      warmer: [1.1, 1, 0.9],
      cooler: [0.9, 1, 1.1],
    },

    /** A base's input -> RGB pixels in [0, 255]: the inverse of each of `scalings`. */
    unscalings: {
      tf: (x) => x.add(1).mul(127.5),
      torch: (x) => x.mul([0.229, 0.224, 0.225]).add([0.485, 0.456, 0.406]).mul(255),
      caffe: (x) => x.reverse(-1).add([123.68, 116.779, 103.939]),
      none: (x) => x,
    },

    /** Class probabilities of one image: crop + resize + model.predict (averaged over `views`, test-time
     *  augmentation) + read-back in one call. On the CPU backends (wasm, cpu) the values are read synchronously:
     *  they are ready at once, and an awaited promise would cost Python a trip through the event loop. On WebGL
     *  they come as a promise (a synchronous read would stall the GPU pipeline). */
    classify(model, image, box, size, scaling, views = ["id"]) {
      const output = tf.tidy(() => {
        const input = kernels.toInput(image, box, size, scaling);
        if (views.length === 1) return model.predict(kernels.view(input, views[0]));
        return model.predict(tf.concat(views.map((name) => kernels.view(input, name)), 0)).mean(0, true);
      });
      if (tf.getBackend() === "webgl") return output.data().finally(() => output.dispose());
      try {
        return output.dataSync();
      } finally {
        output.dispose();
      }
    },

    /**
     * Grad-CAM of a Teachbox image model (base → teachbox_pool → head): the base's last feature map A for one image,
     * weighted per channel by the mean gradient of log p(class `index`) over A, summed over channels, ReLU'd and
     * scaled to [0, 1]. Only the head is differentiated (pooling and dense layers: every backend has their
     * gradients); a two-depth model keeps its earlier depth's pooled features fixed (pooled by the model's own layer:
     * max since `depths: 2` took the mid-scale layer, average before), so the map shows what the last depth looked
     * at. Resolves to {map: h × w rows, peak: the largest value before scaling}.
     */
    async explain(model, image, box, size, scaling, index) {
      const layerNamed = (name) => model.layers.find((layer) => layer.name === name);
      const head = ["teachbox_hidden", "teachbox_dropout", "teachbox_output"].map(layerNamed).filter(Boolean);
      const joined = layerNamed("teachbox_depths");
      const taps = [model.getLayer("teachbox_pool").input];
      const earlierPool = joined && model.getLayer("teachbox_pool_earlier");
      if (joined) taps.push(earlierPool.input);
      const [cam, peak] = tf.tidy(() => {
        const input = kernels.toInput(image, box, size, scaling);
        const parts = tf.model({inputs: model.inputs, outputs: taps}).predict(input);
        const [maps, earlier] = Array.isArray(parts) ? parts : [parts];
        const score = (features) => {
          let x = tf.mean(features, [1, 2]);
          if (joined) x = tf.concat([earlierPool.apply(earlier), x], 1);
          for (const layer of head) x = layer.apply(x);
          // a one-hot product, not gather: gather's gradient (UnsortedSegmentSum) has no wasm kernel
          return tf.log(tf.sum(x.mul(tf.oneHot(tf.tensor1d([index], "int32"), x.shape[1])), 1).add(1e-12)).sum();
        };
        const weights = tf.mean(tf.grad(score)(maps), [1, 2]).reshape([1, 1, 1, -1]);
        const raw = tf.relu(tf.sum(maps.mul(weights), -1)).squeeze([0]);
        const top = raw.max();
        return [raw.div(top.add(1e-12)), top];
      });
      try {
        return {map: await cam.array(), peak: (await peak.data())[0]};
      } finally {
        cam.dispose();
        peak.dispose();
      }
    },

    /**
     * A frozen model run as the fused ops of `plan` (py/teachbox/model/fusion_plan.py): each batch-norm folded into its
     * convolution's kernel and bias here, once, and each convolution or dense layer run with its bias and activation
     * in one op.
     * Returns {predict(x), dispose()}: predict as the model's, dispose frees the folded weights (the model keeps
     * its own).
     */
    fused(model, plan) {
      const owned = [];
      const steps = plan.steps.map((step) => {
        if (!step.layer) return step;
        const [kernel, bias = null] = model.getLayer(step.layer).getWeights();
        if (!step.norm) return { ...step, filter: kernel, bias };
        const [gamma, beta, mean, variance] = model.getLayer(step.norm).getWeights();
        const [filter, offset] = tf.tidy(() => {
          const scale = gamma.div(variance.add(step.epsilon).sqrt());  // per output channel
          const perChannel = step.op === "conv" ? scale : scale.reshape([1, 1, kernel.shape[2], kernel.shape[3]]);
          const shift = bias ? bias.sub(mean) : mean.neg();
          return [kernel.mul(perChannel), shift.mul(scale).add(beta)];
        });
        owned.push(filter, offset);
        return { ...step, filter, bias: offset };
      });
      const run = (step, x) => {
        if (step.op === "pad") return tf.pad(x[0], [[0, 0], step.pad[0], step.pad[1], [0, 0]]);
        if (step.op === "add") return tf.add(x[0], x[1]);
        if (step.op === "concat") return tf.concat(x, -1);
        if (step.op === "mean") return tf.mean(x[0], [1, 2]);
        if (step.op === "max") return tf.max(x[0], [1, 2]);
        if (step.op === "dense") {
          const softmax = step.activation === "softmax";
          const y = tf.fused.matMul({ a: x[0], b: step.filter, bias: step.bias,
                                      activation: softmax ? "linear" : step.activation });
          return softmax ? tf.softmax(y) : y;
        }
        const args = { x: x[0], filter: step.filter, strides: step.strides, pad: step.padding, bias: step.bias,
                       activation: step.activation };
        return step.op === "conv" ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args);
      };
      // Each value is freed right after its last reader has run, as the layers model does: keeping every
      // activation of a batch until the end grows the wasm heap (which never shrinks).
      const lastReader = steps.map(() => -1);
      steps.forEach((step, i) => step.inputs.forEach((j) => { if (j >= 0) lastReader[j] = i; }));
      const taps = plan.taps || [];
      // An embedding: each tapped value max-pooled (the strongest response anywhere: a detail's), then the output
      // average-pooled, concatenated in that order. tf_training.image_model builds the same as layers.
      const pooledFeatures = (values, keep) =>
        tf.concat(keep.map((j) => (j === plan.output ? tf.mean(values[j], [1, 2]) : tf.max(values[j], [1, 2]))), 1);
      /** The plan's steps one at a time into `values` (a yield after each, for sliced), every value freed after
       *  its last reader unless `keep` holds it; `tidyEach` when no tf.tidy encloses the whole run. */
      function* stepping(input, keep, values, tidyEach) {
        for (let i = 0; i < steps.length; i++) {
          const step = steps[i];
          const inputs = step.inputs.map((j) => (j < 0 ? input : values[j]));
          values.push(tidyEach ? tf.tidy(() => run(step, inputs)) : run(step, inputs));
          step.inputs.forEach((j) => { if (j >= 0 && lastReader[j] === i && !keep.includes(j)) values[j].dispose(); });
          yield;
        }
      }
      const forward = (input, keep) => {
        const values = [];
        for (const _ of stepping(input, keep, values, false));  // drains it: nothing to do between steps
        return values;
      };
      return {
        predict(input) {
          return tf.tidy(() => forward(input, [plan.output])[plan.output]);
        },
        /** [N, C] embeddings: the tapped values and the output, pooled and concatenated (pooledFeatures). */
        embed(input) {
          return tf.tidy(() => {
            const keep = [...taps, plan.output];
            return pooledFeatures(forward(input, keep), keep);
          });
        },
        /**
         * As predict (pooled: the output globally average-pooled; withTaps: as embed), but handing the main thread back to the page whenever its ops have
         * held it for SLICE_MS: a batch of 32 images is 0.3–0.5 s of work on two wasm cores, and typing, scrolling
         * or Stop would wait that long. Same values as predict/embed; the input stays the caller's.
         */
        async sliced(input, pooled, withTaps) {
          const keep = withTaps ? [...taps, plan.output] : [plan.output];
          const values = [];
          let result = null;
          try {
            let since = performance.now();
            for (const _ of stepping(input, keep, values, true)) {
              if (performance.now() - since > SLICE_MS) {
                await yieldToPage();
                since = performance.now();
              }
            }
            result = pooled ? tf.tidy(() => pooledFeatures(values, keep)) : values[plan.output];
            return result;
          } finally {
            values.forEach((value) => { if (value !== result) value.dispose(); });  // disposing twice is a no-op
          }
        },
        dispose() {
          owned.forEach((tensor) => tensor.dispose());
        },
      };
    },

    /**
     * model.fit callbacks that give the page a turn once batches have held the main thread for SLICE_MS. Used
     * with `yieldEvery: "never"`: TF.js's own yielding waits for an animation frame, so it gave the page a turn
     * only every 125 ms (an epoch's end came on top), and a hidden tab, which gets no frames, stalled.
     */
    yieldingCallbacks() {
      let since = performance.now();
      return {
        onBatchEnd: async () => {
          if (performance.now() - since > SLICE_MS) {
            await yieldToPage();
            since = performance.now();
          }
        },
      };
    },

    /** One [N, size, size, 3] batch: image i cropped to boxes[i], as toInput. The images are closed. Reading 32
     *  images' pixels takes 50–100 ms on two cores, so the page gets a turn every SLICE_MS here too. */
    async batch(images, boxes, size, scaling) {
      const parts = [];
      try {
        let since = performance.now();
        for (let i = 0; i < images.length; i++) {
          parts.push(kernels.toInput(images[i], boxes[i], size, scaling));
          images[i].close();
          if (performance.now() - since > SLICE_MS) {
            await yieldToPage();
            since = performance.now();
          }
        }
        return tf.concat(parts, 0);
      } finally {
        parts.forEach((part) => part.dispose());
        images.forEach((image) => image.close());  // closing twice is harmless
      }
    },
  };
  /**
   * A "same"-padded, stride-1 depthwise convolution whose gradients are built from ops every backend has: wasm has
   * no DepthwiseConv2dNativeBackprop* kernels. The input gradient is a depthwise conv of dy with the kernel turned
   * 180°; the kernel gradient, for each of the k×k taps, the sum of dy times the input shifted by that tap.
   */
  const depthwiseSame = tf.customGrad((x, kernel, save) => {
    save([x, kernel]);
    return {
      value: tf.depthwiseConv2d(x, kernel, 1, "same"),
      gradFunc: (dy, [input, weights]) => {
        const size = weights.shape[0], pad = (size - 1) / 2, [, height, width] = input.shape;
        const padded = tf.pad(input, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
        const taps = [];
        for (let i = 0; i < size; i++) {
          for (let j = 0; j < size; j++) {
            taps.push(tf.sum(tf.mul(tf.slice(padded, [0, i, j, 0], [-1, height, width, -1]), dy), [0, 1, 2]));
          }
        }
        return [tf.depthwiseConv2d(dy, tf.reverse(weights, [0, 1]), 1, "same"), tf.stack(taps).reshape(weights.shape)];
      },
    };
  });

  /** The trainable stand-in for a base's depthwise conv in the fine-tuning tail: kernel [k, k, C, 1] and bias [C]
   *  (the batch norm folded in), with depthwiseSame's gradients. Python loads and reads its weights. */
  class TrainableDepthwise extends tf.layers.Layer {
    constructor(config) {
      super(config);
      this.kernelSize = config.kernelSize;
    }

    build(inputShape) {
      const channels = inputShape[inputShape.length - 1];
      this.kernel = this.addWeight("depthwise_kernel", [this.kernelSize, this.kernelSize, channels, 1], "float32",
                                   tf.initializers.zeros());
      this.bias = this.addWeight("bias", [channels], "float32", tf.initializers.zeros());
      this.built = true;
    }

    computeOutputShape(inputShape) {
      return inputShape;
    }

    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => depthwiseSame(x, this.kernel.read()).add(this.bias.read()));
    }

    static get className() {
      return "TeachboxTrainableDepthwise";
    }
  }
  kernels.trainableDepthwise = (config) => new TrainableDepthwise(config);

  window.teachboxKernels = kernels;
})();
