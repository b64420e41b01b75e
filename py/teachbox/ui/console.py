"""The Python console panel: a textarea, Run (or Ctrl+Enter), and the output as text.

For people who outgrow the buttons: `teachbox`, the same API as window.teachbox under the same (camelCase) names,
plus `session` and `project` for looking inside. The names are rebound before every run because loading a CSV
replaces the project object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teachbox.api import Api
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.repl import run_source

MAX_OUTPUT_CHARS = 200_000  # a runaway print loop must not freeze the page with a giant text node


class ConsoleApi:
    """The console's `teachbox`: window.teachbox's methods by the same names (`teachbox.projects()`,
    `teachbox.loadDataset(...)`), taking and returning Python values, so code moves between JS and Python as it
    is. Shown on its own, it lists what it offers."""

    def __init__(self, api: Api) -> None:
        self._methods = api.methods()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        methods = self.__dict__.get("_methods", {})
        if name in methods:
            return methods[name]
        raise AttributeError(f"teachbox has no {name!r}; it has the methods of window.teachbox: "
                             f"{', '.join(methods)}.")

    def __dir__(self) -> list[str]:
        return list(self._methods)

    def __repr__(self) -> str:
        return (f"teachbox, the API of window.teachbox with the same names: {', '.join(self._methods)}. "
                "Async methods need await; docs/api.md has them all.")


class ConsolePanel:
    """Runs code in a namespace that persists between runs (variables stay, like a REPL)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.input = dom.by_id("console-input")
        self.output = dom.by_id("console-output")
        self.run_button = dom.by_id("console-run")
        self.namespace: dict[str, Any] = {"__name__": "__console__", "TeachboxError": TeachboxError}
        self.teachbox = ConsoleApi(api)
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
        self.namespace.update(teachbox=self.teachbox, session=self.api.session, project=self.api.session.project)
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
