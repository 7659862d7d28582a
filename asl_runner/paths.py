"""Paths of the Amazon States Language (JSONPath mode): reading with jsonpath-ng,
writing (ResultPath) with reference paths, which AWS restricts to plain field
and index steps."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

from jsonpath_ng.ext.parser import parse as jsonpath_parse

from .errors import runtime_error

JSON = Any  # a JSON value: dict, list, str, int, float, bool or None


@lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    try:
        return jsonpath_parse(path)
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises several kinds
        raise runtime_error(f"invalid JSONPath {path!r}: {exc}") from None


def read_path(path: str, data: JSON, context: dict[str, Any] | None = None) -> JSON:
    """Value at ``path`` (``$...`` in ``data``, ``$$...`` in the context object).

    A path that matches nothing is a States.Runtime error, as in AWS."""
    if path.startswith("$$"):
        return read_path("$" + path[2:], context or {})
    if path == "$":
        return data
    matches = _compiled(path).find(data)
    if _is_multi(path):
        return [m.value for m in matches]  # AWS: [] when a wildcard, slice or filter selects nothing
    if not matches:
        raise runtime_error(f"the JSONPath {path!r} could not be found in the input {_short(data)}")
    if len(matches) == 1:
        return matches[0].value
    return [m.value for m in matches]


def _is_multi(path: str) -> bool:
    return any(token in path for token in ("[*]", "..", "[?", ":"))


def _short(value: JSON) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) < 200 else text[:197] + "..."


_REF_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\['([^']+)'\]|\[(\d+)\]")


def _reference_steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise runtime_error(f"reference path {path!r} must start with $")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _REF_STEP.match(path, pos)
        if not m:
            raise runtime_error(f"{path!r} is not a reference path (only .field, ['field'] and [n] steps)")
        steps.append(m.group(1) or m.group(2) if m.group(3) is None else int(m.group(3)))
        pos = m.end()
    return steps


def write_path(path: str | None, target: JSON, value: JSON) -> JSON:
    """ResultPath semantics: ``null`` discards the result, ``$`` replaces the
    input, ``$.a.b`` sets a field of a copy of the input (creating objects)."""
    if path is None:
        return target
    steps = _reference_steps(path)
    if not steps:
        return value
    root = copy.deepcopy(target) if isinstance(target, (dict, list)) else {}
    node: Any = root
    for step in steps[:-1]:
        if isinstance(step, int):
            node = node[step]
        else:
            if not isinstance(node, dict):
                raise runtime_error(f"ResultPath {path!r} goes through a value that is not an object")
            node = node.setdefault(step, {})
    if isinstance(node, dict) or isinstance(steps[-1], int):
        node[steps[-1]] = value
    else:
        raise runtime_error(f"ResultPath {path!r} goes through a value that is not an object")
    return root


def apply_input_path(path: str | None, data: JSON, context: dict[str, Any]) -> JSON:
    """InputPath / OutputPath: absent = ``$``, null = ``{}``."""
    if path is None:
        return {}
    return read_path(path, data, context)
