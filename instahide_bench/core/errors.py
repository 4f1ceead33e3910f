"""Errors that reach users.

Every problem with user input is raised as an :class:`InstaHideBenchError` whose message
is one readable line; the CLI prints it and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

import os


class InstaHideBenchError(Exception):
    """Base class of every error meant to be shown to a user as one line.

    The CLI catches this class to print ``instahide-bench: error: <message>`` and exit with a
    user-error status; any other exception is a bug and keeps its traceback. Plugins raise a
    subclass for problems the user can fix.
    """


class InputFileError(InstaHideBenchError):
    """A file (or directory) given by the user is missing, malformed or inconsistent.

    Parameters
    ----------
    path : path-like
        The offending file or directory; the message starts with it.
    problem : str
        What is wrong with it, as a sentence fragment (``"file not found"``).

    Attributes
    ----------
    path : str
        ``path`` as a string.
    problem : str
        As given.

    Examples
    --------
    >>> str(InputFileError("challenge/label.npy", "file not found"))
    'challenge/label.npy: file not found'
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(InstaHideBenchError):
    """A configuration value (preset, --set key=value, source spec) is invalid.

    The message names the parameter and, where there is a closed set, the accepted values.
    """


class ResourceLimitError(InstaHideBenchError):
    """A run hit a wall-clock or memory limit that the user asked for."""
