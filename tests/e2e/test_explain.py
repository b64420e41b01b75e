"""`explain(image)`: Grad-CAM on the base's last feature map, for the preview's and the misclassified list's "why"
overlay. Checked for shape, range and tensors, and for meaning: greying out the region the map calls hottest must cost
the predicted class more probability than greying out the coldest one, on real malaria cells the model never saw."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import held_out_split, open_app

# Grey out grid cell (row, col) of the model's crop (`box`: [y1, x1, y2, x2] as fractions of width-1/height-1, the
# cropAndResize convention) with the crop's mean colour, in a canvas the page then predicts on.
OCCLUDE = """async ({url, label}) => {
  const explained = await teachbox.explain(url, label);
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const [y1, x1, y2, x2] = explained.box;
  const rows = explained.map.length, cols = explained.map[0].length;
  const cells = explained.map.flatMap((row, i) => row.map((value, j) => ({value, i, j})));
  cells.sort((a, b) => b.value - a.value);
  const masked = async (cell) => {
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    const g = canvas.getContext("2d", {willReadFrequently: true});
    g.drawImage(bitmap, 0, 0);
    const px = (f, extent) => f * (extent - 1);
    const top = px(y1 + (y2 - y1) * cell.i / rows, bitmap.height), left = px(x1 + (x2 - x1) * cell.j / cols, bitmap.width);
    const h = px(y2, bitmap.height) - px(y1, bitmap.height), w = px(x2, bitmap.width) - px(x1, bitmap.width);
    const data = g.getImageData(px(x1, bitmap.width), px(y1, bitmap.height), w, h).data;
    const mean = [0, 1, 2].map((c) => { let s = 0; for (let k = c; k < data.length; k += 4) s += data[k]; return s / (data.length / 4); });
    g.fillStyle = `rgb(${mean.map(Math.round).join(",")})`;
    g.fillRect(left, top, w / cols, h / rows);
    const ranked = await teachbox.predict(canvas);
    return ranked.find((r) => r.label === explained.label).probability;
  };
  const result = {label: explained.label, probability: explained.probability,
                  hot: await masked(cells[0]), cold: await masked(cells[cells.length - 1])};
  bitmap.close();
  return result;
}"""


@pytest.fixture(scope="module")
def trained(module_context, server, scratch):  # noqa: ANN001, ANN201
    split = held_out_split(scratch, "explain", "malaria", 60, 12, seed=21)
    page, _ = open_app(module_context, server.url)
    page.evaluate("(url) => teachbox.loadDataset(url).then(() => teachbox.train({seed: 5}))", split["train"])
    # The Results panel evaluates every new model on its own once training ends; its tensors come and go while it
    # does, so the tensor counts below start after it has shown its results.
    page.wait_for_function("document.querySelector('#results-note').textContent.startsWith('Validation accuracy')")
    return page, split


def test_explain_gives_a_map_in_zero_to_one_and_leaves_no_tensor(trained) -> None:  # noqa: ANN001
    page, split = trained
    url = split["test_urls"][0]
    result = page.evaluate("""async (url) => {
      const before = teachbox.memory().numTensors;
      const ranked = await teachbox.predict(url);
      const top = await teachbox.explain(url);
      const other = await teachbox.explain(url, ranked[1].label);
      return {ranked, top, other, leaked: teachbox.memory().numTensors - before};
    }""", url)
    top, other = result["top"], result["other"]
    assert top["label"] == result["ranked"][0]["label"], "explain() explains the most likely class by default"
    assert abs(top["probability"] - result["ranked"][0]["probability"]) < 1e-6
    assert other["label"] == result["ranked"][1]["label"]
    for explained in (top, other):
        heat = explained["map"]
        assert (len(heat), len(heat[0])) == (7, 7), "MobileNet's last feature map at 224 px is 7 × 7"
        values = [v for row in heat for v in row]
        assert min(values) >= 0 and max(values) <= 1 + 1e-6, values
        assert explained["peak"] == 0 or abs(max(values) - 1) < 1e-5, "the map is scaled to its peak"
        assert len(explained["box"]) == 4 and explained["width"] > 0 and explained["height"] > 0
    assert top["map"] != other["map"], "two classes got the same map"
    assert result["leaked"] == 0, f"{result['leaked']} tensor(s) left by explain()"


def test_greying_the_hottest_region_costs_more_than_the_coldest(trained) -> None:  # noqa: ANN001
    page, split = trained
    drops = []
    for (path, label), url in zip(split["test_rows"], split["test_urls"], strict=True):
        if label != "Parasitized":
            continue
        result = page.evaluate(OCCLUDE, {"url": url, "label": label})
        drops.append((result["probability"] - result["hot"], result["probability"] - result["cold"]))
    hot = sum(d[0] for d in drops) / len(drops)
    cold = sum(d[1] for d in drops) / len(drops)
    wins = sum(d[0] > d[1] for d in drops)
    print(f"\nGrad-CAM occlusion on {len(drops)} held-out parasitized cells: mean drop of p(Parasitized) "
          f"{hot:.3f} (hottest cell greyed) vs {cold:.3f} (coldest); hottest costs more in {wins}/{len(drops)}")
    assert hot > cold, f"greying the hottest region cost {hot:.3f}, the coldest {cold:.3f}: the map is not where " \
                       "the model looks"
    assert wins >= len(drops) // 2, drops


CANVAS_SUM = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0, blue = 0;
  for (let k = 0; k < data.length; k += 4) { red += data[k]; blue += data[k + 2]; }
  return {red, blue};
}"""
# The mean red of the preview canvas over the map's hottest cell (the centre crop of a square cell image fills the
# canvas, so cell (i, j) of an n × m map is that fraction of it).
HOT_CELL_RED = """([id, map]) => {
  const canvas = document.getElementById(id);
  const rows = map.length, cols = map[0].length;
  let best = [0, 0];
  map.forEach((row, i) => row.forEach((v, j) => { if (v > map[best[0]][best[1]]) best = [i, j]; }));
  const w = canvas.width / cols, h = canvas.height / rows;
  const data = canvas.getContext("2d").getImageData(Math.ceil(best[1] * w), Math.ceil(best[0] * h),
                                                    Math.floor(w), Math.floor(h)).data;
  let red = 0;
  for (let k = 0; k < data.length; k += 4) red += data[k];
  return red / (data.length / 4);
}"""


def test_the_preview_overlays_where_the_model_looked(trained, shared_dir) -> None:  # noqa: ANN001
    page, split = trained
    path = shared_dir / "datasets" / "malaria" / split["test_rows"][0][0]
    page.set_input_files("#test-file", str(path))
    page.wait_for_function("() => document.querySelectorAll('#test-bars li').length > 0")
    plain = page.evaluate(CANVAS_SUM, "test-canvas")
    heat = page.evaluate("(url) => teachbox.explain(url).then((e) => e.map)", split["test_urls"][0])
    hot_before = page.evaluate(HOT_CELL_RED, ["test-canvas", heat])
    assert page.is_enabled("#explain-toggle")
    page.check("#explain-toggle")
    page.wait_for_function(f"(before) => ({CANVAS_SUM})('test-canvas').red !== before.red", arg=plain)
    hot_after = page.evaluate(HOT_CELL_RED, ["test-canvas", heat])
    print(f"\npreview canvas: mean red over the map's hottest cell {hot_before:.1f} plain, {hot_after:.1f} overlaid")
    assert hot_after > hot_before + 20, "the overlay paints red where the model looked"
    page.uncheck("#explain-toggle")
    page.wait_for_function(f"(before) => ({CANVAS_SUM})('test-canvas').red === before.red", arg=plain)
