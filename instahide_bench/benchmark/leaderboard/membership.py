"""Membership entries: a membership attack scored on a membership challenge, and its ROC curve.

The second threat model's entries carry the same provenance as attack entries (hardware,
library versions, date, command, isolation) and are stored like utility entries, in their own
directory so that the reconstruction tables never mistake them for theirs::

    ROOT/membership/<date>-<name>-<random>.json
    ROOT/membership/<same stem>.png      the ROC curve, log-log as Carlini et al. plot it
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.benchmark.leaderboard.entry import (
    AttackInfo,
    ChallengeInfo,
    hardware_summary,
    provenance_from_json,
    provenance_to_json,
)
from instahide_bench.benchmark.leaderboard.store import slug
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import read_json, write_bytes_atomic, write_json_atomic
from instahide_bench.core.membership import MembershipKey
from instahide_bench.core.membership_scoring import FPR_LEVELS, MembershipScores, roc_curve
from instahide_bench.core.provenance import HardwareInfo, Provenance, collect_provenance

logger = logging.getLogger(__name__)

#: matplotlib is not thread-safe (its mathtext parser, used by log-axis tick labels, keeps global
#: state), and the runner may score membership runs in several threads of one process.
_MATPLOTLIB = threading.Lock()

MEMBERSHIP_DIR = "membership"
MEMBERSHIP_FORMAT_VERSION = 1


@dataclass(frozen=True)
class MembershipEntry:
    """One scored membership run with its provenance; ``roc`` names the PNG beside the JSON file."""

    name: str
    attack: AttackInfo
    challenge: ChallengeInfo
    scores: MembershipScores
    runtime_seconds: float | None = None
    peak_memory_bytes: int | None = None
    hardware: HardwareInfo | str = "unknown"
    versions: dict[str, str] = field(default_factory=dict)
    date: str | None = None
    command: str | None = None
    notes: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    roc: str | None = None
    isolation: str | None = None
    status: str = "measured"
    format_version: int = MEMBERSHIP_FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "kind": "membership",
            "name": self.name,
            "status": self.status,
            "attack": self.attack.to_json(),
            "challenge": self.challenge.to_json(),
            "metrics": self.scores.to_json(),
            "runtime_seconds": self.runtime_seconds,
            "peak_memory_bytes": self.peak_memory_bytes,
            **provenance_to_json(self),
            "roc": self.roc,
            **({"isolation": self.isolation} if self.isolation is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str | os.PathLike[str]) -> MembershipEntry:
        """Rebuild an entry read from ``path``; any malformation is one :class:`InputFileError`."""
        if not isinstance(obj, dict) or obj.get("kind") != "membership":
            raise InputFileError(path, "not a membership entry (a JSON object with kind 'membership')")
        if obj.get("format_version") != MEMBERSHIP_FORMAT_VERSION:
            raise InputFileError(
                path, f"membership entry format_version {obj.get('format_version')!r} is not supported"
            )
        try:
            roc = obj.get("roc")
            entry = cls(
                name=str(obj["name"]),
                attack=AttackInfo.from_json(obj["attack"]),
                challenge=ChallengeInfo.from_json(obj["challenge"]),
                scores=MembershipScores.from_json(obj["metrics"]),
                runtime_seconds=None if obj.get("runtime_seconds") is None else float(obj["runtime_seconds"]),
                peak_memory_bytes=None if obj.get("peak_memory_bytes") is None else int(obj["peak_memory_bytes"]),
                **provenance_from_json(obj),
                roc=None if roc is None else str(roc),
                isolation=None if obj.get("isolation") is None else str(obj["isolation"]),
                status=str(obj.get("status", "measured")),
            )
        except KeyError as exc:
            raise InputFileError(path, f"membership entry lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise InputFileError(path, f"malformed membership entry ({exc})") from None
        if not all(np.isfinite(v) for v in entry.scores.all.values.values()):
            raise InputFileError(path, "implausible membership entry: a metric is not a finite number")
        if entry.roc is not None and os.path.basename(entry.roc) != entry.roc:
            raise InputFileError(path, f"roc {entry.roc!r} is not a file name beside the entry")
        return entry


def membership_entry(
    name: str,
    attack: AttackInfo,
    challenge: PublicChallenge,
    scores: MembershipScores,
    *,
    runtime_seconds: float | None = None,
    peak_memory_bytes: int | None = None,
    provenance: Provenance | None = None,
    notes: str = "",
    extras: dict[str, Any] | None = None,
) -> MembershipEntry:
    """An entry for membership scores scored here and now (provenance collected unless given)."""
    provenance = provenance or collect_provenance()
    return MembershipEntry(
        name=name,
        attack=attack,
        challenge=ChallengeInfo.from_challenge(challenge),
        scores=scores,
        runtime_seconds=runtime_seconds,
        peak_memory_bytes=peak_memory_bytes,
        hardware=provenance.hardware,
        versions=dict(provenance.versions),
        date=provenance.date,
        command=provenance.command,
        notes=notes,
        extras=dict(extras or {}),
        isolation=provenance.isolation or None,
    )


def write_roc_png(path: Path, key: MembershipKey, scores: np.ndarray, title: str) -> Path:
    """The ROC curve on log-log axes (all members; init members too when the key has them), as a PNG.

    Log axes show the low-FPR end that matters (Carlini et al. 2022); the chance line is the
    diagonal. FPR and TPR of 0 cannot be drawn on a log axis, so the axes start at 1 / count.
    """
    with _MATPLOTLIB:  # one figure at a time: runs scored in threads would corrupt matplotlib's shared text parser
        return _draw_roc(path, key, scores, title)


def _draw_roc(path: Path, key: MembershipKey, scores: np.ndarray, title: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    floor = 1.0 / max(key.num_non_members, key.num_members, 1)
    curves = [("all members", key.is_member, scores)]
    if key.init is not None and key.init.any():
        keep = key.init | ~key.is_member
        curves.append(("init members", key.is_member[keep], scores[keep]))
    for label, members, values in curves:
        fpr, tpr, _ = roc_curve(members, values)
        axes.plot(np.maximum(fpr, floor), np.maximum(tpr, floor), label=label, drawstyle="steps-post")
    axes.plot([floor, 1], [floor, 1], color="grey", linestyle=":", label="chance")
    for level in FPR_LEVELS.values():
        axes.axvline(level, color="grey", linewidth=0.5, alpha=0.5)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1)
    axes.set_xlabel("false-positive rate")
    axes.set_ylabel("true-positive rate")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes_atomic(path, buffer.getvalue())
    return path


def record_membership_entry(
    entry: MembershipEntry,
    root: str | os.PathLike[str],
    *,
    roc: tuple[MembershipKey, np.ndarray] | None = None,
    stem: str | None = None,
) -> Path:
    """Write ``entry`` (and, given the truth and scores, its ROC PNG) under ``root/membership/``."""
    directory = Path(root) / MEMBERSHIP_DIR
    directory.mkdir(parents=True, exist_ok=True)
    if stem:
        stem = slug(stem, max_length=120)
    else:
        date = re.sub(r"[^0-9]", "", entry.date or "")[:14] or "undated"
        stem = f"{date}-{slug(entry.name)}-{uuid.uuid4().hex[:12]}"
    if roc is not None:
        title = f"{entry.name} on {entry.challenge.challenge_id}"
        png = write_roc_png(directory / f"{stem}.png", roc[0], roc[1], title)
        entry = replace(entry, roc=png.name)
    path = directory / f"{stem}.json"
    write_json_atomic(path, entry.to_json())
    logger.info("recorded membership entry %r in %s", entry.name, path)
    return path


def load_membership_entries(root: str | os.PathLike[str]) -> list[tuple[MembershipEntry, Path]]:
    """Every membership entry under ``root`` (by path); an unreadable one is skipped with a warning."""
    directory = Path(root) / MEMBERSHIP_DIR
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted(p for p in directory.glob("*.json") if not p.name.startswith(".")):
        try:
            entries.append((MembershipEntry.from_json(read_json(path), path), path))
        except InputFileError as exc:
            logger.warning("skipping %s", exc)
    return entries


def format_metric(value: float, interval: tuple[float, float] | None, reliable: bool = True) -> str:
    """``0.812 [0.79, 0.83]``, with a dagger when the figure rests on too few non-members."""
    text = f"{value:.3f}"
    if interval is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text if reliable else text + " †"


def metric_cells(scores: MembershipScores) -> list[str]:
    """AUC, TPR@0.1%, TPR@1%, balanced accuracy, as table cells (with intervals and reliability)."""
    m = scores.all
    cells = [format_metric(m.values["auc"], m.intervals.get("auc"))]
    for name in FPR_LEVELS:
        cells.append(format_metric(m.values[name], m.intervals.get(name), m.reliable.get(name, True)))
    cells.append(format_metric(m.values["balanced_accuracy"], m.intervals.get("balanced_accuracy")))
    return cells


#: The columns of the membership tables (README.md and index.html), in order.
MEMBERSHIP_COLUMNS = (
    "Challenge",
    "Attack",
    "Accuracy",
    "AUC",
    "TPR@0.1% FPR",
    "TPR@1% FPR",
    "Balanced acc.",
    "Init AUC",
    "Members / non-members",
    "Time",
    "Hardware",
    "Date",
)
#: Numeric columns: index.html sorts them by the raw value.
MEMBERSHIP_NUMERIC = {"Accuracy", "AUC", "TPR@0.1% FPR", "TPR@1% FPR", "Balanced acc.", "Init AUC", "Time"}
MEMBERSHIP_CSV = "membership.csv"
MEMBERSHIP_INTRO = (
    "Which candidates (private images and held-out images of the same distribution) were in the "
    "private set, judged from the release. 95% bootstrap intervals in brackets; † marks a TPR taken "
    "at an FPR that allows fewer than 10 false positives among the non-members. `Accuracy`: the "
    "attacked model's accuracy on held-out images (the release's utility), when the attack measured it. "
    "`Init AUC`: only the members that initialised a release row. Entries and log-log ROC curves in "
    "`membership/`."
)


@dataclass(frozen=True)
class MembershipRow:
    """One membership entry as the tables show it: display cells, raw sort values, the ROC link."""

    entry: MembershipEntry
    path: Path
    cells: dict[str, str]
    sort: dict[str, str]  # numeric columns: the raw value (``repr``), "" when missing
    roc: str | None  # relative to the leaderboard root


def _accuracy(entry: MembershipEntry) -> float | None:
    value = entry.extras.get("test_accuracy")
    return float(value) if isinstance(value, (int, float)) else None


def _row(entry: MembershipEntry, path: Path, root: Path) -> MembershipRow:
    init, m = entry.scores.init, entry.scores.all
    accuracy = _accuracy(entry)
    auc, low_fpr, one_fpr, balanced = metric_cells(entry.scores)
    cells = {
        "Challenge": entry.challenge.challenge_id,
        "Attack": entry.name,
        "Accuracy": "—" if accuracy is None else f"{accuracy:.3f}",
        "AUC": auc,
        "TPR@0.1% FPR": low_fpr,
        "TPR@1% FPR": one_fpr,
        "Balanced acc.": balanced,
        "Init AUC": "—" if init is None else f"{init.auc:.3f} ({init.num_members})",
        "Members / non-members": f"{m.num_members} / {m.num_non_members}",
        "Time": "—" if entry.runtime_seconds is None else f"{entry.runtime_seconds:.0f} s",
        "Hardware": hardware_summary(entry.hardware),
        "Date": (entry.date or "")[:10],
    }
    raw = {
        "Accuracy": accuracy,
        "AUC": m.auc,
        **{column: m.values[level] for column, level in zip(("TPR@0.1% FPR", "TPR@1% FPR"), FPR_LEVELS, strict=True)},
        "Balanced acc.": m.values["balanced_accuracy"],
        "Init AUC": None if init is None else init.auc,
        "Time": entry.runtime_seconds,
    }
    sort = {name: "" if value is None else repr(float(value)) for name, value in raw.items()}
    roc = None if entry.roc is None else (path.parent / entry.roc).relative_to(root).as_posix()
    return MembershipRow(entry, path, cells, sort, roc)


def membership_rows(root: str | os.PathLike[str]) -> list[MembershipRow]:
    """The membership entries under ``root``, by challenge, then AUC (descending), then file."""
    root = Path(root)
    entries = load_membership_entries(root)
    ordered = sorted(entries, key=lambda item: (item[0].challenge.challenge_id, -item[0].scores.all.auc, str(item[1])))
    return [_row(entry, path, root) for entry, path in ordered]


def membership_markdown(rows: list[MembershipRow]) -> str:
    """The README section of the membership entries (:func:`membership_rows`; "" when there are none)."""
    from instahide_bench.benchmark.views import md_cell

    if not rows:
        return ""
    lines = [
        "",
        "## Membership inference",
        "",
        MEMBERSHIP_INTRO,
        "",
        "| " + " | ".join(MEMBERSHIP_COLUMNS) + " |",
        "|---" * len(MEMBERSHIP_COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(md_cell(row.cells[column]) for column in MEMBERSHIP_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def membership_csv(rows: list[MembershipRow], root: str | os.PathLike[str]) -> str:
    """membership.csv: one line per entry, numbers as numbers (intervals as low/high columns)."""
    import pandas as pd

    from instahide_bench.benchmark.views import csv_cell

    records = []
    for row in rows:
        entry, m, init = row.entry, row.entry.scores.all, row.entry.scores.init
        record: dict[str, Any] = {
            "challenge_id": entry.challenge.challenge_id,
            "preset": entry.challenge.preset,
            "encoder": entry.challenge.encoder,
            "name": entry.name,
            "status": entry.status,
            "attack": entry.attack.name,
            "attack_version": entry.attack.version,
            "test_accuracy": _accuracy(entry),
            "members": m.num_members,
            "non_members": m.num_non_members,
        }
        for name, value in m.values.items():
            record[name] = value
            interval = m.intervals.get(name)
            record[f"{name}_low"] = None if interval is None else interval[0]
            record[f"{name}_high"] = None if interval is None else interval[1]
            if name in m.reliable:
                record[f"{name}_reliable"] = m.reliable[name]
        record.update(
            init_auc=None if init is None else init.auc,
            init_members=None if init is None else init.num_members,
            runtime_seconds=entry.runtime_seconds,
            peak_memory_bytes=entry.peak_memory_bytes,
            hardware=row.cells["Hardware"],
            date=entry.date,
            command=entry.command,
            notes=entry.notes,
            entry_file=row.path.relative_to(Path(root)).as_posix(),
            roc_file=row.roc,
        )
        records.append({column: csv_cell(value) for column, value in record.items()})
    frame = pd.DataFrame.from_records(records).astype(
        {"members": "Int64", "non_members": "Int64", "init_members": "Int64"}
    )
    return frame.to_csv(index=False, lineterminator="\n")


__all__ = [
    "MEMBERSHIP_COLUMNS",
    "MEMBERSHIP_CSV",
    "MEMBERSHIP_DIR",
    "MEMBERSHIP_INTRO",
    "MEMBERSHIP_NUMERIC",
    "MembershipEntry",
    "MembershipRow",
    "format_metric",
    "load_membership_entries",
    "membership_csv",
    "membership_entry",
    "membership_markdown",
    "membership_rows",
    "metric_cells",
    "record_membership_entry",
    "write_roc_png",
]
