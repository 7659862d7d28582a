"""Pass, Fail, paths and the context object: ``v2/base/test_base.py``."""

from __future__ import annotations

from ..harness import Run, Scenario
from .common import end, machine, sid, to

_T = "base/test_base.py::TestSnfBase::"


def _one(test: str, definition: dict, input: object = None, **extra: object) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, {} if input is None else input),), **extra)  # type: ignore[arg-type]


_FAIL = {"Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."}
_ERROR_INPUT = {"Error": "error string", "Cause": "cause string"}
_ITEMS = {"items": [{"item_key": i} for i in range(11)]}
_CONTEXT_TIMES = {
    "StartTime": "start-time",
    "execution_starttime": "start-time",
    "EnteredTime": "entered-time",
    "state_enteredtime": "entered-time",
}


def _item(path: str) -> dict:
    return machine({"EntryState": end({"Type": "Pass", "Parameters": {"item.$": path}})})


SCENARIOS = [
    _one("test_state_fail", machine({"FailState": _FAIL})),
    _one(
        "test_state_fail_path",
        machine({"FailState": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}}),
        _ERROR_INPUT,
    ),
    _one(
        "test_state_fail_intrinsic",
        machine(
            {
                "FailState": {
                    "Type": "Fail",
                    "ErrorPath": "$.Error",
                    "CausePath": "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
                }
            }
        ),
        _ERROR_INPUT,
    ),
    _one("test_state_fail_empty", machine({"FailState": {"Type": "Fail"}})),
    _one("test_state_pass_result", machine({"State_1": end({"Type": "Pass", "Result": {"Arg1": "argument1"}})})),
    _one(
        "test_state_pass_result_jsonpaths",
        machine({"State_1": end({"Type": "Pass", "Result": {"unsupported1.$": "$.jsonpath", "unsupported2.$": "$$"}})}),
    ),
    _one("test_decl_version_1_0", machine({"State_1": end({"Type": "Pass"})}, Version="1.0")),
    _one(
        "test_query_context_object_values",
        machine(
            {
                "QueryValues1": to(
                    "QueryValues2",
                    {
                        "Type": "Pass",
                        "ResultPath": "$.query_values_1",
                        "Parameters": {
                            "context_object.$": "$$",
                            "execution.$": "$$.Execution",
                            "execution_id.$": "$$.Execution.Id",
                            "execution_input.$": "$$.Execution.Input",
                            "execution_name.$": "$$.Execution.Name",
                            "execution_rolearn.$": "$$.Execution.RoleArn",
                            "execution_starttime.$": "$$.Execution.StartTime",
                            "state.$": "$$.State",
                            "state_enteredtime.$": "$$.State.EnteredTime",
                            "state_name.$": "$$.State.Name",
                            "statemachine.$": "$$.StateMachine",
                            "statemachine_id.$": "$$.StateMachine.Id",
                            "statemachine_name.$": "$$.StateMachine.Name",
                        },
                    },
                ),
                "QueryValues2": end(
                    {"Type": "Pass", "ResultPath": "$.query_values_2", "Parameters": {"context_object.$": "$$"}}
                ),
            }
        ),
        {"message": "TestMessage"},
        field_placeholders=_CONTEXT_TIMES,
    ),
    _one(
        "test_state_pass_result_null_input_output_paths",
        machine(
            {
                "State0": to("State1", {"Type": "Pass", "Parameters": {"Arg1": "argument1", "FromInput.$": "$"}}),
                "State1": to(
                    "State2",
                    {"Type": "Pass", "InputPath": None, "Parameters": {"Arg2": "argument2", "FromInput.$": "$"}},
                ),
                "State2": end({"Type": "Pass", "OutputPath": None}),
            }
        ),
        {"InputValue": 0},
    ),
    _one(
        "test_state_pass_regex_json_path_base",
        machine({"State0": end({"Type": "Pass", "Parameters": {"FromInput.$": "$.users[?(@.status == 0)]"}})}),
        {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]},
    ),
    *(_one(f"test_json_path_array_access[{p}]", _item(p), _ITEMS) for p in ("$.items[0]", "$.items[10]")),
    *(
        _one(f"test_json_path_array_wildcard_or_slice_with_no_input[{p}]", _item(p))
        for p in (
            "$[*]",
            "$.items[*]",
            "$.items[1:]",
            "$.items[:1]",
            "$.item.items[*]",
            "$.item.items[1:]",
            "$.item.items[:1]",
            "$.item.items[1:5]",
            "$.items[*].itemValue",
            "$.items[1:].itemValue",
            "$.items[:1].itemValue",
            "$.item.items[1:5].itemValue",
        )
    ),
]
