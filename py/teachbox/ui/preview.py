"""Preview: live classification of the camera picture, and of a test image chosen or dropped by the person.

The picture (the live video, or the test image) and the class bars sit side by side, so a person holding
something up to the camera sees the bars move while watching it. One picture at a time: a test image ends live
preview (and lets the camera go, unless a class card records), and live preview hides the test image.

The live loop asks for the next prediction only after the previous one resolved and a frame was painted, so it
never queues work faster than the model runs (on a slow wasm backend that is a few frames a second, on WebGL as
many as the screen shows). It pauses while the tab is hidden or a training runs. `Api.predict` disposes every
tensor it makes; the e2e test checks numTensors after a live run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teachbox.api import Api
from teachbox.errors import TeachboxError
from teachbox.ui import dom, heatmap, thumbs
from teachbox.ui.camera import Camera
from teachbox.ui.feedback import Feedback

SLOW_FRAME_S = 0.05  # a prediction slower than this is followed by an equal pause (the page stays usable)


class Bars:
    """Probability bars, one row per class in the model's order (rows do not jump around while live)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.rows: dict[str, tuple[Any, Any, Any]] = {}
        self._labels: list[str] = []

    def show(self, ranked: list[dict[str, Any]], labels: list[str]) -> None:
        if sorted(labels) != sorted(entry["label"] for entry in ranked):  # the model changed in between
            labels = [entry["label"] for entry in ranked]
        if labels != self._labels:
            self._build(labels)
        top = ranked[0]["label"] if ranked else None
        for entry in ranked:
            row, fill, value = self.rows[entry["label"]]
            share = max(0.0, min(1.0, float(entry["probability"])))
            fill.style.width = f"{share * 100:.1f}%"  # CSSOM, allowed by style-src 'self' (no style attribute)
            value.textContent = f"{share * 100:.0f}%"
            row.classList.toggle("top", entry["label"] == top)

    def _build(self, labels: list[str]) -> None:
        dom.clear(self.root)
        self.rows = {}
        self._labels = list(labels)
        for label in labels:
            fill = dom.el("span", cls="bar-fill")
            value = dom.el("span", "0%", cls="bar-value")
            row = dom.el("li", dom.el("span", label, cls="bar-label"),
                         dom.el("span", fill, cls="bar-track", aria_hidden="true"), value, cls="bar-row")
            self.root.append(row)
            self.rows[label] = (row, fill, value)

    def clear(self) -> None:
        dom.clear(self.root)
        self.rows, self._labels = {}, []


