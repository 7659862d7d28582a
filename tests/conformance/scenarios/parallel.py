"""Parallel states: ``v2/scenarios/test_base_scenarios.py`` (test_parallel_state*)."""

from __future__ import annotations

import itertools
from typing import Any

from ..harness import Run, Scenario
from .common import end, machine, sid, to

_T = "scenarios/test_base_scenarios.py::TestBaseScenarios::"


def _passes(*names: str) -> dict[str, Any]:
    """A branch of Pass states in a row."""
    states = {n: to(m, {"Type": "Pass"}) for n, m in itertools.pairwise(names)}
    states[names[-1]] = end({"Type": "Pass"})
    return machine(states)


def _failing_branch() -> dict[str, Any]:
    return machine({"Branch1": {"Type": "Fail", "Error": "FailureType", "Cause": "Cause description"}})


def _one(test: str, definition: dict[str, Any], input: Any = None) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, {} if input is None else input),))


_THREE_BRANCHES = machine(
    {
        "LoadInput": to("ParallelState", {"Type": "Pass", "Result": [1, 2, 3, 4]}),
        "ParallelState": end(
            {
                "Type": "Parallel",
                "Branches": [
                    _passes("Branch1"),
                    _passes("Branch21", "Branch22"),
                    _passes("Branch31", "Branch32", "Branch33"),
                ],
            }
        ),
    }
)

SCENARIOS = [
    _one("test_parallel_state[PARALLEL_STATE]", _THREE_BRANCHES),
    # the recording of the same test before it was parametrised (validated 2023-07-17)
    _one("test_parallel_state", _THREE_BRANCHES),
    _one(
        "test_parallel_state[PARALLEL_STATE_PARAMETERS]",
        machine(
            {
                "TestState": end(
                    {
                        "Type": "Parallel",
                        "Parameters": {"static-input-0": 0, "static-input-1": [1]},
                        "Branches": [_passes("Branch0State0"), _passes("Branch1State0")],
                    }
                )
            }
        ),
    ),
    _one(
        "test_parallel_state_order",
        machine(
            {
                "StartState": end(
                    {
                        "Type": "Parallel",
                        "Branches": [
                            machine({f"Branch{i}": end({"Type": "Pass", "Result": {"branch": i}})}) for i in range(4)
                        ],
                    }
                )
            }
        ),
    ),
    _one(
        "test_parallel_state_nested",
        machine(
            {
                "ParallelStateL1": end(
                    {
                        "Type": "Parallel",
                        "Branches": [
                            machine({"ParallelStateL2": end({"Type": "Parallel", "Branches": [_passes("BranchL2")]})})
                        ],
                    }
                )
            }
        ),
        [[1, 2, 3], [4, 5, 6]],
    ),
    _one(
        "test_parallel_state_fail",
        machine(
            {
                "ParallelState": end(
                    {"Type": "Parallel", "Branches": [machine({"Branch1": {"Type": "Fail", "Error": "FailureType"}})]}
                )
            }
        ),
    ),
    _one(
        "test_parallel_state_catch",
        machine(
            {
                "ParallelState": to(
                    "Final",
                    {
                        "Type": "Parallel",
                        "Branches": [_failing_branch()],
                        "Catch": [{"ErrorEquals": ["FailureType"], "Next": "FinalCaught"}],
                    },
                ),
                "FinalCaught": end({"Type": "Pass"}),
                "Final": end({"Type": "Pass"}),
            }
        ),
    ),
    _one(
        "test_parallel_state_retry",
        machine(
            {
                "ParallelState": to(
                    "Final",
                    {
                        "Type": "Parallel",
                        "Branches": [_failing_branch()],
                        "Retry": [{"ErrorEquals": ["FailureType"], "MaxAttempts": 2}],
                    },
                ),
                "Final": end({"Type": "Pass"}),
            }
        ),
    ),
]
