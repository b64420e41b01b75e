"""Export: download the model zip, a ready-to-paste plain TF.js snippet, and import a zip to preview with it.

The snippet repeats Teachbox's one preprocessing (crop box with the same edge inset, bilinear cropAndResize, the
base's pixel scaling: x / 127.5 - 1 for MobileNets) from the model's own metadata.json, so predictions in someone else's page match the ones here;
tests/e2e/test_export.py checks the same recipe in a bare TF.js page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import JsException
from teachbox.data.geometry import EDGE_INSET
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback
from teachbox.ui.intake import quoted

ZIP_NAME = "teachbox-model.zip"


def snippet() -> str:
    """Plain TensorFlow.js that loads the unzipped export and classifies an <img>, <canvas> or <video>."""
    return f"""<!-- TensorFlow.js 4.x: your own copy of tf.min.js -->
<script src="tf.min.js"></script>
<script>
// Unzip {ZIP_NAME} into a folder "teachbox-model" next to this page.
const MODEL_URL = "teachbox-model/model.json";

async function loadTeachbox(url = MODEL_URL) {{
  const model = await tf.loadLayersModel(url);
  const metadata = await (await fetch(url.replace(/model\\.json$/, "metadata.json"))).json();
  return {{model, metadata}};
}}

// The crop Teachbox trained with (metadata.preprocessing.mode), in cropAndResize's [y1, x1, y2, x2] form.
function cropBox(width, height, mode) {{
  const inset = {EDGE_INSET!r};  // end 1/256 px inside the last pixel centre, as Teachbox does
  const span = (extent, side) => {{
    const offset = (extent - side) / 2;
    return [offset / (extent - 1), (offset + side - 1 - inset) / (extent - 1)];
  }};
  const side = (extent) => mode === "squash" ? extent
    : mode === "pad" ? Math.max(width, height) : Math.min(width, height);
  const [x1, x2] = span(width, side(width));
  const [y1, y2] = span(height, side(height));
  return [y1, x1, y2, x2];
}}

// RGB pixels in [0, 255] as the model's base wants them (metadata.preprocessing.scaling; absent means "tf").
const SCALINGS = {{
  tf: (x) => x.div(127.5).sub(1),
  torch: (x) => x.div(255).sub([0.485, 0.456, 0.406]).div([0.229, 0.224, 0.225]),
  caffe: (x) => x.sub([123.68, 116.779, 103.939]).reverse(-1),  // BGR minus the ImageNet means
  none: (x) => x,
}};

// The image seen another way (metadata.tta: Teachbox averages its predictions over these views).
function view(x, name) {{
  const t = () => tf.transpose(x, [0, 2, 1, 3]);
  return {{id: () => x, hflip: () => tf.reverse(x, 2), vflip: () => tf.reverse(x, 1), rot180: () => tf.reverse(x, [1, 2]),
          transpose: t, rot90: () => tf.reverse(t(), 2), rot270: () => tf.reverse(t(), 1),
          antitranspose: () => tf.reverse(t(), [1, 2])}}[name]();
}}

// image: an <img>, <canvas>, <video> or ImageBitmap. Returns [{{label, probability}}], most likely first.
async function classify({{model, metadata}}, image) {{
  const {{size, mode, scaling = "tf"}} = metadata.preprocessing;
  const views = metadata.tta || ["id"];
  const width = image.videoWidth || image.naturalWidth || image.width;
  const height = image.videoHeight || image.naturalHeight || image.height;
  const output = tf.tidy(() => {{
    const pixels = tf.browser.fromPixels(image).toFloat().expandDims(0);
    const input = SCALINGS[scaling](
      tf.image.cropAndResize(pixels, [cropBox(width, height, mode)], [0], [size, size], "bilinear", 0));
    return model.predict(tf.concat(views.map((name) => view(input, name)), 0)).mean(0);
  }});
  const probabilities = await output.data();
  output.dispose();
  return metadata.labels
    .map((label, i) => ({{label, probability: probabilities[i]}}))
    .sort((a, b) => b.probability - a.probability);
}}

// Example:
// const teachbox = await loadTeachbox();
// console.log(await classify(teachbox, document.querySelector("img")));
</script>
"""


def listed(labels: list[str]) -> str:
    return ", ".join(quoted(label) for label in labels)


class DownloadLink:
    """A visible "download again" link for a Blob made in the page; one object URL at a time (the old one is freed)."""

    def __init__(self, link: dom.Node) -> None:
        self.link = link
        self._url: str | None = None

    def offer(self, blob: Any, file_name: str) -> None:
        """Point the link at `blob`, show it, and start the download."""
        if self._url:
            dom.revoke_object_url(self._url)
        self._url = dom.object_url(blob)
        self.link.href = self._url
        self.link.download = file_name
        self.link.textContent = f"{file_name} ({int(blob.size) / 1024:.0f} KB)"
        self.link.setAttribute("aria-label", f"Download {file_name} again")
        self.link.hidden = False
        self.link.click()


class ExportPanel:
    """Download, snippet with Copy, and model import."""

    def __init__(self, api: Api, feedback: Feedback, imported: Callable[[dict[str, Any]], None]) -> None:
        self.api = api
        self.feedback = feedback
        self.imported = imported
        self.download = dom.by_id("export-download")
        self.link = DownloadLink(dom.by_id("export-link"))
        self.snippet = dom.by_id("snippet")
        self.import_input = dom.by_id("import-model")
        self.snippet.textContent = snippet()
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.download, "click", lambda _e: self.export())
        self.listeners.on(dom.by_id("snippet-copy"), "click", lambda _e: self.copy())
        self.listeners.on(dom.by_id("import-model-choose"), "click", lambda _e: self.import_input.click())
        self.listeners.on(self.import_input, "change", lambda _e: self._import())
        api.on("trained", lambda _p: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        self.download.disabled = not self.api.project()["trained"]

    async def export(self) -> None:
        self.link.offer(await self.api.export_model(), ZIP_NAME)
        self.feedback.say(f"Model exported as {ZIP_NAME}.")

    async def copy(self) -> None:
        text = str(self.snippet.textContent)
        try:
            await dom.copy_text(text)
            self.feedback.say("The code is on the clipboard.")
        except (JsException, AttributeError):
            dom.select_contents(self.snippet)
            self.snippet.focus()
            self.feedback.say("The browser did not allow copying: the code is selected, press Ctrl+C (⌘C).")

    async def _import(self) -> None:
        files = dom.js_list(self.import_input.files)
        self.import_input.value = ""
        if not files:
            return
        result = await self.api.load_model(files[0])
        self.feedback.say(f"Imported {files[0].name}: a model for {listed(result['labels'])}. Preview uses it now.")
        classes = self.api.project()["classes"]
        if classes and set(classes) != set(result["labels"]):
            self.feedback.error(
                f"The imported model's classes ({listed(result['labels'])}) are not this project's "
                f"({listed(classes)}): Preview answers with the model's classes. Your images and classes are "
                "unchanged; training here makes a model for your classes again.")
        self.refresh()
        self.imported(result)
