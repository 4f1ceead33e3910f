"""The federated-learning commands: generate --gradients, attack --then, score --inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instahide_bench.benchmark.cli import main


def test_generate_attack_chain_and_score_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    challenge = tmp_path / "fl"
    args = ["generate", "--preset", "vanilla", "--set", "n=4", "--gradients", "--model", "mlp"]
    assert main([*args, "--batch-size", "2", "--steps", "2", "--labels-public", "--out", str(challenge)]) == 0
    assert "wrote 2 updates of 2 rows on mlp (1 epochs" in capsys.readouterr().out
    assert (challenge / "label.npy").is_file()
    out = tmp_path / "chain"
    chain = ["attack", "gradient-inversion", "--then", "identity", "--score", "--json"]
    code = main([*chain, "--challenge", str(challenge), "--out", str(out)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["attack"] == "gradient-inversion+identity"
    assert report["scores"]["max_ssim"] > 0.999 and report["scores"]["inputs_ssim"] > 0.999
    score = ["score", "--challenge", str(challenge), "--inputs", str(out / "inputs.npy")]
    code = main([*score, "--decryption", str(out / "decryption.npy")])
    assert code == 0 and "inputs      SSIM 1.0000" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "4"], "--batch-size needs --gradients"),
        (["--gradients", "--steps", "0"], "argument --steps: 0 is outside [1, 1,000,000]"),
        (["--gradients", "--model", "vgg"], "unknown model 'vgg'"),
        (["--gradients", "--prune", "1.5"], "argument --prune: 1.5 is outside [0, 1]"),
        (["--gradients", "--membership"], "a gradient challenge takes no membership"),
    ],
)
def test_bad_federated_options_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["generate", "--preset", "vanilla", "--set", "n=4", *args, "--out", str(tmp_path / "x")])
    except SystemExit as exit_:  # argparse's bounds
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_then_set_needs_then(tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_challenge_dir: Path) -> None:
    code = main(
        ["attack", "zero", "--challenge", str(tiny_challenge_dir), "--out", str(tmp_path / "o"), "--then-set", "a=1"]
    )
    assert code == 2 and "--then-set needs --then" in capsys.readouterr().err
