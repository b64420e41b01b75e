"""The whole page: creates the panels, connects the few places where one panel's result matters to another, and
reveals the app once everything is bound (until then the person sees the start-up status only)."""

from __future__ import annotations

from typing import Any

from teachbox.api import Api
from teachbox.ui import dom
from teachbox.ui.camera import Camera
from teachbox.ui.class_cards import ClassList
from teachbox.ui.classifier_menu import ClassifierMenu
from teachbox.ui.console import ConsolePanel
from teachbox.ui.csvimport import CsvImport
from teachbox.ui.drop import DropZones
from teachbox.ui.export import ExportPanel
from teachbox.ui.feedback import ConfirmDialog, Feedback
from teachbox.ui.intake import DataOps
from teachbox.ui.preview import Preview
from teachbox.ui.project_bar import ProjectBar
from teachbox.ui.results import Results
from teachbox.ui.sample_menu import SampleMenu
from teachbox.ui.trainpanel import TrainPanel


class Page:
    """Every panel of the app, bound to one Api."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.feedback = Feedback()
        dom.reporter = self.feedback.failure
        self.confirm = ConfirmDialog()
        self.data = DataOps(api, self.feedback)
        self.camera = Camera(self.feedback)
        self.classes = ClassList(api, self.feedback, self.data, self.camera, self.confirm)
        self.importer = CsvImport(api, self.feedback, self.data)
        self.sample_menu = SampleMenu(api, self.importer, self.confirm)
        self.classifier_menu = ClassifierMenu(api, self.feedback)
        self.results = Results(api, self.feedback)
        self.preview = Preview(api, self.camera, self.feedback)
        self.export = ExportPanel(api, self.feedback, self._model_imported)
        self.train = TrainPanel(api, self.feedback, self._trained)
        self.console = ConsolePanel(api)
        self.drops = DropZones(self.classes, self.data, self.feedback, self.preview.classify)
        self.projects = ProjectBar(api, self.feedback, self.confirm, self._project_switched)
        self.train.show_project(api.project())
        self.classes.ensure_defaults()
        self.shown_id = api.project()["id"]
        dom.by_id("app").hidden = False

    async def _trained(self, _result: dict[str, Any]) -> None:
        """After a training started here: the new model's results, and preview/export become available."""
        self.preview.refresh()
        self.export.refresh()
        await self.results.evaluate()

    def _project_switched(self) -> None:
        """Another project is open, or the open one changed its name, settings or model (here or in another tab):
        the panels that show the model follow it (the class list follows its data). Only a project just opened gets
        the example classes when it has none: one that another tab emptied stays as that tab left it (adding them
        here would be saved and reach that tab too)."""
        project = self.api.project()
        self.preview.refresh()
        self.export.refresh()
        self.train.show_project(project)
        if project["id"] != self.shown_id:
            self.shown_id = project["id"]
            self.classes.ensure_defaults()

    def _model_imported(self, _result: dict[str, Any]) -> None:
        self.preview.refresh()
        self.results.model_loaded()
