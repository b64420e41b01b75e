"""Teachbox → Python: turn a model zip exported by the page into Keras, SavedModel or TFLite, with a predict.py.

    python -m teachbox_build.convert teachbox-model.zip --to keras|saved_model|tflite --out DIR

The zip's model.json is a TF.js layers model in the Keras 2 form; it is rebuilt in Keras 3 (the `keras` that
TensorFlow ≥ 2.16 uses) and saved as `model.keras` (what `keras.models.load_model` reads today), exported as a
SavedModel (TensorFlow's own folder, `serving_default` signature), or converted from that SavedModel to TFLite. Beside the model go the zip's `metadata.json` (labels, preprocessing,
test-time views) and `predict.py` (standalone_predict.py), which reads images exactly as the page does. The output
is written into a temporary sibling folder and swapped in at the end, so a failed conversion leaves DIR as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from teachbox.errors import TeachboxError
from teachbox.model.export_zip import METADATA_JSON, MODEL_JSON, WEIGHTS_BIN, ModelFiles, read_model_zip

from .assemble import swap_in
from .errors import BuildError
from .keras_extra import tensorflowjs
from .weights_io import read_weights

FORMATS = ("keras", "saved_model", "tflite")
# Weights Keras 3 renamed: (layer class, Keras 3 name) -> the Keras 2 name TF.js writes.
KERAS2_WEIGHT_NAMES = {("DepthwiseConv2D", "kernel"): "depthwise_kernel"}
PREDICT_SOURCE = Path(__file__).with_name("standalone_predict.py")


def read_zip(path: Path) -> ModelFiles:
    """The checked contents of an exported model zip (the page's own import checks), or a one-line BuildError."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BuildError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return read_model_zip(data)
    except TeachboxError as error:
        raise BuildError(f"{path}: {error.message}") from None


def rebuild(files: ModelFiles, work: Path):  # noqa: ANN201 - a Keras 3 Model (an optional dependency)
    """The zip's TF.js layers model rebuilt as a Keras 3 Model: topology from its JSON, weights matched by name.

    The topology is Keras 2's JSON (what TF.js writes), which Keras 3 reads through the loader its own
    `load_model` uses for legacy .h5 files; Keras 3's `model_from_json` wants its new format. The other routes fail
    on this stack: tensorflowjs' keras_tfjs_loader matches weights by the variable names tf_keras gave before 2.16
    (a bare KeyError with tf_keras 2.19), and a tf_keras .h5 does not load in Keras 3 (DepthwiseConv2D's `groups`).
    Keras 3 names each weight `layer/kernel` as TF.js does, except where Keras 2 used another name
    (KERAS2_WEIGHT_NAMES); the manifest's order is not the layers' (TF.js lists trainable weights first).
    """
    tensorflowjs()
    from keras.src.legacy.saving.saving_utils import model_from_config

    (work / MODEL_JSON).write_text(json.dumps(files.model_json), encoding="utf-8")
    (work / WEIGHTS_BIN).write_bytes(files.weights)
    values = {weight.name: weight.values for weight in read_weights(work, files.model_json)[0]}
    try:
        model = model_from_config(files.model_json["modelTopology"])
    except (ValueError, TypeError, KeyError) as error:
        raise BuildError(f"Keras cannot rebuild the model: {str(error).splitlines()[0]}") from None
    wanted = [f"{layer.name}/{KERAS2_WEIGHT_NAMES.get((type(layer).__name__, weight.name), weight.name)}"
              for layer in model.layers for weight in layer.weights]
    missing = [name for name in wanted if name not in values]
    if missing or len(wanted) != len(values):
        raise BuildError(f"the zip's weights do not match its topology (missing: {', '.join(missing[:3]) or 'none'}; "
                         f"{len(values)} stored, {len(wanted)} needed)")
    model.set_weights([values[name] for name in wanted])
    return model


def write_model(model, target: str, out: Path, work: Path) -> None:  # noqa: ANN001 - a Keras 3 Model
    """Save the Keras `model` into `out` in the `target` format (TFLite is converted from a SavedModel in `work`)."""
    if target == "keras":
        model.save(out / "model.keras")
        return
    saved = out / "saved_model" if target == "saved_model" else work / "saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    if target == "tflite":
        import tensorflow as tf

        (out / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())


def convert(zip_path: Path, target: str, out: Path) -> list[str]:
    """Write the model in `target` format, its metadata.json and predict.py into `out`; return the file names."""
    if target not in FORMATS:
        raise BuildError(f"unknown format {target!r}: choose one of {', '.join(FORMATS)}")
    files = read_zip(zip_path)
    out = out.resolve()
    staging = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tempfile.TemporaryDirectory(prefix="teachbox-convert-") as work:
            write_model(rebuild(files, Path(work)), target, staging, Path(work))
        (staging / METADATA_JSON).write_text(json.dumps(files.metadata, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        shutil.copyfile(PREDICT_SOURCE, staging / "predict.py")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, out)
    return sorted(path.name for path in out.iterdir())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m teachbox_build.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path, help="a model zip exported by the page (teachbox-model.zip)")
    parser.add_argument("--to", choices=FORMATS, required=True, help="the format to write")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced when done)")
    args = parser.parse_args(argv)
    try:
        names = convert(args.zip, args.to, args.out)
    except BuildError as error:
        print(f"convert failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {', '.join(names)}")
    print(f"try it: python {args.out / 'predict.py'} IMAGE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
