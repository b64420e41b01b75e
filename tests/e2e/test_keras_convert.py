"""Teachbox → Python: a model trained in the page, exported, converted by `python -m teachbox_build.convert` to Keras
and TFLite, predicts in CPython (the predict.py written beside it: Pillow + numpy preprocessing) what the page
predicted on the same real images."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest
from teachbox_build.convert import main as convert_main

from tests.e2e.conftest import B64_OF_BLOB

pytestmark = pytest.mark.keras
EXPORT_B64 = f"async () => ({B64_OF_BLOB})(await teachbox.exportModel())"
TOLERANCE = 1e-4


def _predict_module(folder: Path):  # noqa: ANN202 - the predict.py module written beside the model
    spec = importlib.util.spec_from_file_location(f"predict_{folder.name}", folder / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tta_exported(exported) -> dict:  # noqa: ANN001
    """In the same page: retrained averaging over 8 views (flips, turns, transposes), exported and predicted."""
    page = exported["page"]
    predictions = page.evaluate("""async (urls) => {
      await teachbox.train({epochs: 5, tta: 8});
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      return predictions;
    }""", exported["images"])
    return {**exported, "zip": base64.b64decode(page.evaluate(EXPORT_B64)), "predictions": predictions}


def test_predict_py_averages_the_eight_views_as_the_page(tta_exported, tmp_path: Path,  # noqa: ANN001
                                                         shared_dir: Path) -> None:
    zip_path = tmp_path / "teachbox-model.zip"
    zip_path.write_bytes(tta_exported["zip"])
    assert convert_main([str(zip_path), "--to", "tflite", "--out", str(tmp_path / "tflite")]) == 0
    metadata = json.loads((tmp_path / "tflite" / "metadata.json").read_text())
    assert len(metadata["tta"]) == 8
    _assert_same(tta_exported, tmp_path / "tflite", shared_dir, "tflite, 8 views")


@pytest.mark.parametrize("target, model_file",
                         [("keras", "model.keras"), ("tflite", "model.tflite"), ("saved_model", "saved_model")])
def test_converted_model_predicts_as_the_page(exported, target: str, model_file: str, tmp_path: Path,
                                              shared_dir: Path, capsys: pytest.CaptureFixture) -> None:
    zip_path = tmp_path / "teachbox-model.zip"
    zip_path.write_bytes(exported["zip"])
    out = tmp_path / target
    assert convert_main([str(zip_path), "--to", target, "--out", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(["metadata.json", "predict.py", model_file])
    assert json.loads((out / "metadata.json").read_text())["labels"] == exported["project"]["classes"]

    _assert_same(exported, out, shared_dir, target)


def _assert_same(exported: dict, out: Path, shared_dir: Path, what: str) -> None:
    """predict.py in `out` gives the page's probabilities for the exported images."""
    images = [shared_dir / url.removeprefix("/shared/") for url in exported["images"]]
    python = _predict_module(out).classify(images, out)
    page = [{entry["label"]: entry["probability"] for entry in ranked} for ranked in exported["predictions"]]
    diffs = [abs(p[label] - q[label]) for p, q in zip(python, page, strict=True) for label in q]
    print(f"\n{what}: max |python - page| = {max(diffs):.2e} over {len(images)} images; page {page}")
    assert max(diffs) <= TOLERANCE, f"{what}: python {python} vs page {page}"
