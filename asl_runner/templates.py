"""Payload templates (Parameters, ItemSelector, ResultSelector, BatchInput):
fields named ``x.$`` take the value of a path or an intrinsic function."""

from __future__ import annotations

from typing import Any

from .errors import runtime_error
from .intrinsics import evaluate_intrinsic
from .paths import JSON, PathNotFound, not_found_for_field, read_path


def render(template: JSON, data: JSON, context: dict[str, Any]) -> JSON:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise runtime_error(f"field {key!r} must be a path or an intrinsic function")
                try:
                    out[key[:-2]] = evaluate_expression(value, data, context)
                except PathNotFound as err:
                    raise not_found_for_field(err, key, data) from None
            else:
                out[key] = render(value, data, context)
        return out
    if isinstance(template, list):
        return [render(v, data, context) for v in template]
    return template


def evaluate_expression(text: str, data: JSON, context: dict[str, Any]) -> JSON:
    text = text.strip()
    if text.startswith("$"):
        return read_path(text, data, context)
    if text.startswith("States."):
        return evaluate_intrinsic(text, data, context)
    raise runtime_error(f"{text!r} is neither a path nor an intrinsic function")
