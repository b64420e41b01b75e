"""The build's one failure type: it carries the single line `build.py` prints before exiting non-zero."""


class BuildError(Exception):
    """A build step failed for a reason the user can fix; str(self) is the one-line explanation."""
