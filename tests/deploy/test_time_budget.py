"""Time and size budgets of the Distributed Map's children (EXPRESS: 5 minutes, 256 KiB)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runner.template import load_template
from tests.deploy.budget import (
    EXPRESS_LIMIT_SECONDS,
    LAMBDA_INIT_SECONDS,
    MARGIN_SECONDS,
    longest_path,
    retry_waits,
    task_budget,
)

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "statemachine" / "definition.asl.json").read_text())
TEMPLATE = load_template(ROOT / "template.yaml")
MAP = DEFINITION["States"]["ProcessUserStats"]
PROCESSOR = MAP["ItemProcessor"]
TASKS = {n: s for n, s in PROCESSOR["States"].items() if s["Type"] == "Task"}

STATE_LIMIT_BYTES = 256 * 1024  # Step Functions: 256 KiB per state input/output, UTF-8
CAUSE_MAX_CHARS = 32_768  # Step Functions: an error's Cause
ERROR_MAX_CHARS = 256
# The largest value each BatchInput path can carry, in bytes once JSON-escaped (a " or \ doubles).
BATCH_INPUT_MAX_BYTES = {
    "$$.Execution.Name": 80,  # execution names: 1-80 characters of [A-Za-z0-9_-]
    "$$.Execution.StartTime": 32,  # ISO 8601 with milliseconds and zone
    "$.validation.bucket": 63,  # S3 bucket names
    "$.validation.sourceKey": 2 * 1024,  # S3 keys: 1,024 bytes of UTF-8, escaped at worst twice as long
}


def _function_timeout(task: dict[str, Any]) -> int:
    """The Timeout of the Lambda function a lambda:invoke Task names through DefinitionSubstitutions."""
    placeholder = task["Parameters"]["FunctionName"].strip("${}")
    substitution = TEMPLATE["Resources"]["CsvDmapStateMachine"]["Properties"]["DefinitionSubstitutions"][placeholder]
    logical_id = substitution["Fn::GetAtt"][0]
    return int(TEMPLATE["Resources"][logical_id]["Properties"]["Timeout"])


def test_the_budget_arithmetic_on_a_hand_made_task():
    task = {
        "TimeoutSeconds": 10,
        "Retry": [
            {"ErrorEquals": ["A"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2, "MaxDelaySeconds": 3},
            {"ErrorEquals": ["B"], "IntervalSeconds": 5, "MaxAttempts": 1},
            {"ErrorEquals": ["C"]},  # ASL defaults: 3 attempts, 1 s, rate 2 -> 1 + 2 + 4
        ],
    }
    budget = task_budget("T", task)
    assert budget.attempts == 1 + 3 + 1 + 3
    assert budget.backoff == (1 + 2 + 3) + 5 + (1 + 2 + 4)
    assert budget.worst == 8 * 10 + 18
    assert retry_waits({"IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 3}) == [2, 6, 18, 54]


def test_a_catch_path_adds_the_reconciling_task_and_a_loop_is_refused():
    processor = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "TimeoutSeconds": 10,
                "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}],
                "End": True,
            },
            "B": {"Type": "Task", "TimeoutSeconds": 7, "End": True},
        },
    }
    total, path = longest_path(processor)
    assert [b.state for b in path] == ["A", "B"] and total == (2 * 10 + 1) + 7
    processor["States"]["B"]["Next"] = "A"
    del processor["States"]["B"]["End"]
    with pytest.raises(ValueError, match="loops"):
        longest_path(processor)
    with pytest.raises(ValueError, match="TimeoutSeconds"):
        task_budget("U", {"Type": "Task"})


def test_children_are_express_and_every_task_has_a_timeout():
    assert PROCESSOR["ProcessorConfig"]["ExecutionType"] == "EXPRESS"
    assert TASKS
    for name, task in TASKS.items():
        assert isinstance(task.get("TimeoutSeconds"), int), name


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_function_times_out_before_its_task_does(name):
    task = TASKS[name]
    # The function's own timeout ends an attempt first, so a retry never overlaps a live invocation.
    assert _function_timeout(task) + LAMBDA_INIT_SECONDS <= task["TimeoutSeconds"]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_lambda_timeouts_are_retried_with_full_jitter(name):
    retried = {e for rule in TASKS[name].get("Retry", []) for e in rule["ErrorEquals"]}
    assert {"States.Timeout", "Sandbox.Timedout", "Lambda.Unknown"} <= retried
    assert all(rule.get("JitterStrategy") == "FULL" for rule in TASKS[name]["Retry"])


def test_the_slowest_path_of_a_child_fits_in_express_five_minutes_with_a_margin():
    total, path = longest_path(PROCESSOR)
    assert total + MARGIN_SECONDS <= EXPRESS_LIMIT_SECONDS, [(b.state, b.worst) for b in path]


def test_the_operations_doc_states_the_budget_the_definition_gives():
    doc = (ROOT / "docs" / "deploy-operations.md").read_text()
    total, path = longest_path(PROCESSOR)
    for budget in path:
        assert (
            f"| {budget.state} | {budget.timeout} s | {budget.attempts} | {budget.backoff:g} s | {budget.worst:g} s |"
            in doc
        )
    assert f"**{total:g} s** of {EXPRESS_LIMIT_SECONDS} s" in doc


def test_a_full_batch_leaves_room_for_batch_input_and_the_failure_record():
    batcher = MAP["ItemBatcher"]
    batch_input = batcher["BatchInput"]
    paths = {v for k, v in batch_input.items() if k.endswith(".$")}
    assert paths <= set(BATCH_INPUT_MAX_BYTES), f"no documented maximum for {paths - set(BATCH_INPUT_MAX_BYTES)}"
    # {"Items":[...],"BatchInput":{"name":"value",...}}: field names, quotes, colons and commas.
    envelope = len('{"Items":,"BatchInput":{}}') + sum(len(k) + 6 for k in batch_input)
    batch_input_bytes = sum(BATCH_INPUT_MAX_BYTES[v] for v in paths)
    # The reconciling invocation gets the same input plus "Failure": {"Error", "Cause"} (docs/contracts.md, "Reconciliation");
    # a Cause is text with quotes and backslashes, escaped at worst twice as long.
    failure = len(',"Failure":{"Error":"","Cause":""}') + ERROR_MAX_CHARS + 2 * CAUSE_MAX_CHARS
    largest = batcher["MaxInputBytesPerBatch"] + envelope + batch_input_bytes + failure
    assert largest <= STATE_LIMIT_BYTES, largest
    # ...and a batch of 500 rows of 256 bytes each still fits in one child.
    assert batcher["MaxInputBytesPerBatch"] >= 500 * 256
