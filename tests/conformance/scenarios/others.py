"""Lambda scenarios recorded for LocalStack's local mocking (run on AWS against real functions),
the serverlessland "path based on data" sample, and Wait states: ``v2/local_mocking/
test_base_scenarios.py``, ``v2/scenarios/test_sfn_scenarios.py``, ``v2/base/test_wait.py``."""

from __future__ import annotations

import datetime
from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, REQUEST_IDS, end, function_arn, machine, sid, to

_MOCKING = "local_mocking/test_base_scenarios.py::TestBaseScenarios::"
_BODY = {"body": "string body"}
_NAME = "lambda_function_name"


def _choice_paths() -> dict[str, Any]:
    """The definition the recording describes (describe_state_machine): three paths by the data."""
    return machine(
        {
            "Choice State": {
                "Type": "Choice",
                "Choices": [
                    {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "NEXT_STATE_ONE"},
                    {"Variable": "$.value", "NumericEquals": 0, "Next": "NEXT_STATE_TWO"},
                    {
                        "And": [
                            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                            {"Variable": "$.value", "NumericLessThan": 30},
                        ],
                        "Next": "NEXT_STATE_TWO",
                    },
                ],
                "Default": "DEFAULT_STATE",
            },
            "DEFAULT_STATE": end({"Type": "Pass"}),
            "NEXT_STATE_ONE": end({"Type": "Pass"}),
            "NEXT_STATE_TWO": end({"Type": "Pass"}),
        }
    )


_WAIT = "base/test_wait.py::TestSfnWait::"


def _wait_at(suffix: str) -> Scenario:
    """Wait until now (the timestamp is taken when the scenario is built; in the past by the time it runs)."""
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return Scenario(
        sid(f"{_WAIT}test_wait_timestamppath[{suffix}]"),
        (Run(machine({"State_1": end({"Type": "Wait", "TimestampPath": "$.start_at"})}), {"start_at": now}),),
        substitutions={now: "<timestamp>"},
    )


def _too_far(days: int) -> Scenario:
    later = (datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Scenario(
        sid(f"{_WAIT}test_timestamp_too_far_in_future_boundary[{days}]"),
        (Run(machine({"State_1": end({"Type": "Wait", "TimestampPath": "$.start_at"})}), {"start_at": later}),),
        substitutions={later: "<timestamp>"},
        diverged=(
            "the recording is of an execution still waiting (for 24,855 days) when it was read; the runner does not wait"
            if days == 24855
            else None
        ),
    )


def _seconds_path(label: str, value: Any) -> Scenario:
    return Scenario(
        sid(f"{_WAIT}test_base_wait_seconds_path[{label}]"),
        (
            Run(
                machine({"WaitState": end({"Type": "Wait", "SecondsPath": "$.input.waitSeconds"})}),
                {"input": {"waitSeconds": value}},
            ),
        ),
    )


SCENARIOS = [
    Scenario(
        sid(_MOCKING + "test_lambda_invoke"),
        (Run(machine({"step1": end({"Type": "Task", "Resource": function_arn()})}), _BODY),),
        functions={FUNCTION: handler("identity")},
    ),
    Scenario(
        sid(_MOCKING + "test_lambda_service_invoke"),
        (
            Run(
                machine(
                    {
                        "Start": to(
                            "EndWithFinal",
                            {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"},
                            },
                        ),
                        "EndWithFinal": end({"Type": "Pass", "ResultPath": "$.final"}),
                    }
                ),
                {"FunctionName": _NAME, "Payload": _BODY},
            ),
        ),
        functions={_NAME: handler("identity")},
        field_placeholders=REQUEST_IDS,
    ),
    Scenario(
        sid(_MOCKING + "test_map_state_lambda"),
        (
            Run(
                machine(
                    {
                        "StartState": to(
                            "BeforeIteration", {"Type": "Pass", "Parameters": {"Iterations": 2, "Values": [_BODY]}}
                        ),
                        "BeforeIteration": to(
                            "IterationBody",
                            {
                                "Type": "Pass",
                                "Parameters": {
                                    "Iterations.$": "States.MathAdd($.Iterations, -1)",
                                    "Values.$": "$.Values",
                                },
                            },
                        ),
                        "IterationBody": to(
                            "CheckIteration",
                            {
                                "Type": "Map",
                                "MaxConcurrency": 1,
                                "ItemsPath": "$.Values",
                                "ItemProcessor": {
                                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                    **machine({"ProcessValue": end({"Type": "Task", "Resource": function_arn()})}),
                                },
                                "ResultPath": "$.Values",
                            },
                        ),
                        "CheckIteration": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.Iterations", "NumericEquals": 0, "Next": "Terminate"}],
                            "Default": "BeforeIteration",
                        },
                        "Terminate": {"Type": "Succeed"},
                    }
                )
            ),
        ),
        functions={FUNCTION: handler("identity")},
    ),
    Scenario(
        sid(_MOCKING + "test_parallel_state_lambda"),
        (
            Run(
                machine(
                    {
                        "ParallelState": end(
                            {
                                "Type": "Parallel",
                                "Branches": [
                                    machine(
                                        {
                                            f"Branch{n}": end(
                                                {
                                                    "Type": "Task",
                                                    "Resource": "arn:aws:states:::lambda:invoke",
                                                    "Parameters": {
                                                        "FunctionName.$": f"$.FunctionNameBranch{n}",
                                                        "Payload.$": "$.Payload",
                                                    },
                                                }
                                            )
                                        }
                                    )
                                    for n in (1, 2)
                                ],
                            }
                        )
                    }
                ),
                {
                    "FunctionNameBranch1": "function_name_branch1",
                    "FunctionNameBranch2": "function_name_branch2",
                    "Payload": ["string-literal"],
                },
            ),
        ),
        functions={"function_name_branch1": handler("identity"), "function_name_branch2": handler("decorated_input")},
        output_placeholder="executionSucceededEventDetails.output",  # the recording keeps no output
    ),
    Scenario(
        sid("scenarios/test_sfn_scenarios.py::TestFundamental::test_path_based_on_data"),
        tuple(
            Run(_choice_paths(), given, key=f"{name}__execution_history")
            for name, given in (
                ("first_path", {"type": "Public", "value": 3}),
                ("second_path", {"type": "Private", "value": 25}),
                ("default_path", {"type": "Private", "value": 3}),
            )
        ),
    ),
    # Wait
    *(_wait_at(suffix) for suffix in ("Z", ".000000Z", ".00Z", "", ".000000")),
    _too_far(24855),
    _too_far(24856),
    *(_seconds_path(label, value) for label, value in (("-1", -1), ("-1.5", -1.5), ("0", 0), ("1", 1), ("1.5", 1.5))),
    # the recording of the same test before it was parametrised (validated 2024-03-22): one second
    Scenario(
        sid(f"{_WAIT}test_base_wait_seconds_path"),
        (
            Run(
                machine({"WaitState": end({"Type": "Wait", "SecondsPath": "$.input.waitSeconds"})}),
                {"input": {"waitSeconds": 1}},
            ),
        ),
    ),
]
