"""How every attack is written: a typed config dataclass and one entry method, ``run``.

``run`` receives only the *public* view of a challenge (encryptions, labels and the
challenge.json metadata) and an :class:`AttackContext` (torch device, progress reporter,
a private working directory for caches); it returns an :class:`AttackResult` holding the
E x 32 x 32 x 3 decryption and optional extras.

Two threat models share this interface (the class attribute ``threat_model``):

* ``reconstruction`` (the default): recover the private images; the result's ``decryption``.
* ``membership`` (:class:`MembershipAttack`): tell which candidates of a membership challenge
  (``challenge.membership``) were private images; the result's ``membership_scores``.

Attacks register by name in :data:`ATTACKS`; third-party packages add theirs through the
entry-point group ``instahide_bench.attacks``.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch

from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.plugin import Plugin
from instahide_bench.core.progress import progress, progress_bar
from instahide_bench.core.registry import Registry
from instahide_bench.core.threats import MEMBERSHIP, RECONSTRUCTION

if TYPE_CHECKING:
    from tqdm.auto import tqdm

T = TypeVar("T")


@dataclass
class AttackContext:
    """What the runner lends an attack besides the challenge.

    Everything an attack may need from its environment comes through here, so that the
    same attack runs unchanged in the isolated worker process, in a notebook and in tests
    (``AttackContext()`` is a valid CPU context without a working directory).

    Attributes
    ----------
    device : torch.device
        Where tensors should live (``cpu`` by default, ``cuda`` when the runner was given ``--device``).
    workdir : Path or None
        A directory private to this run; stages cache their output under ``workdir/cache``.
        None when running without one (nothing is cached).
    seed : int
        The seed for the attack's own random draws (e.g. ``np.random.default_rng(seed)`` or
        ``torch.Generator().manual_seed(seed)``); never a global seed.
    resume : bool
        True when the user asked to reuse caches of an earlier, interrupted run.
    logger : logging.Logger
        Where to log; the runner configures its level and handlers.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    workdir: Path | None = None
    seed: int = 0
    resume: bool = False
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("instahide_bench.attacks"))

    def progress(self, iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
        """Progress over an iterable (tqdm on stderr, off when not a terminal).

        Parameters
        ----------
        iterable : iterable
            What to iterate over; its items are yielded unchanged.
        desc : str
            Label shown before the bar.
        total : int, optional
            Number of items, when ``len(iterable)`` is not available.
        unit : str
            Name of one item in the rate display.

        Returns
        -------
        Iterator
            The items of ``iterable``.

        Examples
        --------
        >>> for index in AttackContext().progress(range(3), desc="rounds", unit="round"):
        ...     pass
        """
        return progress(iterable, desc=desc, total=total, unit=unit)

    def bar(self, *, desc: str, total: float | None = None, unit: str = "it", unit_scale: bool = False) -> tqdm:
        """A manually updated progress bar, for work that is not a loop over items.

        Parameters
        ----------
        desc : str
            Label shown before the bar.
        total : float, optional
            The amount that completes the bar (None: show a count and rate only).
        unit : str
            Name of one unit of work in the rate display.
        unit_scale : bool
            Show large counts with SI prefixes (k, M, G).

        Returns
        -------
        tqdm.tqdm
            A bar to advance with ``bar.update(n)``; use it as a context manager so that it closes.

        Examples
        --------
        >>> with AttackContext().bar(desc="seeds", total=2**16, unit="seed", unit_scale=True) as bar:
        ...     _ = bar.update(2**16)
        """
        return progress_bar(desc=desc, total=total, unit=unit, unit_scale=unit_scale)

    def cache_dir(self, stage: str) -> Path | None:
        """A directory in which a stage may cache its output, created on first use.

        Parameters
        ----------
        stage : str
            Name of the stage (one sub-directory per stage).

        Returns
        -------
        Path or None
            ``workdir/cache/<stage>``, or None when running without a workdir (then nothing is cached).
        """
        if self.workdir is None:
            return None
        path = Path(self.workdir) / "cache" / stage
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class AttackResult:
    """An attack's answer.

    ``succeeded`` is False when the attack knows it did not break the challenge (e.g. no seed
    matched): its decryption is then a fallback that still scores, and ``message`` says why.
    A reconstruction attack fills ``decryption``, a membership attack ``membership_scores``;
    the runner refuses a result without the one its threat model needs.

    Attributes
    ----------
    decryption : numpy.ndarray or None
        One row per encryption (E x 32 x 32 x 3, in the challenge's pixel space); what is scored.
    recovered : numpy.ndarray or None
        The attack's set of recovered private images (R x 32 x 32 x 3), when it has one.
    assignment : numpy.ndarray or None
        Maps each encryption to rows of ``recovered`` (E x 2, -1 where unknown).
    succeeded : bool
        False when the attack knows it failed.
    message : str
        Why it failed (or any short note for the report).
    info : dict
        JSON-able extras (numbers, strings, small arrays) recorded in the run's result.json.
    membership_scores : numpy.ndarray or None
        Membership attacks: one float per candidate (C), higher meaning "more likely a member";
        written as ``membership_scores.npy`` and scored by ROC AUC and TPR at low FPR, so only
        the order of the scores matters.
    inputs : numpy.ndarray or None
        Gradient challenges: the model inputs the attack recovered, one per fed row (S*B x 32 x
        32 x 3, in the challenge's pixel space), written as ``inputs.npy`` and scored against
        the rows the client fed.
    labels : numpy.ndarray or None
        Gradient challenges: the soft labels the attack restored (or read), one row per input
        (S*B x C), written as ``input_labels.npy``; with ``inputs`` they form a derived release
        that release attacks can decode (``attack ... --then``).
    """

    decryption: np.ndarray | None = None
    recovered: np.ndarray | None = None
    assignment: np.ndarray | None = None
    succeeded: bool = True
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    membership_scores: np.ndarray | None = None
    inputs: np.ndarray | None = None
    labels: np.ndarray | None = None


class Attack(Plugin):
    """Base class of all attacks: subclass, declare ``Config``, implement ``run``, register.

    The configuration is a frozen dataclass so that the CLI can list, override
    (``--set key=value``) and record every parameter; the constructor calls its
    ``validate()`` method, when it has one, so that a bad value fails before any work starts.

    Threads and seeds belong to the process, not to the attack: an attack never calls
    ``torch.set_num_threads`` (or similar) and never seeds a global generator
    (``np.random.seed``, ``torch.manual_seed``). It draws its randomness from generators
    seeded with ``context.seed``. An attack whose config has an ``int`` field ``threads`` gets
    ``torch.set_num_threads(threads)`` applied by the worker process that runs it on the CPU,
    a process that exists only for that attack; in-process callers (tests, notebooks) keep
    their own thread count.

    Parameters
    ----------
    config : Config instance, optional
        The attack's settings; ``Config()`` (all defaults) when omitted.

    Attributes
    ----------
    name : str
        The registered name (``instahide-bench attack NAME``).
    version : str
        Bumped when results change; recorded with every run and leaderboard entry.
    Config : type
        The config dataclass; build its fields with :func:`~instahide_bench.core.config.param`.
    complexity : str
        The attack's stated time complexity, recorded in leaderboard entries.
    summary : str
        One line for ``instahide-bench attacks``.
    config
        The validated config instance.

    Raises
    ------
    ConfigError
        From ``Config.validate()`` when a setting is invalid.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from instahide_bench.api import Attack, AttackResult, param
    >>> @dataclass(frozen=True)
    ... class HalfConfig:
    ...     factor: float = param(0.5, "scale applied to |encryption|")
    >>> class HalfAttack(Attack):
    ...     name = "half"
    ...     Config = HalfConfig
    ...     def run(self, challenge, context):
    ...         return AttackResult(abs(challenge.encryption) * self.config.factor)
    >>> HalfAttack().config.factor
    0.5
    """

    #: The attack's stated time complexity, recorded in leaderboard entries.
    complexity: ClassVar[str] = "unstated"
    #: One line for ``instahide-bench attacks``.
    summary: ClassVar[str] = ""
    #: What the attack is after: ``reconstruction`` (a decryption) or ``membership`` (candidate scores).
    threat_model: ClassVar[str] = RECONSTRUCTION
    #: The kinds of challenge it attacks: ``release`` (encryptions or a released set) and/or ``gradients``.
    challenge_kinds: ClassVar[tuple[str, ...]] = ("release",)

    @abstractmethod
    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        """Attack the public challenge.

        Parameters
        ----------
        challenge : PublicChallenge
            Encryptions, labels and public metadata; never the key.
        context : AttackContext
            Device, working directory, seed and progress reporting.

        Returns
        -------
        AttackResult
            A decryption with one row per encryption, in ``challenge.pixels``.
        """


class MembershipAttack(Attack):
    """Base class of membership-inference attacks: ``run`` scores the candidates of a membership challenge.

    The challenge is an ordinary one (the release: ``challenge.encryption`` and
    ``challenge.labels``, e.g. a condensed set, a random subset, InstaHide encryptions or the
    private images themselves) plus ``challenge.membership``: the candidate images (C x 32 x 32 x
    3, in ``challenge.pixels``) and their class labels (int64, C). The runner only starts a
    membership attack on a challenge that has candidates. ``run`` returns
    ``AttackResult(membership_scores=scores)``: one finite float per candidate, in the order of
    the candidates, higher meaning "more likely a member". Which candidates are members is in
    the key, which the attack never sees.

    Examples
    --------
    >>> import numpy as np
    >>> class NearestRelease(MembershipAttack):
    ...     name = "nearest-release"
    ...     Config = dict
    ...     def run(self, challenge, context):
    ...         candidates = challenge.membership.images.reshape(len(challenge.membership), -1)
    ...         release = challenge.encryption.reshape(challenge.num_rows, -1)
    ...         distance = ((candidates[:, None] - release[None]) ** 2).sum(-1).min(1)
    ...         return AttackResult(membership_scores=-distance)
    >>> NearestRelease.threat_model
    'membership'
    """

    threat_model: ClassVar[str] = MEMBERSHIP


ATTACKS: Registry[type[Attack]] = Registry("attack", "instahide_bench.attacks")
