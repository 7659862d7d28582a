"""The context object in paths: ``v2/context_object/test_context_object.py``."""

from __future__ import annotations

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, end, machine, sid

_T = "context_object/test_context_object.py::TestSnfBase::"
_INPUT = {"input-value": 0}
_TIMES = {"StartTime": "date", "EnteredTime": "date"}


def _pass(field: str, path: str) -> dict:
    return machine({"TestState": end({"Type": "Pass", field: path})})


SCENARIOS = [
    *(
        Scenario(sid(f"{_T}test_{kind}_path[{path}]"), (Run(_pass(field, path), _INPUT),), field_placeholders=_TIMES)
        for kind, field in (("input", "InputPath"), ("output", "OutputPath"))
        for path in ("$$", "$$.Execution.Input")
    ),
    Scenario(
        sid(_T + "test_result_selector"),
        (
            Run(
                machine(
                    {
                        "TestState": end(
                            {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "Parameters": {"FunctionName.$": "$.FunctionName", "Payload": {"Input.$": "$"}},
                                "ResultSelector": {"LambdaOutput.$": "$", "ContextObjectValue.$": "$$.Execution.Input"},
                            }
                        )
                    }
                ),
                {"FunctionName": FUNCTION, "Payload": _INPUT},
            ),
        ),
        functions={FUNCTION: handler("identity")},
        substitutions={FUNCTION: "<lambda_function_name>"},
    ),
    Scenario(
        sid(_T + "test_variable"),
        (
            Run(
                machine(
                    {
                        "TestState": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$$.Execution.Input.input-value",
                                    "NumericLessThanEquals": 0,
                                    "Next": "QuitChoiceMatched",
                                }
                            ],
                            "Default": "QuitNoChoiceMatched",
                        },
                        "QuitChoiceMatched": end({"Type": "Pass"}),
                        "QuitNoChoiceMatched": end({"Type": "Pass"}),
                    }
                ),
                _INPUT,
            ),
        ),
    ),
    Scenario(
        sid(_T + "test_items_path"),
        (
            Run(
                machine(
                    {
                        "TestState": end(
                            {
                                "Type": "Map",
                                "ItemsPath": "$$.Execution.Input.input-values",
                                "ItemProcessor": machine({"HandleItem": end({"Type": "Pass"})}),
                            }
                        )
                    }
                ),
                {"input-values": ["item-0"]},
            ),
        ),
    ),
    Scenario(
        sid(_T + "test_error_cause_path"),
        (
            Run(
                machine(
                    {"StartState": {"Type": "Fail", "ErrorPath": "$$.State.Name", "CausePath": "$$.StateMachine.Name"}}
                )
            ),
        ),
    ),
]
