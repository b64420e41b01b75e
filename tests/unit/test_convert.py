"""Teachbox → Python without TensorFlow: predict.py's preprocessing agrees with the page's geometry and TF's sampling,
and `teachbox_build.convert` refuses bad input (and a missing extra) with one line, leaving --out untouched."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from teachbox.data.geometry import CROP_MODES, crop_box
from teachbox_build import standalone_predict as predict
from teachbox_build.convert import main as convert_main

from tests.unit.test_modelzip import _zip  # a valid model zip, built in pure Python


@pytest.mark.parametrize("mode", CROP_MODES)
def test_predict_py_crop_boxes_are_the_pages(mode: str) -> None:
    for width, height in [(8, 8), (130, 127), (300, 200), (200, 300), (4032, 3024), (9, 1000)]:
        assert predict.crop_box(width, height, mode) == pytest.approx(crop_box(width, height, mode), abs=0, rel=0)


def test_crop_and_resize_samples_as_tf() -> None:
    """Identity box reproduces the image; a half-pixel shift averages neighbours; outside the image reads 0."""
    pixels = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    assert np.array_equal(predict.crop_and_resize(pixels, (0, 0, 1, 1), 4)[:, :1], pixels[:, :1])
    half = predict.crop_and_resize(pixels, (0, 0.125, 0, 0.375), 2)  # x from 0.5 to 1.5 px, row 0
    assert half[0, :, 0] == pytest.approx([(pixels[0, 0, 0] + pixels[0, 1, 0]) / 2,
                                           (pixels[0, 1, 0] + pixels[0, 2, 0]) / 2])
    padded = predict.crop_and_resize(pixels, (-0.5, 0, 1, 1), 3)
    assert np.all(padded[0] == 0) and np.all(padded[1:] != 0)


def test_scalings_match_keras_preprocess_input_definitions() -> None:
    rgb = np.array([[[255.0, 128.0, 0.0]]], dtype=np.float32)
    assert predict.SCALINGS["tf"](rgb)[0, 0] == pytest.approx([1.0, 128 / 127.5 - 1, -1.0], abs=1e-6)
    assert predict.SCALINGS["caffe"](rgb)[0, 0] == pytest.approx([0 - 103.939, 128 - 116.779, 255 - 123.68])
    assert predict.SCALINGS["torch"](rgb)[0, 0] == pytest.approx(
        [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225], rel=1e-6)
    assert predict.SCALINGS["none"](rgb) is rgb


def test_views_are_the_eight_symmetries() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    images = {name: view(x)[0, :, :, 0].tolist() for name, view in predict.VIEWS.items()}
    assert len({str(image) for image in images.values()}) == 8
    assert images["rot90"] == np.rot90(x[0, :, :, 0], -1).tolist()  # clockwise, as site/kernels.js turns it
    assert images["rot270"] == np.rot90(x[0, :, :, 0], 1).tolist()


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = convert_main(list(argv))
    return code, capsys.readouterr().err.strip()


def test_a_file_that_is_not_a_model_zip_is_one_line(tmp_path, capsys) -> None:  # noqa: ANN001
    bogus = tmp_path / "model.zip"
    bogus.write_bytes(b"%PDF-1.7 not a zip")
    out = tmp_path / "out"
    code, err = _run(capsys, str(bogus), "--to", "keras", "--out", str(out))
    assert code == 1 and err == f"convert failed: {bogus}: The file is not a zip archive (or it is truncated)."
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]


def test_a_missing_extra_says_how_to_install_it(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    model = tmp_path / "teachbox-model.zip"
    model.write_bytes(_zip())
    monkeypatch.setitem(sys.modules, "tensorflowjs", None)  # `import tensorflowjs` now raises ImportError
    code, err = _run(capsys, str(model), "--to", "tflite", "--out", str(tmp_path / "out"))
    assert code == 1 and err == ("convert failed: this command needs the keras extra (tensorflowjs is not "
                                 "importable): pip install -e '.[keras]'")
    assert not (tmp_path / "out").exists()
