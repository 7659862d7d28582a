"""Lambda tasks, a bare function ARN and ``lambda:invoke``: ``v2/services/test_lambda_task.py``,
``v2/services/test_lambda_task_service.py``."""

from __future__ import annotations

import json
from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, REQUEST_IDS, end, function_arn, machine, sid, to

_LEGACY = "services/test_lambda_task.py::TestTaskLambda::"
_SERVICE = "services/test_lambda_task_service.py::TestTaskServiceLambda::"
_FUNCTION_1 = "lambda_1_func_c0ffee00"
_FUNCTION_2 = "lambda_2_func_c0ffee00"
# the values the json tests send, by their parameter ids
_JSON_VALUES: dict[str, Any] = {
    "None": None,
    "HelloWorld": "HelloWorld",
    "0.0": 0.0,
    "0_0": 0,
    "0_1": -0,
    "True": True,
    "json_value5": {},
    "json_value6": [],
    "json_value7": [],
}
_INVOKE_PARAMETERS = {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}


def _step1(function: str) -> dict[str, Any]:
    return machine({"step1": end({"Type": "Task", "Resource": function_arn(function)})})


def _legacy(test: str, function: str, input: Any) -> Scenario:
    return Scenario(
        sid(_LEGACY + test),
        (Run(_step1(_FUNCTION_1), input),),
        functions={_FUNCTION_1: handler(function)},
        substitutions={_FUNCTION_1: "<lambda_function_1_name>"},
    )


def _invoke(parameters: dict[str, Any]) -> dict[str, Any]:
    return machine(
        {
            "Start": to(
                "EndWithFinal", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": parameters}
            ),
            "EndWithFinal": end({"Type": "Pass", "ResultPath": "$.final"}),
        }
    )


def _service(
    test: str, function: str, input: dict[str, Any], parameters: dict[str, Any] = _INVOKE_PARAMETERS
) -> Scenario:
    # the 2023 recordings show the request id as <uuid:1>, later ones as a fixed word
    placeholders = REQUEST_IDS if not test.endswith(("[None]", "[json_value7]")) else {}
    return Scenario(
        sid(_SERVICE + test),
        (Run(_invoke(parameters), {"FunctionName": FUNCTION, **input}),),
        functions={FUNCTION: handler(function)},
        substitutions={FUNCTION: "<lambda_function_name>"},
        field_placeholders=placeholders,
    )


SCENARIOS = [
    _legacy("test_invoke_bytes_payload", "return_bytes", {}),
    _legacy("test_invoke_string_payload", "identity", "HelloWorld"),
    *(_legacy(f"test_invoke_json_values[{label}]", "identity", value) for label, value in _JSON_VALUES.items()),
    Scenario(
        sid(_LEGACY + "test_invoke_pipe"),
        (
            Run(
                machine(
                    {
                        "step1": to("step2", {"Type": "Task", "Resource": function_arn(_FUNCTION_1)}),
                        "step2": end({"Type": "Task", "Resource": function_arn(_FUNCTION_2), "ResultPath": "$.Return"}),
                    }
                )
            ),
        ),
        functions={_FUNCTION_1: handler("echo"), _FUNCTION_2: handler("echo")},
    ),
    Scenario(
        sid(_LEGACY + "test_lambda_task_filter_parameters_input"),
        (
            Run(
                machine(
                    {
                        "StartCheckLoop": to(
                            "CheckComplete", {"Type": "Pass", "Result": {"count": 0}, "ResultPath": "$.loop"}
                        ),
                        "CheckComplete": end(
                            {
                                "Type": "Task",
                                "Resource": function_arn(),
                                "Parameters": {"loop.$": "$.loop"},
                                "ResultPath": "$.result",
                            }
                        ),
                    }
                )
            ),
        ),
        functions={FUNCTION: handler("identity")},
    ),
    _service("test_invoke", "identity", {"Payload": None}),
    _service("test_invoke_bytes_payload", "return_bytes", {"Payload": json.dumps("'{'Hello':'World'}'")}),
    # LogType is taken (the documentation lists it as unsupported)
    _service(
        "test_invoke_unsupported_param",
        "identity",
        {"Payload": None, "LogType": "Tail"},
        {**_INVOKE_PARAMETERS, "LogType.$": "$.LogType"},
    ),
    # a Payload that is a string is sent as it is: the JSON text of the event
    *(
        _service(f"test_invoke_json_values[{label}]", "identity", {"Payload": json.dumps(value)})
        for label, value in _JSON_VALUES.items()
    ),
]
