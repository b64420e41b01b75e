"""Keras → site: small Keras models built here (random weights), saved by Keras 3 as .keras and .h5 and by tf_keras as
.h5, built into a site with `--keras`, loaded in the page as bases; their embeddings of real images equal Keras's own
(the same preprocessing applied in numpy: predict.py's) within 1e-4, for the caffe, tf and torch pixel scalings. And a
classifier shipped with `--keras-classifier` opens as a project's model and predicts as Keras does."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from teachbox.data.geometry import DEFAULT_CROP
from teachbox_build import standalone_predict

from tests.conftest import ROOT
from tests.e2e.conftest import DEFAULT_BASE, StaticServer, export_images, guarded_context, open_app

pytestmark = pytest.mark.keras
TOLERANCE = 1e-4
SIZE = 224
# (file, Keras flavour, model name): the name tells the build the scaling, as for keras.applications models.
MODELS = [("tiny_vgg16.keras", "keras", "tiny_vgg16"), ("tiny_mobilenet.h5", "keras", "tiny_mobilenet"),
          ("tiny_densenet.h5", "tf_keras", "tiny_densenet")]
EXPECTED_SCALING = {"tiny_vgg16": "caffe", "tiny_mobilenet": "tf", "tiny_densenet": "torch"}
CLASSIFIER_LABELS = ["daisy", "rose", "tulip"]


def small_model(flavour: str, name: str, seed: int):  # noqa: ANN201 - a Keras or tf_keras Model
    """A MobileNet-like block stack with a classifier: strided conv, batch norm with non-trivial statistics, ReLU6,
    a depthwise conv with a residual add, max pooling, then GAP + dense (the head the build cuts off)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if flavour == "keras":
        import keras
    else:
        import tf_keras as keras
    layers = keras.layers
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = layers.Conv2D(8, 1, activation="relu", name="pw")(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="last")(x)
    pooled = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(len(CLASSIFIER_LABELS), activation="softmax", name="classifier")(pooled)
    model = keras.Model(inputs, outputs, name=name)
    rng = np.random.default_rng(seed)
    weights = []
    for weight in model.get_weights():
        scale = 0.05 if weight.ndim > 1 else 0.2
        weights.append((np.abs(rng.normal(1, scale, weight.shape)) if weight.ndim == 1 else
                        rng.normal(0, scale, weight.shape)).astype(np.float32))
    model.set_weights(weights)
    return model


@pytest.fixture(scope="module")
def keras_site(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, browser) -> Iterator[dict]:  # noqa: ANN001
    """The site built with MobileNet and the three Keras models as bases, served, and one page open on it."""
    from teachbox_build.assemble import BuildOptions, build

    folder = tmp_path_factory.mktemp("keras_base")
    models = {}
    for seed, (file_name, flavour, name) in enumerate(MODELS):
        model = small_model(flavour, name, seed)
        model.save(folder / file_name)
        models[Path(file_name).stem] = model
    classifier = small_model("keras", "flowers_mobilenet", len(MODELS))
    classifier.save(folder / "flowers.keras")
    (folder / "labels.txt").write_text("\n".join(CLASSIFIER_LABELS) + "\n", encoding="utf-8")
    dist = folder / "dist"
    build(BuildOptions(ROOT, dist, [str(DEFAULT_BASE)], keras=[str(folder / f) for f, _, _ in MODELS],
                       keras_classifiers=[str(folder / "flowers.keras")], labels=[str(folder / "labels.txt")]))
    bases = {entry["id"]: entry for entry in json.loads((dist / "models/bases.json").read_text())["bases"]}
    with StaticServer(dist, 0, mounts={"/shared/": shared_dir}) as server, guarded_context(browser) as (ctx, _):
        server.start_in_thread()
        page, info = open_app(ctx, server.url)
        yield {"page": page, "info": info, "bases": bases, "models": models, "classifier": classifier,
               "images": export_images(shared_dir), "url": server.url}
        server.shutdown()


