"""The scenarios: definitions, inputs, handlers and objects written for this suite, one per
recorded snapshot id (cited by it). The recorded outcomes they are held to are in ``recorded.json``."""

from __future__ import annotations

from ..harness import Scenario
from . import (
    base,
    choice,
    comments,
    context_object,
    error_handling,
    intrinsics,
    map_distributed,
    map_inline,
    others,
    parallel,
    scenarios_misc,
    services_lambda,
    timeouts,
)

MODULES = (
    base,
    choice,
    comments,
    context_object,
    error_handling,
    intrinsics,
    map_distributed,
    map_inline,
    others,
    parallel,
    scenarios_misc,
    services_lambda,
    timeouts,
)


def all_scenarios() -> list[Scenario]:
    return [scenario for module in MODULES for scenario in module.SCENARIOS]
