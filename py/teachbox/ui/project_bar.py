"""The project bar: which project is open, switch, new, rename, delete (confirmed), storage used; project export
and import in the Export panel. What the header's controls do is said in the page's notice (another project is a
global event); export and import answer in the Export panel, where the person pressed them.

Everything goes through the API (the same calls a script makes). Names come from people and from imported files,
so they are only ever set as text (option labels, textContent). Storage numbers come from storage(), which asks
navigator.storage.estimate(); they are refreshed after each change of data, model or project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.api import Api
from teachbox.store.archive import export_name
from teachbox.ui import dom
from teachbox.ui.export import DownloadLink
from teachbox.ui.feedback import ConfirmDialog, Feedback
from teachbox.ui.intake import plural


def megabytes(count: int) -> str:
    """Bytes as a person reads them: `0.4 MB`, `38 MB`, `1.2 GB`."""
    if count >= 2**30:
        return f"{count / 2**30:.1f} GB"
    return f"{count / 2**20:.1f} MB" if count < 10 * 2**20 else f"{count / 2**20:.0f} MB"


def storage_text(storage: dict[str, Any]) -> str:
    """One line: this project's size, the site's use of its quota, and whether the browser may evict it."""
    current = next((p for p in storage["projects"] if p["open"]), None)
    mine = f"This project: {megabytes(current['bytes'])}" if current else "This project is not saved yet"
    kept = "kept" if storage["persisted"] else "may be cleared by the browser when space runs low"
    return (f"{mine} · site storage {megabytes(storage['usage'])} of {megabytes(storage['quota'])} "
            f"({plural(len(storage['projects']), 'project')}; {kept}).")


def project_contents(project: dict[str, Any]) -> str:
    """What deleting a project throws away, as the delete question names it (only what it has)."""
    parts = [f"its {plural(project['samples'], 'image')}"] if project["samples"] else []
    if project["trained"]:
        parts.append("its model")
    return f"with {' and '.join(parts)} " if parts else ""


class ProjectBar:
    """The header's project controls and the Export panel's project export/import."""

    def __init__(self, api: Api, feedback: Feedback, export_feedback: Feedback, confirm: ConfirmDialog,
                 switched: Callable[[], None]) -> None:
        self.api, self.feedback, self.confirm, self.switched = api, feedback, confirm, switched
        self.export_feedback = export_feedback
        self.select = dom.by_id("project-select")
        self.form = dom.by_id("project-form")
        self.name_input = dom.by_id("project-name")
        self.form_label = dom.by_id("project-form-label")
        self.storage_line = dom.by_id("project-storage")
        self.import_input = dom.by_id("project-import")
        self.link = DownloadLink(dom.by_id("project-export-link"))
        self._mode = "new"
        listen = dom.Listeners()
        listen.on(self.select, "change", lambda _e: self.open(str(self.select.value)))
        listen.on(dom.by_id("project-new"), "click", lambda _e: self._ask_name("new"))
        listen.on(dom.by_id("project-rename"), "click", lambda _e: self._ask_name("rename"))
        listen.on(dom.by_id("project-delete"), "click", lambda _e: self.delete())
        listen.on(self.form, "submit", self._submit)
        listen.on(dom.by_id("project-form-cancel"), "click", lambda _e: self._close_form())
        in_export = export_feedback.listeners_for_actions()
        in_export.on(dom.by_id("project-export"), "click", lambda _e: self.export())
        in_export.on(dom.by_id("project-import-choose"), "click", lambda _e: self.import_input.click())
        in_export.on(self.import_input, "change", lambda _e: self.import_file())
        self.listeners = (listen, in_export)
        feedback.follow(api, "project", lambda _p: self._changed())
        api.on("dataset", lambda _p: dom.spawn(self.refresh()))
        api.on("trained", lambda _p: dom.spawn(self.refresh()))
        api.on("storage", lambda payload: feedback.error(str(payload.error.message)))
        dom.show(dom.by_id("projects"), True)
        dom.spawn(self.refresh())

    async def refresh(self) -> None:
        """Rebuild the menu (names as text) and the storage line from storage()."""
        storage = await self.api.storage()
        dom.clear(self.select)
        for project in storage["projects"]:
            label = f"{project['name']} ({plural(project['samples'], 'image')})"
            self.select.appendChild(dom.el("option", text=label, value=project["id"], selected=project["open"]))
        if not any(p["open"] for p in storage["projects"]):  # a new page's project before its first save
            self.select.appendChild(dom.el("option", text=self.api.project()["name"], value="", selected=True))
        self.storage_line.textContent = storage_text(storage)

    def _changed(self) -> None:
        self.switched()
        dom.spawn(self.refresh())

    async def open(self, ident: str) -> None:
        if ident and ident != self.api.project()["id"]:
            project = await self.api.open_project(ident)
            self.feedback.say(f"Opened the project “{project['name']}”: {plural(project['samples'], 'image')}.")

    def _ask_name(self, mode: str) -> None:
        self._mode = mode
        self.form_label.textContent = "New project's name" if mode == "new" else "New name for this project"
        self.name_input.value = "" if mode == "new" else self.api.project()["name"]
        dom.show(self.form, True)
        dom.focus(self.name_input)

    def _close_form(self) -> None:
        dom.show(self.form, False)
        dom.focus(self.select)

    def _submit(self, event: Any) -> Any:
        """Never a real form submission (the CSP forbids it anyway): preventDefault now, the work in the background."""
        event.preventDefault()
        return self._named(str(self.name_input.value))

    async def _named(self, name: str) -> None:
        if self._mode == "new":
            project = await self.api.new_project(name)
            self.feedback.say(f"New project “{project['name']}”; your other projects stay saved.")
        else:
            renamed = await self.api.rename_project(self.api.project()["id"], name)
            self.feedback.say(f"The project is now called “{renamed['name']}”.")
            await self.refresh()
        self._close_form()

    async def delete(self) -> None:
        project = self.api.project()
        question = (f"Delete the project “{project['name']}” {project_contents(project)}from this browser? "
                    "Export it first to keep a copy.")
        if not await self.confirm.ask("Delete this project?", question):
            return
        await self.api.delete_project(project["id"])
        self.feedback.say(f"Deleted the project “{project['name']}”.")

    async def export(self) -> None:
        name = self.api.project()["name"]
        self.link.offer(await self.api.export_project(), export_name(name))
        self.export_feedback.say(f"The project “{name}” was exported.")

    async def import_file(self) -> None:
        files = dom.js_list(self.import_input.files)
        self.import_input.value = ""
        if not files:
            return
        self.export_feedback.say(f"Importing {files[0].name}…")
        result = await self.api.import_project(files[0])
        skipped = f" ({plural(len(result['errors']), 'unusable image')} skipped)" if result["errors"] else ""
        self.export_feedback.say(f"Imported the project “{result['name']}”: "
                                 f"{plural(result['samples'], 'image')}{skipped}.")
