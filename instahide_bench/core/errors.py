"""Errors that reach users.

Every problem with user input is raised as an :class:`InstaHideBenchError` whose message
is one readable line; the CLI prints it and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

import os


class InstaHideBenchError(Exception):
    """Base class of every error meant to be shown to a user as one line."""


class InputFileError(InstaHideBenchError):
    """A file (or directory) given by the user is missing, malformed or inconsistent."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(InstaHideBenchError):
    """A configuration value (preset, --set key=value, source spec) is invalid."""


class ResourceLimitError(InstaHideBenchError):
    """A run hit a wall-clock or memory limit that the user asked for."""
