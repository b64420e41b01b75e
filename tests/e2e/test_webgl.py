"""WebGL, the backend every machine with a real GPU gets (SwiftShader here, so the sets are tiny): train, predict
from a URL with test-time views, export; the same zip predicts within 1e-3 on wasm."""

from __future__ import annotations

import base64

from tests.e2e.conftest import open_app, read_labels, stratified, write_csv
from tests.e2e.test_export import BLOB_FROM_B64

PREDICT = """async (urls) => { const out = []; for (const url of urls) out.push(await teachbox.predict(url)); return out; }"""


def _by_label(prediction: list[dict]) -> dict[str, float]:
    return {p["label"]: p["probability"] for p in prediction}


def test_webgl_trains_predicts_and_agrees_with_wasm(context, server, scratch) -> None:  # noqa: ANN001
    rows = read_labels("malaria")
    train = stratified(rows, 8, seed=5)
    test = stratified(rows, 2, seed=6, exclude={path for path, _ in train})
    csv = write_csv(scratch, "webgl", train, "malaria")
    urls = [f"/scratch/webgl/{path}" for path, _ in test]

    page, info = open_app(context, server.url + "?backend=webgl")
    assert info["backend"] == "webgl", info["backendReason"]
    result = page.evaluate("""async ([csv, urls]) => {
      await teachbox.loadDataset(csv);
      await teachbox.train({epochs: 3, tta: 2});
      const predicted = [];
      for (const url of urls) predicted.push(await teachbox.predict(url));
      const zip = await teachbox.exportModel();
      const bytes = new Uint8Array(await zip.arrayBuffer());
      let text = ""; for (const b of bytes) text += String.fromCharCode(b);
      return {predicted, zip: btoa(text)};
    }""", [csv, urls])
    assert len(result["predicted"]) == len(urls) and all(len(p) == 2 for p in result["predicted"])
    page.close()

    wasm, wasm_info = open_app(context, server.url + "?backend=wasm")
    assert wasm_info["backend"] == "wasm"
    wasm.evaluate(f"async (b64) => teachbox.loadModel(({BLOB_FROM_B64})(b64))", result["zip"])
    again = wasm.evaluate(PREDICT, urls)
    for on_webgl, on_wasm in zip(result["predicted"], again, strict=True):
        webgl_p, wasm_p = _by_label(on_webgl), _by_label(on_wasm)
        assert all(abs(webgl_p[label] - wasm_p[label]) < 1e-3 for label in webgl_p), (webgl_p, wasm_p)
    assert base64.b64decode(result["zip"])[:2] == b"PK"
