"""Config fields marked as data sources are resolved before an attack's child process sees them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from instahide_bench.core.config import param, resolve_data_sources


@dataclass(frozen=True)
class _Config:
    source: str = param("embedded", "a data source", data_source=True)
    label: str = param("relative/but/not/a/source", "any other string")


def test_only_data_source_fields_are_resolved(tmp_path: Path) -> None:
    config = resolve_data_sources(_Config(source="folder:pics", label="folder:pics"), tmp_path)
    assert config.source == f"folder:{tmp_path / 'pics'}"
    assert config.label == "folder:pics"
    assert resolve_data_sources(_Config(), tmp_path) == _Config()
