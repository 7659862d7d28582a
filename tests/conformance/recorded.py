"""The recorded facts (``recorded.json``, written by ``extract``): what AWS answered, per snapshot id."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("recorded.json")


@cache
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return data


def snapshots() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = load()["snapshots"]
    return result


def facts(test_id: str) -> dict[str, Any]:
    entry = snapshots()[test_id]
    if "facts" not in entry:
        raise KeyError(f"{test_id}: no facts extracted (is it run? see catalog.runs)")
    result: dict[str, Any] = entry["facts"]
    return result


def citation(test_id: str) -> str:
    """The snapshot id with its dates: how a scenario cites its source."""
    entry = snapshots()[test_id]
    validated = entry["validated"] or "never validated"
    return f"{test_id} (recorded {entry['recorded']}, validated {validated})"
