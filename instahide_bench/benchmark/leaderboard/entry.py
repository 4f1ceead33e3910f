"""One leaderboard entry: a scored attack on a challenge, with everything needed to compare it.

An entry is either ``measured`` (scored here, with the hardware, versions and command that
produced it) or ``reported`` (a published number copied as it was published, e.g. the 2020
challenge's own leaderboard). Entries are stored as JSON, one file each (see :mod:`.store`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from instahide_bench.core.challenge import ENCRYPTION_FILE, PublicChallenge
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.provenance import HardwareInfo, Provenance, collect_provenance
from instahide_bench.core.scoring import Scores

ENTRY_FORMAT_VERSION = 1
Status = Literal["measured", "reported"]
STATUSES: tuple[str, ...] = ("measured", "reported")


@dataclass(frozen=True)
class AttackInfo:
    """Which attack, in which version and configuration, and its stated time complexity."""

    name: str
    version: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    time_complexity: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "config": self.config,
            "time_complexity": self.time_complexity,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AttackInfo:
        return cls(
            str(obj["name"]),
            str(obj.get("version", "")),
            dict(obj.get("config") or {}),
            str(obj.get("time_complexity", "")),
        )


@dataclass(frozen=True)
class ChallengeInfo:
    """The public identity of the attacked challenge: id, preset, encoder parameters, file hash."""

    challenge_id: str
    preset: str | None
    encoder: str
    params: dict[str, Any] = field(default_factory=dict)
    encryption_sha256: str | None = None

    @classmethod
    def from_challenge(cls, challenge: PublicChallenge) -> ChallengeInfo:
        meta = challenge.meta
        return cls(meta.challenge_id, meta.preset, meta.encoder, dict(meta.params), meta.files.get(ENCRYPTION_FILE))

    def to_json(self) -> dict[str, Any]:
        return {
            "challenge_id": self.challenge_id,
            "preset": self.preset,
            "encoder": self.encoder,
            "params": self.params,
            "encryption_sha256": self.encryption_sha256,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ChallengeInfo:
        preset, digest = obj.get("preset"), obj.get("encryption_sha256")
        return cls(
            str(obj["challenge_id"]),
            None if preset is None else str(preset),
            str(obj["encoder"]),
            dict(obj.get("params") or {}),
            None if digest is None else str(digest),
        )


@dataclass(frozen=True)
class LeaderboardEntry:
    """A leaderboard row. ``hardware`` is a :class:`HardwareInfo`, or free text for reported results.

    ``grid`` names the PNG (beside the entry's JSON file) of private images next to their best
    recoveries; ``extras`` holds attack-specific numbers (e.g. cluster purity); ``isolation``
    records how the attack was kept from the key (``landlock ABI N`` or ``audit-hook``; absent
    in entries older than that record and in reported ones).
    """

    name: str
    status: Status
    attack: AttackInfo
    challenge: ChallengeInfo
    scores: Scores
    runtime_seconds: float | None = None
    peak_memory_bytes: int | None = None
    cost: str | None = None
    hardware: HardwareInfo | str = "unknown"
    versions: dict[str, str] = field(default_factory=dict)
    date: str | None = None
    command: str | None = None
    notes: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    grid: str | None = None
    isolation: str | None = None
    format_version: int = ENTRY_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if not self.name.strip():
            raise ValueError("an entry needs a name")

    @property
    def hardware_summary(self) -> str:
        return hardware_summary(self.hardware)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "status": self.status,
            "attack": self.attack.to_json(),
            "challenge": self.challenge.to_json(),
            "metrics": self.scores.to_json(),
            "runtime_seconds": self.runtime_seconds,
            "peak_memory_bytes": self.peak_memory_bytes,
            "cost": self.cost,
            **provenance_to_json(self),
            "grid": self.grid,
            **({"isolation": self.isolation} if self.isolation is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str | os.PathLike[str]) -> LeaderboardEntry:
        """Rebuild an entry read from ``path``; any malformation is one :class:`InputFileError`."""
        if not isinstance(obj, dict):
            raise InputFileError(path, "a leaderboard entry must be a JSON object")
        if obj.get("format_version") != ENTRY_FORMAT_VERSION:
            raise InputFileError(
                path,
                f"entry format_version {obj.get('format_version')!r} is not supported "
                f"(this tool reads {ENTRY_FORMAT_VERSION})",
            )
        try:
            entry = cls(
                name=str(obj["name"]),
                status=obj["status"],
                attack=AttackInfo.from_json(obj["attack"]),
                challenge=ChallengeInfo.from_json(obj["challenge"]),
                scores=Scores.from_json(obj["metrics"]),
                runtime_seconds=_optional(obj.get("runtime_seconds"), float),
                peak_memory_bytes=_optional(obj.get("peak_memory_bytes"), int),
                cost=_optional(obj.get("cost"), str),
                **provenance_from_json(obj),
                grid=_optional(obj.get("grid"), str),
                isolation=_optional(obj.get("isolation"), str),
            )
        except KeyError as exc:
            raise InputFileError(path, f"leaderboard entry lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(path, f"malformed leaderboard entry ({exc})") from None
        problem = _implausible(entry)
        if problem:
            raise InputFileError(path, f"implausible leaderboard entry: {problem}")
        return entry


def _implausible(entry: LeaderboardEntry) -> str | None:
    """Why a (hand-edited) entry would break the tables: a metric that is not a finite number, a grid
    that is not a file beside the entry; or None."""
    scores = entry.scores
    for name in ("max_ssim", "mean_ssim", "min_l2", "mean_l2"):
        value = getattr(scores, name)
        if not math.isfinite(value):
            return f"metric {name} is {value}"
    if entry.grid is not None and (not entry.grid or os.path.basename(entry.grid) != entry.grid):
        return f"grid {entry.grid!r} is not a file name beside the entry"
    return None


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def hardware_summary(hardware: HardwareInfo | str) -> str:
    """One line for a table: the measured machine's summary, or the stated text ("reported", ...)."""
    return hardware.summary() if isinstance(hardware, HardwareInfo) else hardware


class Provenanced(Protocol):
    """What every kind of entry (attack, utility, membership) records about where it was made."""

    @property
    def hardware(self) -> HardwareInfo | str: ...
    @property
    def versions(self) -> dict[str, str]: ...
    @property
    def date(self) -> str | None: ...
    @property
    def command(self) -> str | None: ...
    @property
    def notes(self) -> str: ...
    @property
    def extras(self) -> dict[str, Any]: ...


def provenance_to_json(entry: Provenanced) -> dict[str, Any]:
    """The provenance fields of an entry's JSON, in the order every entry kind writes them."""
    hardware = entry.hardware.to_json() if isinstance(entry.hardware, HardwareInfo) else entry.hardware
    return {
        "hardware": hardware,
        "versions": entry.versions,
        "date": entry.date,
        "command": entry.command,
        "notes": entry.notes,
        "extras": entry.extras,
    }


def provenance_from_json(obj: dict[str, Any]) -> dict[str, Any]:
    """The provenance fields read back from an entry's JSON (keyword arguments of any entry kind)."""
    hardware = obj.get("hardware", "unknown")
    return {
        "hardware": HardwareInfo.from_json(hardware) if isinstance(hardware, dict) else str(hardware),
        "versions": {str(k): str(v) for k, v in dict(obj.get("versions") or {}).items()},
        "date": _optional(obj.get("date"), str),
        "command": _optional(obj.get("command"), str),
        "notes": str(obj.get("notes", "")),
        "extras": dict(obj.get("extras") or {}),
    }


def measured_entry(
    name: str,
    attack: AttackInfo,
    challenge: PublicChallenge,
    scores: Scores,
    *,
    runtime_seconds: float | None = None,
    peak_memory_bytes: int | None = None,
    provenance: Provenance | None = None,
    cost: str | None = None,
    notes: str = "",
    extras: dict[str, Any] | None = None,
) -> LeaderboardEntry:
    """An entry for a decryption scored here and now (provenance collected unless given)."""
    provenance = provenance or collect_provenance()
    return LeaderboardEntry(
        name=name,
        status="measured",
        attack=attack,
        challenge=ChallengeInfo.from_challenge(challenge),
        scores=scores,
        runtime_seconds=runtime_seconds,
        peak_memory_bytes=peak_memory_bytes,
        cost=cost,
        hardware=provenance.hardware,
        versions=dict(provenance.versions),
        date=provenance.date,
        command=provenance.command,
        notes=notes,
        extras=dict(extras or {}),
        isolation=provenance.isolation or None,
    )


__all__ = ["ENTRY_FORMAT_VERSION", "STATUSES", "AttackInfo", "ChallengeInfo", "LeaderboardEntry", "measured_entry"]
