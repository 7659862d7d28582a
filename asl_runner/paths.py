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

from .errors import StatesError, runtime_error

JSON = Any  # a JSON value: dict, list, str, int, float, bool or None


@lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    try:
        return jsonpath_parse(path)
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises several kinds
        raise runtime_error(f"invalid JSONPath {path!r}: {exc}") from None


def read_path(path: str, data: JSON, context: dict[str, Any] | None = None) -> JSON:
    """Value at ``path`` (``$...`` in ``data``, ``$$...`` in the context object).

    A path that matches nothing is a States.Runtime error, as in AWS: ``PathNotFound``, its Cause
    AWS's ("Invalid path '$.a' : No results for path: $['a']", recorded by AWS: LocalStack's
    snapshot ``test_base_scenarios.py::TestBaseScenarios::test_invalid_jsonpath``)."""
    if path.startswith("$$"):
        return _read(path, "$" + path[2:], context or {})
    return _read(path, path, data)


def _read(shown: str, path: str, data: JSON) -> JSON:
    if path == "$":
        return data
    steps = _plain_steps(path)
    if steps is not None:
        # a reference path (fields and indexes): walked here, as AWS reads it: a backslash in a
        # quoted name is the name's (recorded by AWS: LocalStack's snapshot
        # test_base_scenarios.py::TestBaseScenarios::test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH])
        node = data
        for step in steps:
            if not _has(node, step):
                raise PathNotFound(shown, f"Invalid path '{shown}' : {_missing(path, data)}")
            node = node[step]
        return node
    matches = _compiled(path).find(data)
    if _is_multi(path):
        return [m.value for m in matches]  # AWS: [] when a wildcard, slice or filter selects nothing
    if not matches:
        raise PathNotFound(shown, f"Invalid path '{shown}' : {_missing(path, data)}")
    if len(matches) == 1:
        return matches[0].value
    return [m.value for m in matches]


class PathNotFound(StatesError):
    """A path that selects nothing (a ``States.Runtime`` error)."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__("States.Runtime", cause)
        self.path = path


def _plain_steps(path: str) -> list[str | int] | None:
    try:
        return _reference_steps(path)
    except StatesError:
        return None


def _has(node: JSON, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(node, list) and step < len(node)
    return isinstance(node, dict) and step in node


def _missing(path: str, data: JSON) -> str:
    """What AWS (its JSONPath library) says of a path that selects nothing: "No results for path:
    $['a']['b']" when the last step is missing, "Missing property in path $['a']" when a step on
    the way is (recorded by AWS: ``test_base_scenarios.py::TestBaseScenarios::test_catch_states_runtime``)."""
    try:
        steps = _reference_steps(path)
    except StatesError:
        return f"No results for path: {path}"
    node, walked = data, "$"
    for i, step in enumerate(steps):
        walked += f"[{step}]" if isinstance(step, int) else f"['{step}']"
        if not _has(node, step):
            return f"No results for path: {walked}" if i == len(steps) - 1 else f"Missing property in path {walked}"
        node = node[step]
    return f"No results for path: {walked}"


def not_found_for_field(err: PathNotFound, field: str, data: JSON) -> StatesError:
    """A path of a payload template's field (``"x.$"``, ErrorPath, CausePath) that selects nothing,
    as AWS words it ("The JSONPath '$.a' specified for the field 'x.$' could not be found in the
    input '{...}'", recorded by AWS: ``test_base_scenarios.py::TestBaseScenarios::test_invalid_jsonpath``)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return runtime_error(
        f"The JSONPath '{err.path}' specified for the field '{field}' could not be found in the input '{text}'"
    )


def _shown(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def path_integer(field: str, path: str, data: JSON, context: dict[str, Any]) -> int:
    """The integer a ``...Path`` field selects; another value is AWS's States.Runtime error ("The
    MaxConcurrencyPath field refers to value "x" which is not a valid integer: $.p", recorded by AWS:
    ``test_base_scenarios.py::TestBaseScenarios::test_max_concurrency_path``)."""
    value = read_path(path, data, context)
    if not isinstance(value, int) or isinstance(value, bool):
        raise runtime_error(f'The {field} field refers to value "{_shown(value)}" which is not a valid integer: {path}')
    return value


def path_number(field: str, path: str, data: JSON, context: dict[str, Any]) -> float:
    """The number a ``...Path`` field selects (AWS: "... which is not a valid float: $.p")."""
    value = read_path(path, data, context)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise runtime_error(f'The {field} field refers to value "{_shown(value)}" which is not a valid float: {path}')
    return float(value)


def _is_multi(path: str) -> bool:
    return any(token in path for token in ("[*]", "..", "[?", ":"))


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
