"""Run a matrix: every encoder variant's challenge, then every attack on it, as Dask tasks.

Challenges are generated first (one task per encoder variant); each (encoder, attack) cell
then runs the attack through the isolated runner, scores it and records a leaderboard entry.
A cell that fails (crash, limit, bad config, failed generation) is kept with its message:
a matrix never drops a cell. Results go to ``OUT/matrix.json``; challenges, attack outputs
and the leaderboard live under ``OUT/challenges``, ``OUT/cells`` and ``OUT/leaderboard``.

Resuming: every finished challenge and cell leaves a record (``OUT/challenges/LABEL.done.json``,
``OUT/cells/CELL/cell.json``), written atomically as its task's last step. A run with
``resume=True`` (``matrix --resume``) after a crash or a SIGKILL reuses each successful record
whose inputs match, reruns the rest, and first removes what a killed run leaves behind (hidden
temporary files and staging directories: never a half-written result, since every file is
renamed into place). A cell's leaderboard entry has a fixed file name, so a cell rerun after a
kill between recording and its record replaces its entry instead of adding a second one.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from instahide_bench.benchmark.matrix.spec import AttackVariant, EncoderVariant, MatrixSpec
from instahide_bench.core.challenge import refuse_inside_challenge
from instahide_bench.core.errors import InputFileError, InstaHideBenchError
from instahide_bench.core.io import read_json, write_json_atomic
from instahide_bench.core.logs import quiet_logger
from instahide_bench.core.progress import progress_bar
from instahide_bench.core.provenance import hardware_info, scoring_versions, utc_now_iso

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

RESULT_FILE = "matrix.json"
CELL_RECORD = "cell.json"
Status = Literal["ok", "failed"]


@dataclass
class ChallengeResult:
    """One encoder variant's challenge (or why it could not be made)."""

    encoder: str
    preset: str
    overrides: dict[str, Any]
    status: Status
    challenge_dir: str | None = None
    challenge_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass
class CellResult:
    """One attack on one challenge: scores, cost, and what went wrong if anything did."""

    encoder: str
    attack: str
    attack_name: str
    status: Status
    succeeded: bool | None = None
    scores: dict[str, Any] | None = None
    runtime_seconds: float | None = None
    peak_memory_bytes: int | None = None
    message: str = ""
    challenge_id: str | None = None
    entry_path: str | None = None
    grid_path: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    isolation: str | None = None
    reused: bool = False
    threat_model: str = "reconstruction"
    roc_path: str | None = None

    @property
    def max_ssim(self) -> float | None:
        """Max_SSIM of a reconstruction cell; None for a membership cell (see :attr:`auc`)."""
        if self.scores is None or "max_ssim" not in self.scores:
            return None
        return float(self.scores["max_ssim"])

    @property
    def auc(self) -> float | None:
        """ROC AUC of a membership cell; None otherwise."""
        if self.scores is None or "auc" not in self.scores:
            return None
        return float(self.scores["auc"])


@dataclass
class MatrixResult:
    """Everything a matrix run produced, as stored in ``matrix.json``."""

    spec: dict[str, Any]
    challenges: list[ChallengeResult]
    cells: list[CellResult]
    started: str
    finished: str
    hardware: dict[str, Any]
    versions: dict[str, str]

    def challenge(self, encoder: str) -> ChallengeResult | None:
        return next((c for c in self.challenges if c.encoder == encoder), None)

    def cell(self, encoder: str, attack: str) -> CellResult | None:
        return next((c for c in self.cells if c.encoder == encoder and c.attack == attack), None)

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MatrixResult:
        data = read_json(path)
        try:
            return cls(
                spec=data["spec"],
                challenges=[ChallengeResult(**c) for c in data["challenges"]],
                cells=[CellResult(**c) for c in data["cells"]],
                started=data["started"],
                finished=data["finished"],
                hardware=data["hardware"],
                versions=data["versions"],
            )
        except (KeyError, TypeError) as exc:
            raise InputFileError(path, f"not a matrix result ({exc})") from None


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def _fingerprint(*parts: Any) -> str:
    """What a record must match to be reused: its task's inputs, as canonical JSON."""
    import json

    plain = [asdict(p) if hasattr(p, "__dataclass_fields__") else p for p in parts]
    return json.dumps(plain, sort_keys=True, default=str)


