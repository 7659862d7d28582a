"""Errors of Lambda tasks and of the 256 KiB limit: ``v2/error_handling/test_task_lambda.py``,
``test_task_service_lambda.py`` and ``test_states_errors.py``."""

from __future__ import annotations

from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, end, function_arn, machine, sid, to

_INVOKE = "arn:aws:states:::lambda:invoke"
_PARAMETERS = {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}
_NAME = {FUNCTION: "<lambda_function_name>"}


def _catch_unknown(resource: str) -> dict[str, Any]:
    """A task whose only catcher is for Lambda.Unknown, which no error here is."""
    return machine(
        {
            "Start": to(
                "EndWithFinal",
                {
                    "Type": "Task",
                    "Resource": resource,
                    "Parameters": _PARAMETERS,
                    "Catch": [{"ErrorEquals": ["Lambda.Unknown"], "Next": "EndWithHandler"}],
                },
            ),
            "EndWithHandler": end({"Type": "Pass", "ResultPath": "$.error"}),
            "EndWithFinal": end({"Type": "Pass", "ResultPath": "$.final"}),
        }
    )


def _catch_relevant(resource: str) -> dict[str, Any]:
    """Catchers from the narrowest to States.ALL: which one an error reaches."""
    return machine(
        {
            "Start": to(
                "EndWithFinal",
                {
                    "Type": "Task",
                    "Resource": resource,
                    "Parameters": _PARAMETERS,
                    "Catch": [
                        {"ErrorEquals": ["Lambda.Unknown"], "Next": "EndWithLambdaUnknownHandler"},
                        {"ErrorEquals": ["States.TaskFailed"], "Next": "EndWithStateTaskFailedHandler"},
                        {"ErrorEquals": ["States.ALL"], "Next": "EndWithAllHandler"},
                    ],
                },
            ),
            "EndWithLambdaUnknownHandler": end({"Type": "Pass", "ResultPath": "$.lambda_unknown"}),
            "EndWithStateTaskFailedHandler": end({"Type": "Pass", "ResultPath": "$.task_failed_error"}),
            "EndWithAllHandler": end({"Type": "Pass", "ResultPath": "$.all_error"}),
            "EndWithFinal": end({"Type": "Pass", "ResultPath": "$.final"}),
        }
    )


def _catch_custom(resource: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "Catch": [{"ErrorEquals": ["CustomException"], "Next": "ErrorMatched"}],
    }
    if resource == _INVOKE:
        task["Parameters"] = _PARAMETERS
    return machine(
        {
            "InvokeLambda": to("ProcessResult", task),
            "ProcessResult": end({"Type": "Pass"}),
            "ErrorMatched": end({"Type": "Pass"}),
        }
    )


def _catch_data_limit(resource: str, first: list[str]) -> dict[str, Any]:
    catchers = [
        {
            "ErrorEquals": first,
            "Next": "HandleDataLimitExceeded" if len(first) == 1 and first[0] != "States.ALL" else "HandleGeneralError",
        }
    ]
    if first != ["States.ALL"]:
        catchers.append({"ErrorEquals": ["States.ALL"], "Next": "HandleGeneralError"})
    states: dict[str, Any] = {
        "InvokeLambda": to(
            "ProcessResult", {"Type": "Task", "Resource": resource, "Parameters": _PARAMETERS, "Catch": catchers}
        ),
        "ProcessResult": end({"Type": "Pass"}),
        "HandleGeneralError": end({"Type": "Pass"}),
    }
    if first != ["States.ALL"]:
        states["HandleDataLimitExceeded"] = end({"Type": "Pass"})
    return machine(states)


def _scenario(test_id: str, definition: dict[str, Any], function: str, input: Any = None, **extra: Any) -> Scenario:
    given = {"FunctionName": FUNCTION, "Payload": None} if input is None else input
    return Scenario(
        sid(test_id), (Run(definition, given),), functions={FUNCTION: handler(function)}, substitutions=_NAME, **extra
    )


