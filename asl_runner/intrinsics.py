"""Intrinsic functions (``States.Format(...)`` ...): a small parser and the functions."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

from .errors import StatesError, runtime_error
from .paths import JSON, read_path

_NAME = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_PATH = re.compile(r"\$\$?[^,)\s]*")


def intrinsic_names(text: str) -> list[str]:
    return _NAME.findall(text)


def evaluate_intrinsic(text: str, data: JSON, context: dict[str, Any]) -> JSON:
    value, rest = _parse_call(text, 0, data, context)
    if text[rest:].strip():
        raise runtime_error(f"unexpected text after intrinsic function: {text[rest:]!r}")
    return value


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_call(text: str, pos: int, data: JSON, context: dict[str, Any]) -> tuple[JSON, int]:
    m = _NAME.match(text, pos)
    if not m:
        raise runtime_error(f"expected an intrinsic function at {text[pos:]!r}")
    name = m.group(1)
    args, pos = _parse_args(text, m.end(), data, context)
    func = INTRINSICS.get(name)
    if func is None:
        raise runtime_error(f"the runner does not implement States.{name}")
    try:
        return func(*args), pos
    except StatesError:
        raise
    except Exception as exc:  # noqa: BLE001 - argument errors become the ASL's runtime error
        raise StatesError("States.IntrinsicFailure", f"States.{name}: {exc}") from None


def _parse_args(text: str, pos: int, data: JSON, context: dict[str, Any]) -> tuple[list[JSON], int]:
    """The arguments after ``(``, up to and including the closing ``)``."""
    args: list[JSON] = []
    pos = _skip_spaces(text, pos)
    if text[pos : pos + 1] == ")":
        return args, pos + 1
    while True:
        value, pos = _parse_arg(text, _skip_spaces(text, pos), data, context)
        args.append(value)
        pos = _skip_spaces(text, pos)
        separator = text[pos : pos + 1]
        if separator not in (",", ")"):
            raise runtime_error(f"malformed intrinsic function call {text!r}")
        pos += 1
        if separator == ")":
            return args, pos


_LITERALS: dict[str, JSON] = {"true": True, "false": False, "null": None}


def _parse_string(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    pos += 1
    while pos < len(text):
        c = text[pos]
        if c == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if c == "'":
            return "".join(out), pos + 1
        out.append(c)
        pos += 1
    raise runtime_error(f"unterminated string in {text!r}")


def _parse_arg(text: str, pos: int, data: JSON, context: dict[str, Any]) -> tuple[JSON, int]:
    ch = text[pos] if pos < len(text) else ""
    if ch == "'":
        return _parse_string(text, pos)
    if text.startswith("States.", pos):
        return _parse_call(text, pos, data, context)
    if ch == "$":
        path = _PATH.match(text, pos)
        assert path is not None  # "$" itself matches
        return read_path(path.group(0), data, context), path.end()
    return _parse_literal(text, pos)


def _parse_literal(text: str, pos: int) -> tuple[JSON, int]:
    number = _NUMBER.match(text, pos)
    if number:
        token = number.group(0)
        return (float(token) if any(c in token for c in ".eE") else int(token)), number.end()
    for literal, value in _LITERALS.items():
        if text.startswith(literal, pos):
            return value, pos + len(literal)
    raise runtime_error(f"cannot parse intrinsic argument at {text[pos:]!r}")


# ------------------------------------------------------------------ syntax, before a run

_ESCAPABLE = "'{}\\"  # inside a string literal a backslash escapes only these


def syntax_problem(text: str) -> str | None:
    """Why ``text`` is no well-formed intrinsic function call, or None. AWS rejects such a
    definition when it is created; a backslash before a character other than ``' { } \\`` in a
    string literal is one (recorded by AWS: LocalStack's snapshot
    ``test_base_scenarios.py::TestBaseScenarios::test_illegal_escapes``)."""
    try:
        end = _check_call(text, 0)
    except ValueError as exc:
        return str(exc)
    return f"unexpected text after the call: {text[end:]!r}" if text[end:].strip() else None


def _check_call(text: str, pos: int) -> int:
    m = _NAME.match(text, pos)
    if not m:
        raise ValueError(f"expected an intrinsic function at {text[pos:]!r}")
    pos = _skip_spaces(text, m.end())
    if text[pos : pos + 1] == ")":
        return pos + 1
    while True:
        pos = _skip_spaces(text, _check_arg(text, _skip_spaces(text, pos)))
        separator = text[pos : pos + 1]
        if separator not in (",", ")"):
            raise ValueError(f"expected , or ) at {text[pos:]!r}")
        if separator == ")":
            return pos + 1
        pos += 1


def _check_arg(text: str, pos: int) -> int:
    if text[pos : pos + 1] == "'":
        return _check_string(text, pos)
    if text.startswith("States.", pos):
        return _check_call(text, pos)
    if text[pos : pos + 1] == "$":
        path = _PATH.match(text, pos)
        assert path is not None  # "$" itself matches
        return path.end()
    try:
        return _parse_literal(text, pos)[1]
    except StatesError:
        raise ValueError(f"cannot parse the argument at {text[pos:]!r}") from None


def _check_string(text: str, pos: int) -> int:
    pos += 1
    while pos < len(text):
        c = text[pos]
        if c == "\\":
            if text[pos + 1 : pos + 2] not in tuple(_ESCAPABLE):
                raise ValueError(f"illegal escape {text[pos : pos + 2]!r} in a string literal")
            pos += 2
            continue
        if c == "'":
            return pos + 1
        pos += 1
    raise ValueError("unterminated string literal")


def _format(template: str, *args: JSON) -> str:
    parts = re.split(r"(?<!\\)\{\}", template)
    if len(parts) - 1 != len(args):
        raise ValueError(f"{len(parts) - 1} placeholders but {len(args)} arguments")
    out = parts[0]
    for arg, part in zip(args, parts[1:], strict=True):
        out += _formatted(arg) + part
    return out.replace("\\{", "{").replace("\\}", "}")


def _formatted(value: JSON) -> str:
    """An argument of States.Format as AWS writes it: a string as it is, an object as {a=1, b=[]},
    an array as [1, 2] (recorded by AWS: LocalStack's snapshots
    ``test_generic.py::TestGeneric::test_format_2`` and ``test_context_json_path``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_formatted(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_formatted(v) for v in value) + "]"
    return json.dumps(value)


def _rounded(value: JSON) -> int:
    """A number as AWS takes it where an integer is meant: rounded half up (-1.5 -> -1, 2.5 -> 3;
    recorded by AWS: LocalStack's snapshot ``test_math_operations.py::TestMathOperations::test_math_add``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError("arguments must be numbers")
    return math.floor(value + 0.5)


def _math_add(a: JSON, b: JSON) -> int:
    return _rounded(a) + _rounded(b)


def _string_to_json(text: str) -> JSON:
    """States.StringToJson: a blank string is null (recorded by AWS: ``test_json_manipulation.py::
    TestJsonManipulation::test_string_to_json``)."""
    return json.loads(text) if text.strip() else None


def _partition(array: list[JSON], size: int) -> list[JSON]:
    return [array[i : i + size] for i in range(0, len(array), size)]


def _range(start: int, end: int, step: int) -> list[int]:
    return list(range(start, end + (1 if step > 0 else -1), step))


def _random(lo: JSON, hi: JSON, *seed: JSON) -> int:
    low, high = _rounded(lo), _rounded(hi)
    source = random.Random(_rounded(seed[0])) if seed else random
    return source.randint(low, high - 1)


INTRINSICS: dict[str, Callable[..., JSON]] = {
    "Format": _format,
    "StringToJson": _string_to_json,
    "JsonToString": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "Array": lambda *a: list(a),
    "ArrayLength": lambda a: len(a),
    "ArrayGetItem": lambda a, i: a[i],
    "ArrayContains": lambda a, v: v in a,
    "ArrayUnique": lambda a: [x for i, x in enumerate(a) if x not in a[:i]],
    "ArrayPartition": _partition,
    "ArrayRange": _range,
    "MathAdd": _math_add,
    "MathRandom": _random,
    "StringSplit": lambda s, d: [p for p in re.split("[" + re.escape(d) + "]", s) if p],
    "Base64Encode": lambda s: base64.b64encode(s.encode()).decode(),
    "Base64Decode": lambda s: base64.b64decode(s).decode(),
    "Hash": lambda s, alg: hashlib.new(alg.replace("-", "").lower(), s.encode()).hexdigest(),
    "UUID": lambda: str(uuid.uuid4()),
    "JsonMerge": lambda a, b, deep=False: {**a, **b},
}

# Names only, for validation before a run starts.
SUPPORTED_INTRINSICS = frozenset(INTRINSICS)
