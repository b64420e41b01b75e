"""Adding images from the UI: every way in (file picker, drop, camera, CSV + folder) ends in `Api.add_images`.

Why a queue: the core refuses a second data operation while one runs ("busy"), which is right for scripts but
wrong for a person who drops a second folder while the first is still being read. UI additions therefore wait
their turn on one lock, and the person is told what was added and what could not be used, in the `Feedback` of the
place they added from (a class card, the import form).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from teachbox.api import Api
from teachbox.errors import TeachboxError
from teachbox.ui.feedback import Feedback
from teachbox.ui.folders import Plan
from teachbox.ui.load_progress import LoadProgress


def quoted(label: str) -> str:
    """A label as it appears inside a sentence."""
    return f"“{label}”"


def plural(count: int, word: str) -> str:
    """`1 image`, `3 images`, `2 classes`, `5 epochs`: the plurals of the nouns the UI counts (a sibilant end takes
    -es; no counted noun ends in a soft "ch", which "epoch" would get wrong)."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}{'es' if word.endswith(('s', 'x', 'sh')) else 's'}"


class DataOps:
    """Serialised image additions with person-readable reports."""

    def __init__(self, api: Api, progress: LoadProgress) -> None:
        self.api = api
        self.progress = progress
        self.lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self, what: str) -> AsyncIterator[None]:
        """One addition at a time, with its progress line and Stop in the Data panel."""
        async with self.lock, self.progress.running(what):
            yield

    async def add(self, label: str, files: list[Any], feedback: Feedback) -> dict[str, Any] | None:
        """Add files to one class (created if new); report what happened."""
        if not files:
            return None
        async with self.turn(f"Reading images for {quoted(label)}"):
            feedback.say(f"Reading {plural(len(files), 'image')} for {quoted(label)}…")
            result = await self.api.add_images(label, files)
        _report(feedback, {label: result["added"]}, result["errors"])
        return result

    async def add_plan(self, plan: Plan, feedback: Feedback, replace: bool = False) -> None:
        """Add files to several classes; `replace` first removes the current classes (only once the files are
        known to be there, so a failed pick never empties the project)."""
        if not plan.classes:
            raise_empty(plan)
        added: dict[str, int] = {}
        errors: list[dict[str, Any]] = []
        async with self.lock:
            if replace:
                for label in self.api.project()["classes"]:
                    self.api.delete_class(label)
            for label, files in plan.classes.items():
                feedback.say(f"Reading {plural(len(files), 'image')} for {quoted(label)}…")
                async with self.progress.running(f"Reading images for {quoted(label)}"):
                    result = await self.api.add_images(label, files)
                added[label] = result["added"]
                errors += result["errors"]
        _report(feedback, added, errors, plan.skipped)


def _report(feedback: Feedback, added: dict[str, int], errors: list[dict[str, Any]], skipped: int = 0) -> None:
    parts = [f"{plural(count, 'image')} to {quoted(label)}" for label, count in added.items()]
    message = "Added " + ", ".join(parts) + "." if parts else "No image was added."
    if skipped:
        message += f" Left out {not_images(skipped)}."
    feedback.say(message)
    if errors:
        first = "; ".join(str(error["message"]) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        feedback.error(f"{plural(len(errors), 'file')} could not be used: {first}{more}")


def not_images(count: int) -> str:
    return f"{plural(count, 'file')} that {'is not an image' if count == 1 else 'are not images'}"


def raise_empty(plan: Plan) -> None:
    """Nothing usable was picked or dropped: say why instead of silently doing nothing."""
    hint = f" (only {not_images(plan.skipped)})" if plan.skipped else ""
    raise TeachboxError("no_images", f"No image files were found{hint}. Teachbox reads PNG, JPEG, GIF, WebP, BMP "
                                     "and AVIF files.")