def test_bases_json_lists_each_keras_model_with_its_cut_and_scaling(keras_site) -> None:  # noqa: ANN001
    bases = keras_site["bases"]
    assert list(bases) == ["mobilenet_v1_0.25_224", "tiny_vgg16", "tiny_mobilenet", "tiny_densenet"]
    for name, scaling in EXPECTED_SCALING.items():
        assert (bases[name]["preprocess"], bases[name]["cutLayer"], bases[name]["featureDim"]) == (scaling, "last", 16)
        assert bases[name]["url"] == f"models/{name}/{bases[name]['modelJson']}" and bases[name]["shards"] == 1
    assert bases["mobilenet_v1_0.25_224"]["preprocess"] == "tf"


@pytest.mark.parametrize("name", list(EXPECTED_SCALING))
def test_page_embeddings_equal_keras(keras_site, name: str, shared_dir: Path) -> None:  # noqa: ANN001
    page = keras_site["page"]
    result = page.evaluate("""async ([id, urls]) => {
      const base = await teachbox.useBase({id});
      const embeddings = [];
      for (const url of urls) embeddings.push(await teachbox.embed(url));
      return {base, embeddings};
    }""", [name, keras_site["images"]])
    model = keras_site["models"][name]
    features = type(model)(model.inputs, model.get_layer("last").output)
    preprocessing = {"mode": DEFAULT_CROP, "size": SIZE, "scaling": EXPECTED_SCALING[name]}
    for url, embedding in zip(keras_site["images"], result["embeddings"], strict=True):
        x = standalone_predict.model_input(shared_dir / url.removeprefix("/shared/"), preprocessing)
        expected = np.asarray(features(x)).mean(axis=(1, 2))[0]
        worst = float(np.abs(np.asarray(embedding) - expected).max())
        print(f"\n{name} ({EXPECTED_SCALING[name]}) {url.rsplit('/', 1)[-1]}: max |page - keras| = {worst:.2e}, "
              f"max |keras| = {np.abs(expected).max():.3g}")
        assert worst <= TOLERANCE * max(1.0, float(np.abs(expected).max())), f"{name}: {embedding} vs {expected}"


def test_default_training_on_a_base_without_the_mid_scale_layer_pools_one_depth(keras_site,  # noqa: ANN001
                                                                                 shared_dir: Path) -> None:
    """`depths: "auto"` pools MobileNet's mid-scale layer beside the output only where the base has one: a VGG-style
    base trains on its output alone, and asking it for two depths is refused, saying why."""
    folder = shared_dir / "datasets" / "malaria" / "images"
    urls = {label: [f"/shared/datasets/malaria/images/{label}/{path.name}"
                    for path in sorted((folder / label).iterdir())[:6]] for label in ("Parasitized", "Uninfected")}
    result = keras_site["page"].evaluate("""async (urls) => {
      await teachbox.newProject("one depth");
      for (const label of teachbox.project().classes) teachbox.deleteClass(label);  // the new project's empty two
      await teachbox.useBase({id: "tiny_vgg16"});
      for (const [label, list] of Object.entries(urls)) {
        await teachbox.addImages(label, await Promise.all(list.map(async (url) => (await fetch(url)).blob())));
      }
      const trained = await teachbox.train({epochs: 3});
      const metadata = (await teachbox.loadModel(await teachbox.exportModel())).metadata;
      let refused = null;
      try { await teachbox.train({epochs: 3, depths: 2}); } catch (e) { refused = {code: e.code, message: e.message}; }
      await teachbox.useBase({id: "mobilenet_v1_0.25_224"});
      return {trained, metadata, refused};
    }""", urls)
    assert result["trained"]["options"]["depths"] == "auto" and result["trained"]["train_count"] > 0
    assert result["metadata"]["base"]["id"] == "tiny_vgg16"
    assert "earlierDepth" not in result["metadata"]["base"], result["metadata"]["base"]
    assert result["refused"]["code"] == "bad_option"
    assert "depths 2 needs a MobileNet v1 or v2 base" in result["refused"]["message"], result["refused"]


