"""Data flow of the Amazon States Language (JSONPath mode): paths, reference
paths, payload templates (``"key.$"`` fields) and intrinsic functions.

Reading paths uses jsonpath-ng; writing (ResultPath) uses reference paths,
which AWS restricts to plain field and index steps.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import uuid
from functools import lru_cache
from typing import Any

from jsonpath_ng.ext import parse as jsonpath_parse


class StatesError(Exception):
    """An ASL runtime error with an ``Error`` name and a ``Cause``."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def runtime_error(cause: str) -> StatesError:
    return StatesError("States.Runtime", cause)


@lru_cache(maxsize=1024)
def _compiled(path: str):
    try:
        return jsonpath_parse(path)
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises several kinds
        raise runtime_error(f"invalid JSONPath {path!r}: {exc}") from None


def read_path(path: str, data: Any, context: dict | None = None) -> Any:
    """Value at ``path`` (``$...`` in ``data``, ``$$...`` in the context object).

    A path that matches nothing is a States.Runtime error, as in AWS."""
    if path.startswith("$$"):
        return read_path("$" + path[2:], context or {})
    if path == "$":
        return data
    matches = _compiled(path).find(data)
    if not matches:
        raise runtime_error(f"the JSONPath {path!r} could not be found in the input {_short(data)}")
    if len(matches) == 1 and not _is_multi(path):
        return matches[0].value
    return [m.value for m in matches]


def _is_multi(path: str) -> bool:
    return any(token in path for token in ("[*]", "..", "[?", ":"))


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) < 200 else text[:197] + "..."


_REF_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\['([^']+)'\]|\[(\d+)\]")


def _reference_steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise runtime_error(f"reference path {path!r} must start with $")
    steps, pos = [], 1
    while pos < len(path):
        m = _REF_STEP.match(path, pos)
        if not m:
            raise runtime_error(f"{path!r} is not a reference path (only .field, ['field'] and [n] steps)")
        steps.append(m.group(1) or m.group(2) if m.group(3) is None else int(m.group(3)))
        pos = m.end()
    return steps


def write_path(path: str | None, target: Any, value: Any) -> Any:
    """ResultPath semantics: ``null`` discards the result, ``$`` replaces the
    input, ``$.a.b`` sets a field of a copy of the input (creating objects)."""
    if path is None:
        return target
    steps = _reference_steps(path)
    if not steps:
        return value
    root = copy.deepcopy(target) if isinstance(target, (dict, list)) else {}
    if not isinstance(root, (dict, list)):
        raise runtime_error(f"cannot apply ResultPath {path!r} to a non-object input")
    node = root
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


def apply_input_path(path: str | None, data: Any, context: dict) -> Any:
    """InputPath / OutputPath: absent = ``$``, null = ``{}``."""
    if path is None:
        return {}
    return read_path(path, data, context)


# --------------------------------------------------------------------------- payload templates


