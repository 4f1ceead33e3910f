"""What attacks and encoders have in common: a name, a version and a typed, validated config."""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar


class Plugin(ABC):
    """A registered, configurable component: the shared part of :class:`Attack` and :class:`Encoder`.

    The configuration is a frozen dataclass whose fields are declared with ``param`` (listed by
    the CLI, overridden with ``--set``); the constructor fills in the defaults and calls the
    config's ``validate()`` when it has one, so a bad setting fails before any work.

    Parameters
    ----------
    config : Config instance, optional
        The settings; ``Config()`` (all defaults) when omitted.

    Raises
    ------
    ConfigError
        From the config's ``validate()``.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type]

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()
        validate = getattr(self.config, "validate", None)
        if callable(validate):
            validate()


__all__ = ["Plugin"]
