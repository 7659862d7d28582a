"""Small helpers to write definitions."""

from __future__ import annotations

from typing import Any

from ..catalog import ROOT


def sid(rest: str) -> str:
    """A LocalStack snapshot test id from its part after ``tests/aws/services/stepfunctions/v2/``."""
    return f"{ROOT}v2/{rest}"


def machine(states: dict[str, Any], start: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **fields}


def end(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "End": True}


def to(next_state: str, state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "Next": next_state}


REGION = "us-east-1"
ACCOUNT = "111111111111"
# LocalStack names its functions f"lambda_func_{short_uid()}": a name of the same length keeps
# what depends on it (a Content-Length) as recorded
FUNCTION = "lambda_func_c0ffee00"


def function_arn(name: str = FUNCTION) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# What the recordings made since 2025 show in place of Lambda's request ids (LocalStack's transformers)
REQUEST_IDS = {"x-amzn-RequestId": "x-amzn-RequestId", "RequestId": "RequestId"}
