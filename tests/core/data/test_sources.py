"""Source specs: relative paths made absolute for processes that run elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from instahide_bench.core.data.sources import absolute_source


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("embedded", "embedded"),
        ("cifar10:data/cifar?split=test", "cifar10:{base}/data/cifar?split=test"),
        ("folder:../photos", "folder:{parent}/photos"),
        ("npy:/abs/images.npy", "npy:/abs/images.npy"),
        ("folder:", "folder:"),
    ],
)
def test_relative_paths_become_absolute_against_the_base(tmp_path: Path, spec: str, expected: str) -> None:
    assert absolute_source(spec, tmp_path) == expected.format(base=tmp_path, parent=tmp_path.parent)


def test_default_base_is_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_source("npy:x.npy") == f"npy:{os.path.join(os.getcwd(), 'x.npy')}"
