"""Import of labelled data sets: a CSV by address (`Api.load_dataset`), or a CSV file plus its image folder from
this device (parsed with the core's own CSV rules, files matched by their path inside the chosen folder, then added
per label with `Api.add_images`). A chosen or dropped folder that holds a `labels.csv` is read through it (the CSV's
labels are the classes, its paths are relative to it); one without is read as a folder of class folders.

The local flow parses the CSV against a dummy base URL (https://local.invalid/) only to reuse labels_csv's checks
(header, blank cells, duplicates, paths that climb out of the folder); nothing is ever fetched from it.
"""

from __future__ import annotations

import posixpath
from typing import Any

from teachbox.api import Api
from teachbox.browser.convert import blob_bytes
from teachbox.data.labels_csv import decode_csv, parse_labels_csv
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback
from teachbox.ui.folders import Folder, csv_folder_prefix, folder_from_picked, labels_csv_in, match_csv, plan_folders
from teachbox.ui.intake import DataOps, plural, quoted

LOCAL_BASE = "https://local.invalid/"
MAX_LISTED_ERRORS = 20


class CsvImport:
    """The two import forms and their report."""

    def __init__(self, api: Api, feedback: Feedback, data: DataOps) -> None:
        self.api = api
        self.feedback = feedback
        self.data = data
        self.append = dom.by_id("import-append")
        self.url = dom.by_id("csv-url")
        self.csv_file = dom.by_id("csv-file")
        self.folder = dom.by_id("csv-folder")
        self.chosen = dom.by_id("csv-chosen")
        self.report = dom.by_id("import-report")
        self.section = dom.by_id("import")
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(dom.by_id("csv-url-form"), "submit", self._submit)
        self.listeners.on(dom.by_id("csv-file-choose"), "click", lambda _e: self.csv_file.click())
        self.listeners.on(dom.by_id("csv-folder-choose"), "click", lambda _e: self.folder.click())
        self.listeners.on_many(self.csv_file, ("change",), lambda _e: self._describe_choice())
        self.listeners.on_many(self.folder, ("change",), lambda _e: self._describe_choice())
        self.listeners.on(dom.by_id("csv-import"), "click", lambda _e: self.import_local())

    def _submit(self, event: Any) -> Any:
        event.preventDefault()  # the page never submits forms anywhere (CSP form-action 'none')
        return self.load_url()

    async def load_url(self) -> None:
        url = str(self.url.value).strip()
        if not url:
            example = f", e.g. {self.url.placeholder}" if self.url.placeholder else ""
            raise TeachboxError("bad_option", f"Type the address of a labels CSV on this site{example}.")
        await self.load(url, url, bool(self.append.checked))

    async def load(self, url: str, source: str, append: bool) -> dict[str, Any]:
        """Load a CSV by address through the API (its progress events drive the Train panel's bar, whoever asked),
        then report what came in. `source` is how the person knows it: the address typed, or a sample's name."""
        async with self.data.turn(f"Reading the images of {source}"):
            self.feedback.say(f"Loading {source}…")
            summary = await self.api.load_dataset(url, {"append": append})
        counts = ", ".join(f"{quoted(label)} {count}" for label, count in summary["counts"].items())
        headline = f"Loaded {plural(summary['samples'], 'image')} from {source}: {counts}."
        self._show_report(headline, summary["errors"], summary["error_count"])
        self.feedback.say(headline)
        return summary

    def suggest(self, address: str) -> None:
        """The example in the address field: one that loads on this site (a bundled sample's CSV)."""
        self.url.placeholder = address

    def _describe_choice(self) -> None:
        csv_files = dom.js_list(self.csv_file.files)
        folder_files = dom.js_list(self.folder.files)
        parts = []
        if csv_files:
            parts.append(f"CSV: {csv_files[0].name}")
        if folder_files:
            folder = folder_from_picked([(str(f.webkitRelativePath or f.name), f) for f in folder_files])
            found = labels_csv_in(folder) if not csv_files else None
            uses = f", read through its {found[0]}" if found else ""
            parts.append(f"folder: {folder.name} ({plural(len(folder_files), 'file')}{uses})")
        self.chosen.textContent = "; ".join(parts) + "." if parts else "No CSV and no folder chosen."

    async def import_local(self) -> None:
        csv_files = dom.js_list(self.csv_file.files)
        pairs = [(str(f.webkitRelativePath or f.name), f) for f in dom.js_list(self.folder.files)]
        if not pairs:
            raise TeachboxError("no_folder", "Choose the image folder first (the folder the CSV's paths start in).")
        folder = folder_from_picked(pairs)
        replace = not bool(self.append.checked)
        if csv_files:
            csv = csv_files[0]
            prefix = csv_folder_prefix(folder, str(csv.name), int(csv.size), lambda item: int(item.size))
            await self._import_listed(folder, csv, prefix, replace, f"listed in {csv.name}")
        elif (found := labels_csv_in(folder)) is not None:
            await self.import_labelled_folder(folder, found, replace)
        else:
            plan = plan_folders([folder])
            await self.data.add_plan(plan, self.feedback, replace=replace)
            self._show_report(f"Imported the folder {folder.name}: {plural(len(plan.classes), 'class')} from its "
                              "sub-folders.", [], 0)

    async def import_labelled_folder(self, folder: Folder, found: tuple[str, Any], replace: bool = False) -> None:
        """A folder that carries its labels.csv (chosen here or dropped on the page): the CSV decides the classes.
        The report opens, since a dropped folder's person may never have seen this form."""
        path, csv = found
        self.section.open = True
        await self._import_listed(folder, csv, posixpath.dirname(path), replace,
                                  f"as the folder's {path} lists them (the CSV's labels are the classes)")

    async def _import_listed(self, folder: Folder, csv: Any, prefix: str, replace: bool, how: str) -> None:
        """Import the images of `folder` that a CSV file lists, by its labels; its paths start at `prefix`."""
        parsed = parse_labels_csv(decode_csv(await blob_bytes(csv)), LOCAL_BASE)
        match = match_csv(parsed.rows, folder, prefix)
        errors = [error.to_json() for error in parsed.errors]
        errors += [{"line": row.line, "path": row.path, "code": "missing",
                    "message": f"{row.path} is not in the folder {folder.name}."} for row in match.missing]
        errors.sort(key=lambda error: error["line"] or 0)  # in the CSV's order, as the person will fix them
        if not match.plan.classes:
            self._show_report("Nothing was imported.", errors, len(errors))
            raise TeachboxError("empty_dataset", f"None of the CSV's images were found in the folder {folder.name}. "
                                                 "Choose the folder that the CSV's paths start in.")
        await self.data.add_plan(match.plan, self.feedback, replace=replace)
        counts = ", ".join(f"{quoted(label)} {len(files)}" for label, files in match.plan.classes.items())
        self._show_report(f"Imported {plural(match.plan.count, 'image')} from {folder.name} {how}: {counts}.",
                          errors, len(errors))

    def clear_report(self) -> None:
        """Another project is open: a report about the previous one's import would mislead."""
        dom.clear(self.report)

    def _show_report(self, headline: str, errors: list[dict[str, Any]], error_count: int) -> None:
        """The result, and the first problems with their CSV line numbers, as plain text."""
        dom.clear(self.report)
        self.report.append(dom.el("p", headline))
        if not error_count:
            return
        self.report.append(dom.el("p", f"{plural(error_count, 'row')} skipped:", cls="bad"))
        listing = dom.el("ul", cls="error-list")
        for error in errors[:MAX_LISTED_ERRORS]:
            where = f"line {error['line']}: " if error.get("line") else ""
            listing.append(dom.el("li", f"{where}{error['message']}"))
        self.report.append(listing)
        if error_count > MAX_LISTED_ERRORS:
            self.report.append(dom.el("p", f"…and {error_count - MAX_LISTED_ERRORS} more.", cls="muted"))
