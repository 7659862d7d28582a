"""Strict check of an ASL definition, beyond what the npm asl-validator does:

1. the JSON Schema in ``statemachine/asl.schema.json`` (every field AWS
   accepts for JSONPath state machines and nothing else; numbers are numbers);
2. graph rules: StartAt, Next, Default and Catch targets exist in their scope,
   every state is reachable;
3. the context object: only the fields AWS documents (``$$.Map.Item.Index``,
   ``.Key``, ``.Value``, ``.Source``, and only inside a Map's ItemSelector).

``python -m local_runner lint FILE...`` prints one line per problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).resolve().parent.parent / "statemachine" / "asl.schema.json"

_CONTEXT_FIELDS = {
    "Execution": {"Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount", "RedriveTime"},
    "State": {"EnteredTime", "Name", "RetryCount"},
    "StateMachine": {"Id", "Name"},
    "Task": {"Token"},
    "Map": {"Item"},
}
_MAP_ITEM_FIELDS = {"Index", "Key", "Value", "Source"}
_CONTEXT_REF = re.compile(r"\$\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def _where(path) -> str:
    return "/".join(str(p) for p in path) or "(root)"


def _schema_errors(definition: Any) -> Iterator[str]:
    for err in sorted(_validator().iter_errors(definition), key=lambda e: list(e.absolute_path)):
        # Report the deepest, most specific cause of if/then and oneOf failures.
        causes = [err]
        while causes[-1].context:
            causes.append(min(causes[-1].context, key=lambda e: len(e.context or [])))
        leaf = causes[-1]
        yield f"{_where(leaf.absolute_path)}: {leaf.message}"


def _scope_errors(machine: dict, scope: str) -> Iterator[str]:
    states = machine.get("States") or {}
    if not isinstance(states, dict):
        return
    start = machine.get("StartAt")
    if start not in states:
        yield f"{scope}: StartAt {start!r} is not a state of this scope"
    edges: dict[str, set[str]] = {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        targets = {state["Next"]} if "Next" in state else set()
        if "Default" in state:
            targets.add(state["Default"])
        for rule in state.get("Choices") or []:
            if isinstance(rule, dict) and "Next" in rule:
                targets.add(rule["Next"])
        for catcher in state.get("Catch") or []:
            if isinstance(catcher, dict) and "Next" in catcher:
                targets.add(catcher["Next"])
        for target in sorted(targets):
            if target not in states:
                yield f"{scope}/{name}: transition to {target!r}, which is not a state of this scope"
        edges[name] = targets & set(states)
        for i, branch in enumerate(state.get("Branches") or []):
            yield from _scope_errors(branch, f"{scope}/{name}/Branches/{i}")
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _scope_errors(state[key], f"{scope}/{name}/{key}")
    seen, todo = set(), [start] if start in states else []
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    for name in states:
        if name not in seen and start in states:
            yield f"{scope}/{name}: state is not reachable from {start!r}"


def _context_errors(node: Any, where: list, in_item_selector: bool = False) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            inside = in_item_selector or (node.get("Type") == "Map" and key in ("ItemSelector", "Parameters"))
            yield from _context_errors(value, [*where, key], inside)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _context_errors(value, [*where, i], in_item_selector)
    elif isinstance(node, str) and "$$" in node:
        for match in _CONTEXT_REF.finditer(node):
            parts = match.group(1).lstrip(".").split(".") if match.group(1) else []
            if not parts:
                continue
            head = parts[0]
            if head not in _CONTEXT_FIELDS or (len(parts) > 1 and parts[1] not in _CONTEXT_FIELDS[head]):
                yield f"{_where(where)}: context object has no field $${match.group(1)}"
            elif head == "Map":
                if len(parts) > 2 and parts[2] not in _MAP_ITEM_FIELDS:
                    yield (f"{_where(where)}: $${match.group(1)} does not exist "
                           f"(the Map item has only {', '.join(sorted(_MAP_ITEM_FIELDS))})")
                elif not in_item_selector:
                    yield f"{_where(where)}: $$.Map.Item is only available in a Map state's ItemSelector"


def lint(definition: Any) -> list[str]:
    errors = list(_schema_errors(definition))
    if isinstance(definition, dict):
        errors += list(_scope_errors(definition, "States"))
        errors += list(_context_errors(definition, []))
    return errors


def lint_file(path: Path | str) -> list[str]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    return lint(definition)


def main(args) -> int:
    failed = False
    for path in args.files:
        errors = lint_file(path)
        for error in errors:
            print(f"{path}: {error}")
        failed = failed or bool(errors)
        if not errors:
            print(f"{path}: ok")
    return 1 if failed else 0
