"""Results of the last training on its validation images: accuracy per class, confusion matrix, and the mistakes.

The mistakes are where a person finds mislabelled images, so each one offers the fix in place: move it to the
class the model (or the person) thinks is right, or delete it (the Undo toast can put it back, and the mistake's
buttons come back with it). Those edits change the data, not these numbers: the
panel then says the results are from before the change, until the next training. A training that ends, whoever
started it (the Train button, the console, a script), is evaluated at once, so these numbers are the model's.
"""

from __future__ import annotations

from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import is_nullish, to_py
from teachbox.errors import TeachboxError
from teachbox.ui import dom, heatmap, thumbs
from teachbox.ui.feedback import Feedback
from teachbox.ui.intake import plural, quoted
from teachbox.ui.undo_toast import UndoToast

MAX_MISTAKES = 60
BUTTONS_UP_TO = 4  # with more classes, "Move to" is a picker instead of one button per class
UNTRAINED_NOTE = "Train a model to see how well it does on the validation images."


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


class Results:
    """Evaluation of the current model through `Api.evaluate()`, rendered as tables and a list of mistakes."""

    def __init__(self, api: Api, feedback: Feedback, undo: UndoToast) -> None:
        self.api = api
        self.feedback = feedback
        self.undo = undo
        self.body = dom.by_id("results-body")
        self.note = dom.by_id("results-note")
        self.evaluate_button = dom.by_id("results-evaluate")
        self.listeners = feedback.listeners_for_actions()
        self.item_listeners = feedback.listeners_for_actions()
        self.listeners.on(self.evaluate_button, "click", lambda _e: self.evaluate())
        self.shown = False
        self._editing = False
        self._targets: list[tuple[Any, str]] = []  # (Move button or option, class it moves to)
        self._shown_data: tuple[Any, ...] = ()  # _data_signature() when the results shown were rendered
        self._thumbs: list[tuple[Any, Any, str]] = []  # (canvas, image source, predicted class) of listed mistakes
        self._deleted: dict[str, tuple[Any, Any]] = {}  # uid -> (item, status) of mistakes deleted here
        self._fixes = 0  # mistakes fixed (moved or deleted) and not undone since the results were shown
        self._note = ""  # the note of the results shown, again when undos bring the data back to what they are about
        feedback.follow(api, "trained", lambda _p: self.evaluate())  # a coroutine: call_handler runs it after
        feedback.follow(api, "dataset", lambda _p: self._data_changed())
        feedback.follow(api, "restored", self._restored)
        self.show_saved()
        self.evaluate_button.disabled = not api.project()["trained"]

    def _data_changed(self) -> None:
        if not self._editing:
            if self._data_signature() != self._shown_data:
                self._stale("The images changed since these results; train again to update them.")
            elif self.shown and not self._fixes:  # an undo brought back the data these results are about
                self.note.textContent = self._note
        self._check_targets()

    def _data_signature(self) -> tuple[Any, ...]:
        """What the results depend on: the classes and how many images each holds (a project opened or read back
        with the same data is not a change)."""
        project = self.api.project()
        return tuple(project["classes"]), tuple(sorted(project["counts"].items())), project["samples"]

    def _check_targets(self) -> None:
        """A class renamed or deleted since the evaluation is no longer a place to move an image to."""
        classes = set(self.api.project()["classes"])
        for control, label in self._targets:
            if label not in classes:
                control.disabled = True

    def _stale(self, message: str) -> None:
        self.evaluate_button.disabled = not self.api.project()["trained"]
        if self.shown:
            self.note.textContent = message

    def model_loaded(self) -> None:
        """An imported model has no validation split of this project: there is nothing to evaluate."""
        self._empty("The imported model came without validation images; train here to see results for your "
                    "classes.")
        self.evaluate_button.disabled = True

    def project_opened(self) -> None:
        """Another project is open: the previous one's results go, and its own last results (saved with its model)
        come back."""
        if not self.show_saved():
            self._empty(UNTRAINED_NOTE)
        self.evaluate_button.disabled = not self.api.project()["trained"]

    def show_saved(self) -> bool:
        """Show the last evaluation saved with the open project's model, if there is one."""
        model = self.api.project()["model"]
        saved = model.get("evaluation") if model else None
        if not saved:
            return False
        self.render(saved)
        when = str(saved.get("evaluated") or "")[:16].replace("T", " ")
        self.note.textContent = f"{self.note.textContent} Saved with the model{f' ({when} UTC)' if when else ''}; " \
                                "Evaluate again re-runs it."
        self._note = str(self.note.textContent)
        return True

    def _empty(self, note: str) -> None:
        self.item_listeners.clear()
        self._targets = []
        self._deleted, self._fixes = {}, 0
        dom.clear(self.body)
        self.shown = False
        self.note.textContent = note

    async def evaluate(self) -> None:
        self.evaluate_button.disabled = True
        try:
            result = await self.api.evaluate()
        except TeachboxError as error:
            if error.code != "no_validation":
                raise
            self._empty(error.message)  # not a failure of the person's: a model without validation images
            return
        finally:
            self.evaluate_button.disabled = not self.api.project()["trained"]
        self.render(result)

    def render(self, result: dict[str, Any]) -> None:
        self._shown_data = self._data_signature()
        self.item_listeners.clear()
        self._targets = []
        self._deleted, self._fixes = {}, 0
        dom.clear(self.body)
        labels: list[str] = result["labels"]
        self.note.textContent = (f"Validation accuracy {pct(result['accuracy'])} on "
                                 f"{plural(result['count'], 'validation image')} (images held out from training).")
        self._note = str(self.note.textContent)
        self.body.append(self._per_class(result))
        self.body.append(self._confusion(labels, result["confusion"], result["count"]))
        self.body.append(self._mistakes(labels, result["misclassified"]))
        self.shown = True

    @staticmethod
    def _per_class(result: dict[str, Any]) -> Any:
        rows = [dom.el("tr", dom.el("th", item["label"], scope="row"), dom.el("td", pct(item["recall"])),
                       dom.el("td", pct(item["precision"])), dom.el("td", str(item["count"])))
                for item in result["per_class"]]
        return dom.el(
            "div",
            dom.el("table",
                   dom.el("caption", "Accuracy per class"),
                   dom.el("thead", dom.el("tr", dom.el("th", "Class", scope="col"),
                                          dom.el("th", "Accuracy (recall)", scope="col"),
                                          dom.el("th", "Precision", scope="col"),
                                          dom.el("th", "Images", scope="col"))),
                   dom.el("tbody", *rows), cls="data-table", id="per-class-table"),
            cls="table-scroll", tabindex="0", role="region", aria_label="Accuracy per class")

    @staticmethod
    def _confusion(labels: list[str], matrix: list[list[int]], count: int) -> Any:
        """Rows: true class; columns: predicted class; totals on the right and at the bottom."""
        head = dom.el("tr", dom.el("th", dom.el("span", "True ↓ / Predicted →", cls="corner"), scope="col"),
                      *[dom.el("th", label, scope="col") for label in labels], dom.el("th", "Total", scope="col"))
        rows = []
        for i, label in enumerate(labels):
            cells = [dom.el("td", str(value), cls="hit" if i == j else ("miss" if value else None))
                     for j, value in enumerate(matrix[i])]
            rows.append(dom.el("tr", dom.el("th", label, scope="row"), *cells,
                               dom.el("td", str(sum(matrix[i])), cls="total")))
        column_totals = [sum(row[j] for row in matrix) for j in range(len(labels))]
        foot = dom.el("tr", dom.el("th", "Total", scope="row"),
                      *[dom.el("td", str(value), cls="total") for value in column_totals],
                      dom.el("td", str(count), cls="total grand-total"))
        return dom.el(
            "div",
            dom.el("table",
                   dom.el("caption", "Confusion matrix: each row is the true class, each column the predicted class"),
                   dom.el("thead", head), dom.el("tbody", *rows), dom.el("tfoot", foot),
                   cls="data-table confusion", id="confusion-table"),
            cls="table-scroll", tabindex="0", role="region", aria_label="Confusion matrix")

    def _mistakes(self, labels: list[str], mistakes: list[dict[str, Any]]) -> Any:
        title = dom.el("h3", f"Misclassified validation images ({len(mistakes)})")
        if not mistakes:
            return dom.el("div", title, dom.el("p", "None: every validation image was classified correctly.",
                                               cls="muted"), cls="mistakes")
        listing = dom.el("ul", cls="mistake-list")
        lookup = SampleLookup(self.api)
        self._thumbs = []
        why = dom.el("input", type="checkbox", id="mistakes-why")
        self.item_listeners.on(why, "change", lambda _e: self._draw_mistakes(bool(why.checked)))
        for mistake in mistakes[:MAX_MISTAKES]:
            listing.append(self._mistake(labels, mistake, lookup))
        hidden = len(mistakes) - MAX_MISTAKES
        more = (dom.el("p", f"The {plural(hidden, 'less confident mistake')} {'is' if hidden == 1 else 'are'} not listed.",
                       cls="muted small") if len(mistakes) > MAX_MISTAKES else None)
        return dom.el("div", title, dom.el("p", "Most confident mistakes first. Mislabelled? Move the image to its "
                                                "class, or delete it.", cls="small muted"),
                      dom.el("label", why, " Show where the model looked for the class it predicted",
                             cls="why-toggle small"),
                      listing, more, cls="mistakes")

    async def _draw_mistakes(self, why: bool) -> None:
        """Each listed mistake's thumbnail again, with the explain() overlay for the predicted class when asked:
        what in the image made the model choose wrong (a mark on the slide, a background, a mislabel)."""
        for canvas, source, predicted in list(self._thumbs):
            drawn = await thumbs.draw(canvas, source)
            if drawn and why and self.api.project()["trained"]:
                try:
                    heatmap.draw(canvas, await self.api.explain(source, predicted))
                except TeachboxError:
                    continue  # a class renamed or the model replaced since: the plain thumbnail stays

    def _mistake(self, labels: list[str], mistake: dict[str, Any], lookup: SampleLookup) -> Any:
        name = str(mistake.get("path") or "image")
        sample = lookup.find(mistake)
        canvas = thumbs.canvas(name)
        if sample is not None:
            dom.spawn(thumbs.draw(canvas, sample["source"]))
            self._thumbs.append((canvas, sample["source"], str(mistake["predicted"])))
        else:
            thumbs.placeholder(canvas)
        status = dom.el("p", cls="mistake-status small", aria_live="polite")
        actions = dom.el("div", cls="mistake-actions")
        item = dom.el(
            "li",
            canvas,
            dom.el("div",
                   dom.el("p", name, cls="mistake-name"),
                   dom.el("p", "True: ", dom.el("strong", mistake["true"])),
                   dom.el("p", "Predicted: ", dom.el("strong", mistake["predicted"]),
                          f" ({pct(mistake['probability'])} confident)"),
                   actions, status, cls="mistake-text"),
            cls="mistake")
        if sample is None:
            status.textContent = ("This image is no longer in the project (or its name is shared by several "
                                  "images), so it cannot be edited here.")
            return item
        uid = sample["uid"]
        targets = [label for label in labels if label != mistake["true"]]
        targets.sort(key=lambda label: label != mistake["predicted"])  # the predicted class first

        def done(message: str) -> None:
            for control in dom.js_list(actions.querySelectorAll("button, select")):
                control.disabled = True
            status.textContent = message
            item.classList.add("fixed")
            self._fixes += 1
            self.note.textContent = "You fixed images after this evaluation; train again to update the results."
            self._focus_after(item)

        def move(label: str) -> None:
            if label not in self.api.project()["classes"]:
                raise TeachboxError("unknown_label", f"The class {quoted(label)} no longer exists (renamed or "
                                                     "deleted); train again to refresh these results.")
            self._editing = True
            try:
                self.api.relabel([uid], label)
            finally:
                self._editing = False
            done(f"Moved to {quoted(label)}.")
            self.feedback.say(f"Moved {name} to {quoted(label)}.")

        def delete() -> None:
            self._editing = True
            try:
                result = self.api.remove_samples([uid])
            finally:
                self._editing = False
            done("Deleted from the project.")
            self._deleted[uid] = (item, status)
            self.undo.offer(result["undo"], f"Deleted {name}.", lambda _result: remove.focus())

        if len(targets) <= BUTTONS_UP_TO:
            for label in targets:
                button = dom.el("button", "Move to ", dom.el("span", label), type="button", cls="small-button",
                                aria_label=f"Move {name} to {label}")
                self.item_listeners.on(button, "click", lambda _e, label=label: move(label))
                actions.append(button)
                self._targets.append((button, label))
        else:
            options = [dom.el("option", label, value=label) for label in targets]
            picker = dom.el("select", *options, aria_label=f"Class to move {name} to")
            self._targets += list(zip(options, targets))
            button = dom.el("button", "Move", type="button", cls="small-button", aria_label=f"Move {name}")
            self.item_listeners.on(button, "click", lambda _e: move(str(picker.value)))
            actions.append(picker, button)
        remove = dom.el("button", "Delete", type="button", cls="small-button danger-text",
                        aria_label=f"Delete {name} from the project")
        self.item_listeners.on(remove, "click", lambda _e: delete())
        actions.append(remove)
        return item

    def _restored(self, payload: Any) -> None:
        """Mistakes deleted here whose images an undo put back can be fixed again (moved to a class that exists)."""
        for uid in to_py(payload)["uids"]:
            found = self._deleted.pop(str(uid), None)
            if found is None:
                continue
            item, status = found
            for control in dom.js_list(item.querySelectorAll(".mistake-actions button, .mistake-actions select")):
                control.disabled = False
            item.classList.remove("fixed")
            status.textContent = "Put back in the project."
            self._fixes -= 1
        self._data_changed()

    def _focus_after(self, item: Any) -> None:
        """The fixed item's buttons are now disabled: keyboard focus goes on to the next mistake (or the heading)."""
        following = item.nextElementSibling
        while following is not None and not is_nullish(following):
            control = following.querySelector("button:not(:disabled)")
            if not is_nullish(control):
                control.focus()
                return
            following = following.nextElementSibling
        dom.by_id("results-title").focus()


class SampleLookup:
    """Finds the project sample behind a misclassified entry.

    `evaluate()` of the validation split names each mistake's sample `uid`, used directly. Mistakes from an
    evaluation CSV are not project samples; one is matched by (true label, file name), and only when that pair is
    unique in the project.
    """

    def __init__(self, api: Api) -> None:
        self.api = api
        self._by_label: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def find(self, mistake: dict[str, Any]) -> dict[str, Any] | None:
        label = mistake["true"]
        if label not in self._by_label:
            names: dict[str, list[dict[str, Any]]] = {}
            count = int(self.api.project()["counts"].get(label, 0))
            try:
                samples = self.api.samples({"label": label, "offset": 0, "limit": count})
            except TeachboxError:
                samples = []
            for sample in samples:
                names.setdefault(str(sample["name"]), []).append(sample)
            self._by_label[label] = names
        if mistake.get("uid"):
            return next((s for group in self._by_label[label].values() for s in group
                         if s["uid"] == mistake["uid"]), None)
        matches = self._by_label[label].get(str(mistake.get("path")), [])
        return matches[0] if len(matches) == 1 else None
