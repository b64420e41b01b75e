"""Page start-up: bring up the runtime, publish window.teachbox, resolve `teachbox.ready` (or fail it clearly)."""

from __future__ import annotations

from teachbox.api import Api
from teachbox.browser import environment, js_api
from teachbox.browser.boot import Boot
from teachbox.errors import TeachboxError
from teachbox.runtime import Runtime


async def start() -> Api | None:
    """Called once by site/main.py. Any failure becomes the message on the page and the rejection of `ready`."""
    boot = Boot()
    versions = environment.versions()
    boot.log(f"Python {versions['python']} (Pyodide {versions['pyodide']}) running; TensorFlow.js {versions['tfjs']}")
    try:
        runtime = await Runtime.start(boot.log, boot.status)
        api = Api(runtime)
        boot.status("Opening your last project…")
        js_api.install_api(api.exports())
        runtime.timings["restore_ms"] = round(await api.projects.start(boot.log), 1)
        await _open_classifier(api, boot, environment.query_param("model"))
        _mount_ui(api, boot)
        runtime.mark("ready")  # after the UI is up: `ready` is when a person can use the page, not just the API
        boot.ready(api.info())
        return api
    except TeachboxError as error:
        boot.fail(error.message)
    except Exception as error:  # a bug: still tell the user instead of spinning forever
        boot.fail(f"Teachbox could not start: {type(error).__name__}: {error}")
    return None


async def _open_classifier(api: Api, boot: Boot, ident: str | None) -> None:
    """`?model=ID`: open a ready classifier of this build as a new project's model (a link a site can hand out).
    A failure is logged; the page still starts on the last project."""
    if not ident:
        return
    boot.status("Opening the classifier…")
    try:
        await api.open_classifier(ident)
    except TeachboxError as error:
        boot.log(f"could not open classifier {ident!r}: {error.message}")


def _mount_ui(api: Api, boot: Boot) -> None:
    """Build the page's UI on the installed API, before `ready` resolves (so a script awaiting `ready` finds the UI
    in place). A UI failure is logged and shown, but never takes window.teachbox down with it."""
    try:
        from teachbox.ui import mount

        mount(api)
    except Exception as error:  # a bug in the UI: scripts and the console API must keep working
        environment.console_error(f"Teachbox UI failed to start: {type(error).__name__}: {error}")
        boot.log(f"the user interface could not start ({type(error).__name__}: {error}); window.teachbox works")
