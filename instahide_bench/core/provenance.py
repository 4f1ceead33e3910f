"""Where and with what a result was produced: hardware, library versions, date, command line.

A leaderboard number is only comparable with the machine and software that produced it, so
every measured entry carries this record.
"""

from __future__ import annotations

import logging
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from instahide_bench.core.challenge import library_versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HardwareInfo:
    """The machine a measurement ran on (``gpu`` is None when no CUDA device was visible)."""

    cpu_model: str
    cpu_cores: int
    gpu: str | None = None
    memory_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_model": self.cpu_model,
            "cpu_cores": self.cpu_cores,
            "gpu": self.gpu,
            "memory_bytes": self.memory_bytes,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HardwareInfo:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on malformed input."""
        memory = obj.get("memory_bytes")
        return cls(
            str(obj["cpu_model"]),
            int(obj["cpu_cores"]),
            None if obj.get("gpu") is None else str(obj["gpu"]),
            None if memory is None else int(memory),
        )

    def summary(self) -> str:
        """One line for tables, e.g. ``AMD EPYC, 2 cores`` or ``..., 16 cores, NVIDIA H100``."""
        text = f"{self.cpu_model}, {self.cpu_cores} cores"
        return f"{text}, {self.gpu}" if self.gpu else text


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
                name, sep, value = line.partition(":")
                if sep and name.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
        except OSError:
            logger.debug("could not read %s", cpuinfo)
    return platform.processor() or platform.machine() or "unknown CPU"


def _gpu_name() -> str | None:
    """Name of CUDA device 0, without initialising CUDA when torch was built without it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    # torch.backends.cuda.is_built has no annotations
    if not torch.backends.cuda.is_built() or not torch.cuda.is_available():  # type: ignore[no-untyped-call]
        return None
    return str(torch.cuda.get_device_name(0))


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def hardware_info() -> HardwareInfo:
    """CPU model (from /proc/cpuinfo, else platform), core count, GPU name (or None), memory."""
    return HardwareInfo(
        cpu_model=_cpu_model(), cpu_cores=os.cpu_count() or 1, gpu=_gpu_name(), memory_bytes=_memory_bytes()
    )


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def command_line(argv: Sequence[str] | None = None, program: str = "instahide-bench") -> str:
    """A shell-quoted command line: ``program`` + ``argv`` (default: this process's arguments)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return shlex.join([program, *arguments])


@dataclass(frozen=True)
class Provenance:
    """Hardware, versions, date and command of one measurement, and how its attack was isolated.

    ``isolation`` is what kept the attack from the key (``landlock ABI N`` or ``audit-hook``),
    empty where no attack ran here; a result from a weaker sandbox deserves less trust.
    """

    hardware: HardwareInfo
    versions: dict[str, str] = field(default_factory=dict)
    date: str = ""
    command: str = ""
    isolation: str = ""


def scoring_versions() -> dict[str, str]:
    """Library versions that decide a result: the challenge's (numpy, torch, python) and the metric's."""
    import numba
    import skimage

    skimage_version: str = skimage.__version__  # type: ignore[attr-defined]  # skimage's __init__.pyi omits it
    return {**library_versions(), "scikit-image": skimage_version, "numba": numba.__version__}


def collect_provenance(argv: Sequence[str] | None = None, *, program: str = "instahide-bench") -> Provenance:
    """The provenance of a measurement made now by this process (``argv``: see :func:`command_line`)."""
    return Provenance(
        hardware=hardware_info(), versions=scoring_versions(), date=utc_now_iso(), command=command_line(argv, program)
    )


__all__ = [
    "HardwareInfo",
    "Provenance",
    "collect_provenance",
    "command_line",
    "hardware_info",
    "scoring_versions",
    "utc_now_iso",
]
