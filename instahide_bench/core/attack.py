"""How every attack is written: a typed config dataclass and one entry method, ``run``.

``run`` receives only the *public* view of a challenge (encryptions, labels and the
challenge.json metadata) and an :class:`AttackContext` (torch device, progress reporter,
a private working directory for caches); it returns an :class:`AttackResult` holding the
E x 32 x 32 x 3 decryption and optional extras.

Attacks register by name in :data:`ATTACKS`; third-party packages add theirs through the
entry-point group ``instahide_bench.attacks``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.progress import progress, progress_bar
from instahide_bench.core.registry import Registry

T = TypeVar("T")


@dataclass
class AttackContext:
    """What the runner lends an attack besides the challenge."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    workdir: Path | None = None
    seed: int = 0
    resume: bool = False
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("instahide_bench.attacks"))

    def progress(self, iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
        """Progress over an iterable (tqdm on stderr, off when not a terminal)."""
        return progress(iterable, desc=desc, total=total, unit=unit)

    def bar(self, *, desc: str, total: float | None = None, unit: str = "it", unit_scale: bool = False):
        """A manually updated progress bar (``with ctx.bar(...) as bar: bar.update(n)``)."""
        return progress_bar(desc=desc, total=total, unit=unit, unit_scale=unit_scale)

    def cache_dir(self, stage: str) -> Path | None:
        """A directory in which a stage may cache its output (None when running without a workdir)."""
        if self.workdir is None:
            return None
        path = Path(self.workdir) / "cache" / stage
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class AttackResult:
    """An attack's answer.

    ``decryption`` has one row per encryption (E x 32 x 32 x 3, the challenge's pixel space).
    ``recovered`` is the attack's set of recovered private images, ``assignment`` maps each
    encryption to rows of ``recovered`` (E x 2, -1 where unknown). ``succeeded`` is False when
    the attack knows it did not break the challenge (e.g. no seed matched): its decryption is
    then a fallback that still scores, and ``message`` says why.
    """

    decryption: np.ndarray
    recovered: np.ndarray | None = None
    assignment: np.ndarray | None = None
    succeeded: bool = True
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Attack(ABC):
    """Base class of all attacks: subclass, declare ``Config``, implement ``run``, register."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type]
    #: The attack's stated time complexity, recorded in leaderboard entries.
    complexity: ClassVar[str] = "unstated"
    #: One line for ``instahide-bench attacks``.
    summary: ClassVar[str] = ""

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()
        validate = getattr(self.config, "validate", None)
        if callable(validate):
            validate()

    @abstractmethod
    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        """Attack the public challenge; return a decryption with one row per encryption."""


ATTACKS: Registry[type[Attack]] = Registry("attack", "instahide_bench.attacks")
