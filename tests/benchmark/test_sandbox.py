"""Hostile plugins against the kernel sandbox: every way in must fail, and the run must say so.

Each hostile attack is a third-party plugin (registered through an entry point, as in
``test_runner.py``) that makes one attempt and raises what it met; had it succeeded it would
return a decryption built from the key. Most are handed the key's path in their config (as if
they had guessed it), so that the kernel's refusal is what is tested; the reconnaissance ones
get nothing and must find nothing. Skipped where the kernel has no Landlock.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.landlock import abi_version
from instahide_bench.benchmark.runner import AttackRunError, RunOptions, run_attack
from instahide_bench.benchmark.sandbox import grants_avoiding, python_read_paths
from tests.plugin_dist import installed_attacks, write_plugin_distribution

pytestmark = pytest.mark.skipif(abi_version() < 1, reason="this kernel has no Landlock")


def _namespaces_allowed() -> bool:
    """Whether this host lets an unprivileged process unshare user, mount, PID and network namespaces."""
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x70020000) != 0)"
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


#: Hiding the parents' command lines and working directories needs the namespaces; Landlock
#: alone does not cover /proc (the runner warns then, see docs/isolation.md).
needs_namespaces = pytest.mark.skipif(not _namespaces_allowed(), reason="this host forbids user namespaces")

HOSTILE_SOURCE = textwrap.dedent(
    '''
    """Hostile attacks: each tries one way to the key and raises what stopped it."""
    import ctypes
    import os
    import socket
    import subprocess
    from dataclasses import dataclass
    from pathlib import Path

    import numpy as np

    from instahide_bench.attacks import Attack, AttackResult


    @dataclass(frozen=True)
    class Target:
        target: str = ""   # the key file, as if guessed
        pid: int = 0       # the runner's real PID, as if guessed
        port: int = 0      # a port listening outside the sandbox


    class Hostile(Attack):
        Config = Target

        def attempt(self):
            raise NotImplementedError

        def run(self, challenge, context):
            loot = self.attempt()
            return AttackResult(np.zeros_like(challenge.encryption), info={"loot": repr(loot)[:200]})


    def _parent(config):
        return config.pid or os.getppid()


    class CtypesOpen(Hostile):
        name = "hostile-ctypes-open"

        def attempt(self):
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.open(self.config.target.encode(), os.O_RDONLY)
            if fd < 0:
                code = ctypes.get_errno()
                raise PermissionError(code, "libc open: " + os.strerror(code))
            return os.read(fd, 128)


    class SubprocessCat(Hostile):
        name = "hostile-cat"

        def attempt(self):
            done = subprocess.run(["cat", self.config.target], capture_output=True)
            if done.returncode:
                raise PermissionError("cat failed: " + done.stderr.decode().strip())
            return done.stdout


    class ParentCmdline(Hostile):
        name = "hostile-proc-cmdline"

        def attempt(self):
            return Path(f"/proc/{_parent(self.config)}/cmdline").read_bytes()


    class ParentCwd(Hostile):
        name = "hostile-proc-cwd"

        def attempt(self):
            return os.listdir(os.readlink(f"/proc/{_parent(self.config)}/cwd"))


    class ParentMem(Hostile):
        name = "hostile-proc-mem"

        def attempt(self):
            with open(f"/proc/{_parent(self.config)}/mem", "rb") as handle:
                return handle.read(16)


    class InheritedFds(Hostile):
        name = "hostile-fds"

        def attempt(self):
            found = {}
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                try:
                    link = os.readlink(f"/proc/self/fd/{fd}")
                    head = os.pread(fd, 6, 0) if fd > 2 else b""
                except OSError:
                    continue
                if "key" in link or head == b"\\x93NUMPY":
                    found[fd] = link
            if not found:
                raise FileNotFoundError("no inherited descriptor leads to the key")
            return found


    class Symlink(Hostile):
        name = "hostile-symlink"

        def attempt(self):
            os.symlink(os.path.dirname(self.config.target), "alias")
            return Path("alias", os.path.basename(self.config.target)).read_bytes()


    class Hardlink(Hostile):
        name = "hostile-hardlink"

        def attempt(self):
            os.link(self.config.target, "copy.npy")
            return Path("copy.npy").read_bytes()


    class ScratchLinks(Hostile):
        name = "hostile-scratch-links"

        def attempt(self):
            found = []
            for root, dirs, files in os.walk(os.getcwd()):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    if os.path.islink(path):
                        found.append(os.readlink(path))
                    elif os.path.isfile(path) and os.stat(path).st_nlink > 1:
                        found.append(path)
            if not found:
                raise FileNotFoundError("no symlink or hard link in the scratch directory")
            return found


    def _read(path):
        return Path(path).read_bytes()[:16]


    class DaskWorker(Hostile):
        name = "hostile-dask"

        def attempt(self):
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                with Client(cluster) as client:
                    return client.submit(_read, self.config.target).result()


    class Egress(Hostile):
        name = "hostile-egress"

        def attempt(self):
            with socket.create_connection(("127.0.0.1", self.config.port), timeout=5) as sock:
                sock.sendall(b"key please")
                return "connected"


    class Reconnaissance(Hostile):
        """Looks everywhere for a directory with a key: environment, /proc, descriptors, job file."""
        name = "hostile-recon"

        def attempt(self):
            texts = list(os.environ.values()) + [Path("job.json").read_text() if Path("job.json").exists() else ""]
            for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                for what in ("cmdline", "environ"):
                    try:
                        texts.append(Path(f"/proc/{pid}/{what}").read_bytes().replace(b"\\0", b" ").decode())
                    except OSError:
                        pass
                for link in ("cwd", "root"):
                    try:
                        texts.append(os.readlink(f"/proc/{pid}/{link}"))
                    except OSError:
                        pass
            for fd in os.listdir("/proc/self/fd"):
                try:
                    texts.append(os.readlink(f"/proc/self/fd/{fd}"))
                except OSError:
                    pass
            found = set()
            for text in texts:
                for word in text.replace('"', " ").replace("=", " ").replace(",", " ").split():
                    for candidate in (word, os.path.dirname(word)):
                        if candidate.startswith("/") and os.path.exists(os.path.join(candidate, "key")):
                            found.add(candidate)
            if not found:
                raise FileNotFoundError("found no trace of the challenge directory")
            return sorted(found)
    '''
)

HOSTILE = {
    "hostile-ctypes-open": "CtypesOpen",
    "hostile-cat": "SubprocessCat",
    "hostile-proc-cmdline": "ParentCmdline",
    "hostile-proc-cwd": "ParentCwd",
    "hostile-proc-mem": "ParentMem",
    "hostile-fds": "InheritedFds",
    "hostile-symlink": "Symlink",
    "hostile-hardlink": "Hardlink",
    "hostile-scratch-links": "ScratchLinks",
    "hostile-dask": "DaskWorker",
    "hostile-egress": "Egress",
    "hostile-recon": "Reconnaissance",
}


@pytest.fixture(scope="module")
def hostile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = {name: f"hostile_attacks:{cls}" for name, cls in HOSTILE.items()}
    root = tmp_path_factory.mktemp("hostile-plugins")
    return write_plugin_distribution(root, "hostile_attacks", HOSTILE_SOURCE, entries, "instahide_bench.attacks")


@pytest.fixture
def hostile(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with installed_attacks(hostile_path, monkeypatch):
        yield hostile_path


def _key_file(challenge: Path) -> str:
    return str((challenge / "key" / "private.npy").resolve())


def _blocked(name: str, challenge: Path, out: Path, match: str, namespaces: bool = True, **config: object) -> str:
    """Run hostile attack ``name``; it must fail, report why, and leave no decryption."""
    overrides = {key: str(value) for key, value in config.items()}
    options = RunOptions(isolation="landlock", namespaces=namespaces)
    with pytest.raises(AttackRunError, match=match) as caught:
        run_attack(name, challenge, out, overrides=overrides, options=options)
    assert not (out / "decryption.npy").exists()
    assert (challenge / "key" / "private.npy").exists()
    return str(caught.value)


DENIED = r"PermissionError|Permission denied|No such file|FileNotFoundError"


def test_ctypes_open_of_the_key_is_refused_by_the_kernel(
    hostile: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    message = _blocked(
        "hostile-ctypes-open",
        tiny_challenge_dir,
        tmp_path / "o",
        "libc open: Permission denied",
        target=_key_file(tiny_challenge_dir),
    )
    assert "hostile-ctypes-open" in message


def test_subprocess_cat_is_refused(hostile: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    _blocked(
        "hostile-cat",
        tiny_challenge_dir,
        tmp_path / "o",
        "cat failed: .*Permission denied",
        target=_key_file(tiny_challenge_dir),
    )


@needs_namespaces
@pytest.mark.parametrize("name", ["hostile-proc-cmdline", "hostile-proc-cwd", "hostile-proc-mem"])
def test_parent_process_is_out_of_reach(
    name: str, hostile: Path, tiny_challenge_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_challenge_dir)  # the runner's own working directory is the challenge
    _blocked(name, tiny_challenge_dir, tmp_path / "o", DENIED, pid=os.getpid())
    _blocked(name, tiny_challenge_dir, tmp_path / "o", DENIED)  # its direct parent (the launcher, or none)


def test_inherited_descriptors_lead_nowhere(hostile: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    leaked = os.open(_key_file(tiny_challenge_dir), os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        _blocked("hostile-fds", tiny_challenge_dir, tmp_path / "o", "no inherited descriptor leads to the key")
    finally:
        os.close(leaked)


def test_symlink_and_hardlink_tricks_are_refused(hostile: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    target = _key_file(tiny_challenge_dir)
    _blocked("hostile-symlink", tiny_challenge_dir, tmp_path / "s", DENIED, target=target)
    _blocked(
        "hostile-hardlink",
        tiny_challenge_dir,
        tmp_path / "h",
        r"Invalid cross-device link|Permission denied",
        target=target,
    )
    _blocked("hostile-scratch-links", tiny_challenge_dir, tmp_path / "l", "no symlink or hard link in the scratch")


def test_a_dask_worker_of_the_attack_cannot_read_the_key(
    hostile: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    _blocked("hostile-dask", tiny_challenge_dir, tmp_path / "o", DENIED, target=_key_file(tiny_challenge_dir))


def test_network_egress_is_refused(hostile: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        _blocked(
            "hostile-egress", tiny_challenge_dir, tmp_path / "o", r"Connection refused|Permission denied", port=port
        )
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_landlock_alone_refuses_the_key_the_parent_and_tcp(
    hostile: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    """Without namespaces (hosts that forbid them) the kernel still says no, by Landlock's own rules."""
    denied = r"Permission denied"
    key = _key_file(tiny_challenge_dir)
    _blocked("hostile-ctypes-open", tiny_challenge_dir, tmp_path / "a", denied, False, target=key)
    _blocked("hostile-proc-mem", tiny_challenge_dir, tmp_path / "b", denied, False, pid=os.getpid())
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        _blocked("hostile-egress", tiny_challenge_dir, tmp_path / "c", denied, False, port=listener.getsockname()[1])


