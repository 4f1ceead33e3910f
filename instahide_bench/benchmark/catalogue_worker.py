"""Child side of the attack catalogue: list the registered attacks and check overrides, confined.

Started by :mod:`.catalogue` inside the sandbox of :mod:`.confined` as ``python -m
instahide_bench.benchmark.catalogue_worker JOB.json``. Listing attacks imports every attack
module and third-party entry point, and checking overrides builds configs (their defaults and
``validate()`` are plugin code): both happen here, never in the parent. The answer is plain
JSON, written to the job's ``answer`` path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    """A config default as JSON: tuples become lists, anything exotic its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def describe(name: str) -> dict[str, Any]:
    """What ``instahide-bench attacks`` shows of one attack (imports it)."""
    from instahide_bench.attacks import ATTACKS
    from instahide_bench.core.config import describe_config

    cls = ATTACKS.get(name)
    return {
        "version": str(cls.version),
        "summary": str(cls.summary),
        "complexity": str(cls.complexity),
        "threat_model": str(cls.threat_model),
        "config": [
            {"name": d.name, "type": d.type, "default": _plain(d.default), "help": str(d.help)}
            for d in describe_config(cls.Config)
        ],
    }


def check(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Whether ``overrides`` make a valid config for attack ``name``: its threat model, or the one-line reason not."""
    from instahide_bench.attacks import ATTACKS
    from instahide_bench.core.config import apply_overrides
    from instahide_bench.core.errors import InstaHideBenchError

    try:
        cls = ATTACKS.get(name)
        cls(apply_overrides(cls.Config(), overrides))
    except InstaHideBenchError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a plugin that fails to build is a refusal too, with its reason
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"threat_model": str(cls.threat_model), "challenge_kinds": [str(k) for k in cls.challenge_kinds]}


def answer(job: dict[str, Any]) -> dict[str, Any]:
    from instahide_bench.attacks import ATTACKS

    result: dict[str, Any] = {}
    if job.get("list"):
        attacks: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name in ATTACKS.names():
            try:
                attacks[name] = describe(name)
            except Exception as exc:  # one broken plugin does not hide the others
                problems[name] = f"{type(exc).__name__}: {exc}"
        problems.update(ATTACKS.failures())
        result["attacks"], result["problems"] = attacks, problems
    result["checks"] = [check(item["attack"], item["overrides"]) for item in job.get("checks", [])]
    return result


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    from instahide_bench.core.io import write_json_atomic

    write_json_atomic(job["answer"], answer(job))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
