"""Where AWS would restart a redriven execution, read from its history (``csv_dmap.logic.redrive``),
and whether a redrive could mend the run.

The oracles are execution histories recorded on AWS (LocalStack's snapshot tests, Apache-2.0;
recorded against AWS on the dates given): the event types and state names below are theirs,
newest first as GetExecutionHistory(reverseOrder=True) returns them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csv_dmap.logic.redrive import RestartPoint, redrive_blocker, restart_point

DEFINITION = json.loads((Path(__file__).parents[2] / "statemachine" / "definition.asl.json").read_text())


def entered(kind: str, name: str) -> dict:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name, "input": "{}"}}


def exited(kind: str, name: str) -> dict:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


# test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_csv_headers_decl_duplicate_headers
# (recorded 2023-09-21): a Distributed Map whose ItemReader failed, uncaught.
UNCAUGHT_DISTRIBUTED_MAP = [
    {"type": "ExecutionFailed"},
    {"type": "MapStateFailed"},
    {"type": "MapRunFailed"},
    {"type": "MapRunStarted"},
    {"type": "MapStateStarted"},
    entered("Map", "MapState"),
    {"type": "ExecutionStarted"},
]
# test_base_scenarios.py::TestBaseScenarios::test_map_state_catch (recorded 2023-07-18): an inline
# Map whose iteration entered a Fail state; the Map's Catch handled it: MapStateFailed, MapStateExited.
CAUGHT_MAP = [
    {"type": "ExecutionSucceeded"},
    exited("Pass", "FinalCaught"),
    entered("Pass", "FinalCaught"),
    exited("Map", "MapState"),
    {"type": "MapStateFailed"},
    {"type": "MapIterationFailed"},
    entered("Fail", "HandleItemFail"),
    {"type": "MapIterationStarted"},
    {"type": "MapStateStarted"},
    entered("Map", "MapState"),
    exited("Pass", "StartState"),
    entered("Pass", "StartState"),
    {"type": "ExecutionStarted"},
]


def test_an_uncaught_map_failure_is_the_restart_point():
    assert restart_point(UNCAUGHT_DISTRIBUTED_MAP) == RestartPoint("MapState", "Map", "{}")


def test_a_caught_map_has_exited_and_a_fail_state_inside_an_iteration_is_not_the_executions():
    assert restart_point(CAUGHT_MAP) is None


def test_a_caught_failure_that_ends_in_a_fail_state_restarts_there_and_cannot_be_mended():
    # the shape of this state machine's RunFailed: the map exited, AggregateErrors exited, the Fail state did not
    history = [
        {"type": "ExecutionFailed"},
        entered("Fail", "RunFailed"),
        exited("Choice", "RunOutcome"),
        entered("Choice", "RunOutcome"),
        exited("Task", "AggregateErrors"),
        entered("Task", "AggregateErrors"),
        exited("Map", "ProcessUserStats"),
        *UNCAUGHT_DISTRIBUTED_MAP[1:5],
        entered("Map", "ProcessUserStats"),
    ]
    point = restart_point(history)
    assert point == RestartPoint("RunFailed", "Fail", "{}")
    why = redrive_blocker("run-1", "FAILED", "ErrorRateExceeded", point)
    assert why is not None and "re-enters and fails again" in why
    rejected = redrive_blocker("run-2", "FAILED", "InvalidHeader", RestartPoint("InputRejected", "Fail"))
    assert rejected is not None and "rejected its file (InvalidHeader)" in rejected


@pytest.mark.parametrize(
    ("status", "point", "redrivable"),
    [
        ("FAILED", RestartPoint("ProcessUserStats", "Map"), True),
        ("FAILED", RestartPoint("AggregateErrors", "Task"), True),
        ("TIMED_OUT", RestartPoint("ProcessUserStats", "Map"), True),
        ("ABORTED", RestartPoint("ValidateInput", "Task"), True),
        ("SUCCEEDED", None, False),
        ("RUNNING", None, False),
        ("FAILED", None, False),
    ],
)
def test_what_a_redrive_can_mend(status, point, redrivable):
    assert (redrive_blocker("run", status, "TransientDatabaseError", point) is None) is redrivable


def test_only_the_files_and_the_rows_own_faults_end_in_fail_states():
    """Walked from the definition: every Fail state is reached only through the rejection Catch
    (the file's fault) or RunOutcome (the rows' fault, after the map); no Task, Map or Parallel
    catches States.ALL, so any other failure leaves its own state as the restart point."""
    states = DEFINITION["States"]
    for name, state in states.items():
        for catch in state.get("Catch", []):
            assert "States.ALL" not in catch["ErrorEquals"], f"{name} catches States.ALL"
            assert name == "ValidateInput", f"{name} catches {catch['ErrorEquals']}"
    assert "Catch" not in states["ProcessUserStats"]
    assert states["ProcessUserStats"].get("ToleratedFailurePercentage", 0) == 0
    assert not {"ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "ToleratedFailureCount"} & set(
        states["ProcessUserStats"]
    )
