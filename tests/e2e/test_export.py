"""Export and import: the zip's contents, identical predictions after loading it in a fresh browser profile and in
bare TF.js (no Teachbox, no Python), and tampered zips refused without disturbing the current model."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from teachbox.data.geometry import crop_box

from tests.e2e.conftest import B64_OF_BLOB, open_app

BLOB_FROM_B64 = "(b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], {type: 'application/zip'})"

PREDICT_ALL = """async (urls) => {
  const out = [];
  for (const url of urls) out.push(await teachbox.predict(url));
  return out;
}"""

BARE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>bare TF.js</title>
<script src="/vendor/tfjs/tf.min.js"></script>
<script src="/vendor/tfjs/tf-backend-wasm.min.js"></script>
</head><body>
<script>
// Teachbox's preprocessing re-implemented from its metadata: a centred square (the shorter side for "center-crop",
// the longer for "pad", beyond the image: black) whose box ends EDGE_INSET of a pixel inside the last pixel centre,
// bilinear cropAndResize to `size`, then x / 127.5 - 1.
const EDGE_INSET = 1 / 256;
function span(extent, side) {
  const offset = (extent - side) / 2;
  return [offset / (extent - 1), (offset + side - 1 - EDGE_INSET) / (extent - 1)];
}
function squareBox(width, height, mode) {
  const side = mode === "pad" ? Math.max(width, height) : Math.min(width, height);
  const [x1, x2] = span(width, side);
  const [y1, y2] = span(height, side);
  return [y1, x1, y2, x2];
}
window.bare = async (modelUrl, urls) => {
  tf.wasm.setWasmPaths('/vendor/tfjs/');
  await tf.setBackend('wasm');
  await tf.ready();
  const metadata = await (await fetch(modelUrl.replace('model.json', 'metadata.json'))).json();
  const model = await tf.loadLayersModel(modelUrl);
  const size = metadata.preprocessing.size;
  const results = [];
  for (const url of urls) {
    const bitmap = await createImageBitmap(await (await fetch(url)).blob());
    const width = bitmap.width, height = bitmap.height;
    const box = squareBox(width, height, metadata.preprocessing.mode);
    const input = tf.tidy(() => {
      const pixels = tf.browser.fromPixels(bitmap).toFloat().expandDims(0);
      return tf.image.cropAndResize(pixels, [box], [0], [size, size], 'bilinear', 0).div(127.5).sub(1);
    });
    bitmap.close();
    const output = model.predict(input);
    const probabilities = Array.from(await output.data());
    input.dispose(); output.dispose();
    results.push({url, width, height, box, probabilities});
  }
  return {backend: tf.getBackend(), labels: metadata.labels, results};
};
</script></body></html>
"""


def by_label(ranked: list[dict]) -> dict[str, float]:
    """One ranked prediction as {label: probability}, so predictions compare whatever their order."""
    return {entry["label"]: entry["probability"] for entry in ranked}


def max_diff(first: list[list[dict]], second: list[list[dict]]) -> float:
    """The largest difference in any class's probability between two lists of predictions of the same images."""
    worst = 0.0
    for a, b in zip(first, second, strict=True):
        a, b = by_label(a), by_label(b)
        assert a.keys() == b.keys(), f"labels differ: {sorted(a)} vs {sorted(b)}"
        worst = max(worst, *(abs(a[label] - b[label]) for label in a))
    return worst



