// The tensor work of Teachbox's one preprocessing, in one call per image. Python (teachbox/imaging.py and
// preprocess.py) decides the crop box and size; this only runs the ops. Why JS: each Python→JS call through
// Pyodide's proxies costs tens of microseconds, and these six TF.js ops plus the tf.tidy callback proxy were seven of
// them per image, for every training image, prediction and webcam frame.
(() => {
  "use strict";
  window.teachboxKernels = {
    /** [1, size, size, 3] float32 in [-1, 1]: crop `box` ([y1, x1, y2, x2], normalised) + bilinear resize. */
    toInput(image, box, size) {
      return tf.tidy(() => {
        const pixels = tf.browser.fromPixels(image).toFloat().expandDims(0);
        return tf.image.cropAndResize(pixels, [box], [0], [size, size], "bilinear", 0).div(127.5).sub(1);
      });
    },
  };
})();