def render(template: Any, data: Any, context: dict) -> Any:
    """Evaluate a payload template (Parameters, ItemSelector, ResultSelector,
    BatchInput): fields named ``x.$`` take the value of a path or intrinsic."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise runtime_error(f"field {key!r} must be a path or an intrinsic function")
                out[key[:-2]] = evaluate_expression(value, data, context)
            else:
                out[key] = render(value, data, context)
        return out
    if isinstance(template, list):
        return [render(v, data, context) for v in template]
    return template


def evaluate_expression(text: str, data: Any, context: dict) -> Any:
    text = text.strip()
    if text.startswith("$"):
        return read_path(text, data, context)
    if text.startswith("States."):
        value, rest = _parse_call(text, 0, data, context)
        if text[rest:].strip():
            raise runtime_error(f"unexpected text after intrinsic function: {text[rest:]!r}")
        return value
    raise runtime_error(f"{text!r} is neither a path nor an intrinsic function")


# --------------------------------------------------------------------------- intrinsic functions

_NAME = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_PATH = re.compile(r"\$\$?[^,)\s]*")


def intrinsic_names(text: str) -> list[str]:
    return _NAME.findall(text)


def _parse_call(text: str, pos: int, data: Any, context: dict) -> tuple[Any, int]:
    m = _NAME.match(text, pos)
    if not m:
        raise runtime_error(f"expected an intrinsic function at {text[pos:]!r}")
    name, pos = m.group(1), m.end()
    args: list[Any] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos < len(text) and text[pos] == ")":
            pos += 1
            break
        value, pos = _parse_arg(text, pos, data, context)
        args.append(value)
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == ")":
            pos += 1
            break
        else:
            raise runtime_error(f"malformed intrinsic function call {text!r}")
    func = INTRINSICS.get(name)
    if func is None:
        raise runtime_error(f"the local runner does not implement States.{name}")
    try:
        return func(*args), pos
    except StatesError:
        raise
    except Exception as exc:  # noqa: BLE001 - argument errors become the ASL's runtime error
        raise StatesError("States.IntrinsicFailure", f"States.{name}: {exc}") from None


def _parse_arg(text: str, pos: int, data: Any, context: dict) -> tuple[Any, int]:
    ch = text[pos] if pos < len(text) else ""
    if ch == "'":
        out, pos = [], pos + 1
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
    if text.startswith("States.", pos):
        return _parse_call(text, pos, data, context)
    if ch == "$":
        m = _PATH.match(text, pos)
        return read_path(m.group(0), data, context), m.end()
    m = _NUMBER.match(text, pos)
    if m:
        token = m.group(0)
        return (float(token) if any(c in token for c in ".eE") else int(token)), m.end()
    for literal, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(literal, pos):
            return value, pos + len(literal)
    raise runtime_error(f"cannot parse intrinsic argument at {text[pos:]!r}")


def _format(template: str, *args: Any) -> str:
    parts = re.split(r"(?<!\\)\{\}", template)
    if len(parts) - 1 != len(args):
        raise ValueError(f"{len(parts) - 1} placeholders but {len(args)} arguments")
    out = parts[0]
    for arg, part in zip(args, parts[1:]):
        out += (arg if isinstance(arg, str) else json.dumps(arg, separators=(",", ":"))) + part
    return out.replace("\\{", "{").replace("\\}", "}")


def _math_add(a: Any, b: Any) -> int:
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
        raise ValueError("arguments must be numbers")
    return int(a) + int(b)


def _partition(array: list, size: int) -> list:
    return [array[i : i + size] for i in range(0, len(array), size)]


def _range(start: int, end: int, step: int) -> list:
    return list(range(start, end + (1 if step > 0 else -1), step))


INTRINSICS = {
    "Format": _format,
    "StringToJson": lambda s: json.loads(s),
    "JsonToString": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "Array": lambda *a: list(a),
    "ArrayLength": lambda a: len(a),
    "ArrayGetItem": lambda a, i: a[i],
    "ArrayContains": lambda a, v: v in a,
    "ArrayUnique": lambda a: [x for i, x in enumerate(a) if x not in a[:i]],
    "ArrayPartition": _partition,
    "ArrayRange": _range,
    "MathAdd": _math_add,
    "MathRandom": lambda lo, hi, *seed: random.Random(*seed).randint(lo, hi - 1) if seed else random.randint(lo, hi - 1),
    "StringSplit": lambda s, d: [p for p in re.split("[" + re.escape(d) + "]", s) if p],
    "Base64Encode": lambda s: base64.b64encode(s.encode()).decode(),
    "Base64Decode": lambda s: base64.b64decode(s).decode(),
    "Hash": lambda s, alg: hashlib.new(alg.replace("-", "").lower(), s.encode()).hexdigest(),
    "UUID": lambda: str(uuid.uuid4()),
    "JsonMerge": lambda a, b, deep=False: {**a, **b},
}

# Names only, for validation before a run starts.
SUPPORTED_INTRINSICS = frozenset(INTRINSICS)
