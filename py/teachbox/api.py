"""`window.teachbox`: the one automation API. The UI and the tests are both its clients.

Every method returns plain JSON-able values; async methods return Promises that reject with a JS Error whose message
is a sentence for a person and whose `code` is stable for scripts (see errors.py). Documented in README.md.
"""

from __future__ import annotations

from typing import Any

from . import __version__, jsbridge
from .runtime import Runtime


class Api:
    """The methods behind window.teachbox, bound to one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def info(self) -> dict:
        """What is running: versions, backend (and why), the active base, the bases of this build, timings (ms)."""
        runtime = self.runtime
        return {
            "version": __version__,
            "backend": runtime.backend,
            "backendReason": runtime.backend_reason,
            "base": runtime.active().describe(),
            "bases": [spec.to_json() | {"label": spec.label} for spec in runtime.catalog.bases],
            "defaultBase": runtime.catalog.default,
            "preprocessing": runtime.preprocessing.to_json(),
            "timings": dict(runtime.timings),
            **jsbridge.versions(),
        }

    def memory(self) -> dict:
        """TF.js memory numbers; numTensors is the leak detector the tests watch."""
        return self.runtime.memory()

    async def embed(self, image: Any) -> list[float]:
        """The active base's pooled embedding of one image (URL, Blob/File, <img>, <canvas>, <video>)."""
        return await self.runtime.embed(image)

    async def use_base(self, choice: Any = None) -> dict:
        """Switch base: an id from info().bases, or {url, cut} for any same-origin TF.js layers model."""
        choice = jsbridge.to_py(choice)
        if isinstance(choice, dict):
            return await self.runtime.use_base(base=choice.get("id"), url=choice.get("url"), cut=choice.get("cut"))
        return await self.runtime.use_base(base=choice)

    def exports(self) -> dict[str, Any]:
        """JS-callable wrappers, by their JS names."""
        return {
            "info": jsbridge.plain_method(self.info),
            "memory": jsbridge.plain_method(self.memory),
            "embed": jsbridge.promise_method(self.embed),
            "useBase": jsbridge.promise_method(self.use_base),
        }
