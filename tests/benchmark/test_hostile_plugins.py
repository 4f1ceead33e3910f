"""Hostile plugins whose hostility runs *before* ``run()``: none of it may execute outside the sandbox.

Each plugin below is a third-party package found through the ``instahide_bench.attacks``
entry-point group, on ``PYTHONPATH`` only (the test process never imports it). Its attempt
sits where the parent used to execute plugin code: module level, the config's defaults,
``__init__``, a scorer monkeypatch, or a default that asks for a wider sandbox (``folder:/``,
a ``tcp://`` endpoint). Had the attempt worked, the plugin would return the key's images and
score 1.0. Every run must be refused with the reason the kernel gave, leave no decryption
scoring above the zero baseline, and leave no hostile module in this process.

The key's path is handed to the plugin in a file beside its code (as if guessed): the
sandbox drops every environment variable that names a challenge.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from instahide_bench.benchmark.landlock import abi_version
from instahide_bench.benchmark.runner import AttackRunError, RunOptions, run_attack
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.errors import ConfigError, InstaHideBenchError
from instahide_bench.core.scoring import score_decryption
from tests.plugin_dist import write_plugin_distribution

pytestmark = pytest.mark.skipif(abi_version() < 1, reason="this kernel has no Landlock")

PACKAGE = "hostile_early"

SOURCE = textwrap.dedent(
    '''
    """Hostile attacks whose attempt runs before run(): at import, in defaults, in __init__."""
    import os
    import socket
    import sys
    from dataclasses import dataclass, field
    from pathlib import Path

    import numpy as np

    from instahide_bench.api import Attack, AttackResult, param

    HERE = Path(__file__).parent


    def _guess(name):
        """What the plugin knows: a file beside its code (the test writes it), else nothing."""
        path = HERE / name
        return path.read_text().strip() if path.exists() else ""


    def _challenge_from_argv():
        """The reported exploit: find --challenge on this process's or its parents' command lines."""
        lines = [sys.argv]
        for pid in ("self", str(os.getppid())):
            try:
                lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\\0"))
            except OSError:
                pass
        for argv in lines:
            if "--challenge" in argv and argv.index("--challenge") + 1 < len(argv):
                return argv[argv.index("--challenge") + 1]
        return ""


    STASH = HERE / "stash"


    def steal(what):
        """The reported exploit: copy the key where the sandboxed run() can read it; raise what stopped it.

        Wherever this runs unsandboxed (the parent, before this change) it succeeds, and run()
        returns the key's images: Max_SSIM 1.0. In the sandbox, open() raises PermissionError.
        """
        if STASH.exists():
            return
        found = _challenge_from_argv()
        key = Path(found, "key") if found else Path(_guess("target.txt")).parent
        private = (key / "private.npy").read_bytes()
        assignment = (key / "assignment.npz").read_bytes()
        STASH.mkdir()
        (STASH / "private.npy").write_bytes(private)
        (STASH / "assignment.npz").write_bytes(assignment)


    def loot_decryption(challenge):
        """The key's images row by row, when a stash exists; else zeros."""
        if not STASH.exists():
            return np.zeros_like(challenge.encryption)
        private = np.load(STASH / "private.npy")
        return private[np.load(STASH / "assignment.npz")["private_index"][:, 0]]


    # module level: runs wherever this module is imported
    if (HERE / "arm-import").exists():
        steal("import")


    class Base(Attack):
        @dataclass(frozen=True)
        class Config:
            pass

        def run(self, challenge, context):
            return AttackResult(loot_decryption(challenge))


    class AtImport(Base):
        name = "hostile-at-import"


    def _default_loot():
        steal("default")
        return "stolen"


    @dataclass(frozen=True)
    class GreedyDefaults:
        loot: str = field(default_factory=_default_loot)


    class InDefaults(Base):
        name = "hostile-in-defaults"
        Config = GreedyDefaults


    class InInit(Base):
        name = "hostile-in-init"

        def __init__(self, config=None):
            super().__init__(config)
            steal("init")


    # an entry point whose import replaces the scorer: perfect scores for whatever is submitted
    import instahide_bench.core.scoring as _scoring
    import instahide_bench.benchmark.recording as _recording

    _honest = _scoring.score_decryption


    def _perfect(challenge, key, decryption, **kwargs):
        return _honest(challenge, key, _scoring.np.asarray(key.private)[key.private_index[:, 0]], **kwargs)


    if (HERE / "arm-scorer").exists():
        _scoring.score_decryption = _perfect
        _recording.score_decryption = _perfect


    class PatchesScorer(Base):
        name = "hostile-patches-scorer"


    @dataclass(frozen=True)
    class WideData:
        aux: str = param("folder:/", "asks for the whole file system", data_source=True)


    class WideDataDefault(Base):
        name = "hostile-folder-root"
        Config = WideData

        def run(self, challenge, context):
            sibling = Path(_guess("sibling.txt"))  # a sibling challenge of the same private images
            private = np.load(sibling / "key" / "private.npy")
            return AttackResult(private[np.load(sibling / "key" / "assignment.npz")["private_index"][:, 0]])


    @dataclass(frozen=True)
    class Phone:
        home: str = param("tcp://127.0.0.1:" + (_guess("port.txt") or "9"), "asks for the network")


    class EndpointDefault(Base):
        name = "hostile-endpoint"
        Config = Phone

        def run(self, challenge, context):
            host, _, port = self.config.home[len("tcp://") :].rpartition(":")
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(b"key please")
            return super().run(challenge, context)
    '''
)

ENTRIES = {
    "hostile-at-import": "AtImport",
    "hostile-in-defaults": "InDefaults",
    "hostile-in-init": "InInit",
    "hostile-patches-scorer": "PatchesScorer",
    "hostile-folder-root": "WideDataDefault",
    "hostile-endpoint": "EndpointDefault",
}


@pytest.fixture
def plugin(tmp_path: Path, tiny_challenge_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The hostile package on PYTHONPATH (for child processes only), told where the key is."""
    root = write_plugin_distribution(
        tmp_path / "plugins",
        PACKAGE,
        SOURCE,
        {name: f"{PACKAGE}:{cls}" for name, cls in ENTRIES.items()},
        "instahide_bench.attacks",
    )
    (root / PACKAGE / "target.txt").write_text(str((tiny_challenge_dir / "key" / "private.npy").resolve()))
    monkeypatch.setenv("PYTHONPATH", str(root))
    yield root
    assert PACKAGE not in sys.modules, "the hostile package was imported by the test process"
    assert not (root / PACKAGE / "stash").exists(), "some process read the key for the plugin"


DENIED = r"PermissionError.*Permission denied"


def _zero_baseline(challenge_dir: Path) -> float:
    challenge = load_challenge(challenge_dir)
    zeros = np.zeros_like(challenge.encryption)
    return score_decryption(challenge, load_key(challenge_dir, challenge.num_rows), zeros).scores.max_ssim


def _refused(name: str, challenge: Path, out: Path, error: type[Exception], match: str, **kw: object) -> str:
    with pytest.raises(error, match=match) as caught:
        run_attack(name, challenge, out, options=RunOptions(isolation="landlock"), score=True, **kw)  # type: ignore[arg-type]
    assert not (out / "decryption.npy").exists()
    return str(caught.value)


def test_module_level_code_runs_only_in_the_sandbox(plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    """The reported exploit: code at import reads the key; here the import happens in the sandbox only."""
    (plugin / PACKAGE / "arm-import").touch()
    message = _refused("hostile-at-import", tiny_challenge_dir, tmp_path / "o", ConfigError, DENIED)
    assert "could not be loaded from its entry point" in message


def test_config_defaults_and_constructors_run_only_in_the_sandbox(
    plugin: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    for name in ("hostile-in-defaults", "hostile-in-init"):
        _refused(name, tiny_challenge_dir, tmp_path / name, AttackRunError, DENIED)


def test_a_monkeypatched_scorer_changes_nothing(plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    (plugin / PACKAGE / "arm-scorer").touch()
    report = run_attack(
        "hostile-patches-scorer",
        tiny_challenge_dir,
        tmp_path / "o",
        options=RunOptions(isolation="landlock"),
        score=True,
    )
    assert report.scores is not None
    assert report.scores["max_ssim"] == pytest.approx(_zero_baseline(tiny_challenge_dir), abs=1e-6)
    assert report.scores["max_ssim"] < 0.9  # the zero baseline (0.506 here); the patched scorer says 1.0


def test_a_plugin_default_grants_no_data_path(plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    """``folder:/`` as a default: a sibling challenge (same private images) stays unreadable."""
    sibling = Path(shutil.copytree(tiny_challenge_dir, tmp_path / "sibling"))
    (plugin / PACKAGE / "sibling.txt").write_text(str(sibling))
    _refused("hostile-folder-root", tiny_challenge_dir, tmp_path / "a", AttackRunError, DENIED)
    # The user may grant folder:/ explicitly; the challenges the runner knows of stay out of it.
    message = _refused(
        "hostile-folder-root",
        tiny_challenge_dir,
        tmp_path / "b",
        AttackRunError,
        DENIED,
        overrides={"aux": "folder:/"},
        exclude=[sibling],
    )
    assert "hostile-folder-root" in message


def test_a_plugin_default_opens_no_network(plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        (plugin / PACKAGE / "port.txt").write_text(str(listener.getsockname()[1]))
        _refused("hostile-endpoint", tiny_challenge_dir, tmp_path / "o", AttackRunError, r"Connection refused")
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_a_user_endpoint_opens_that_port_only(plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    """The same plugin, with the endpoint set by the user: the run records the grant and connects."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        report = run_attack(
            "hostile-endpoint",
            tiny_challenge_dir,
            tmp_path / "o",
            overrides={"home": f"tcp://127.0.0.1:{port}"},
            options=RunOptions(isolation="landlock"),
        )
        assert report.isolation_details["grants"]["connect"] == [port]
        connection, _ = listener.accept()
        connection.close()


def test_the_listing_never_imports_plugins_here(plugin: Path, tmp_path: Path) -> None:
    (plugin / PACKAGE / "arm-import").touch()
    done = subprocess.run(
        [sys.executable, "-m", "instahide_bench.benchmark.cli", "attacks", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert "zero" in listed and "hostile-at-import" not in listed
    assert "could not load attack 'hostile-at-import'" in done.stderr and "Permission denied" in done.stderr


def test_plugins_folder_is_importable_in_the_sandbox_only(
    tiny_challenge_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--plugins DIR``: an untrusted package that is not installed, not on this process's path."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    root = write_plugin_distribution(
        tmp_path / "untrusted", PACKAGE, SOURCE, {"hostile-in-init": f"{PACKAGE}:InInit"}, "instahide_bench.attacks"
    )
    (root / PACKAGE / "target.txt").write_text(str((tiny_challenge_dir / "key" / "private.npy").resolve()))
    with pytest.raises(ConfigError, match="unknown attack 'hostile-in-init'"):
        run_attack("hostile-in-init", tiny_challenge_dir, tmp_path / "a")
    with pytest.raises(AttackRunError, match=DENIED):
        run_attack("hostile-in-init", tiny_challenge_dir, tmp_path / "b", options=RunOptions(plugin_paths=(str(root),)))
    assert PACKAGE not in sys.modules


def test_the_matrix_excludes_every_sibling_challenge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A cell's run is told the folder of all the matrix's challenges, not only its own."""
    from instahide_bench.benchmark import runner
    from instahide_bench.benchmark.matrix.run import ChallengeResult, _run_cell
    from instahide_bench.benchmark.matrix.spec import AttackVariant

    seen: dict[str, object] = {}

    def fake_run_attack(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise InstaHideBenchError("stop here")

    monkeypatch.setattr(runner, "run_attack", fake_run_attack)
    challenge = ChallengeResult("e", "mixup", {}, "ok", str(tmp_path / "challenges" / "e"), "id")
    spec = SimpleNamespace(time_limit=None, memory_limit_mib=None)
    cell = _run_cell(challenge, AttackVariant("zero", "zero"), spec, tmp_path / "cells" / "e__zero", "lb", False)  # type: ignore[arg-type]
    assert cell.status == "failed" and cell.message == "stop here"
    assert [Path(p) for p in seen["exclude"]] == [tmp_path / "challenges"]  # type: ignore[union-attr]


def test_user_grants_come_from_user_values_only(tmp_path: Path) -> None:
    from instahide_bench.benchmark.grants import user_grants

    (tmp_path / "data").mkdir()
    grants = user_grants(
        {
            "aux_private": "folder:data?split=test",
            "scheduler": "tcp://10.0.0.5:8786",
            "note": "http://example.org:80",
            "threads": 2,
            "mode": "embedded",
        },
        [tmp_path / "challenge"],
        base=tmp_path,
    )
    assert grants.read == (str(tmp_path / "data"),)
    assert grants.connect == (8786,)
    assert grants.overrides["aux_private"] == f"folder:{tmp_path / 'data'}?split=test"
    assert grants.overrides["threads"] == 2 and grants.overrides["mode"] == "embedded"
    with pytest.raises(InstaHideBenchError, match="lies inside the challenge directory"):
        user_grants({"aux": "npy:challenge/key/private.npy"}, [tmp_path / "challenge"], base=tmp_path)
    assert os.path.isabs(grants.read[0])
