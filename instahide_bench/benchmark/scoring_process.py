"""Score (and record) an attack run in a fresh process that has never loaded a plugin.

What a leaderboard entry says must be what the key says. The attack's own process ran plugin
code, and so may any process that imported a plugin (an encoder's entry point, a notebook):
such code could replace the scorer in memory. So the runner scores from the files on disk in
a new interpreter started with ``-I`` (isolated mode: no ``PYTHONPATH``, no user site
directory, no working directory on ``sys.path``), which imports the suite's own modules and
nothing else: no registry is consulted, no entry point loaded.

Parent side: :func:`score_run`. Child side: :func:`main`, run as
``python -I -c BOOTSTRAP JOB.json`` (see :func:`_argv`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instahide_bench.core.errors import InputFileError, InstaHideBenchError

if TYPE_CHECKING:
    from instahide_bench.benchmark.runner import RunReport

logger = logging.getLogger(__name__)

# Isolated mode drops the working directory and PYTHONPATH from sys.path; where the suite is not
# installed (a source checkout run in place), its own parent directory is appended, after every
# standard entry, so that it can shadow nothing.
_BOOTSTRAP = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from instahide_bench.benchmark.scoring_process import main; sys.exit(main(sys.argv[2:]))"
)


def _argv(job_path: Path) -> list[str]:
    import instahide_bench

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(instahide_bench.__file__)))
    return [sys.executable, "-I", "-c", _BOOTSTRAP, package_parent, str(job_path)]


def score_run(
    report: RunReport,
    *,
    record: bool,
    leaderboard_root: str | os.PathLike[str] | None,
    entry_name: str | None,
    command_line: str,
    entry_stem: str | None = None,
) -> None:
    """Fill ``report.scores`` (and ``report.entry_path`` when ``record``) from a clean process."""
    root = str(Path(leaderboard_root if leaderboard_root is not None else "leaderboard").resolve())
    with tempfile.TemporaryDirectory(prefix="instahide-score-") as scratch_name:
        scratch = Path(scratch_name)
        job = {
            "report": asdict(report),
            "record": record,
            "leaderboard_root": root,
            "entry_name": entry_name,
            "command_line": command_line,
            "entry_stem": entry_stem,
            "log_level": logging.getLogger().getEffectiveLevel(),
            "answer": str(scratch / "answer.json"),
        }
        job_path = scratch / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        done = subprocess.run(_argv(job_path), cwd=scratch, stdin=subprocess.DEVNULL, check=False)
        answer_path = scratch / "answer.json"
        if not answer_path.is_file():
            raise InstaHideBenchError(
                f"scoring {report.out_dir} failed: the scoring process exited with code {done.returncode}"
            )
        answer = json.loads(answer_path.read_text(encoding="utf-8"))
    if "error" in answer:
        error = answer["error"]
        if error.get("path") is not None:
            raise InputFileError(error["path"], error["problem"])
        raise InstaHideBenchError(error["message"])
    report.scores = answer["scores"]
    report.entry_path = answer["entry_path"]


def _score(job: dict[str, Any]) -> dict[str, Any]:
    from instahide_bench.benchmark.recording import record_membership_run, record_run
    from instahide_bench.benchmark.runner import RunReport
    from instahide_bench.core.threats import MEMBERSHIP

    report = RunReport(**job["report"])
    membership = report.threat_model == MEMBERSHIP
    record_as = record_membership_run if membership else record_run
    record_as(
        report,
        report.challenge_dir,
        Path(report.out_dir) / ("membership_scores.npy" if membership else "decryption.npy"),
        record=job["record"],
        leaderboard_root=job["leaderboard_root"],
        entry_name=job["entry_name"],
        command_line=job["command_line"],
        entry_stem=job["entry_stem"],
    )
    return {"scores": report.scores, "entry_path": report.entry_path}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    logging.basicConfig(
        level=job["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    answer: dict[str, Any]
    try:
        answer = _score(job)
    except InputFileError as exc:
        answer = {"error": {"path": exc.path, "problem": exc.problem, "message": str(exc)}}
    except InstaHideBenchError as exc:
        answer = {"error": {"path": None, "message": str(exc)}}
    except Exception as exc:  # reported to the parent in one line; the traceback goes to the log
        logger.error("scoring failed:\n%s", traceback.format_exc())
        answer = {"error": {"path": None, "message": f"scoring failed: {type(exc).__name__}: {exc}"}}
    from instahide_bench.core.io import write_json_atomic

    write_json_atomic(job["answer"], answer)
    return 0


__all__ = ["score_run"]
