"""TimeoutSeconds of a task and of an execution: ``v2/timeouts/test_timeouts.py`` and
``v2/error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_invoke_timeout``.

The function "runs for a minute" by moving the suite's clock on (``harness.Clock``), and a Wait
state's delay moves it too: nothing sleeps.
"""

from __future__ import annotations

from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import end, function_arn, machine, sid, to

_T = "timeouts/test_timeouts.py::TestTimeouts::"
_FUNCTION = "lambda_1_func_c0ffee00"
_INVOKE = "arn:aws:states:::lambda:invoke"
_PARAMETERS = {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}


def _slow(test: str, definition: dict[str, Any], input: Any, **extra: Any) -> Scenario:
    return Scenario(
        sid(test),
        (Run(definition, input),),
        functions={_FUNCTION: handler("wait_60_seconds")},
        substitutions={_FUNCTION: "<lambda_function_1_name>"},
        **extra,
    )


SCENARIOS = [
    _slow(
        _T + "test_fixed_timeout_lambda",
        machine(
            {
                "Start": end(
                    {
                        "Type": "Task",
                        "TimeoutSeconds": 5,
                        "Resource": function_arn(_FUNCTION),
                        "Parameters": {"Payload.$": "$.Payload"},
                    }
                )
            }
        ),
        {"Payload": None},
    ),
    _slow(
        _T + "test_fixed_timeout_service_lambda",
        machine({"Start": end({"Type": "Task", "TimeoutSeconds": 5, "Resource": _INVOKE, "Parameters": _PARAMETERS})}),
        {"FunctionName": _FUNCTION, "Payload": None, "TimeoutSecondsValue": 5},
    ),
    _slow(
        _T + "test_fixed_timeout_service_lambda_with_path",
        machine(
            {
                "Start": end(
                    {
                        "Type": "Task",
                        "TimeoutSecondsPath": "$.TimeoutSecondsValue",
                        "Resource": _INVOKE,
                        "Parameters": _PARAMETERS,
                    }
                )
            }
        ),
        {"TimeoutSecondsValue": 5, "FunctionName": _FUNCTION, "Payload": None},
    ),
    _slow(
        _T + "test_service_lambda_map_timeout",
        machine(
            {
                "MapWait": end(
                    {
                        "Type": "Map",
                        "InputPath": "$.Inputs",
                        "ItemProcessor": {
                            "ProcessorConfig": {"Mode": "INLINE"},
                            **machine(
                                {
                                    "LambdaInvoke": end(
                                        {
                                            "Type": "Task",
                                            "Resource": _INVOKE,
                                            "TimeoutSeconds": 5,
                                            "Parameters": _PARAMETERS,
                                        }
                                    )
                                }
                            ),
                        },
                    }
                )
            }
        ),
        {"Inputs": [{"FunctionName": _FUNCTION, "Payload": None}] * 4},
        diverged=(
            "AWS runs the four iterations at once and, when the first times out, aborts the others "
            "(TaskStateAborted, MapIterationAborted); the runner starts no iteration once one failed and cannot "
            "abort one that runs: it lets it end"
        ),
    ),
    _slow(
        "error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_invoke_timeout",
        machine(
            {
                "Start": to(
                    "EndWithFinal",
                    {
                        "Type": "Task",
                        "Resource": _INVOKE,
                        "TimeoutSeconds": 5,
                        "Parameters": _PARAMETERS,
                        "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "EndWithHandler"}],
                    },
                ),
                "EndWithHandler": end({"Type": "Pass", "ResultPath": "$.error"}),
                "EndWithFinal": end({"Type": "Pass", "ResultPath": "$.final"}),
            }
        ),
        {"FunctionName": _FUNCTION, "Payload": None},
    ),
    Scenario(
        sid(_T + "test_global_timeout"),
        (
            Run(
                machine(
                    {
                        "State_1": to("State_2", {"Type": "Wait", "Seconds": 60}),
                        "State_2": end({"Type": "Pass", "Result": {"Arg1": "argument1"}}),
                    },
                    TimeoutSeconds=5,
                ),
                key="describe_execution",
            ),
        ),
    ),
]
