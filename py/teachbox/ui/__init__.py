"""The page's user interface: one module per panel, all of them clients of the one `Api` (what window.teachbox
wraps), so a person clicking, a script calling window.teachbox and the Python console all go through the same code.

`mount(api)` binds the panels to the static markup of index.html. Only `dom.py` (and the panels through it) touch
the browser; `folders.py`, `repl.py` and the tick arithmetic in `charts.py` are plain Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teachbox.api import Api
    from teachbox.ui.page import Page


def mount(api: Api) -> Page:
    """Build the UI on the page (called once by teachbox.app after window.teachbox is installed)."""
    from teachbox.ui.page import Page

    return Page(api)