def test_zip_holds_model_weights_and_metadata(exported) -> None:  # noqa: ANN001
    assert exported["type"] == "application/zip"
    assert exported["dataset"]["counts"] == {"Parasitized": 60, "Uninfected": 60}
    assert exported["trained"]["epochs"] <= 10
    with zipfile.ZipFile(io.BytesIO(exported["zip"])) as archive:
        names = sorted(archive.namelist())
        assert names == ["metadata.json", "model.json", "weights.bin"], f"zip entries {names}"
        assert archive.testzip() is None
        model_json = json.loads(archive.read("model.json"))
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.bin")
    classes = exported["project"]["classes"]
    assert metadata["labels"] == classes == ["Parasitized", "Uninfected"], f"metadata labels {metadata['labels']}"
    assert metadata["preprocessing"]["mode"] == "pad", f"preprocessing {metadata['preprocessing']}"
    # Malaria cells are ~130 px: with inputSize "auto" they are read at 128 px, and the export says so.
    assert exported["project"]["inputSize"] == 128
    assert metadata["preprocessing"]["size"] == metadata["inputSize"] == 128
    assert model_json["format"] == "layers-model"
    inputs = [layer for layer in model_json["modelTopology"]["config"]["layers"] if layer["class_name"] == "InputLayer"]
    assert [layer["config"]["batch_input_shape"] for layer in inputs] == [[None, 128, 128, 3]]
    # By default the head also reads the mid-scale layer, max-pooled (`depths: "auto"`): plain Keras layers.
    layers = {layer["name"]: layer for layer in model_json["modelTopology"]["config"]["layers"]}
    earlier = layers["teachbox_pool_earlier"]
    assert earlier["class_name"] == "GlobalMaxPooling2D"
    assert earlier["inbound_nodes"][0][0][0] == metadata["base"]["earlierDepth"] == "conv_pw_6_relu"
    assert layers["teachbox_depths"]["class_name"] == "Concatenate"
    groups = model_json["weightsManifest"]
    assert [group["paths"] for group in groups] == [["weights.bin"]], f"weightsManifest paths {groups}"
    needed = sum(4 * _prod(spec["shape"]) for group in groups for spec in group["weights"])
    assert needed == len(weights), f"weights.bin has {len(weights):,} bytes, manifest needs {needed:,}"
    for ranked in exported["predictions"]:
        assert [entry["label"] for entry in ranked] != [] and abs(sum(e["probability"] for e in ranked) - 1) < 1e-4