def test_a_shipped_keras_classifier_opens_as_a_project_model_and_predicts_as_keras(keras_site,  # noqa: ANN001
                                                                                   shared_dir: Path) -> None:
    page = keras_site["page"]
    assert keras_site["info"]["classifiers"] == [{"id": "flowers", "label": "flowers_mobilenet",
                                                   "labels": CLASSIFIER_LABELS}]
    result = page.evaluate("""async (urls) => {
      const opened = await teachbox.openClassifier('flowers');
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      return {opened, project: teachbox.project(), predictions};
    }""", keras_site["images"])
    assert result["project"]["name"] == "flowers_mobilenet"
    assert result["opened"]["labels"] == CLASSIFIER_LABELS
    preprocessing = result["opened"]["metadata"]["preprocessing"]
    assert (preprocessing["size"], preprocessing["scaling"]) == (SIZE, "tf")
    for url, ranked in zip(keras_site["images"], result["predictions"], strict=True):
        x = standalone_predict.model_input(shared_dir / url.removeprefix("/shared/"), preprocessing)
        expected = dict(zip(CLASSIFIER_LABELS, np.asarray(keras_site["classifier"](x))[0].tolist()))
        page_probabilities = {entry["label"]: entry["probability"] for entry in ranked}
        worst = max(abs(page_probabilities[label] - expected[label]) for label in CLASSIFIER_LABELS)
        print(f"\nclassifier {url.rsplit('/', 1)[-1]}: max |page - keras| = {worst:.2e} ({expected})")
        assert worst <= TOLERANCE, f"page {page_probabilities} vs keras {expected}"


def test_the_page_offers_the_shipped_classifier_and_opens_it(keras_site) -> None:  # noqa: ANN001
    page = keras_site["page"]
    before = page.evaluate("() => teachbox.project().id")
    assert page.locator("#classifiers").is_visible()
    assert page.locator("#classifier-select option").all_text_contents() == ["flowers_mobilenet: daisy, rose, tulip"]
    page.click("#classifier-open")
    page.wait_for_function("(before) => teachbox.project().id !== before && teachbox.project().model", arg=before)
    project = page.evaluate("() => teachbox.project()")
    assert project["name"].startswith("flowers_mobilenet") and project["model"]["labels"] == CLASSIFIER_LABELS
    assert "Opened the classifier" in page.locator("#notice").text_content()


def test_a_link_with_model_opens_that_classifier_and_a_wrong_id_still_starts(keras_site) -> None:  # noqa: ANN001
    """`?model=ID`, the link a site hands out: the page starts with that classifier as a new project's model; an id
    this build does not ship is written in the start-up log and the page starts on the last project."""
    context = keras_site["page"].context
    last = keras_site["page"].evaluate("() => teachbox.project().id")
    linked, _info = open_app(context, keras_site["url"] + "?model=flowers")
    project = linked.evaluate("() => teachbox.project()")
    assert project["id"] != last, "the link opens the classifier in a new project"
    assert project["name"].startswith("flowers_mobilenet") and project["model"]["labels"] == CLASSIFIER_LABELS
    ranked = linked.evaluate("(url) => teachbox.predict(url)", keras_site["images"][0])
    assert sorted(entry["label"] for entry in ranked) == sorted(CLASSIFIER_LABELS)
    linked.close()

    wrong, _info = open_app(context, keras_site["url"] + "?model=no-such-model")
    assert "could not open classifier 'no-such-model'" in wrong.locator("#status-log").text_content()
    assert wrong.evaluate("() => teachbox.project().id") == project["id"], "it starts on the last project"
    wrong.close()