_LEGACY = "error_handling/test_task_lambda.py::TestTaskLambda::"
_SERVICE = "error_handling/test_task_service_lambda.py::TestTaskServiceLambda::"
_LIMITS = "error_handling/test_states_errors.py::TestStatesErrors::"
_NO_SUCH = {"FunctionName": f"no_such_{FUNCTION}", "Payload": None}


def _output_path(path: str | None) -> Scenario:
    """A caught error's output does not go through the task's OutputPath."""
    name = "function_name_c0ffee"
    return Scenario(
        sid(f"{_SERVICE}test_raise_exception_catch_output_path[{path}]"),
        (
            Run(
                machine(
                    {
                        "InvokeLambda": to(
                            "ProcessResult",
                            {
                                "Type": "Task",
                                "Resource": _INVOKE,
                                "Parameters": _PARAMETERS,
                                "ResultPath": "$.Payload",
                                "OutputPath": path,
                                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "HandleGeneralError"}],
                            },
                        ),
                        "ProcessResult": end({"Type": "Pass"}),
                        "HandleGeneralError": end({"Type": "Pass", "Parameters": {"InputValue.$": "$"}}),
                    }
                ),
                {"FunctionName": name, "Payload": {"payload_input_value_0": 0}},
            ),
        ),
        functions={name: handler("raise_exception")},
        substitutions={name: "lambda_function_name"},
    )


SCENARIOS = [
    # a bare function ARN: the function's error as the Python runtime wrote it
    _scenario(_LEGACY + "test_raise_exception", _catch_unknown(function_arn()), "raise_exception"),
    _scenario(_LEGACY + "test_raise_custom_exception", _catch_custom(function_arn()), "raise_custom_exception"),
    _scenario(_LEGACY + "test_raise_exception_catch", _catch_relevant(function_arn()), "raise_exception"),
    # the function named in the input does not exist, but a bare ARN calls the ARN's function
    _scenario(_LEGACY + "test_no_such_function", _catch_unknown(function_arn()), "raise_exception", _NO_SUCH),
    _scenario(_LEGACY + "test_no_such_function_catch", _catch_relevant(function_arn()), "raise_exception", _NO_SUCH),
    # lambda:invoke
    _scenario(_SERVICE + "test_raise_exception", _catch_unknown(_INVOKE), "raise_exception"),
    _scenario(_SERVICE + "test_raise_custom_exception", _catch_custom(_INVOKE), "raise_custom_exception"),
    _scenario(_SERVICE + "test_raise_exception_catch", _catch_relevant(_INVOKE), "raise_exception"),
    *(_output_path(path) for path in (None, "$.Payload", "$.no.such.path")),
    _scenario(_SERVICE + "test_no_such_function", _catch_unknown(_INVOKE), "raise_exception", _NO_SUCH),
    _scenario(_SERVICE + "test_no_such_function_catch", _catch_relevant(_INVOKE), "raise_exception", _NO_SUCH),
    # a result above 256 KiB
    _scenario(
        _LIMITS + "test_service_task_lambada_data_limit_exceeded_on_large_utf8_response",
        _catch_data_limit(_INVOKE, ["States.DataLimitExceeded"]),
        "large_output",
    ),
    _scenario(
        _LIMITS + "test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response",
        _catch_data_limit(_INVOKE, ["States.ALL"]),
        "large_output",
    ),
    _scenario(
        _LIMITS + "test_task_lambda_data_limit_exceeded_on_large_utf8_response",
        _catch_data_limit(function_arn(), ["States.DataLimitExceeded"]),
        "large_output",
    ),
    _scenario(
        _LIMITS + "test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response",
        _catch_data_limit(function_arn(), ["States.ALL"]),
        "large_output",
    ),
    Scenario(
        sid(_LIMITS + "test_start_large_input"),
        (Run(machine({"State_1": end({"Type": "Pass", "Result": {"Arg1": "a" * (257 * 1024)}})})),),
    ),
]
