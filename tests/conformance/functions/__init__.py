"""The Lambda functions of the scenarios, written for this suite, one module each with its
``handler`` (as a Lambda function's file). Each does what the recorded scenario's function did, as
far as the recording shows it (its output, its error). The Cause of a failing function holds the
handler's frame (``in handler``) and the line that raised, which the comparison keeps (only the
file and the line number are left out, see ``normalise``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def handler(name: str) -> Callable[[Any, Any], Any]:
    module = import_module(f"{__name__}.{name}")
    result: Callable[[Any, Any], Any] = module.handler
    return result
