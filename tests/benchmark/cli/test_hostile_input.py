"""Careless and hostile input (issue 34): nothing lost, nothing hangs, no wrong score, one line per error.

Each case is one the issue found by hand; each must end in a one-line error naming the problem,
with every input left as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.views import csv_cell, md_cell
from instahide_bench.core.challenge import load_key, write_challenge
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import read_json
from tests.conftest import tiny_encoded


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI, expect exit status 2 and an error line on stderr (argparse adds its usage above it),
    never a traceback; return the error line."""
    try:
        code = main(["-q", *argv])
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err and err, err
    lines = err.splitlines()
    assert len(lines) == 1 or lines[0].startswith("usage:"), err
    return lines[-1]


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def two_challenges(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two challenges with the same row count, and a perfect decryption of the first."""
    first = write_challenge(tmp_path / "c1", tiny_encoded("mixup", seed=1))
    second = write_challenge(tmp_path / "c2", tiny_encoded("mixup", seed=2))
    key = load_key(first)
    perfect = tmp_path / "perfect.npy"
    np.save(perfect, key.private[key.private_index[:, 0]])
    return first, second, perfect


def test_outputs_never_land_on_inputs(two_challenges: tuple[Path, Path, Path], capsys, tmp_path: Path) -> None:
    first, second, perfect = two_challenges
    before, submission = _digests(first), perfect.read_bytes()
    for target in (first / "key" / "private.npy", first / "encryption.npy", first / "key" / "new.csv", first):
        assert "may not be written inside the challenge" in _fails(
            capsys, "score", "--challenge", str(first), "--decryption", str(perfect), "--per-row", str(target)
        )
    assert "would overwrite the input" in _fails(
        capsys, "score", "--challenge", str(first), "--decryption", str(perfect), "--per-row", str(perfect)
    )
    for out in (second / "key", second / "key" / "sub"):
        for extra in ((), ("--overwrite",)):
            assert "lies inside the challenge" in _fails(
                capsys, "generate", "--preset", "mixup", "--set", "n=10", "--out", str(out), *extra
            )
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "thesis.tex").write_text("years of work")
    assert "--overwrite replaces only those" in _fails(
        capsys, "generate", "--preset", "mixup", "--set", "n=10", "--out", str(keep), "--overwrite"
    )
    assert "may not be written inside the challenge" in _fails(
        capsys, "attack", "zero", "--challenge", str(first), "--out", str(second / "key" / "x")
    )
    assert not (second / "key" / "x").exists()  # refused before any directory was made
    assert _digests(first) == before and perfect.read_bytes() == submission
    assert (keep / "thesis.tex").read_text() == "years of work"


def test_a_key_copied_from_another_challenge_is_refused(two_challenges: tuple[Path, Path, Path], capsys) -> None:
    first, second, perfect = two_challenges
    assert main(["-q", "score", "--challenge", str(first), "--decryption", str(perfect), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_ssim"] == pytest.approx(1.0)
    shutil.rmtree(second / "key")
    shutil.copytree(first / "key", second / "key")
    err = _fails(capsys, "score", "--challenge", str(second), "--decryption", str(perfect))
    assert "this key belongs to another challenge" in err and "encryption.npy" in err


def test_key_json_may_not_name_files_outside_its_folder(two_challenges: tuple[Path, Path, Path], capsys) -> None:
    first, _, perfect = two_challenges
    key_json = first / "key" / "key.json"
    document = json.loads(key_json.read_text())
    document["files"]["/dev/zero"] = "0" * 64  # read forever before
    key_json.write_text(json.dumps(document))
    assert "not a file name in its folder" in _fails(
        capsys, "score", "--challenge", str(first), "--decryption", str(perfect)
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["--set", "dom=1"], "which a draw never gives"),
        (["--set", "upper=0.16666666666666666", "--set", "k=6"], "no coefficient row can satisfy"),
        (["--set", "k=1000"], "rejection sampling would not finish"),
        (["--set", "T=1000000000"], "GiB for its arrays alone"),
        (["--seed", "-1"], "outside [0, 4,294,967,295]"),
        (["--seed", "4294967296"], "outside [0, 4,294,967,295]"),
        (["--data-seed", "-1"], "outside [0,"),
        (["--original-layout", "--set", "n=10"], "drop --original-layout"),
    ],
)
def test_generate_refuses_settings_that_hang_or_misread(
    setting: list[str], message: str, capsys, tmp_path: Path
) -> None:
    preset = "instahide-inside" if "--original-layout" in setting else "instahide-cross"
    err = _fails(capsys, "generate", "--preset", preset, *setting, "--out", str(tmp_path / "x"))
    assert message in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "option",
    [["--resamples", "-5"], ["--resamples", "1000000000"], ["--bootstrap-seed", "-1"], ["--runtime", "nan"]],
)
def test_score_options_are_bounded(option: list[str], capsys, tmp_path: Path) -> None:
    assert "is outside" in _fails(capsys, "score", "--challenge", str(tmp_path), "--scores", "x.npy", *option)


def _npy_with_header(path: Path, header: str) -> Path:
    text = header.encode("latin1")
    text += b" " * (16 - (10 + len(text) + 1) % 16) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text)
    return path


def test_a_header_dimension_past_int64_is_one_line(two_challenges: tuple[Path, Path, Path], capsys, tmp_path) -> None:
    first, _, _ = two_challenges
    huge = _npy_with_header(
        tmp_path / "huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 32, 32, 3), }"
    )
    assert "refusing to read it" in _fails(capsys, "score", "--challenge", str(first), "--decryption", str(huge))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"peak_memory_bytes": 1e400}', "does not fit a float"),
        ('{"x": NaN}', "JSON has no NaN"),
        ('{"x": -Infinity}', "JSON has no NaN"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_json_the_suite_never_writes_is_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message):
        read_json(path)
    with pytest.raises(InputFileError, match="not a regular file"):
        read_json("/dev/zero")


def test_markdown_and_csv_views_show_text_as_text() -> None:
    cell = md_cell("<img src=x onerror=alert(1)> ![a](http://x)\n| y [0.1, 0.2]")
    assert (
        "<" not in cell
        and re.search(r"(?<!\\)\]\(", cell) is None
        and "\n" not in cell
        and "\\|" in cell
        and "[0.1, 0.2]" in cell
    )
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell(-1.5) == -1.5 and csv_cell("plain") == "plain"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('time_limit = "x"', "matrix.time_limit must be a finite number"),
        ("time_limit = nan", "matrix.time_limit must be a finite number"),
        ("memory_limit_mib = inf", "matrix.memory_limit_mib must be a finite number"),
        ("time_limit = -1", "matrix.time_limit must be a finite number of at least 0"),
        ("private = 7", "matrix.private must be a str"),
        ("data_seed = 1.5", "matrix.data_seed must be an integer"),
    ],
)
def test_a_spec_with_wrong_types_is_one_line(line: str, message: str, capsys, tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(
        f'[matrix]\n{line}\n[encoders.a]\npreset = "mixup"\n[attacks.zero]\n'
        '[[thresholds]]\nencoder = "a"\nattack = "zero"\nmax_ssim_at_most = 1.0\n'
    )
    assert message in _fails(capsys, "regress", "--thresholds", str(spec), "--out", str(tmp_path / "out"))
