"""Choice rules as typed objects: parsed once (unknown fields rejected), evaluated
without re-reading the definition."""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import StatesError, runtime_error
from .paths import JSON, read_path

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _is_number(value: JSON) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")


def timestamp(value: JSON) -> datetime | None:
    """An RFC 3339 date-time with its offset, as AWS takes them (a date and a time joined by T,
    seconds, any number of fraction digits, Z or +hh:mm; recorded by AWS: LocalStack's snapshots
    ``test_base_scenarios.py::TestBaseScenarios::test_wait_timestamp_path`` and
    ``test_wait.py::TestSfnWait::test_wait_timestamppath``), or None."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    whole, fraction, offset = match.groups()
    text = whole + (f".{fraction[:6]:0<6}" if fraction else "") + ("+00:00" if offset == "Z" else offset)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# Type tests: operator -> predicate on the variable's value.
_TYPE_TESTS: dict[str, Callable[[JSON], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: timestamp(v) is not None,
}
# Comparison families: prefix -> (the operand's JSON type check, how to compare two values)
_FAMILIES: dict[str, tuple[Callable[[JSON], bool], Callable[[JSON], Any]]] = {
    "String": (lambda v: isinstance(v, str), lambda v: v if isinstance(v, str) else None),
    "Numeric": (_is_number, lambda v: v if _is_number(v) else None),
    "Timestamp": (lambda v: isinstance(v, str), timestamp),
}


def _operators() -> dict[str, Callable[[JSON], bool]]:
    """Every comparison operator and the check of its operand in the definition."""
    ops: dict[str, Callable[[JSON], bool]] = {name: (lambda v: isinstance(v, bool)) for name in _TYPE_TESTS}
    ops["IsPresent"] = lambda v: isinstance(v, bool)
    ops["BooleanEquals"] = lambda v: isinstance(v, bool)
    ops["BooleanEqualsPath"] = _is_path
    ops["StringMatches"] = lambda v: isinstance(v, str)
    for prefix, (check, _) in _FAMILIES.items():
        for comparison in _COMPARISONS:
            ops[prefix + comparison] = check
            ops[prefix + comparison + "Path"] = _is_path
    return ops


def _is_path(value: JSON) -> bool:
    return isinstance(value, str) and value.startswith("$")


OPERATORS = _operators()


class Rule:
    def evaluate(self, data: JSON, ctx: dict[str, Any]) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class And(Rule):
    rules: tuple[Rule, ...]

    def evaluate(self, data: JSON, ctx: dict[str, Any]) -> bool:
        return all(r.evaluate(data, ctx) for r in self.rules)


@dataclass(frozen=True)
class Or(Rule):
    rules: tuple[Rule, ...]

    def evaluate(self, data: JSON, ctx: dict[str, Any]) -> bool:
        return any(r.evaluate(data, ctx) for r in self.rules)


@dataclass(frozen=True)
class Not(Rule):
    rule: Rule

    def evaluate(self, data: JSON, ctx: dict[str, Any]) -> bool:
        return not self.rule.evaluate(data, ctx)


@dataclass(frozen=True)
class Comparison(Rule):
    variable: str
    op: str  # without the Path suffix
    operand: JSON
    operand_is_path: bool

    def evaluate(self, data: JSON, ctx: dict[str, Any]) -> bool:
        try:
            value, present = read_path(self.variable, data, ctx), True
        except StatesError:
            value, present = None, False
        expected = read_path(self.operand, data, ctx) if self.operand_is_path else self.operand
        if self.op == "IsPresent":
            return bool(present == expected)
        if not present:
            raise runtime_error(
                f"Invalid path {self.variable!r}: the choice state's condition path references an invalid value"
            )
        if self.op in _TYPE_TESTS:
            return bool(_TYPE_TESTS[self.op](value) == expected)
        if self.op == "StringMatches":
            return isinstance(value, str) and fnmatch.fnmatchcase(value, str(expected).replace("\\*", "[*]"))
        if self.op == "BooleanEquals":
            return isinstance(value, bool) and bool(value == expected)
        return self._compare(value, expected)

    def _compare(self, value: JSON, expected: JSON) -> bool:
        for prefix, (_, convert) in _FAMILIES.items():
            if self.op.startswith(prefix):
                left, right = convert(value), convert(expected)
                if left is None or right is None:
                    return False
                return _COMPARISONS[self.op[len(prefix) :]](left, right)
        raise runtime_error(f"unknown Choice comparison {self.op}")


@dataclass(frozen=True)
class Branch:
    """A top-level Choice rule: a rule and the state it leads to."""

    rule: Rule
    next: str


def parse_rule(raw: Any, where: str, top: bool = False) -> Rule:
    """A Choice rule from its JSON; ValueError names the rule and the field."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a Choice rule must be an object")  # noqa: TRY004 - pydantic reports ValueErrors
    allowed = {"Comment"} | ({"Next"} if top else set())
    keys = set(raw) - allowed
    if top and "Next" not in raw:
        raise ValueError(f"{where}: a top-level Choice rule needs Next")
    if keys & {"And", "Or", "Not"}:
        return _parse_boolean(raw, keys, where)
    return _parse_comparison(raw, keys, where)


def _parse_boolean(raw: Mapping[str, Any], keys: set[str], where: str) -> Rule:
    if len(keys) != 1:
        raise ValueError(f"{where}: And/Or/Not cannot be combined with {', '.join(sorted(keys))}")
    (key,) = keys
    if key == "Not":
        return Not(parse_rule(raw["Not"], f"{where}/Not"))
    rules = raw[key]
    if not isinstance(rules, list) or not rules:
        raise ValueError(f"{where}: {key} must be a non-empty array of rules")
    parsed = tuple(parse_rule(r, f"{where}/{key}/{i}") for i, r in enumerate(rules))
    return And(parsed) if key == "And" else Or(parsed)


def _parse_comparison(raw: Mapping[str, Any], keys: set[str], where: str) -> Rule:
    variable = raw.get("Variable")
    if not _is_path(variable):
        raise ValueError(f"{where}: Variable must be a path starting with $, got {variable!r}")
    ops = keys - {"Variable"}
    unknown = sorted(k for k in ops if k not in OPERATORS)
    if unknown:
        raise ValueError(f"{where}: field {unknown[0]} is not a Choice rule field")
    if len(ops) != 1:
        raise ValueError(f"{where}: a Choice rule needs exactly one comparison, got {sorted(ops) or 'none'}")
    (op,) = ops
    if not OPERATORS[op](raw[op]):
        raise ValueError(f"{where}/{op}: invalid operand {raw[op]!r}")
    is_path = op.endswith("Path") and not op.startswith("Is")
    return Comparison(str(variable), op[:-4] if is_path else op, raw[op], is_path)
