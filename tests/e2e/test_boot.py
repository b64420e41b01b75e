"""The foundation, driven in real headless Chromium: boot, backend, base model, embeddings, cache, memory."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_app

MALARIA = "/shared/datasets/malaria/images"
IMAGES = [
    f"{MALARIA}/Parasitized/C100P61ThinF_IMG_20150918_144104_cell_165.png",
    f"{MALARIA}/Uninfected/" + "{}",
    "/shared/datasets/cats_vs_dogs/images/cat/cat.109.jpg",
    "/shared/datasets/rock_paper_scissors/images/paper/04l5I8TqdzF9WDMJ.png",
]
ORIGINAL_MODEL = "/shared/models/mobilenet_v1_0.25_224/model.json"

# Embeds an image, switches the active base to the *unconverted* model cut at the same layer, embeds it again and
# switches back: both embeddings come from the same page, the same backend and the same preprocessing.
COMPARE_JS = """async ([url, original, cut]) => {
  const tensorsBefore = teachbox.memory().numTensors;
  const converted = await teachbox.embed(url);
  const baseId = teachbox.info().base.id;
  await teachbox.useBase({url: original, cut});
  const reference = await teachbox.embed(url);
  await teachbox.useBase(baseId);
  let maxDiff = 0, maxAbs = 0;
  for (let i = 0; i < reference.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(converted[i] - reference[i]));
    maxAbs = Math.max(maxAbs, Math.abs(reference[i]));
  }
  const tensorsAfter = teachbox.memory().numTensors;
  return {dim: converted.length, refDim: reference.length, maxDiff, maxAbs, tensorsBefore, tensorsAfter};
}"""


def first_uninfected(shared_dir) -> str:  # noqa: ANN001
    name = sorted((shared_dir / "datasets/malaria/images/Uninfected").iterdir())[0].name
    return IMAGES[1].format(name)


@pytest.fixture
def app(context, server):  # noqa: ANN001, ANN201
    page, info = open_app(context, server.url)
    return page, info


def test_boots_with_local_runtime_and_reports_what_runs(context, server, guard) -> None:  # noqa: ANN001
    page = context.new_page()
    page.goto(server.url)
    # The loading state is painted by plain HTML before any script has run, then says what is loading (what it says
    # at each stage: test_first_visit.py).
    assert page.inner_text("#status-text").startswith(("Loading", "Starting", "Opening")) \
        or page.evaluate("document.body.dataset.state") == "ready"
    info = page.evaluate("() => window.teachbox.ready")
    assert info["backend"] == "wasm"  # SwiftShader WebGL here: wasm must win
    assert "software" in info["backendReason"]
    assert info["python"].startswith("3.14")
    assert info["pyodide"] == "314.0.7"
    assert info["tfjs"] == "4.22.0"
    assert info["base"]["id"] == "mobilenet_v1_0.25_224"
    assert info["base"]["featureDim"] == 256
    assert info["base"]["source"] == "network"  # a fresh context has nothing cached
    assert info["timings"]["ready"] >= info["timings"]["base"] >= info["timings"]["backend"] > 0
    assert page.inner_text("#status-text").startswith("Ready: MobileNet v1 α=0.25 on wasm")
    # Python, Pyodide and TF.js came from this origin, and no request went anywhere else (the guard checks that).
    assert any(url.endswith("/vendor/pyodide/pyodide.asm.wasm") for url in guard.urls)
    assert any("/vendor/tfjs/tfjs-backend-wasm" in url for url in guard.urls)


def test_backend_override_from_query(context, server) -> None:  # noqa: ANN001
    page, info = open_app(context, server.url + "?backend=cpu")
    assert info["backend"] == "cpu"
    assert info["backendReason"] == "requested by ?backend="


def test_embedding_equals_unconverted_model(app, shared_dir) -> None:  # noqa: ANN001
    page, _ = app
    for url in (IMAGES[0], first_uninfected(shared_dir), IMAGES[2], IMAGES[3]):
        result = page.evaluate(COMPARE_JS, [url, ORIGINAL_MODEL, "conv_pw_13_relu"])
        assert result["dim"] == result["refDim"] == 256
        assert result["maxAbs"] > 0.1, "embedding is (nearly) all zeros: the image did not reach the model"
        assert result["maxDiff"] <= 1e-4, f"{url}: converted base differs from the original by {result['maxDiff']}"
        assert result["tensorsAfter"] == result["tensorsBefore"], "switching bases leaked tensors"


def test_fused_base_embeds_as_the_layers_model_does(app, shared_dir) -> None:  # noqa: ANN001
    """Teachbox embeds with the base's fused plan (batch-norm folded, activations fused: teachbox.fusion); the
    same base run layer by layer by TF.js (`model.predict`) must give the same embeddings on real images."""
    page, info = app
    assert info["base"]["fused"] == {"ops": 27, "folded": 54}
    assert "runs 27 fused ops" in page.text_content("#status-log")
    for url in (IMAGES[0], first_uninfected(shared_dir), IMAGES[2], IMAGES[3]):
        result = page.evaluate("""async (url) => {
          const fused = await teachbox.embed(url);
          const catalog = await (await fetch('/models/bases.json')).json();
          const spec = catalog.bases.find((base) => base.id === teachbox.info().base.id);
          const model = await tf.loadLayersModel('/' + spec.url);
          const image = await createImageBitmap(await (await fetch(url)).blob());
          const pad = teachbox.info().preprocessing.mode === 'pad', inset = 1 / 256;  // the default crop
          const side = (pad ? Math.max : Math.min)(image.width, image.height);
          const span = (extent) => { const o = (extent - side) / 2;
                                     return [o / (extent - 1), (o + side - 1 - inset) / (extent - 1)]; };
          const [x1, x2] = span(image.width), [y1, y2] = span(image.height);
          const pooled = tf.tidy(() => tf.mean(model.predict(teachboxKernels.toInput(image, [y1, x1, y2, x2], 224)),
                                               [1, 2]));
          const layered = Array.from(pooled.dataSync());
          pooled.dispose(); model.dispose(); image.close();
          let maxDiff = 0, maxAbs = 0;
          layered.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - fused[i]));
                                      maxAbs = Math.max(maxAbs, Math.abs(v)); });
          return {maxDiff, maxAbs, dim: fused.length};
        }""", url)
        assert result["dim"] == 256 and result["maxAbs"] > 0.1
        assert result["maxDiff"] <= 1e-4, f"{url}: fused embedding differs by {result['maxDiff']}"


def test_tensor_count_returns_to_baseline_after_embeds(app) -> None:  # noqa: ANN001
    page, _ = app
    result = page.evaluate("""async (url) => {
      const before = teachbox.memory().numTensors;
      for (let i = 0; i < 20; i++) await teachbox.embed(url);
      return {before, after: teachbox.memory().numTensors};
    }""", IMAGES[0])
    assert result["after"] == result["before"]


def test_second_load_reads_base_from_indexeddb(context, server, guard) -> None:  # noqa: ANN001
    page, first = open_app(context, server.url)
    assert first["base"]["source"] == "network"
    guard.urls.clear()
    page.reload()
    second = page.evaluate("() => window.teachbox.ready")
    assert second["base"]["source"] == "indexeddb"
    shard_requests = [url for url in guard.urls if "/models/" in url and not url.endswith("bases.json")]
    assert shard_requests == [], f"second load fetched model files again: {shard_requests}"
    embedding = page.evaluate("(url) => teachbox.embed(url)", IMAGES[0])
    assert len(embedding) == 256


def test_bad_image_rejects_with_clear_message(app) -> None:  # noqa: ANN001
    page, _ = app
    missing = page.evaluate("""() => teachbox.embed('/shared/datasets/nope.png')
        .then(() => null, (e) => ({message: e.message, code: e.code}))""")
    assert missing["code"] == "missing"
    assert "404" in missing["message"]
    not_image = page.evaluate("""() => teachbox.embed('/shared/datasets/malaria/labels.csv')
        .then(() => null, (e) => ({message: e.message, code: e.code}))""")
    assert not_image["code"] == "not_an_image"
    assert "not a supported image" in not_image["message"]


# Documented bounds (docs/decisions.md, quantization): float16 is near-lossless, uint8 is lossy (on a padded cat
# photo one feature of 256 moved by 80 % of the largest while the cosine stayed 0.969).
QUANTIZED_BOUNDS = {"float16": {"cosine": 0.999, "relative_max_diff": 0.05},
                    "uint8": {"cosine": 0.93, "relative_max_diff": 0.9}}


@pytest.mark.parametrize("mode", sorted(QUANTIZED_BOUNDS))
def test_quantized_base_stays_within_documented_bound(mode, context, shared_dir, tmp_path) -> None:  # noqa: ANN001
    from tests.e2e.conftest import DEFAULT_BASE, StaticServer, build_dist

    dist = build_dist(tmp_path / "dist", [DEFAULT_BASE], quantize=mode)
    with StaticServer(dist, 0, mounts={"/shared/": shared_dir}) as httpd:
        httpd.start_in_thread()
        page, info = open_app(context, httpd.url)
        assert info["base"]["quantize"] == mode
        assert info["base"]["weightBytes"] <= 874176 * (0.5 if mode == "float16" else 0.3)
        for url in (IMAGES[0], IMAGES[2], IMAGES[3]):
            result = page.evaluate(COMPARE_JS.replace("return {dim", """let dot = 0, n1 = 0, n2 = 0;
              for (let i = 0; i < reference.length; i++) {
                dot += converted[i] * reference[i]; n1 += converted[i] ** 2; n2 += reference[i] ** 2; }
              return {cosine: dot / Math.sqrt(n1 * n2), dim"""), [url, ORIGINAL_MODEL, "conv_pw_13_relu"])
            bound = QUANTIZED_BOUNDS[mode]
            print(f"\n{mode} {url}: cosine {result['cosine']:.5f}, max diff {result['maxDiff'] / result['maxAbs']:.3f}")
            assert result["cosine"] >= bound["cosine"], f"{mode} {url}: cosine {result['cosine']:.5f}"
            assert result["maxDiff"] <= bound["relative_max_diff"] * result["maxAbs"], \
                f"{mode} {url}: max diff {result['maxDiff']:.4f} of max {result['maxAbs']:.3f}"
        page.close()
        httpd.shutdown()
