"""Training-only augmentation views (`augment`: a zoom, four shifted crops, four colour shifts): the page's kernels
compute exactly the transform each names on every pixel scaling, each view is embedded once and cached, a model
trained with them works on held-out real cells, and nothing is left behind in TF.js. One page for the module."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.conftest import held_out_split, open_app

SEED = 20261203
CROPS = {"zoom": (0.1, 0.1, 0.9, 0.9), "crop-tl": (0, 0, 0.85, 0.85), "crop-tr": (0, 0.15, 0.85, 1),
         "crop-bl": (0.15, 0, 1, 0.85), "crop-br": (0.15, 0.15, 1, 1)}
GAINS = {"brighter": (1.15, 1.15, 1.15), "darker": (0.85, 0.85, 0.85), "warmer": (1.1, 1, 0.9),
         "cooler": (0.9, 1, 1.1)}
SCALINGS = ("tf", "torch", "caffe", "none")


@pytest.fixture(scope="module")
def app(module_context, server):  # noqa: ANN001, ANN201
    page, _info = open_app(module_context, server.url)
    yield page
    assert module_context.guard.foreign == [], f"requests left 127.0.0.1: {module_context.guard.foreign}"


def crop_and_resize(pixels: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """TF's crop_and_resize (bilinear, the crop back at the image's size) of [N, h, w, C] pixels, in numpy: output
    row i samples input row y1·(h−1) + i·(y2−y1)·(h−1)/(h−1)."""
    _, h, w, _ = pixels.shape
    y1, x1, y2, x2 = box
    ys = y1 * (h - 1) + np.arange(h) * (y2 - y1)
    xs = x1 * (w - 1) + np.arange(w) * (x2 - x1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1i, x1i = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    dy, dx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    top = pixels[:, y0][:, :, x0] * (1 - dx) + pixels[:, y0][:, :, x1i] * dx
    bottom = pixels[:, y1i][:, :, x0] * (1 - dx) + pixels[:, y1i][:, :, x1i] * dx
    return top * (1 - dy) + bottom * dy


def test_each_view_is_its_transform_of_the_pixels_on_every_scaling(app) -> None:  # noqa: ANN001
    """Each augmentation view of a batch in a base's scaling, scaled back to pixels, against numpy."""
    pixels = np.random.default_rng(SEED).uniform(0, 255, (2, 9, 11, 3)).astype(np.float32)
    seen = app.evaluate("""({values, shape, names, scalings}) => {
      const k = window.teachboxKernels;
      const before = tf.memory().numTensors;
      const x = tf.tensor(values, shape);
      const out = {};
      for (const scaling of scalings) {
        for (const name of names) {
          const t = tf.tidy(() => k.unscalings[scaling](k.view(k.scalings[scaling](x), name, scaling)));
          out[`${scaling} ${name}`] = Array.from(t.dataSync());
          t.dispose();
        }
      }
      x.dispose();
      return {out, leaked: tf.memory().numTensors - before};
    }""", {"values": pixels.ravel().tolist(), "shape": list(pixels.shape), "names": [*CROPS, *GAINS],
           "scalings": list(SCALINGS)})
    assert seen["leaked"] == 0
    for scaling in SCALINGS:
        for name, box in CROPS.items():
            got = np.array(seen["out"][f"{scaling} {name}"]).reshape(pixels.shape)
            np.testing.assert_allclose(got, crop_and_resize(pixels, box), atol=0.02, err_msg=f"{scaling} {name}")
        for name, gains in GAINS.items():
            got = np.array(seen["out"][f"{scaling} {name}"]).reshape(pixels.shape)
            want = np.clip(pixels * np.array(gains, np.float32), 0, 255)
            np.testing.assert_allclose(got, want, atol=0.02, err_msg=f"{scaling} {name}")


@pytest.fixture(scope="module")
def trained(app, scratch):  # noqa: ANN001, ANN201
    """Real malaria cells: a plain model, then one trained with the zoom and the colour views (twice: the second
    run finds every view cached), each scored on held-out cells. A linear head, solved exactly: deterministic."""
    split = held_out_split(scratch, "augment", "malaria", 40, 30, SEED)
    return app.evaluate("""async ({train, test, image}) => {
      const phases = [];
      const off = teachbox.on('progress', (event) => phases.push(event));
      await teachbox.loadDataset(train);
      const run = async (options) => {
        phases.length = 0;
        const result = await teachbox.train(options);
        const embedding = phases.filter((event) => event.phase === 'embedding');
        const heldOut = await teachbox.evaluate(test);
        await teachbox.predict(image);
        return {options: result.options, trainCount: result.train_count, valCount: result.val_count,
                embedded: embedding.length ? embedding[embedding.length - 1].total : 0,
                accuracy: heldOut.accuracy, tensors: teachbox.memory().numTensors};
      };
      const plain = await run({hiddenUnits: 0});
      const augmented = await run({hiddenUnits: 0, augment: ['colour', 'zoom']});
      const again = await run({hiddenUnits: 0, augment: ['zoom', 'colour']});
      let refused = null;
      try {
        await teachbox.train({augment: ['zoom', 'blur']});
      } catch (e) {
        refused = {code: e.code, message: e.message};
      }
      const kept = await teachbox.evaluate(test);
      off();
      return {plain, augmented, again, refused, keptAccuracy: kept.accuracy};
    }""", {"train": split["train"], "test": split["test"], "image": split["test_urls"][0]})


def test_views_are_embedded_once_and_cached(trained) -> None:  # noqa: ANN001
    plain, augmented, again = trained["plain"], trained["augmented"], trained["again"]
    images = plain["trainCount"] + plain["valCount"]
    assert plain["embedded"] == 0, "loadDataset embedded the images already"
    assert augmented["embedded"] == images, "each image's new views embedded in one pass"
    assert again["embedded"] == 0, "the same views again: all cached"
    assert augmented["options"]["augment"] == again["options"]["augment"] == ["zoom", "colour"]


def test_an_augmented_model_works_on_held_out_cells_and_frees_its_tensors(trained) -> None:  # noqa: ANN001
    plain, augmented, again = trained["plain"], trained["augmented"], trained["again"]
    print(f"\nheld-out accuracy (60 cells): plain {plain['accuracy']:.3f}, zoom + colour {augmented['accuracy']:.3f}")
    assert augmented["accuracy"] >= 0.8 and augmented["accuracy"] >= plain["accuracy"] - 0.1
    assert again["accuracy"] == augmented["accuracy"], "a seeded run on cached views repeats"
    assert plain["tensors"] == augmented["tensors"] == again["tensors"], "the same model's tensors, nothing more"


def test_an_unknown_augmentation_is_refused_and_the_model_kept(trained) -> None:  # noqa: ANN001
    refused = trained["refused"]
    assert refused and refused["code"] == "bad_option", refused
    assert "augment must be a list of zoom, crops, colour; unknown: 'blur'" in refused["message"]
    assert trained["keptAccuracy"] == trained["again"]["accuracy"]
