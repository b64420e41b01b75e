"""A BroadcastChannel between the tabs of this origin: the browser half of "a project changed in another tab".

Why: every tab holds its open project in memory; when one tab saves, the others must read storage again to show
(and build on) the change. BroadcastChannel delivers a message to every other same-origin page, not to the sender.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy  # type: ignore[import-not-found]

from teachbox.browser.convert import to_js, to_py


class Channel:
    """One named channel for the page's lifetime (a browser without BroadcastChannel gets a silent one)."""

    def __init__(self, name: str) -> None:
        self._channel = js.BroadcastChannel.new(name) if hasattr(js, "BroadcastChannel") else None
        self._proxies: list[Any] = []

    def post(self, message: dict[str, Any]) -> None:
        if self._channel is not None:
            self._channel.postMessage(to_js(message))

    def listen(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call `callback` with each message another tab posts (the listener lives as long as the page)."""
        if self._channel is None:
            return
        proxy = create_proxy(lambda event: callback(to_py(event.data)))
        self._proxies.append(proxy)
        self._channel.addEventListener("message", proxy)
