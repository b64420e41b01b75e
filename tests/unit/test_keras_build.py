"""build.py --keras / --keras-classifier on CPython (no browser): a SavedModel is a base too, and bad input fails with
one clear line (not a model, an unknown or unsupported layer, a missing cut layer, over the size limit, labels that do
not match the outputs) while the previous dist/ stays exactly as it was and nothing half-written is left beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from teachbox_build import assemble
from teachbox_build.assemble import BuildOptions, build
from teachbox_build.errors import BuildError

from tests.conftest import ROOT, SHARED

pytestmark = pytest.mark.keras
MOBILENET = SHARED / "models" / "mobilenet_v1_0.25_224"


def _keras():  # noqa: ANN202 - the keras module, imported only by these tests
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def _model(*middle, name: str = "tiny_mobilenet", units: int = 2):  # noqa: ANN001, ANN202 - Keras layers / Model
    keras = _keras()
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    for layer in middle:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(units, activation="softmax", name="out")(x), name=name)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """An earlier build's dist/ (one marker file) that a failed build must leave alone."""
    if not MOBILENET.is_dir():
        pytest.skip("../shared's mobilenet_v1_0.25_224 is needed")
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "marker.txt").write_text("previous build", encoding="utf-8")
    return folder


def _refused(dist: Path, weights: tuple[Path, ...] = (MOBILENET,), **options) -> str:  # noqa: ANN003 - BuildOptions
    """The one-line error of a build that must fail; checks that dist/ is untouched and no staging folder remains."""
    with pytest.raises(BuildError) as caught:
        build(BuildOptions(ROOT, dist, [str(w) for w in weights], **options))
    message = str(caught.value)
    assert "\n" not in message, message
    assert sorted(p.name for p in dist.iterdir()) == ["marker.txt"]
    assert sorted(p.name for p in dist.parent.iterdir() if p.name.startswith("dist")) == ["dist"]
    return message


def test_a_savedmodel_is_a_base(tmp_path: Path, dist: Path) -> None:
    import tf_keras

    inputs = tf_keras.Input((32, 32, 3))
    x = tf_keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = tf_keras.layers.GlobalAveragePooling2D()(x)
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(2, activation="softmax")(x), name="saved_resnet50")
    model.save(tmp_path / "saved", save_format="tf")
    build(BuildOptions(ROOT, dist, [str(MOBILENET)], keras=[str(tmp_path / "saved")]))
    bases = json.loads((dist / "models/bases.json").read_text())["bases"]
    assert [(b["id"], b["cutLayer"], b["preprocess"]) for b in bases][1] == ("saved", "conv", "caffe")


def test_a_file_that_is_not_a_model(tmp_path: Path, dist: Path) -> None:
    for name, data in [("notes.keras", b"just text"), ("weights.h5", b"not hdf5"), ("model.onnx", b"\x08\x07")]:
        (tmp_path / name).write_bytes(data)
    assert _refused(dist, keras=[str(tmp_path / "notes.keras")]).startswith(
        f"cannot load {tmp_path / 'notes.keras'} as a Keras model: ")
    assert _refused(dist, keras=[str(tmp_path / "weights.h5")]) == \
        f"{tmp_path / 'weights.h5'} is not an HDF5 file: expected a Keras .h5 model"
    assert _refused(dist, keras=[str(tmp_path / "model.onnx")]) == \
        f"{tmp_path / 'model.onnx'} is not a Keras model: expected a .keras or .h5 file or a SavedModel folder"


def test_an_unsupported_layer_is_named_with_its_class(tmp_path: Path, dist: Path) -> None:
    keras = _keras()
    _model(keras.layers.GroupNormalization(groups=2, name="groupnorm")).save(tmp_path / "gn.keras")
    assert _refused(dist, keras=[str(tmp_path / "gn.keras")]) == (
        f"{tmp_path / 'gn.keras'}: layer groupnorm (GroupNormalization) cannot run in TF.js 4.22, the page's "
        "runtime: save the model without it (a base needs only the layers up to its features)")


def test_a_cut_layer_that_does_not_exist(tmp_path: Path, dist: Path) -> None:
    _model().save(tmp_path / "m.keras")
    message = _refused(dist, keras=[str(tmp_path / "m.keras")], cut_layer="block5_pool")
    assert message.startswith("cut layer 'block5_pool' is not in the model; its last layers are ")
    assert "conv" in message


def test_a_model_of_unknown_scaling_needs_preprocess(tmp_path: Path, dist: Path) -> None:
    _model(name="my_net").save(tmp_path / "m.keras")
    assert "pass --preprocess tf|torch|caffe|none" in _refused(dist, keras=[str(tmp_path / "m.keras")])
    build(BuildOptions(ROOT, dist, [str(MOBILENET)], keras=[str(tmp_path / "m.keras")], preprocess="none"))
    assert json.loads((dist / "models/bases.json").read_text())["bases"][1]["preprocess"] == "none"


def test_over_the_size_limit_suggests_float16(tmp_path: Path, dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _model().save(tmp_path / "m.keras")
    monkeypatch.setattr(assemble, "MAX_BASE_BYTES", 100)  # the tiny model's 448 bytes stand in for a VGG16
    message = _refused(dist, weights=(), keras=[str(tmp_path / "m.keras")])
    assert message.startswith("base m would ship 0.0 MB of weights (limit 0 MB, every visitor downloads them): ")
    assert message.endswith(": --quantize float16 halves it, uint8 quarters it, or pass --allow-large")
    assert _refused(dist, weights=(), keras=[str(tmp_path / "m.keras")], quantize="float16").endswith(
        ": choose a smaller model or an earlier --cut, or pass --allow-large")
    build(BuildOptions(ROOT, dist, [], keras=[str(tmp_path / "m.keras")], allow_large=True))
    assert (dist / "models/m").is_dir()


def test_labels_that_do_not_match_the_outputs(tmp_path: Path, dist: Path) -> None:
    _model(units=3).save(tmp_path / "clf.keras")
    (tmp_path / "labels.txt").write_text("cat\ndog\n", encoding="utf-8")
    assert _refused(dist, keras_classifiers=[str(tmp_path / "clf.keras")], labels=[str(tmp_path / "labels.txt")]) \
        == f"{tmp_path / 'clf.keras'} outputs 3 classes but {tmp_path / 'labels.txt'} names 2 labels"


def test_an_unknown_layer_class_fails_in_one_line(tmp_path: Path, dist: Path) -> None:
    """A custom layer is unknown to the build's fresh process: build.py prints one line and exits 1."""
    script = f"""
import keras
@keras.saving.register_keras_serializable(package="mine")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2
inputs = keras.Input((32, 32, 3))
x = keras.layers.GlobalAveragePooling2D()(Doubler(name="doubler")(inputs))
keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x), name="tiny_mobilenet").save({str(tmp_path / 'custom.keras')!r})
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    done = subprocess.run([sys.executable, "build.py", "--weights", str(MOBILENET), "--keras",
                           str(tmp_path / "custom.keras"), "--out", str(dist)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1 and last.startswith(f"build failed: cannot load {tmp_path / 'custom.keras'} as a "
                                                    "Keras model: "), done.stderr[-2000:]
    assert last.endswith("layer class Doubler is unknown (a custom layer); TF.js 4.22 can run built-in layers only")
    assert sorted(p.name for p in dist.iterdir()) == ["marker.txt"]
