"""The Landlock Linux security module through its three system calls (ctypes, no dependency).

Landlock (Linux >= 5.13) lets an unprivileged process give up access rights for itself and
every process it starts afterwards: after :meth:`Ruleset.restrict_self`, the kernel refuses to
open any file outside the granted hierarchies, whether the request comes from Python, from
native code through ctypes, or from a ``cat`` subprocess. Newer ABIs add rights: ``REFER``
(links and renames across directories, ABI 2), ``TRUNCATE`` (3), TCP bind/connect by port (4),
device ioctls (5), and scopes that keep signals and abstract Unix sockets inside the domain (6).

Why not the ``landlock`` package on PyPI: at the time of writing its only releases are alphas
(``1.0.0.dev5``), it handles file-system rules only (no TCP rules, no scopes) and it would be one
more dependency for roughly a hundred lines of ``ctypes`` that follow the kernel's UAPI header
(``include/uapi/linux/landlock.h``) directly.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os
import platform
import stat
from collections.abc import Iterable

# The Landlock system calls have the same numbers on every architecture that has them.
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_PR_SET_NO_NEW_PRIVS = 38


class FS(enum.IntFlag):
    """File-system access rights (``LANDLOCK_ACCESS_FS_*``)."""

    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13  # ABI 2
    TRUNCATE = 1 << 14  # ABI 3
    IOCTL_DEV = 1 << 15  # ABI 5


class NET(enum.IntFlag):
    """TCP access rights (``LANDLOCK_ACCESS_NET_*``, ABI 4)."""

    BIND_TCP = 1 << 0
    CONNECT_TCP = 1 << 1


class SCOPE(enum.IntFlag):
    """Scopes (``LANDLOCK_SCOPE_*``, ABI 6): IPC that may not leave the domain."""

    ABSTRACT_UNIX_SOCKET = 1 << 0
    SIGNAL = 1 << 1


#: Rights that make sense on a regular file (the kernel refuses the others there).
FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV
READ = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPortAttr(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


class LandlockError(OSError):
    """A Landlock system call failed (the message names which one)."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _call(name: str, number: int, *args: object) -> int:
    result = int(_libc().syscall(ctypes.c_long(number), *args))
    if result < 0:
        code = ctypes.get_errno()
        raise LandlockError(code, f"{name}: {os.strerror(code)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if platform.system() != "Linux":
        return 0
    try:
        return _call("landlock_create_ruleset", _SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    except LandlockError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
            return 0
        raise


def handled_fs(abi: int) -> FS:
    """Every file-system right that ABI ``abi`` knows (all of them are denied unless granted)."""
    newer = {FS.REFER: 2, FS.TRUNCATE: 3, FS.IOCTL_DEV: 5}
    rights = FS(0)
    for right in FS:
        if abi >= newer.get(right, 1):
            rights |= right
    return rights


class Ruleset:
    """A Landlock ruleset under construction: grant paths and ports, then restrict this process.

    Parameters
    ----------
    abi : the ABI to target (from :func:`abi_version`); newer rights are left out below it.
    restrict_tcp : deny TCP bind and connect except on ports granted by :meth:`allow_port`
        (ABI 4 and later).
    scoped : keep signals and abstract Unix sockets inside the sandbox (ABI 6 and later).
    """

    def __init__(self, abi: int, *, restrict_tcp: bool, scoped: bool = True) -> None:
        if abi < 1:
            raise LandlockError(errno.EOPNOTSUPP, "Landlock is not available in this kernel")
        self.abi = abi
        self.fs = handled_fs(abi)
        self.net = NET.BIND_TCP | NET.CONNECT_TCP if restrict_tcp and abi >= 4 else NET(0)
        self.scope = SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL if scoped and abi >= 6 else SCOPE(0)
        attr = _RulesetAttr(int(self.fs), int(self.net), int(self.scope))
        size = 8 if abi < 4 else 16 if abi < 6 else 24  # the struct grew with the ABI
        self._fd = _call("landlock_create_ruleset", _SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)

    def allow_path(self, path: str | os.PathLike[str], access: FS) -> bool:
        """Grant ``access`` beneath ``path``; False (nothing granted) when the path does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False
        try:
            allowed = access & self.fs
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                allowed &= FILE_RIGHTS
            if not allowed:
                return False
            attr = _PathBeneathAttr(int(allowed), fd)
            _call("landlock_add_rule", _SYS_ADD_RULE, self._fd, _RULE_PATH_BENEATH, ctypes.byref(attr), 0)
        finally:
            os.close(fd)
        return True

    def allow_paths(self, paths: Iterable[str | os.PathLike[str]], access: FS) -> None:
        for path in paths:
            self.allow_path(path, access)

    def allow_port(self, port: int, access: NET = NET.CONNECT_TCP) -> None:
        """Grant TCP ``access`` on ``port`` (ignored when TCP is not restricted)."""
        if self.net:
            attr = _NetPortAttr(int(access & self.net), port)
            _call("landlock_add_rule", _SYS_ADD_RULE, self._fd, _RULE_NET_PORT, ctypes.byref(attr), 0)

    def restrict_self(self) -> None:
        """Enforce the ruleset on this process and all its future children (irreversible)."""
        try:
            if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                code = ctypes.get_errno()
                raise LandlockError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
            _call("landlock_restrict_self", _SYS_RESTRICT_SELF, self._fd, 0)
        finally:
            os.close(self._fd)


__all__ = ["FILE_RIGHTS", "FS", "NET", "READ", "SCOPE", "LandlockError", "Ruleset", "abi_version", "handled_fs"]