def _reusable(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The record at ``path`` when it exists, parses, succeeded and matches ``fingerprint``."""
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except InstaHideBenchError as exc:
        logger.warning("not reusing %s: %s", path, exc)
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None
    result = record.get("result")
    return result if isinstance(result, dict) and result.get("status") == "ok" else None


def clean_leftovers(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Remove what a killed run leaves: hidden ``*.tmp`` files and directories, staging directories."""
    removed = []
    for path in sorted(Path(out_dir).rglob(".*")):
        if path.name.endswith(".tmp") or path.name.startswith(".staging-"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def generate_task(variant: EncoderVariant, spec: MatrixSpec, out_dir: str, resume: bool = False) -> ChallengeResult:
    """Dask task: build and write one encoder variant's challenge (or reuse a finished one)."""
    from instahide_bench.benchmark.generate import MembershipRequest, generate
    from instahide_bench.core.challenge import load_challenge

    target = Path(out_dir) / "challenges" / _slug(variant.label)
    record_path = target.with_name(target.name + ".done.json")
    fingerprint = _fingerprint(variant, spec.private, spec.public, spec.data_seed, spec.membership, spec.candidates)
    previous = _reusable(record_path, fingerprint) if resume else None
    if previous is not None:
        try:
            reused = ChallengeResult(**previous)
            if reused.challenge_dir and load_challenge(reused.challenge_dir).meta.challenge_id == reused.challenge_id:
                logger.info("reusing challenge %s from %s", variant.label, reused.challenge_dir)
                return reused
        except (TypeError, InstaHideBenchError) as exc:
            logger.warning("not reusing challenge %s: %s", variant.label, exc)
    record_path.unlink(missing_ok=True)
    try:
        gradients = None
        if variant.gradients is not None:
            from instahide_bench.benchmark.matrix.spec import gradient_request

            gradients = gradient_request(variant.gradients)
        path, _ = generate(
            variant.preset,
            target,
            overrides=variant.overrides,
            private_source=spec.private,
            public_source=spec.public,
            seed=variant.seed,
            data_seed=spec.data_seed,
            overwrite=True,
            membership=MembershipRequest(spec.candidates) if spec.membership and gradients is None else None,
            gradients=gradients,
        )
        meta = load_challenge(path).meta
        made = ChallengeResult(
            variant.label,
            variant.preset,
            dict(variant.overrides),
            "ok",
            str(path),
            meta.challenge_id,
            dict(meta.params),
        )
        write_json_atomic(record_path, {"fingerprint": fingerprint, "result": asdict(made)})
        return made
    except Exception as exc:  # kept as a failed row, never dropped
        logger.debug("generation of %s failed:\n%s", variant.label, traceback.format_exc())
        return ChallengeResult(
            variant.label,
            variant.preset,
            dict(variant.overrides),
            "failed",
            message=f"challenge generation failed: {type(exc).__name__}: {exc}",
        )


def attack_task(
    challenge: ChallengeResult,
    variant: AttackVariant,
    spec: MatrixSpec,
    out_dir: str,
    leaderboard_root: str,
    resume: bool = False,
) -> CellResult:
    """Dask task: run, score and record one attack on one challenge (or reuse its finished record)."""
    if challenge.status != "ok" or challenge.challenge_dir is None:
        return CellResult(challenge.encoder, variant.label, variant.attack, "failed", message=challenge.message)
    cell_dir = Path(out_dir) / "cells" / f"{_slug(challenge.encoder)}__{_slug(variant.label)}"
    fingerprint = _fingerprint(variant, challenge.challenge_id, spec.time_limit, spec.memory_limit_mib)
    previous = _reusable(cell_dir / CELL_RECORD, fingerprint) if resume else None
    if previous is not None:
        try:
            cell = CellResult(**{**previous, "reused": True})
            logger.info("reusing cell %s x %s from %s", challenge.encoder, variant.label, cell_dir / CELL_RECORD)
            return cell
        except TypeError as exc:
            logger.warning("not reusing %s: %s", cell_dir / CELL_RECORD, exc)
    (cell_dir / CELL_RECORD).unlink(missing_ok=True)
    cell = _run_cell(challenge, variant, spec, cell_dir, leaderboard_root, resume)
    write_json_atomic(cell_dir / CELL_RECORD, {"fingerprint": fingerprint, "result": asdict(cell)})
    return cell


def _run_cell(
    challenge: ChallengeResult,
    variant: AttackVariant,
    spec: MatrixSpec,
    cell_dir: Path,
    leaderboard_root: str,
    resume: bool,
) -> CellResult:
    from instahide_bench.benchmark.runner import RunOptions, run_attack

    assert challenge.challenge_dir is not None
    options = RunOptions(
        time_limit=spec.time_limit,
        memory_limit_bytes=None if spec.memory_limit_mib is None else int(spec.memory_limit_mib * 2**20),
        resume=resume,  # a rerun cell picks up the attack's own cached stages in its work directory
    )
    try:
        report = run_attack(
            variant.attack,
            challenge.challenge_dir,
            cell_dir,
            overrides=variant.overrides,
            options=options,
            record=True,
            leaderboard_root=leaderboard_root,
            entry_name=f"{variant.label} on {challenge.encoder}",
            command_line=f"instahide-bench matrix (cell {challenge.encoder} x {variant.label})",
            entry_stem=f"matrix-{cell_dir.name}-{_slug(challenge.challenge_id or '')}",
            exclude=[cell_dir.parent.parent / "challenges"],  # every sibling challenge, not just this one
        )
    except InstaHideBenchError as exc:
        return CellResult(
            challenge.encoder,
            variant.label,
            variant.attack,
            "failed",
            message=str(exc),
            challenge_id=challenge.challenge_id,
        )
    except Exception as exc:
        logger.debug("cell %s x %s failed:\n%s", challenge.encoder, variant.label, traceback.format_exc())
        return CellResult(
            challenge.encoder,
            variant.label,
            variant.attack,
            "failed",
            message=f"{type(exc).__name__}: {exc}",
            challenge_id=challenge.challenge_id,
        )
    grid, roc = None, None
    if report.entry_path:
        entry = read_json(report.entry_path)
        grid_name, roc_name = entry.get("grid"), entry.get("roc")
        grid = str(Path(report.entry_path).parent / grid_name) if grid_name else None
        roc = str(Path(report.entry_path).parent / roc_name) if roc_name else None
    return CellResult(
        challenge.encoder,
        variant.label,
        variant.attack,
        "ok",
        succeeded=report.succeeded,
        scores=report.scores,
        runtime_seconds=report.runtime_seconds,
        peak_memory_bytes=report.peak_memory_bytes,
        message=report.message,
        challenge_id=challenge.challenge_id,
        entry_path=report.entry_path,
        grid_path=grid,
        info={k: v for k, v in report.info.items() if isinstance(v, (int, float, str, bool))},
        isolation=report.isolation,
        threat_model=report.threat_model,
        roc_path=roc,
    )


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client of ``scheduler``, or of a new LocalCluster; Dask's INFO chatter is quietened while it runs."""
    import dask
    from distributed import Client, LocalCluster

    with quiet_logger("distributed", logging.WARNING):
        if scheduler:
            with Client(scheduler) as client:
                yield client
            return
        # Cells start attack processes (and data loaders start worker pools): workers must not be daemonic.
        count = workers or max(2, (os.cpu_count() or 2) // 2)  # cells spend much of their time starting processes
        with (
            dask.config.set({"distributed.worker.daemon": False}),
            LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            yield client


def run_matrix(
    spec: MatrixSpec,
    out_dir: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    leaderboard_root: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> MatrixResult:
    """Run every cell of ``spec``; write and return the :class:`MatrixResult`.

    ``resume`` reuses the challenges and successful cells an earlier, interrupted run of the
    same spec finished in ``out_dir`` (see the module docstring).
    """
    from distributed import as_completed

    out = Path(out_dir).resolve()
    refuse_inside_challenge(out, "a matrix's output")
    kinds = spec.validate(exclude=[out / "challenges"])
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        for path in clean_leftovers(out):
            logger.info("removed %s, left by an interrupted run", path)
    board = str(Path(leaderboard_root).resolve() if leaderboard_root else out / "leaderboard")
    started = utc_now_iso()
    clock = time.perf_counter()
    with _client(scheduler, workers) as client:
        made = {
            v.label: client.submit(generate_task, v, spec, str(out), resume, pure=False, key=f"generate-{v.label}")
            for v in spec.encoders
        }
        cells = [
            client.submit(
                attack_task,
                made[e.label],
                a,
                spec,
                str(out),
                board,
                resume,
                pure=False,
                key=f"attack-{e.label}-{a.label}",
            )
            for e, a in spec.runnable_cells(kinds)
        ]
        results: list[CellResult] = []
        with progress_bar(desc="matrix cells", total=len(cells), unit="cell") as bar:
            for future in as_completed(cells):
                cell = future.result()
                results.append(cell)
                bar.update(1)
                logger.info(
                    "cell %s x %s: %s%s",
                    cell.encoder,
                    cell.attack,
                    cell.status,
                    f" Max_SSIM {cell.max_ssim:.4f}" if cell.max_ssim is not None else f" ({cell.message})",
                )
        challenges = [made[v.label].result() for v in spec.encoders]
    order = {(e.label, a.label): i for i, (e, a) in enumerate(spec.runnable_cells(kinds))}
    results.sort(key=lambda c: order[(c.encoder, c.attack)])
    result = MatrixResult(
        spec.to_json(), challenges, results, started, utc_now_iso(), hardware_info().to_json(), scoring_versions()
    )
    result.save(out / RESULT_FILE)
    logger.info("matrix of %d cells done in %.1f s", len(results), time.perf_counter() - clock)
    return result
