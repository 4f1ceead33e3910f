"""Chain a gradient attack into a release attack: gradients -> recovered inputs -> private images.

Federated learning's defenders say the release attacks do not apply to gradients. The chain
answers that claim end to end: a gradient attack (``gradient-inversion``) recovers the inputs
the client fed and their soft labels; those form a *derived release*, a challenge directory of
public files only (``encryption.npy`` = the recovered inputs, ``label.npy`` = the restored
labels, challenge.json with the encoder's public parameters), on which any release attack runs
unchanged; its decryption is scored against the gradient challenge's key. Both attacks run in
the sandbox, the second with the gradient challenge excluded as well.

Layout of ``OUT``: ``OUT/<first>/`` and ``OUT/<then>/`` (each attack's own outputs and work),
``OUT/derived/`` (the derived release), and ``OUT/decryption.npy``, ``OUT/inputs.npy`` and
``OUT/run.json`` for the chain as a whole.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.benchmark.runner import RunOptions, RunReport, run_attack
from instahide_bench.core.challenge import (
    ENCRYPTION_FILE,
    LABEL_FILE,
    META_FILE,
    PUBLIC_FILES,
    PublicChallenge,
    load_challenge,
)
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.io import load_npy, make_sibling_dir, save_npy_atomic, sha256_file, write_json_atomic

DERIVED_DIR = "derived"


def write_derived_release(challenge: PublicChallenge, inputs: np.ndarray, labels: np.ndarray, out_dir: Path) -> Path:
    """A release challenge (public files only) of recovered inputs and labels, with the encoder's public params."""
    staging = make_sibling_dir(out_dir)
    try:
        save_npy_atomic(staging / ENCRYPTION_FILE, np.asarray(inputs, np.float32))
        save_npy_atomic(staging / LABEL_FILE, np.asarray(labels, np.float32))
        files = {name: sha256_file(staging / name) for name in PUBLIC_FILES}
        n = challenge.meta.num_private
        params = {**challenge.meta.params, "num_rows": len(inputs)}
        if n and "T" in params and len(inputs) % n == 0:
            params["T"] = len(inputs) // n
        meta = dataclasses.replace(
            challenge.meta,
            challenge_id=f"derived-{files[ENCRYPTION_FILE][:10]}",
            params=params,
            files=files,
            gradients=None,
            membership=None,
            sources={**challenge.meta.sources, "derived_from": challenge.meta.challenge_id},
        )
        write_json_atomic(staging / META_FILE, meta.to_json())
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def run_chain(
    first: str,
    then: str,
    challenge_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    first_overrides: dict[str, Any] | None = None,
    then_overrides: dict[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    score: bool = False,
    record: bool = False,
    leaderboard_root: str | os.PathLike[str] | None = None,
    entry_name: str | None = None,
    command_line: str | None = None,
) -> RunReport:
    """Run ``first`` on a gradient challenge, ``then`` on what it recovered; one report for the chain."""
    challenge_dir, out_dir = Path(challenge_dir).resolve(), Path(out_dir).resolve()
    challenge = load_challenge(challenge_dir)
    if challenge.gradients is None:
        raise InputFileError(
            challenge_dir / META_FILE, "--then chains attacks on gradient challenges; this is a release"
        )
    if first == then or "/" in first or "/" in then:
        raise ConfigError(f"cannot chain {first!r} into {then!r}")
    one = run_attack(first, challenge_dir, out_dir / first, overrides=first_overrides, options=options)
    inputs_path, labels_path = out_dir / first / "inputs.npy", out_dir / first / "input_labels.npy"
    if not inputs_path.is_file() or not labels_path.is_file():
        raise ConfigError(f"{first!r} recovered no inputs and labels (inputs.npy, input_labels.npy) to chain from")
    derived = write_derived_release(challenge, load_npy(inputs_path), load_npy(labels_path), out_dir / DERIVED_DIR)
    two = run_attack(then, derived, out_dir / then, overrides=then_overrides, options=options, exclude=[challenge_dir])
    shutil.copyfile(out_dir / then / "decryption.npy", out_dir / ".decryption.npy.tmp")
    os.replace(out_dir / ".decryption.npy.tmp", out_dir / "decryption.npy")
    shutil.copyfile(inputs_path, out_dir / ".inputs.npy.tmp")
    os.replace(out_dir / ".inputs.npy.tmp", out_dir / "inputs.npy")
    report = RunReport(
        attack=f"{first}+{then}",
        attack_version=f"{one.attack_version}+{two.attack_version}",
        config={first: one.config, then: two.config},
        complexity=f"{one.complexity}; then {two.complexity}",
        challenge_id=challenge.meta.challenge_id,
        challenge_dir=str(challenge_dir),
        out_dir=str(out_dir),
        device=one.device,
        runtime_seconds=one.runtime_seconds + two.runtime_seconds,
        peak_memory_bytes=max(one.peak_memory_bytes, two.peak_memory_bytes),
        succeeded=one.succeeded and two.succeeded,
        message="; ".join(m for m in (one.message, two.message) if m),
        info={first: one.info, then: two.info, "derived_release": str(derived)},
        isolation=two.isolation if one.isolation == two.isolation else f"{one.isolation}; {two.isolation}",
        isolation_details={first: one.isolation_details, then: two.isolation_details},
        threat_model=one.threat_model,
    )
    if score or record:
        from instahide_bench.benchmark.scoring_process import score_run

        score_run(
            report,
            record=record,
            leaderboard_root=leaderboard_root,
            entry_name=entry_name,
            command_line=command_line or shlex.join(sys.argv),
        )
    write_json_atomic(out_dir / "run.json", asdict(report))
    return report


__all__ = ["DERIVED_DIR", "run_chain", "write_derived_release"]
