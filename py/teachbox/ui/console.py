"""The Python console panel: a textarea, Run (or Ctrl+Enter), and the output as text.

For people who outgrow the buttons: the same `teachbox` API object, plus `session` and `project` for looking
inside. The names are rebound before every run because loading a CSV replaces the project object.
"""

from __future__ import annotations

from typing import Any

from teachbox.api import Api
from teachbox.ui import dom
from teachbox.ui.repl import run_source

MAX_OUTPUT_CHARS = 200_000  # a runaway print loop must not freeze the page with a giant text node


class ConsolePanel:
    """Runs code in a namespace that persists between runs (variables stay, like a REPL)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.input = dom.by_id("console-input")
        self.output = dom.by_id("console-output")
        self.run_button = dom.by_id("console-run")
        self.namespace: dict[str, Any] = {"__name__": "__console__"}
        self.listeners = dom.Listeners()
        self.listeners.on(self.run_button, "click", lambda _e: self.run())
        self.listeners.on(dom.by_id("console-clear"), "click", lambda _e: self._clear())
        self.listeners.on(self.input, "keydown", self._key)

    def _key(self, event: Any) -> Any:
        if str(event.key) == "Enter" and (event.ctrlKey or event.metaKey):
            event.preventDefault()
            return self.run()
        return None

    def _clear(self) -> None:
        self.output.textContent = ""

    async def run(self) -> None:
        source = str(self.input.value)
        if not source.strip() or self.run_button.disabled:
            return
        self.namespace.update(teachbox=self.api, session=self.api.session, project=self.api.session.project)
        self.run_button.disabled = True
        try:
            outcome = await run_source(source, self.namespace)
        finally:
            self.run_button.disabled = False
        echo = "".join(f"{'>>> ' if i == 0 else '... '}{line}\n" for i, line in enumerate(source.rstrip().split("\n")))
        text = echo + outcome.stdout + outcome.stderr
        if outcome.value is not None:
            text += outcome.value + "\n"
        if outcome.error:
            text += outcome.error
        combined = (str(self.output.textContent) + text)[-MAX_OUTPUT_CHARS:]
        self.output.textContent = combined  # text, never markup: printed labels stay characters
        self.output.scrollTop = self.output.scrollHeight
