""""Try a sample": the data sets bundled into this build (`build.py --dataset`), one choice away.

Why it goes through the CSV import: a sample is a labels CSV on this site, so choosing one is `loadDataset(url)`
with the same progress, report and checks as a typed address; nothing here knows how data is loaded. The list
comes from samples/index.json, which every build writes; when it is empty (or unreadable) the menu stays hidden.
The first sample's address is also the example in the CSV address field: an example that loads on this site.
"""

from __future__ import annotations

from teachbox.api import Api
from teachbox.browser import environment, net
from teachbox.data.sample_sets import INDEX_URL, SampleSet, parse_index
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.csvimport import CsvImport
from teachbox.ui.feedback import ConfirmDialog
from teachbox.ui.intake import plural, quoted


class SampleMenu:
    """A <select> of the build's samples and the button that loads the chosen one in place of the classes."""

    def __init__(self, api: Api, importer: CsvImport, confirm: ConfirmDialog) -> None:
        self.api = api
        self.importer = importer
        self.confirm = confirm
        self.box = dom.by_id("samples")
        self.select = dom.by_id("sample-select")
        self.button = dom.by_id("sample-load")
        self.sets: list[SampleSet] = []
        self.listeners = importer.feedback.listeners_for_actions()
        self.listeners.on(self.button, "click", lambda _e: self.load())
        dom.spawn(self.refresh())

    async def refresh(self) -> None:
        """Fill the menu from samples/index.json; show it only when the build has samples."""
        try:
            self.sets = parse_index(await net.fetch_json(INDEX_URL))
        except TeachboxError as error:  # a build from before samples existed, or a damaged file: no menu
            environment.console_warn(f"no sample data sets: {error.message}")
            self.sets = []
        dom.clear(self.select)
        for index, sample in enumerate(self.sets):
            self.select.append(dom.el("option", sample.describe(), value=str(index)))
        dom.show(self.box, bool(self.sets))
        self.importer.suggest(self.sets[0].csv if self.sets else "")  # no example rather than one that 404s

    async def load(self) -> None:
        """Replace the classes by the chosen sample (after asking, when that would throw images away)."""
        sample = self.sets[int(self.select.value)]
        held = int(self.api.project()["samples"])
        if held and not await self.confirm.ask(
                f"Replace your classes with the sample {quoted(sample.name)}?",
                f"Your {plural(held, 'image')} will be removed and the sample's {sample.images} loaded instead.",
                ok_label="Replace"):
            return
        self.button.disabled = True
        try:
            await self.importer.load(sample.csv, f"the sample {quoted(sample.name)}", append=False)
        finally:
            self.button.disabled = False