@needs_namespaces
def test_reconnaissance_from_the_cli_finds_no_trace_of_the_challenge(
    hostile: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    """Through the real CLI, whose command line, environment and cwd all name the challenge."""
    env = {**os.environ, "CHALLENGE_HINT": str(tiny_challenge_dir)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "instahide_bench.benchmark.cli",
            "attack",
            "hostile-recon",
            "--challenge",
            str(tiny_challenge_dir),
            "--out",
            str(tmp_path / "o"),
        ],
        check=False,
        cwd=tiny_challenge_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "found no trace of the challenge directory" in done.stderr
    assert not (tmp_path / "o" / "decryption.npy").exists()


def test_benign_attack_records_the_isolation(tiny_challenge_dir: Path, tmp_path: Path) -> None:
    import json

    report = run_attack("zero", tiny_challenge_dir, tmp_path / "o", options=RunOptions(isolation="landlock"))
    assert report.isolation == f"landlock ABI {abi_version()}"
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["isolation"] == report.isolation and "namespaces" in run["isolation_details"]
    fallback = run_attack("zero", tiny_challenge_dir, tmp_path / "f", options=RunOptions(isolation="audit-hook"))
    assert fallback.isolation == "audit-hook"
    np.testing.assert_array_equal(
        np.load(tmp_path / "o" / "decryption.npy"), np.load(tmp_path / "f" / "decryption.npy")
    )


def test_grants_avoid_the_excluded_directory(tmp_path: Path) -> None:
    (tmp_path / "a" / "sets" / "challenge" / "key").mkdir(parents=True)
    (tmp_path / "a" / "sets" / "other").mkdir()
    (tmp_path / "a" / "code").mkdir()
    (tmp_path / "b").mkdir()
    grants = grants_avoiding(
        [tmp_path / "a", tmp_path / "b", tmp_path / "a" / "sets" / "challenge" / "key"],
        tmp_path / "a" / "sets" / "challenge",
    )
    assert grants == sorted(
        str(p) for p in (tmp_path / "a" / "code", tmp_path / "a" / "sets" / "other", tmp_path / "b")
    )


def test_a_symlink_beside_a_challenge_does_not_grant_it(tmp_path: Path) -> None:
    """Splitting a grant around a challenge resolves each entry: a link to a folder above it is split too.

    Found with pytest's own ``tmp_path``: ``pytest-current`` links to the session's folder, and
    granting that link (Landlock follows it) granted every challenge in the session.
    """
    (tmp_path / "runs" / "challenge" / "key").mkdir(parents=True)
    (tmp_path / "runs" / "other").mkdir()
    (tmp_path / "runs-current").symlink_to(tmp_path / "runs")
    (tmp_path / "key-link").symlink_to(tmp_path / "runs" / "challenge" / "key")
    grants = grants_avoiding([tmp_path], [tmp_path / "runs" / "challenge"])
    assert grants == [str(tmp_path / "runs" / "other")]
    assert not [g for g in grants if os.path.realpath(g).startswith(str(tmp_path / "runs" / "challenge"))]


def test_grants_that_would_reach_the_challenge_are_refused_before_the_attack_starts(
    tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    from instahide_bench.core.errors import InstaHideBenchError

    challenge = Path(shutil.copytree(tiny_challenge_dir, tmp_path / "challenge"))
    options = RunOptions(isolation="landlock")
    key = challenge / "key" / "private.npy"
    with pytest.raises(InstaHideBenchError, match=r"aux_private=.* lies inside the challenge directory"):
        run_attack("carlini-graph", challenge, tmp_path / "o", overrides={"aux_private": f"npy:{key}"}, options=options)
    with pytest.raises(InstaHideBenchError, match=r"lies inside the challenge directory"):
        run_attack("zero", challenge, challenge / "runs" / "zero", options=options)
    assert not (challenge / "runs" / "zero" / "decryption.npy").exists()


def test_a_working_directory_on_sys_path_lends_only_its_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m`` from a folder that also holds matrix outputs: their keys stay unreadable."""
    (tmp_path / "mypackage").mkdir()
    (tmp_path / "mypackage" / "__init__.py").write_text("")
    (tmp_path / "tool.py").write_text("")
    (tmp_path / "matrix-out" / "challenges" / "other" / "key").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    paths = python_read_paths()
    assert str(tmp_path / "mypackage") in paths and str(tmp_path / "tool.py") in paths
    assert not [p for p in paths if p == str(tmp_path) or p.startswith(str(tmp_path / "matrix-out"))]
