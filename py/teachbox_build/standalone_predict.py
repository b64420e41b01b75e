"""Classify images with a Teachbox model converted for Python (Keras, SavedModel or TFLite), as the page does.

This file is copied as `predict.py` beside every model `python -m teachbox_build.convert` writes, next to the
model's `metadata.json`, so it must stand alone: Pillow, numpy and TensorFlow only, nothing from Teachbox. It repeats
the page's one preprocessing (py/teachbox/data/geometry.py, site/kernels.js `toInput`, the export snippet): a crop box
that ends 1/256 pixel inside the last pixel centre, bilinear crop-and-resize with TF's sampling formula, the pixel
scaling named in the metadata, and the average over the metadata's `tta` views. Predictions then agree with the
page's to about 1e-6 on PNG images (JPEG decoders may differ by a level here and there).

    python predict.py IMAGE [IMAGE ...]          # prints one JSON line per image: label -> probability
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
EDGE_INSET = 1 / 256  # TF.js samples black a hair past the last pixel centre; Teachbox's boxes stop short of it
# Keras' preprocess_input modes (keras.applications.imagenet_utils): what each does to RGB pixels in [0, 255].
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SCALINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tf": lambda x: x / np.float32(127.5) - np.float32(1),
    "torch": lambda x: (x / np.float32(255) - TORCH_MEAN) / TORCH_STD,
    "caffe": lambda x: (x - IMAGENET_MEAN_RGB)[..., ::-1],
    "none": lambda x: x,
}
# The symmetries of a square Teachbox averages predictions over (metadata "tta"), on [N, H, W, C] arrays.
VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "id": lambda x: x,
    "hflip": lambda x: x[:, :, ::-1],
    "vflip": lambda x: x[:, ::-1],
    "rot180": lambda x: x[:, ::-1, ::-1],
    "transpose": lambda x: x.transpose(0, 2, 1, 3),
    "rot90": lambda x: x.transpose(0, 2, 1, 3)[:, :, ::-1],
    "rot270": lambda x: x.transpose(0, 2, 1, 3)[:, ::-1],
    "antitranspose": lambda x: x.transpose(0, 2, 1, 3)[:, ::-1, ::-1],
}


def crop_box(width: int, height: int, mode: str) -> tuple[float, float, float, float]:
    """[y1, x1, y2, x2] in crop-and-resize's normalised coordinates: a centred square (`center-crop`), the whole
    image (`squash`), or a square around it with black borders (`pad`)."""

    def span(extent: int, side: int) -> tuple[float, float]:
        offset = (extent - side) / 2
        return offset / (extent - 1), (offset + side - 1 - EDGE_INSET) / (extent - 1)

    def side(extent: int) -> int:
        return extent if mode == "squash" else max(width, height) if mode == "pad" else min(width, height)

    x1, x2 = span(width, side(width))
    y1, y2 = span(height, side(height))
    return y1, x1, y2, x2


def crop_and_resize(pixels: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """[size, size, C] float32 sampled from [H, W, C] `pixels` as tf.image.crop_and_resize (bilinear) samples: the
    output's corners sit on the box's corners, positions are computed in float32, and a position outside the image
    reads 0 (the black borders of `pad`)."""
    height, width = pixels.shape[:2]
    y1, x1, y2, x2 = (np.float32(v) for v in box)
    steps = np.arange(size, dtype=np.float32)

    def positions(start: np.float32, end: np.float32, extent: int) -> np.ndarray:
        scale = (end - start) * np.float32(extent - 1) / np.float32(size - 1) if size > 1 else np.float32(0)
        first = start * np.float32(extent - 1) if size > 1 else np.float32(0.5) * (start + end) * np.float32(extent - 1)
        return first + steps * scale

    ys, xs = positions(y1, y2, height), positions(x1, x2, width)
    y_in, x_in = (ys >= 0) & (ys <= height - 1), (xs >= 0) & (xs <= width - 1)
    top, left = np.floor(ys).astype(int).clip(0, height - 1), np.floor(xs).astype(int).clip(0, width - 1)
    bottom, right = np.ceil(ys).astype(int).clip(0, height - 1), np.ceil(xs).astype(int).clip(0, width - 1)
    dy, dx = (ys - np.floor(ys))[:, None, None], (xs - np.floor(xs))[None, :, None]
    image = pixels.astype(np.float32)
    upper = image[top][:, left] + (image[top][:, right] - image[top][:, left]) * dx
    lower = image[bottom][:, left] + (image[bottom][:, right] - image[bottom][:, left]) * dx
    out = upper + (lower - upper) * dy
    out[~y_in] = 0
    out[:, ~x_in] = 0
    return out


def model_input(path: str | Path, preprocessing: dict) -> np.ndarray:
    """[1, size, size, 3] float32: the image at `path` read as the page reads it for this model."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    box = crop_box(width, height, preprocessing.get("mode", "center-crop"))
    resized = crop_and_resize(pixels, box, int(preprocessing["size"]))
    return SCALINGS[preprocessing.get("scaling", "tf")](resized)[None].astype(np.float32)


def load_runner(folder: Path = HERE) -> Callable[[np.ndarray], np.ndarray]:
    """A function [N, size, size, 3] -> [N, classes] for whichever model `convert` wrote into `folder`."""
    import tensorflow as tf  # imported late: `--help` and the preprocessing need no TensorFlow

    if (folder / "model.tflite").is_file():
        interpreter = tf.lite.Interpreter(model_path=str(folder / "model.tflite"))
        source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def run_tflite(batch: np.ndarray) -> np.ndarray:
            interpreter.resize_tensor_input(source["index"], batch.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(source["index"], batch)
            interpreter.invoke()
            return interpreter.get_tensor(target["index"])

        return run_tflite
    if (folder / "saved_model").is_dir():
        serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
        return lambda batch: next(iter(serve(tf.constant(batch)).values())).numpy()
    import keras

    model = keras.models.load_model(folder / "model.keras", compile=False)
    return lambda batch: np.asarray(model(batch, training=False))


def classify(paths: list[str | Path], folder: Path = HERE) -> list[dict[str, float]]:
    """Label -> probability for each image, averaged over the model's test-time views like the page."""
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    run = load_runner(folder)
    results = []
    for path in paths:
        x = model_input(path, metadata["preprocessing"])
        views = np.concatenate([VIEWS[name](x) for name in metadata.get("tta") or ["id"]])
        probabilities = run(np.ascontiguousarray(views)).mean(axis=0)
        results.append({label: float(p) for label, p in zip(metadata["labels"], probabilities)})
    return results


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[-1].strip())
        sys.exit(0 if len(sys.argv) > 1 else 2)
    for image_path, ranked in zip(sys.argv[1:], classify(sys.argv[1:])):
        print(json.dumps({"image": image_path, "probabilities": ranked}))