def _prod(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def test_fresh_profile_loads_the_zip_and_predicts_the_same(exported, context, server) -> None:  # noqa: ANN001
    page, info = open_app(context, server.url)
    assert info["base"]["source"] == "network", "not a fresh profile: the base came from a cache"
    b64 = base64.b64encode(exported["zip"]).decode()
    result = page.evaluate(f"""async ([b64, urls]) => {{
      const before = teachbox.project();
      const loaded = await teachbox.loadModel(({BLOB_FROM_B64})(b64));
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      return {{before, loaded, predictions, project: teachbox.project()}};
    }}""", [b64, exported["images"]])
    assert result["before"]["trained"] is False
    assert result["loaded"]["labels"] == exported["project"]["classes"], f"loadModel gave {result['loaded']['labels']}"
    assert result["project"]["trained"] is True
    diff = max_diff(exported["predictions"], result["predictions"])
    print(f"\nfresh profile: max |Δp| {diff:.2e}")
    assert diff <= 1e-5, f"predictions after loadModel in a fresh profile differ by {diff:.3e} (> 1e-5)"


def _average_pooled_earlier_depth(name: str, content: bytes) -> bytes:
    """model.json as a model trained before `depths: 2` max-pooled its earlier depth held it: that layer averages."""
    if name != "model.json":
        return content
    model_json = json.loads(content)
    for layer in model_json["modelTopology"]["config"]["layers"]:
        if layer["name"] == "teachbox_pool_earlier":
            layer["class_name"] = "GlobalAveragePooling2D"
    return json.dumps(model_json).encode()


def test_a_model_saved_before_the_max_pooled_depth_opens_predicts_and_explains(exported, context,  # noqa: ANN001
                                                                               server) -> None:
    """Such models pooled their earlier depth by average; their own layers say so, and the page runs them that way
    (fused: `GlobalAveragePooling2D` is a plan step too), so they predict as they always did."""
    page, _info = open_app(context, server.url)
    b64 = base64.b64encode(_rezip(exported["zip"], _average_pooled_earlier_depth)).decode()
    result = page.evaluate(f"""async ([b64, urls]) => {{
      const loaded = await teachbox.loadModel(({BLOB_FROM_B64})(b64));
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      const before = teachbox.memory().numTensors;
      const explained = await teachbox.explain(urls[0]);
      return {{loaded, predictions, explained, leaked: teachbox.memory().numTensors - before}};
    }}""", [b64, exported["images"]])
    assert result["loaded"]["labels"] == exported["project"]["classes"]
    for ranked in result["predictions"]:
        assert abs(sum(entry["probability"] for entry in ranked) - 1) < 1e-4
    diff = max_diff(exported["predictions"], result["predictions"])
    print(f"\naverage- instead of max-pooled earlier depth: max |Δp| {diff:.2e}")
    assert diff > 1e-3, "the model's own pooling layer was not what ran"
    heat = [value for row in result["explained"]["map"] for value in row]
    assert heat and 0 <= min(heat) and max(heat) <= 1 + 1e-6 and result["leaked"] == 0


def test_bare_tfjs_reproduces_teachbox(exported, context, server, scratch) -> None:  # noqa: ANN001
    folder = scratch / "export"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(exported["zip"])) as archive:
        archive.extractall(folder)
    (folder / "bare.html").write_text(BARE_HTML, encoding="utf-8")
    page = context.new_page()
    page.goto(server.url + "scratch/export/bare.html")
    result = page.evaluate("([model, urls]) => window.bare(model, urls)",
                           ["/scratch/export/model.json", exported["images"]])
    assert result["backend"] == "wasm"
    assert result["labels"] == exported["project"]["classes"]
    for item in result["results"]:
        expected_box = crop_box(item["width"], item["height"], "pad")
        box_diff = max(abs(a - b) for a, b in zip(item["box"], expected_box, strict=True))
        assert box_diff < 1e-12, f"{item['url']}: bare JS box {item['box']} != Teachbox crop_box {expected_box}"
    bare = [[{"label": label, "probability": p} for label, p in zip(result["labels"], item["probabilities"])]
            for item in result["results"]]
    diff = max_diff(exported["predictions"], bare)
    sizes = ", ".join(f"{item['width']}×{item['height']}" for item in result["results"])
    print(f"\nbare TF.js ({sizes}): max |Δp| {diff:.2e}")
    assert diff <= 1e-4, f"bare TF.js predictions differ from Teachbox's by {diff:.3e} (> 1e-4): {bare} vs " \
                         f"{exported['predictions']}"


def _rezip(data: bytes, change) -> bytes:  # noqa: ANN001
    """The zip with `change(name, content)` applied to each entry."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out.getvalue()


def _three_labels(name: str, content: bytes) -> bytes:
    if name != "metadata.json":
        return content
    metadata = json.loads(content)
    metadata["labels"] = [*metadata["labels"], "Extra"]
    return json.dumps(metadata).encode()


def test_tampered_zips_are_refused_and_the_model_stays(exported) -> None:  # noqa: ANN001
    page, data = exported["page"], exported["zip"]
    tampered = {
        "truncated zip": data[: len(data) // 2],
        "weights.bin missing 4 bytes": _rezip(data, lambda name, content: content[:-4] if name == "weights.bin"
                                              else content),
        "metadata with 3 labels for a 2-class model": _rezip(data, _three_labels),
    }
    for what, blob in tampered.items():
        result = page.evaluate(f"""async ([b64, urls]) => {{
          const tensors = teachbox.memory().numTensors;
          let outcome;
          try {{ await teachbox.loadModel(({BLOB_FROM_B64})(b64)); outcome = {{resolved: true}}; }}
          catch (e) {{ outcome = {{code: e.code, message: e.message}}; }}
          const predictions = [];
          for (const url of urls) predictions.push(await teachbox.predict(url));
          return {{outcome, predictions, tensors, after: teachbox.memory().numTensors, project: teachbox.project()}};
        }}""", [base64.b64encode(blob).decode(), exported["images"]])
        outcome = result["outcome"]
        assert outcome.get("code") == "bad_model_file", f"{what}: loadModel gave {outcome}"
        print(f"\n{what}: {outcome['message']}")
        assert result["project"]["model"]["labels"] == exported["project"]["classes"]
        assert result["predictions"] == exported["predictions"], \
            f"{what}: the current model's predictions changed: {result['predictions']} vs {exported['predictions']}"
        assert result["after"] == result["tensors"], f"{what}: numTensors {result['tensors']} -> {result['after']}"


# The page's own snippet (the Export panel's text, as a user copies it) run in a bare TF.js page.
SNIPPET_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>snippet</title>
<script src="/vendor/tfjs/tf.min.js"></script>
<script src="/vendor/tfjs/tf-backend-wasm.min.js"></script>
</head><body>
<script>
CODE
window.runSnippet = async (url, images, backend) => {
  tf.wasm.setWasmPaths('/vendor/tfjs/');
  if (!await tf.setBackend(backend)) throw new Error(`no ${backend} backend here`);
  await tf.ready();
  const teachbox = await loadTeachbox(url);
  const out = [];
  for (const image of images) {
    const bitmap = await createImageBitmap(await (await fetch(image)).blob());
    out.push(await classify(teachbox, bitmap));
    bitmap.close();
  }
  return {backend: tf.getBackend(), tta: teachbox.metadata.tta || null, out};
};
</script></body></html>
"""


