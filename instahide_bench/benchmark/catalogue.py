"""The attack catalogue, read from a confined child: what attacks exist, and whether overrides suit them.

Listing attacks (``instahide-bench attacks``) and checking a matrix's attack overrides before
any work both need plugin code: the registry imports every attack module and entry point, and
a config's defaults and ``validate()`` are the plugin's own. So neither happens in this
process: :mod:`.catalogue_worker` does it inside the sandbox, and this module reads its plain
JSON answer back, checking every field's type, since the process that wrote it ran plugin code.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instahide_bench.benchmark import confined
from instahide_bench.benchmark.grants import Grants, user_grants
from instahide_bench.benchmark.isolation import IsolationMode, choose_isolation
from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.io import read_json
from instahide_bench.core.threats import THREAT_MODELS

logger = logging.getLogger(__name__)

#: How long the catalogue child may take (it imports every attack module; seconds).
CATALOGUE_TIME_LIMIT = 300.0
_MAX_ANSWER_BYTES = 16 * 2**20


class CatalogueError(InstaHideBenchError):
    """The catalogue child failed or answered something unusable."""


@dataclass(frozen=True)
class ConfigField:
    """One config field of an attack, as listed."""

    name: str
    type: str
    default: Any
    help: str


@dataclass(frozen=True)
class AttackDescription:
    """What the listing shows of an attack: plain data, no class."""

    name: str
    version: str
    summary: str
    complexity: str
    threat_model: str
    config: tuple[ConfigField, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "summary": self.summary,
            "complexity": self.complexity,
            "threat_model": self.threat_model,
            "config": [vars(f) for f in self.config],
        }


@dataclass(frozen=True)
class Check:
    """Whether an attack accepts a set of overrides: its threat model and kinds of challenge, or why not."""

    threat_model: str | None
    error: str | None
    challenge_kinds: tuple[str, ...] = ("release",)


def _text(value: object, where: str, limit: int = 2000) -> str:
    if not isinstance(value, str):
        raise CatalogueError(f"the attack catalogue gave a {where} that is not text")
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def _description(name: str, data: object) -> AttackDescription:
    if not isinstance(data, dict) or not isinstance(data.get("config"), list):
        raise CatalogueError(f"the attack catalogue described {name!r} in an unknown form")
    fields = []
    for item in data["config"]:
        if not isinstance(item, dict):
            raise CatalogueError(f"the attack catalogue listed a config field of {name!r} in an unknown form")
        default = item.get("default")
        fields.append(
            ConfigField(
                _text(item.get("name"), "field name", 200),
                _text(item.get("type"), "field type", 200),
                default if isinstance(default, (type(None), bool, int, float, str, list)) else str(default),
                _text(item.get("help"), "field help"),
            )
        )
    threat_model = data.get("threat_model")
    if threat_model not in THREAT_MODELS:
        raise CatalogueError(f"the attack catalogue gave {name!r} an unknown threat model {threat_model!r}")
    return AttackDescription(
        name,
        _text(data.get("version"), "version", 200),
        _text(data.get("summary"), "summary"),
        _text(data.get("complexity"), "complexity", 200),
        str(threat_model),
        tuple(fields),
    )


def _ask(
    job: dict[str, Any], grants: Grants, exclude: Sequence[Path], isolation: IsolationMode, plugin_paths: Sequence[str]
) -> dict[str, Any]:
    """Run the catalogue child on ``job``; its answer, as a dict."""
    abi = choose_isolation(isolation)
    with tempfile.TemporaryDirectory(prefix="instahide-catalogue-") as scratch_name:
        scratch = Path(scratch_name)
        answer_dir = scratch / "answer"
        answer_dir.mkdir()
        job = {**job, "answer": str(answer_dir / "answer.json")}
        (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
        finished = confined.run(
            confined.worker_argv("instahide_bench.benchmark.catalogue_worker", str(scratch / "job.json")),
            confined.Confinement(abi, tuple(exclude), grants, (answer_dir,), plugin_paths=tuple(plugin_paths)),
            scratch,
            confined.Limits(time_limit=CATALOGUE_TIME_LIMIT),
            "the attack catalogue",
            CatalogueError,
        )
        path = answer_dir / "answer.json"
        if finished.code != 0 or not path.is_file():
            raise CatalogueError(f"the attack catalogue exited with code {finished.code} and no answer")
        if path.stat().st_size > _MAX_ANSWER_BYTES:
            raise CatalogueError(f"the attack catalogue answered more than {_MAX_ANSWER_BYTES} bytes")
        try:
            answer = read_json(path)
        except (InstaHideBenchError, RecursionError) as exc:
            raise CatalogueError(f"the attack catalogue's answer is unreadable: {exc}") from None
    if not isinstance(answer, dict):
        raise CatalogueError("the attack catalogue's answer is not a JSON object")
    return answer


def list_attacks(
    *, isolation: IsolationMode = "auto", plugin_paths: Sequence[str] = ()
) -> tuple[dict[str, AttackDescription], dict[str, str]]:
    """Every registered attack, described; and the plugins that failed to load, with why."""
    answer = _ask({"list": True}, Grants(), (), isolation, plugin_paths)
    attacks, problems = answer.get("attacks"), answer.get("problems")
    if not isinstance(attacks, dict) or not isinstance(problems, dict):
        raise CatalogueError("the attack catalogue's answer has no attack list")
    described = {_text(name, "name", 200): _description(name, data) for name, data in attacks.items()}
    return dict(sorted(described.items())), {_text(k, "name", 200): _text(v, "problem") for k, v in problems.items()}


def check_attacks(
    items: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    exclude: Sequence[str | Path] = (),
    isolation: IsolationMode = "auto",
    plugin_paths: Sequence[str] = (),
) -> list[Check]:
    """For each ``(attack name, user overrides)``: does the attack exist and accept them?"""
    if not items:
        return []
    excluded = [Path(p).resolve() for p in exclude]
    checks: list[dict[str, Any]] = []
    read: set[str] = set()
    ports: set[int] = set()
    for name, overrides in items:
        grants = user_grants(overrides, excluded)
        read.update(grants.read)
        ports.update(grants.connect)
        checks.append({"attack": name, "overrides": grants.overrides})
    answer = _ask(
        {"checks": checks}, Grants(tuple(sorted(read)), tuple(sorted(ports))), excluded, isolation, plugin_paths
    )
    found = answer.get("checks")
    if not isinstance(found, list) or len(found) != len(items):
        raise CatalogueError("the attack catalogue did not check every attack")
    result = []
    for item in found:
        if not isinstance(item, dict):
            raise CatalogueError("the attack catalogue answered a check in an unknown form")
        if item.get("error") is not None:
            result.append(Check(None, _text(item["error"], "error")))
        elif item.get("threat_model") in THREAT_MODELS:
            kinds = item.get("challenge_kinds", ["release"])
            if not isinstance(kinds, list) or not all(k in ("release", "gradients") for k in kinds):
                raise CatalogueError("the attack catalogue answered unknown kinds of challenge")
            result.append(Check(str(item["threat_model"]), None, tuple(kinds)))
        else:
            raise CatalogueError("the attack catalogue answered a check without a threat model")
    return result


__all__ = ["AttackDescription", "CatalogueError", "Check", "ConfigField", "check_attacks", "list_attacks"]
