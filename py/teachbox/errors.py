"""Errors a person can act on.

Every failure that reaches the API (and so the UI and the tests) is a `TeachboxError`: a stable machine-readable
`code`, a sentence a person understands, and optional JSON-able `details`. The JS boundary turns it into a rejected
promise whose `message` is that sentence, so no caller ever has to parse a Python traceback.
"""

from __future__ import annotations

from typing import Any


class TeachboxError(Exception):
    """A failure with a message meant for the user, not the developer."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        """The plain-object form the API hands to JavaScript."""
        return {"code": self.code, "message": self.message, "details": self.details}
