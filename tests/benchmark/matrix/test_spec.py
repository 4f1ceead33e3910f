"""Matrix specs from flags and from TOML: variants, sweeps, overrides and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from instahide_bench.benchmark.matrix.spec import parse_sweeps, spec_from_cli, spec_from_toml
from instahide_bench.core.errors import ConfigError, InputFileError


def test_cli_spec_expands_sweeps_and_routes_attack_overrides() -> None:
    spec = spec_from_cli(
        "challenge-2020,mixup", "zero,abs-rescale", encoder_set={"n": "12"}, sweeps=parse_sweeps(["T=2,3"])
    )
    labels = [e.label for e in spec.encoders]
    assert labels == ["challenge-2020[T=2]", "challenge-2020[T=3]", "mixup[T=2]", "mixup[T=3]"]
    assert spec.encoders[1].overrides == {"n": "12", "T": "3"}
    assert [a.label for a in spec.attacks] == ["zero", "abs-rescale"]


def test_cli_attack_overrides_need_a_known_attack() -> None:
    spec = spec_from_cli("mixup", "abs-rescale", attack_set={"abs-rescale.x": "1"})
    assert spec.attacks[0].overrides == {"x": "1"}
    with pytest.raises(ConfigError, match=re.escape("ATTACK.FIELD")):
        spec_from_cli("mixup", "abs-rescale", attack_set={"zero.x": "1"})
    with pytest.raises(ConfigError, match="unknown parameter 'x'"):
        spec.validate()


def test_bad_sweeps_and_empty_matrices_are_refused() -> None:
    with pytest.raises(ConfigError, match="--sweep expects"):
        parse_sweeps(["T"])
    with pytest.raises(ConfigError, match="at least one attack"):
        spec_from_cli("mixup", "")
    with pytest.raises(ConfigError, match="unknown preset"):
        spec_from_cli("no-such-preset", "zero").validate()


def test_toml_spec(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[matrix]\nprivate = "embedded"\nencoder_set = { n = 12, T = 2 }\ntime_limit = 30\n'
        '[encoders.weak]\npreset = "instahide-cross"\nset = { rng = "legacy-seeded", seed_bits = 8 }\n'
        "sweep = { k = [4, 6] }\n"
        '[attacks.grey]\nattack = "zero"\n'
    )
    spec = spec_from_toml(path)
    assert [e.label for e in spec.encoders] == ["weak[k=4]", "weak[k=6]"]
    assert spec.encoders[0].overrides == {"n": 12, "T": 2, "rng": "legacy-seeded", "seed_bits": 8, "k": 4}
    assert spec.attacks[0].label == "grey" and spec.attacks[0].attack == "zero"
    assert spec.time_limit == 30
    spec.validate()


def test_only_limits_an_attack_to_some_encoder_variants(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[encoders.cross]\npreset = "instahide-cross"\nsweep = { T = [2, 3] }\n'
        '[encoders.mix]\npreset = "mixup"\n'
        '[attacks.zero]\n[attacks.grey]\nattack = "zero"\nonly = ["cross"]\n'
    )
    spec = spec_from_toml(path)
    cells = [(e.label, a.label) for e, a in spec.cells()]
    assert cells == [
        ("cross[T=2]", "zero"),
        ("cross[T=2]", "grey"),
        ("cross[T=3]", "zero"),
        ("cross[T=3]", "grey"),
        ("mix", "zero"),
    ]
    assert spec.to_json()["attacks"][1]["only"] == ["cross"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[encoders.x]\npreset = 'mixup'\n[attacks.zero]\nonly = ['y']\n", "unknown encoder variant"),
        ("[encoders.x]\npreset = 'mixup'\n[attacks.zero]\nonly = 'x'\n", "must be a list of encoder labels"),
        ("[encoders.x]\npreset = 'mixup'\nsweep = { T = 3 }\n[attacks.zero]\n", "sweep values must be non-empty lists"),
        ("[matrix]\nencoder_set = 3\n", "matrix.encoder_set must be a table"),
        ("[encoders.x]\npreset = 'mixup'\n", "at least one attack"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_toml_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message) as info:
        spec_from_toml(path)
    assert str(path) in str(info.value)


def test_the_packaged_demo_spec_is_valid_and_runs_every_attack() -> None:
    from instahide_bench.attacks import ATTACKS
    from instahide_bench.benchmark.matrix.spec import demo_spec

    spec = demo_spec()
    spec.validate()
    attacks_run = {a.attack for _, a in spec.cells()}
    assert attacks_run == set(ATTACKS.builtin_names())  # whatever third-party plugins are installed
    assert all(e.preset == "instahide-cross" for e, a in spec.cells() if a.attack == "carlini-graph")


def test_a_gradient_variant_runs_only_the_attacks_of_its_kind(tmp_path: Path) -> None:
    from instahide_bench.benchmark.matrix.run import generate_task
    from instahide_bench.benchmark.matrix.spec import spec_from_dict
    from instahide_bench.core.challenge import load_challenge

    document = {
        "matrix": {"encoder_set": {"n": 4}},
        "encoders": {
            "fl": {"preset": "vanilla", "gradients": {"batch_size": 2, "steps": 2, "model": "mlp", "prune": 0.5}},
            "plain": {"preset": "vanilla"},
        },
        "attacks": {"zero": {}, "gradient-inversion": {}},
    }
    spec = spec_from_dict(document, tmp_path / "spec.toml")
    kinds = spec.validate()
    assert kinds == {"zero": ("release",), "gradient-inversion": ("gradients",)}
    assert [(e.label, a.label) for e, a in spec.runnable_cells(kinds)] == [
        ("fl", "gradient-inversion"),
        ("plain", "zero"),
    ]
    made = generate_task(spec.encoders[0], spec, str(tmp_path))
    assert made.status == "ok" and made.challenge_dir is not None
    setup = load_challenge(made.challenge_dir).meta.gradients
    assert setup is not None and setup.defences.prune == 0.5 and setup.model == "mlp"
    bad = spec_from_dict({**document, "encoders": {"fl": {"preset": "vanilla", "gradients": {"steps": 0}}}}, tmp_path)
    with pytest.raises(ConfigError, match="steps"):
        bad.validate()