def snippet_code(page) -> str:  # noqa: ANN001
    """The JavaScript of the Export panel's snippet, as a person copies it from that Teachbox page."""
    text = page.evaluate("() => document.getElementById('snippet').textContent")
    return text.split("<script>", 1)[1].rsplit("</script>", 1)[0]


def run_snippet(ctx, server, scratch: Path, name: str, zip_bytes: bytes, code: str, images: list[str],  # noqa: ANN001
                backend: str = "wasm") -> dict:
    """The snippet `code` run in a bare TF.js page (no Teachbox) on `backend`, on the zip unpacked in scratch/<name>/:
    {backend, tta, out: one ranked prediction per image}."""
    folder = scratch / name
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        archive.extractall(folder)
    (folder / "run.html").write_text(SNIPPET_PAGE.replace("CODE", code), encoding="utf-8")
    page = ctx.new_page()
    page.goto(server.url + f"scratch/{name}/run.html")
    try:
        return page.evaluate("([url, images, backend]) => window.runSnippet(url, images, backend)",
                             [f"/scratch/{name}/model.json", images, backend])
    finally:
        page.close()


@pytest.fixture(scope="module")
def fine_tuned(exported) -> dict:  # noqa: ANN001
    """In the same page: the whole last block fine-tuned, trained on two views, predictions averaged over two."""
    result = exported["page"].evaluate(f"""async (urls) => {{
      const trained = await teachbox.train({{fineTuneLayers: 2, views: 2, tta: 2, epochs: 5}});
      const blob = await teachbox.exportModel();
      const predictions = [];
      for (const url of urls) predictions.push(await teachbox.predict(url));
      return {{trained, b64: await ({B64_OF_BLOB})(blob), predictions}};
    }}""", exported["images"])
    return {"zip": base64.b64decode(result["b64"]), **result}


@pytest.mark.parametrize("which", ["exported", "fine_tuned"])
def test_the_pages_snippet_reproduces_teachbox(which: str, request, context, server, scratch) -> None:  # noqa: ANN001
    model, exported = request.getfixturevalue(which), request.getfixturevalue("exported")
    with zipfile.ZipFile(io.BytesIO(model["zip"])) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    result = run_snippet(context, server, scratch, f"snippet_{which}", model["zip"], snippet_code(exported["page"]),
                         exported["images"])
    assert result["backend"] == "wasm"
    if which == "fine_tuned":
        assert result["tta"] == ["id", "hflip"] and metadata["base"]["fineTunedLayers"] == 2, (result["tta"], metadata)
    diff = max_diff(model["predictions"], result["out"])
    print(f"\nthe page's snippet on the {which} model (tta {result['tta']}): max |Δp| {diff:.2e}")
    assert diff <= 1e-4, f"the snippet's predictions differ from Teachbox's by {diff:.3e}: {result['out']} vs " \
                         f"{model['predictions']}"
