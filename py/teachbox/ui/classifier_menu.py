""""Open a ready classifier": the trained models this build ships (`build.py --keras-classifier`), one choice away.

Opening one is `openClassifier(id)`: a new project named after it, with that model, so predict, the live preview and
evaluation work at once; the project bar and the panels follow through the API's `project` event as for any other
new project. The list is `info().classifiers`; the group stays hidden when the build ships none.
"""

from __future__ import annotations

from teachbox.api import Api
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback


class ClassifierMenu:
    """A <select> of the build's ready classifiers and the button that opens the chosen one."""

    def __init__(self, api: Api, feedback: Feedback) -> None:
        self.api = api
        self.feedback = feedback
        self.select = dom.by_id("classifier-select")
        self.button = dom.by_id("classifier-open")
        self.classifiers = list(api.info()["classifiers"])
        for spec in self.classifiers:
            self.select.append(dom.el("option", f"{spec['label']}: {', '.join(spec['labels'])}", value=spec["id"]))
        dom.show(dom.by_id("classifiers"), bool(self.classifiers))
        self.listeners = dom.Listeners()
        self.listeners.on(self.button, "click", lambda _e: self.open())

    async def open(self) -> None:
        self.button.disabled = True
        try:
            result = await self.api.open_classifier(str(self.select.value))
        finally:
            self.button.disabled = False
        self.feedback.say(f"Opened the classifier “{self.api.project()['name']}” for "
                          f"{', '.join(result['labels'])}: drop an image on Preview to try it.")
