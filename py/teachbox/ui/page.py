"""The whole page: creates the panels, connects the few places where one panel's result matters to another, and
makes the app usable once everything is bound (until then its layout is shown inert, under the start-up status)."""

from __future__ import annotations

from typing import Any

from teachbox.api import Api
from teachbox.ui import dom
from teachbox.ui.camera import Camera, Capture
from teachbox.ui.class_cards import ClassList
from teachbox.ui.classifier_menu import ClassifierMenu
from teachbox.ui.console import ConsolePanel
from teachbox.ui.csvimport import CsvImport
from teachbox.ui.drop import DropZones
from teachbox.ui.export import ExportPanel
from teachbox.ui.feedback import ConfirmDialog, Feedback
from teachbox.ui.intake import DataOps
from teachbox.ui.load_progress import LoadProgress
from teachbox.ui.preview import Preview
from teachbox.ui.project_bar import ProjectBar
from teachbox.ui.results import Results
from teachbox.ui.sample_menu import SampleMenu
from teachbox.ui.trainpanel import TrainPanel
from teachbox.ui.undo_toast import UndoToast

# The panels with their own message lines (index.html's `<div class="panel-messages" id="NAME-messages">`).
PANELS = ("data", "import", "train", "results", "preview", "export")


class Page:
    """Every panel of the app, bound to one Api."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.feedback = Feedback.page()
        dom.reporter = self.feedback.failure
        said = {name: Feedback.panel(f"{name}-messages") for name in PANELS}
        self.said = said
        self.confirm = ConfirmDialog()
        self.undo = UndoToast(api)
        self.data = DataOps(api, LoadProgress(api, said["data"]))
        self.camera = Camera(dom.by_id("camera-select"), dom.by_id("camera-mirror"), said["data"])
        self.capture = Capture(self.camera, lambda label, frames: self.data.add(label, frames, said["data"]),
                               said["data"])
        self.classes = ClassList(api, said["data"], self.data, self.capture, self.undo)
        self.importer = CsvImport(api, said["import"], self.data)
        self.sample_menu = SampleMenu(api, self.importer, self.confirm)
        self.classifier_menu = ClassifierMenu(api, self.feedback)
        self.results = Results(api, said["results"], self.undo)
        self.preview = Preview(api, self.camera, said["preview"])
        self.export = ExportPanel(api, said["export"], self._model_imported)
        self.train = TrainPanel(api, said["train"])
        self.console = ConsolePanel(api)
        self.drops = DropZones(self.classes, self.data, said["data"], self.preview.classify, said["preview"],
                               self.importer.import_labelled_folder)
        self.projects = ProjectBar(api, self.feedback, said["export"], self.confirm, self._project_changed)
        self.project_id = api.project()["id"]
        self.train.show_project(api.project())
        self.classes.ensure_defaults()
        dom.by_id("app").removeAttribute("inert")  # on screen since the first paint; usable from now on

    def _project_changed(self) -> None:
        """The `project` event: another project is open, or the open one was renamed or changed its settings or
        model (here or in another tab). The panels that show the model follow it. Only a project just opened clears
        what the panels said about the previous one and gets the example classes when it has none: one that another
        tab emptied stays as that tab left it (adding them here would be saved and reach that tab too)."""
        project = self.api.project()
        self.preview.refresh()
        self.export.refresh()
        self.train.show_project(project)
        if project["id"] == self.project_id:
            return
        self.project_id = project["id"]
        self.undo.hide()  # the previous project's deletions are final
        for feedback in self.said.values():  # what was said was about the previous project
            feedback.clear()
        self.importer.clear_report()
        self.results.project_opened()
        self.classes.ensure_defaults()

    def _model_imported(self, _result: dict[str, Any]) -> None:
        self.preview.refresh()
        self.results.model_loaded()
