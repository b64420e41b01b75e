"""A base rebuilt from an EfficientNet-Lite PyTorch checkpoint (teachbox_build.efficientnet_lite) runs in the page:
TF.js reads the layers the converter writes (ReLU6, depthwise and strided "same" convolutions, residual sums), the
base embeds, trains and predicts with every tensor freed, and it computes what tf_keras computes from the same
model.json. A small Lite with random weights (the unit tests'), since the real checkpoint is not in ../shared; the
real one's values were checked against PyTorch (accuracy.md, run 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from teachbox.data.geometry import DEFAULT_CROP
from teachbox_build import standalone_predict
from teachbox_build.efficientnet_lite import write_layers_model
from teachbox_build.keras_extra import tensorflowjs

from tests.e2e.conftest import DEFAULT_BASE, build_dist, export_images, held_out_split, open_app, serving
from tests.unit.test_efficientnet_lite import _lite_state

LITE = "efficientnet_lite0_224"


@pytest.fixture(scope="module")
def lite_folder(tmp_path_factory) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("lite") / LITE
    write_layers_model(_lite_state(np.random.default_rng(1)), folder)
    return folder


@pytest.fixture(scope="module")
def lite_site(tmp_path_factory, shared_dir, scratch, lite_folder):  # noqa: ANN001, ANN201
    dist = build_dist(tmp_path_factory.mktemp("lite-dist") / "dist", [DEFAULT_BASE, lite_folder])
    with serving(dist, shared_dir, scratch) as httpd:
        yield httpd


@pytest.fixture(scope="module")
def page(module_context, lite_site):  # noqa: ANN001, ANN201
    page, info = open_app(module_context, lite_site.url)
    page.info = info
    return page


USE_TRAIN_PREDICT = """async ({base, train, probe}) => {
  const before = teachbox.memory().numTensors;
  await teachbox.useBase(base);
  const loaded = await teachbox.loadDataset(train);
  const trained = await teachbox.train({epochs: 3});
  const prediction = await teachbox.predict(probe);
  const model = teachbox.project().model.base;
  teachbox.reset();
  await teachbox.useBase(teachbox.info().bases[0].id);
  return {loaded, trained, prediction, model, before, after: teachbox.memory().numTensors};
}"""


def test_a_lite_base_embeds_trains_and_predicts(page, scratch) -> None:  # noqa: ANN001
    lite = next(base for base in page.info["bases"] if base["id"] == LITE)
    assert lite["label"] == "EfficientNet-Lite0"
    cells = held_out_split(scratch, "lite-base", "malaria", 10, 1, 7)
    run = page.evaluate(USE_TRAIN_PREDICT, {"base": LITE, "train": cells["train"], "probe": cells["test_urls"][0]})
    assert run["loaded"]["samples"] == 20 and run["trained"]["train_count"] + run["trained"]["val_count"] == 20
    assert run["model"]["id"] == LITE and run["model"]["cutLayer"] == "top_relu", run["model"]
    assert sorted(p["label"] for p in run["prediction"]) == ["Parasitized", "Uninfected"]
    assert abs(sum(p["probability"] for p in run["prediction"]) - 1) < 1e-5
    assert run["after"] == run["before"], f"tensors left after reset: {run['before']} -> {run['after']}"
    assert not any(line.startswith("pageerror") for line in page.logs), page.logs


@pytest.mark.keras
def test_page_embeddings_equal_tf_keras(page, lite_folder: Path, shared_dir: Path) -> None:  # noqa: ANN001
    """TF.js in the page computes what tf_keras computes from the same model.json: the converter's layers mean the
    same to both (the checkpoint-to-model step itself is checked against PyTorch in accuracy.md, run 8)."""
    model = tensorflowjs().converters.load_keras_model(str(lite_folder / "model.json"))
    urls = export_images(shared_dir)
    embeddings = page.evaluate("""async ([id, urls]) => {
      await teachbox.useBase({id});
      const out = [];
      for (const url of urls) out.push(await teachbox.embed(url));
      await teachbox.useBase(teachbox.info().bases[0].id);
      return out;
    }""", [LITE, urls])
    preprocessing = {"mode": DEFAULT_CROP, "size": 224, "scaling": "tf"}
    for url, embedding in zip(urls, embeddings, strict=True):
        x = standalone_predict.model_input(shared_dir / url.removeprefix("/shared/"), preprocessing)
        expected = np.asarray(model(x)).mean(axis=(1, 2))[0]
        worst = float(np.abs(np.asarray(embedding) - expected).max())
        assert worst <= 1e-4 * max(1.0, float(np.abs(expected).max())), f"{url}: max |page - tf_keras| = {worst:.2e}"
