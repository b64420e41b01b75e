"""The Train panel: the open project's settings, Train/Stop, progress with time left, and loss/accuracy charts.

The fields show the project's settings (`project().settings`, stored with the project): a new project starts at the
core's defaults, "Reset to defaults" goes back to them, and the Train button saves what it trains with before it
starts. A script's or the console's `train(options)` runs with its own options and leaves the settings alone
(docs/decisions.md, 2026-12-02); the panel still shows that run: progress, charts and the end come from the API's
`progress`, `trained` and `cancelled` events, not from this panel's own call. The options are the API's camelCase
training options; out-of-range values are refused by the core with a sentence naming the option, shown as it is.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import to_py
from teachbox.data.geometry import CROP_MODES, INPUT_SIZES
from teachbox.errors import TeachboxError
from teachbox.model.train_options import AUTO, TrainOptions
from teachbox.ui import dom
from teachbox.ui.charts import TRAIN_COLOUR, VALIDATION_COLOUR, LineChart, Series
from teachbox.ui.feedback import Feedback
from teachbox.ui.intake import plural
from teachbox.ui.progress_text import Announcer, time_left

# input id → (API option, kind, what the person calls it)
FIELDS = {
    "opt-epochs": ("epochs", int, "Epochs"),
    "opt-batch": ("batchSize", int, "Batch size"),
    "opt-lr": ("learningRate", float, "Learning rate"),
    "opt-val": ("validationSplit", "percent", "Validation %"),
    "opt-finetune": ("fineTuneLayers", int, "Fine-tune layers"),
    "opt-hidden": ("hiddenUnits", int, "Hidden units"),
    "opt-dropout": ("dropout", float, "Dropout"),
}
PHASES = {"embedding": "Reading images", "training": "Training", "evaluating": "Evaluating"}
DRAW_EVERY_S = 0.1  # epochs of a small head take milliseconds: redraw the charts at most ~10 times a second
WATCH_EVERY_S = 0.25  # how often the end of a training started elsewhere is checked for (it may fail silently)
DEFAULTS = TrainOptions().to_json()  # what a field shows when the project's settings do not name its option


def parse_option(text: str, kind: Any, name: str) -> Any:
    """An input's text as an option value (None when empty: the core default applies)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise TeachboxError("bad_option", f"{name} must be a number, not {text!r}.") from None
    if kind == "percent":
        return value / 100
    if kind is int and value.is_integer():
        return int(value)
    return value  # a fractional whole-number option is refused by the core with its own message


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class TrainPanel:
    """Options, Train/Stop, progress and charts."""

    def __init__(self, api: Api, feedback: Feedback) -> None:
        self.api = api
        self.feedback = feedback
        self.start_button = dom.by_id("train-start")
        self.stop_button = dom.by_id("train-stop")
        self.progress = dom.by_id("train-progress")
        self.phase = dom.by_id("train-phase")
        self.announcer = Announcer(dom.by_id("train-live"))
        self.summary = dom.by_id("train-summary")
        self.base = dom.by_id("opt-base")
        self.crop = dom.by_id("opt-crop")
        self.size = dom.by_id("opt-size")
        self.best = dom.by_id("opt-best")
        self.loss_canvas = dom.by_id("chart-loss")
        self.acc_canvas = dom.by_id("chart-acc")
        self.history_body = dom.by_id("history-body")
        self.loss_chart = LineChart(self.loss_canvas, percent=False)
        self.acc_chart = LineChart(self.acc_canvas, percent=True)
        self.history: list[dict[str, float]] = []
        self.epochs = 0
        self.best_epoch: int | None = None
        self._drawn = 0.0
        self._following = False  # a training is shown as running (this panel's, or one started elsewhere)
        self._ended = False  # the followed training ended with a `trained` or `cancelled` event
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.start_button, "click", lambda _e: self.train())
        self.listeners.on(self.stop_button, "click", lambda _e: self.stop())
        self.listeners.on(dom.by_id("train-reset"), "click", lambda _e: self.reset_settings())
        self.listeners.on(self.best, "change", lambda _e: self.choose_quality())
        self.listeners.on(dom.window, "resize", lambda _e: self.draw())
        feedback.follow(api, "progress", self._progress)
        feedback.follow(api, "trained", self._trained)
        feedback.follow(api, "cancelled", lambda _p: self._cancelled())
        feedback.follow(api, "settings", lambda payload: self.show_settings(to_py(payload)["settings"]))
        self._fill_bases()

    def _fill_bases(self) -> None:
        info = self.api.info()
        active = info["base"]["id"]
        for base in info["bases"]:
            option = dom.el("option", text=str(base.get("label") or base["id"]), value=base["id"])
            option.selected = base["id"] == active
            self.base.append(option)
        self.base.disabled = len(info["bases"]) < 2

    def show_project(self, project: dict[str, Any]) -> None:
        """An opened (or restored, new, imported) project: its settings fill the fields, the previous project's
        run leaves the charts, and the status line says whether this one brought a model along."""
        self.show_settings(project["settings"])
        self.history, self.epochs, self.best_epoch = [], 0, None
        self.loss_chart.clear()
        self.acc_chart.clear()
        self.loss_canvas.setAttribute("aria-label", "Loss chart: no training yet")
        self.acc_canvas.setAttribute("aria-label", "Accuracy chart: no training yet")
        dom.clear(self.history_body)
        self.summary.textContent = ""
        self.progress.value = 0
        self._set_phase("The project's saved model is loaded." if project["trained"] else "Not trained yet.",
                        force=True)

    def show_settings(self, settings: dict[str, Any]) -> None:
        """Every field from the project's settings; what they do not name shows the core's default. A value a field
        cannot show (a project zip's settings are not checked on import) shows the default too."""
        for element_id, (option, kind, _name) in FIELDS.items():
            value = settings.get(option)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                value = DEFAULTS[option]
            dom.by_id(element_id).value = f"{value * 100:g}" if kind == "percent" else f"{value:g}"
        crop = settings.get("crop")
        self.crop.value = crop if crop in CROP_MODES else DEFAULTS["crop"]
        self.best.checked = settings.get("quality") == "best"
        size = settings.get("inputSize")
        self.size.value = str(size if size in INPUT_SIZES or size == AUTO else DEFAULTS["inputSize"])
        base = settings.get("base")
        self.base.value = base if isinstance(base, str) else self.api.info()["base"]["id"]  # train's default

    def reset_settings(self) -> None:
        """Back to the core's defaults: saved as empty settings, so the project follows the defaults from now on."""
        self.api.set_settings({})
        self.feedback.say("The settings are back to their defaults.")

    def choose_quality(self) -> None:
        """Ticking "Best accuracy" becomes the project's setting at once, not at Train: images added from then on
        are embedded once, on the base it trains on, instead of on this one first (session.py). While Teachbox is
        busy the box still applies at Train."""
        try:
            self.api.set_settings(self.options())
        except TeachboxError as error:
            if error.code != "busy":
                raise

    def options(self) -> dict[str, Any]:
        """The training options as the API takes them (camelCase; empty fields use the core's defaults)."""
        chosen: dict[str, Any] = {}
        for element_id, (option, kind, name) in FIELDS.items():
            value = parse_option(str(dom.by_id(element_id).value), kind, name)
            # With "Best accuracy" a field left at the default is not sent, so the preset's value applies (its
            # linear head has no hidden units); a field the person changed wins, as in the API.
            if value is not None and not (self.best.checked and value == DEFAULTS[option]):
                chosen[option] = value
        if self.best.checked:
            chosen["quality"] = "best"  # the preset picks the base too (session.py)
        elif str(self.base.value):
            chosen["base"] = str(self.base.value)
        chosen["crop"] = str(self.crop.value)
        chosen["inputSize"] = AUTO if str(self.size.value) == AUTO else int(self.size.value)
        return chosen

    async def train(self) -> None:
        """The Train button: these settings become the project's, then a training runs with them (its end is
        shown by `_trained`, as for any training)."""
        options = self.options()
        self.api.set_settings(options)
        self._begin(focus=True)
        self.feedback.say("Training started.")
        try:
            await self.api.train(options)
        except TeachboxError as error:
            if error.code != "cancelled":
                self._set_phase("Training did not run.", force=True)
            raise
        finally:
            self._end(focus=True)

    def stop(self) -> None:
        if self.api.cancel():
            self._set_phase("Stopping after this epoch…", force=True)

    def _begin(self, focus: bool) -> None:
        self._following, self._ended = True, False
        self.summary.textContent = ""
        self._running(True, focus)

    def _end(self, focus: bool) -> None:
        self._following = False
        self._running(False, focus)

    def _running(self, running: bool, focus: bool) -> None:
        """Train/Stop for a running training. Focus moves only for the person's own run: a script's run must not
        pull the keyboard focus away from where the person is."""
        self.start_button.disabled = running
        self.stop_button.disabled = not running
        if not focus:
            return
        if running:
            self.stop_button.focus()
        elif dom.document.activeElement.isSameNode(self.stop_button):
            self.start_button.focus()

    async def _follow(self) -> None:
        """A training started elsewhere (console, script): shown as running, with Stop, until the core is idle.
        One that fails sends no event, so its end is found by looking."""
        self._begin(focus=False)
        self.feedback.say("A training started from a script or the console is running.")
        try:
            while not self._ended and self.api.project()["busy"] == "training":
                await asyncio.sleep(WATCH_EVERY_S)
        finally:
            self._end(focus=False)
        if not self._ended:
            self._set_phase("The training started from a script or the console ended without a new model.",
                            force=True)

    # -- progress events (from this panel's training, the console, or any script) --------------------------------
    def _progress(self, payload: Any) -> None:
        event = to_py(payload)
        phase = str(event.get("phase", ""))
        if phase == "saving":  # the Data panel's line says it; here "Reading images: N of N" stays until done
            return
        # An epoch nobody here asked for: a script's training. (Only epochs are checked: project() counts every
        # image, too much for each batch of a big import.)
        if phase == "training" and not self._following and self.api.project()["busy"] == "training":
            self._following = True  # before the task starts: the next event must not start a second one
            dom.spawn(self._follow(), self.feedback.failure)
        name = PHASES.get(phase, phase)
        if phase == "training":
            epoch, epochs = int(event["epoch"]), int(event["epochs"])
            if epoch == 1:
                self.history, self.best_epoch = [], None
            self.epochs = epochs
            self.history.append({k: event.get(k) for k in ("epoch", "loss", "acc", "val_loss", "val_acc")})
            self.progress.max, self.progress.value = epochs, epoch
            details = f"loss {event.get('loss', 0):.3f}"
            if event.get("val_acc") is not None:
                details += f", validation accuracy {percent(event.get('val_acc'))}"
            self._set_phase(f"{name}: epoch {epoch} of {epochs} — {details}{time_left(event.get('eta_s'))}",
                            force=epoch == epochs)
            if epoch == 1 or epoch == epochs or time.monotonic() - self._drawn >= DRAW_EVERY_S:
                self.draw()
            self._add_row(self.history[-1])
        else:
            done, total = int(event.get("done", 0)), int(event.get("total", 0))
            self.progress.max, self.progress.value = max(1, total), done
            self._set_phase(f"{name}: {done} of {plural(total, 'image')}{time_left(event.get('eta_s'))}",
                            force=done == total)

    def _trained(self, payload: Any) -> None:
        """Any training that ended with a model (here or from a script): the last epochs, the kept one, the
        summary. Its options are the run's own, which for a script's run may differ from the fields."""
        result = to_py(payload)
        self._ended = True
        self.best_epoch = int(result["best_epoch"]) or None
        self.epochs = max(int(result["epochs"]), len(self.history))
        self.draw()
        self._fill_table()
        asked = int(result["options"]["epochs"])
        if result.get("solved"):
            how = " (a linear head, solved to its optimum)"
        else:
            how = " (stopped early: no more improvement)" if result["epochs"] < asked else ""
        self.summary.textContent = (
            f"Trained {plural(result['epochs'], 'epoch')} in {result['seconds']:.1f} s{how}; kept epoch "
            f"{result['best_epoch']}: validation accuracy {percent(result['val_accuracy'])}, training accuracy "
            f"{percent(result['accuracy'])} ({result['train_count']} training and {result['val_count']} validation "
            f"{'image' if result['val_count'] == 1 else 'images'}).")
        self._set_phase("Done.", force=True)
        self.progress.value = self.progress.max
        self.feedback.say(f"Training done: validation accuracy {percent(result['val_accuracy'])}.")

    def _cancelled(self) -> None:
        self._ended = True
        self._set_phase("Stopped. The previous model (if any) is kept.", force=True)
        self.progress.value = 0

    def _set_phase(self, text: str, force: bool = False) -> None:
        """Show the progress line (and tell screen readers, throttled: progress_text.Announcer)."""
        self.phase.textContent = text
        self.progress.setAttribute("aria-valuetext", text)
        self.announcer.say(text, force)

    # -- charts and their text alternative -----------------------------------------------------------------------
    def draw(self) -> None:
        if not self.history:
            return
        self._drawn = time.monotonic()
        column = {key: [h.get(key) for h in self.history] for key in ("loss", "val_loss", "acc", "val_acc")}
        ratio = dom.device_pixel_ratio()
        epochs = max(self.epochs, len(self.history))
        self.loss_chart.draw([Series("training", TRAIN_COLOUR, column["loss"]),
                              Series("validation", VALIDATION_COLOUR, column["val_loss"], dashed=True)],
                             epochs, self.best_epoch, ratio)
        self.acc_chart.draw([Series("training", TRAIN_COLOUR, column["acc"]),
                             Series("validation", VALIDATION_COLOUR, column["val_acc"], dashed=True)],
                            epochs, self.best_epoch, ratio)
        last, count = self.history[-1], plural(len(self.history), "epoch")
        self.loss_canvas.setAttribute(
            "aria-label", f"Loss chart, {count}: training loss {_num(last.get('loss'))}, "
                          f"validation loss {_num(last.get('val_loss'))} at the last epoch.")
        self.acc_canvas.setAttribute(
            "aria-label", f"Accuracy chart, {count}: training accuracy {percent(last.get('acc'))}, "
                          f"validation accuracy {percent(last.get('val_acc'))} at the last epoch. "
                          "The table “Training history per epoch” has every value.")

    def _fill_table(self) -> None:
        dom.clear(self.history_body)
        for row in self.history:
            self._add_row(row)

    def _add_row(self, row: dict[str, Any]) -> None:
        if int(row.get("epoch") or 0) == 1:
            dom.clear(self.history_body)
        self.history_body.append(dom.el(
            "tr", dom.el("th", str(row.get("epoch")), scope="row"),
            dom.el("td", _num(row.get("loss"))), dom.el("td", _num(row.get("val_loss"))),
            dom.el("td", percent(row.get("acc"))), dom.el("td", percent(row.get("val_acc")))))


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"
