"""Strict check of an ASL definition (JSONPath mode):

1. the typed states of ``model`` (what AWS accepts AND this runner implements:
   unknown fields, wrong types, numbers outside AWS's ranges are errors);
2. graph rules: StartAt, Next, Default and Catch targets exist in their scope,
   every state is reachable;
3. the context object: only the fields AWS documents (``$$.Map.Item.Index``,
   ``.Key``, ``.Value``, ``.Source``, and only inside a Map's ItemSelector);
4. intrinsic functions the runner implements, no unresolved ``${...}`` placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .intrinsics import SUPPORTED_INTRINSICS, intrinsic_names, syntax_problem
from .model import ParseError, parse

_CONTEXT_FIELDS = {
    "Execution": {"Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount", "RedriveTime"},
    "State": {"EnteredTime", "Name", "RetryCount"},
    "StateMachine": {"Id", "Name"},
    "Task": {"Token"},
    "Map": {"Item"},
}
_MAP_ITEM_FIELDS = {"Index", "Key", "Value", "Source"}
_CONTEXT_REF = re.compile(r"\$\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _targets(state: Mapping[str, Any]) -> set[str]:
    targets = {state["Next"]} if isinstance(state.get("Next"), str) else set()
    if isinstance(state.get("Default"), str):
        targets.add(state["Default"])
    for key in ("Choices", "Catch"):
        for rule in state.get(key) or []:
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                targets.add(rule["Next"])
    return targets


def _children(state: Mapping[str, Any], scope: str) -> Iterator[tuple[Any, str]]:
    for i, branch in enumerate(state.get("Branches") or []):
        yield branch, f"{scope}/Branches/{i}"
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            yield state[key], f"{scope}/{key}"


def _scope_errors(machine: Any, scope: str) -> Iterator[str]:
    if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict):
        return
    states: dict[str, Any] = machine["States"]
    start = machine.get("StartAt")
    if start not in states:
        yield f"{scope}: StartAt {start!r} is not a state of this scope"
    edges: dict[str, set[str]] = {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        targets = _targets(state)
        for target in sorted(targets - set(states)):
            yield f"{scope}/{name}: transition to {target!r}, which is not a state of this scope"
        edges[name] = targets & set(states)
        for child, where in _children(state, f"{scope}/{name}"):
            yield from _scope_errors(child, where)
    yield from _unreachable(states, start, edges, scope)


def _unreachable(states: dict[str, Any], start: Any, edges: dict[str, set[str]], scope: str) -> Iterator[str]:
    if start not in states:
        return
    seen = _reachable(str(start), edges)
    for name in states:
        if name not in seen:
            yield f"{scope}/{name}: state is not reachable from {start!r}"


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    return seen


def _where(path: list[Any]) -> str:
    return "/".join(str(p) for p in path) or "(root)"


def _context_refs(text: str, where: list[Any], in_item_selector: bool) -> Iterator[str]:
    for match in _CONTEXT_REF.finditer(text):
        problem = _context_problem(match.group(1), in_item_selector)
        if problem:
            yield f"{_where(where)}: {problem}"


def _context_problem(ref: str, in_item_selector: bool) -> str | None:
    parts = ref.lstrip(".").split(".") if ref else []
    if not parts:
        return None
    head = parts[0]
    if head not in _CONTEXT_FIELDS or (len(parts) > 1 and parts[1] not in _CONTEXT_FIELDS[head]):
        return f"context object has no field $${ref}"
    if head != "Map":
        return None
    if len(parts) > 2 and parts[2] not in _MAP_ITEM_FIELDS:
        return f"$${ref} does not exist (the Map item has only {', '.join(sorted(_MAP_ITEM_FIELDS))})"
    return None if in_item_selector else "$$.Map.Item is only available in a Map state's ItemSelector"


def _string_errors(text: str, where: list[Any], in_item_selector: bool, runnable: bool) -> Iterator[str]:
    if "$$" in text:
        yield from _context_refs(text, where, in_item_selector)
    for name in intrinsic_names(text):
        if name not in SUPPORTED_INTRINSICS:
            yield f"{_where(where)}: intrinsic States.{name} is not supported by the runner"
    for placeholder in _PLACEHOLDER.findall(text) if runnable else ():
        yield (
            f"{_where(where)}: unresolved DefinitionSubstitutions placeholder ${{{placeholder}}} "
            "(give the template, or a --function for it)"
        )


def _evaluated(where: list[Any], key: Any) -> bool:
    """Is ``key`` a field of a payload template (``"x.$"``), not of a Pass state's literal Result?"""
    in_result = any(step == "Result" and (i == 0 or where[i - 1] != "States") for i, step in enumerate(where))
    return isinstance(key, str) and key.endswith(".$") and not in_result


def _value_errors(node: Any, where: list[Any], runnable: bool, in_item_selector: bool = False) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            inside = in_item_selector or (node.get("Type") == "Map" and key in ("ItemSelector", "Parameters"))
            if _evaluated(where, key) and isinstance(value, str) and value.startswith("States."):
                problem = syntax_problem(value)
                if problem:
                    yield (
                        f"{_where(where)}: the value for the field '{key}' must be a valid JSONPath or a valid "
                        f"intrinsic function call ({problem})"
                    )
            yield from _value_errors(value, [*where, key], runnable, inside)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _value_errors(value, [*where, i], runnable, in_item_selector)
    elif isinstance(node, str):
        yield from _string_errors(node, where, in_item_selector, runnable)


def lint(definition: Any, runnable: bool = False) -> list[str]:
    """Every problem of ``definition``, one line each, naming the state and the field.

    ``runnable``: the definition is about to run, so ``${...}`` DefinitionSubstitutions
    placeholders must have been resolved (a definition file as deployed keeps them)."""
    try:
        parse(definition)
        errors: list[str] = []
    except ParseError as exc:
        errors = [e for e in exc.problems if "DefinitionSubstitutions placeholder" not in e]
    if isinstance(definition, dict):
        errors += list(_scope_errors(definition, "States"))
        errors += list(dict.fromkeys(_value_errors(definition, [], runnable)))
    return errors


def load_definition(path: Path | str) -> Any:
    """The JSON of a definition file; ``OSError``/``ValueError`` with a readable message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the definition {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the definition {path} is not JSON: {exc}") from None


def lint_file(path: Path | str) -> list[str]:
    try:
        definition = load_definition(path)
    except ValueError as exc:
        return [str(exc)]
    return lint(definition)
