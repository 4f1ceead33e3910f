"""Provenance: hardware facts and a command line that can be pasted back into a shell."""

from __future__ import annotations

import os
import shlex

from instahide_bench.core.provenance import HardwareInfo, collect_provenance, command_line, hardware_info


def test_hardware_info_names_this_machine() -> None:
    info = hardware_info()
    assert info.cpu_model and info.cpu_cores == os.cpu_count()
    assert info.gpu is None or isinstance(info.gpu, str)
    assert HardwareInfo.from_json(info.to_json()) == info
    assert f"{info.cpu_cores} cores" in info.summary()


def test_command_line_is_shell_quoted() -> None:
    line = command_line(["score", "--name", "two words", "--notes", "it's"])
    assert shlex.split(line) == ["instahide-bench", "score", "--name", "two words", "--notes", "it's"]


def test_collect_provenance_records_versions_and_utc_date() -> None:
    provenance = collect_provenance(["x"])
    assert {"numpy", "torch", "scikit-image", "instahide_bench"} <= provenance.versions.keys()
    assert provenance.date.endswith("+00:00") and provenance.command == "instahide-bench x"