class Preview:
    """The live toggle, the live picture and bars, and the test image and its bars."""

    USER = "preview"  # its name as a user of the camera

    def __init__(self, api: Api, camera: Camera, feedback: Feedback) -> None:
        self.api = api
        self.camera = camera
        self.feedback = feedback
        self.live_button = dom.by_id("live-toggle")
        self.note = dom.by_id("preview-note")
        self.live_bars = Bars(dom.by_id("live-bars"))
        self.test_bars = Bars(dom.by_id("test-bars"))
        self.test_canvas = dom.by_id("test-canvas")
        self.video = dom.by_id("preview-video")
        self.placeholder = dom.by_id("preview-placeholder")
        self.test_input = dom.by_id("test-file")
        self.test_button = dom.by_id("test-choose")
        self.why = dom.by_id("explain-toggle")
        self.test_file: Any = None  # the test image shown, drawn again when the overlay is switched
        self.live = False
        self._run = 0
        self._canvas = dom.document.createElement("canvas")
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.live_button, "click", lambda _e: self.toggle_live())
        self.listeners.on(self.test_button, "click", lambda _e: self.test_input.click())
        self.listeners.on(self.test_input, "change", lambda _e: self._file_chosen())
        self.listeners.on(self.why, "change", lambda _e: self._draw_test())
        api.on("trained", lambda _p: self.refresh())
        self.refresh()

    def labels(self) -> list[str]:
        model = self.api.project()["model"]
        return list(model["labels"]) if model else []

    def refresh(self) -> None:
        """Enable the preview once there is a model (trained here or imported)."""
        trained = bool(self.api.project()["trained"])
        self.live_button.disabled = not trained
        self.test_button.disabled = not trained
        self.why.disabled = not trained
        self.note.textContent = ("Hold things up to the camera with Live preview, or test an image."
                                 if trained else "Train or import a model first.")

    # -- live ----------------------------------------------------------------------------------------------------
    async def toggle_live(self) -> None:
        if self.live:
            self.stop_live()
            return
        self.live = True
        self._run += 1
        run = self._run
        self.live_button.setAttribute("aria-pressed", "true")
        self.live_button.textContent = "Stop live preview"
        self._show_picture(live=True)
        try:
            await self.camera.open(self.USER, self.video)
        except BaseException:
            self.stop_live()
            raise
        await self._loop(run)

    def stop_live(self) -> None:
        """End live preview and let the camera go (it stays on only while a class card records)."""
        self.live = False
        self.camera.close(self.USER)
        self.live_button.setAttribute("aria-pressed", "false")
        self.live_button.textContent = "Live preview"
        if self.test_file is not None:
            self._show_picture(live=False)  # back to the test image the person chose last
        else:
            self.video.hidden = self.live_bars.root.hidden = True
            self.placeholder.hidden = False

    def _show_picture(self, live: bool) -> None:
        """One picture beside the bars: the live video and its bars, or the test image and its bars."""
        self.video.hidden = self.live_bars.root.hidden = not live
        self.test_canvas.hidden = self.test_bars.root.hidden = live
        self.placeholder.hidden = True

    async def _loop(self, run: int) -> None:
        """Predict frame after frame while this run (`run`: stopping and starting again makes a new one) lasts."""
        try:
            while self.live and run == self._run and self.USER in self.camera.users:
                project = self.api.project()  # one look per frame: busy state and the model's labels
                if dom.document.hidden or project["busy"] or not project["model"]:
                    await asyncio.sleep(0.25)  # hidden tab, training or no model: do not compete for the CPU
                    continue
                started = time.monotonic()
                ranked = await self.api.predict(self.camera.frame(self.USER, self._canvas))
                if not self.live or run != self._run:
                    break
                self.live_bars.show(ranked, list(project["model"]["labels"]))
                took = time.monotonic() - started
                if took > SLOW_FRAME_S:  # a slow backend (cpu): leave the page as much time as a frame took, so
                    await asyncio.sleep(min(took, 1.0))  # clicks and keys (Stop) still get through
                else:
                    await dom.next_frame()
        finally:
            if run == self._run:
                self.stop_live()

    # -- test image ----------------------------------------------------------------------------------------------
    async def _file_chosen(self) -> None:
        files = dom.js_list(self.test_input.files)
        self.test_input.value = ""
        if files:
            await self.classify(files[0])

    async def _draw_test(self) -> None:
        """The test image, with the explain() overlay for its most likely class when "Show where" is on."""
        if self.test_file is None:
            return
        drawn = await thumbs.draw(self.test_canvas, self.test_file)
        if drawn and self.why.checked and self.api.project()["trained"]:
            heatmap.draw(self.test_canvas, await self.api.explain(self.test_file))

    async def classify(self, file: Any) -> None:
        """Show a test image and its probabilities."""
        if not self.api.project()["trained"]:
            raise TeachboxError("not_trained", "There is no model yet: train one or import one first.")
        name = str(getattr(file, "name", "") or "test image")
        if self.live:
            self.stop_live()
        self._show_picture(live=False)
        self.test_canvas.setAttribute("aria-label", f"Test image {name}")
        ranked = await self.api.predict(file)
        self.test_file = file
        await self._draw_test()
        self.test_bars.show(ranked, self.labels())
        top = ranked[0]
        self.feedback.say(f"{name}: {top['label']} ({top['probability'] * 100:.0f}%).")
