"""The Landlock bindings on their own: ABI probing, rights per ABI, and a restricted child process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from instahide_bench.benchmark.landlock import FS, Ruleset, abi_version, handled_fs

RESTRICTED_CHILD = textwrap.dedent(
    """
    import os, sys
    from instahide_bench.benchmark import landlock
    allowed, denied = sys.argv[1], sys.argv[2]
    ruleset = landlock.Ruleset(landlock.abi_version(), restrict_tcp=False)
    ruleset.allow_paths([p for p in sys.path if p] + ["/usr", "/lib", "/lib64", "/etc"], landlock.READ)
    ruleset.allow_path(allowed, ruleset.fs)
    assert not ruleset.allow_path(os.path.join(allowed, "missing"), landlock.READ)
    ruleset.restrict_self()
    open(os.path.join(allowed, "written"), "w").write("fine")
    try:
        open(os.path.join(denied, "secret")).read()
    except PermissionError:
        print("denied")
    else:
        print("READ")
    """
)


def test_newer_rights_are_only_handled_by_newer_abis() -> None:
    assert FS.REFER not in handled_fs(1) and FS.REFER in handled_fs(2)
    assert FS.TRUNCATE not in handled_fs(2) and FS.TRUNCATE in handled_fs(3)
    assert FS.IOCTL_DEV not in handled_fs(4) and FS.IOCTL_DEV in handled_fs(5)
    assert abi_version() >= 0


def test_without_landlock_a_ruleset_cannot_be_built() -> None:
    with pytest.raises(OSError, match="not available"):
        Ruleset(0, restrict_tcp=True)


@pytest.mark.skipif(abi_version() < 1, reason="this kernel has no Landlock")
def test_a_restricted_process_reads_and_writes_only_what_it_was_granted(tmp_path: Path) -> None:
    allowed, denied = tmp_path / "allowed", tmp_path / "denied"
    allowed.mkdir()
    denied.mkdir()
    (denied / "secret").write_text("key")
    done = subprocess.run(
        [sys.executable, "-c", RESTRICTED_CHILD, str(allowed), str(denied)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "denied"
    assert (allowed / "written").read_text() == "fine"
    assert (denied / "secret").read_text() == "key"  # this process is not restricted
