"""Inline Map states: ``v2/scenarios/test_base_scenarios.py`` (test_map_state*, test_max_concurrency_path*)."""

from __future__ import annotations

from typing import Any

from ..harness import Run, Scenario
from .common import end, machine, sid, to

_T = "scenarios/test_base_scenarios.py::TestBaseScenarios::"
_INLINE = {"ProcessorConfig": {"Mode": "INLINE"}}
_ITEMS = [1, "Hello", {}, None, 3.3, 3, 4, 5]
_SHIPPED = [
    {"prod": "R31", "dest-code": 9511, "quantity": 1344},
    {"prod": "S39", "dest-code": 9511, "quantity": 40},
    {"prod": "R31", "dest-code": 9833, "quantity": 12},
    {"prod": "R40", "dest-code": 9860, "quantity": 887},
    {"prod": "R40", "dest-code": 9511, "quantity": 1220},
]
_SELECTOR = {
    "original_input.$": "$",
    "iteration_input_value.$": "$$.Map.Item.Value",
    "iteration_index.$": "$$.Map.Item.Index",
    "from_input_constant.$": "$.delivery-partner",
    "constant_value": "HelloWorld",
}
_VALUES = {"constantValue": "constant", "mapValue.$": "$$.Map.Item.Value", "fromInput.$": "$"}


def _one(test: str, definition: dict[str, Any], input: Any = None) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, {} if input is None else input),))


def _processor(states: dict[str, Any], legacy: bool = False, config: dict[str, Any] | None = _INLINE) -> dict[str, Any]:
    """ItemProcessor (or the older Iterator) of a Map state."""
    return {"Iterator" if legacy else "ItemProcessor": {**machine(states), **(config or {})}}


def _over_array(items: list[Any], processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Pass puts ``items`` at $.arr; a Map (one item at a time) runs over them and drops its result."""
    return machine(
        {
            "StartState": to("MapState", {"Type": "Pass", "Result": items, "ResultPath": "$.arr"}),
            "MapState": to(
                "Final",
                {"Type": "Map", "ResultPath": None, "InputPath": "$.arr", "MaxConcurrency": 1, **processor, **fields},
            ),
            "Final": end({"Type": "Pass"}),
        }
    )


_PASS_ITEM = {"HandleItem": end({"Type": "Pass"})}
_FAIL_ITEM = {"HandleItemFail": {"Type": "Fail", "Error": "HandleItemFailError", "Cause": "HandleItemFailCause"}}
_BREAK_AT_3 = {
    "Equals3": {
        "Type": "Choice",
        "Choices": [
            {
                "And": [
                    {"IsPresent": True, "Variable": "$"},
                    {"And": [{"IsNumeric": True, "Variable": "$"}, {"NumericEquals": 3, "Variable": "$"}]},
                ],
                "Next": "Break",
            }
        ],
        "Default": "Pass",
    },
    "Break": {"Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."},
    "Pass": end({"Type": "Pass"}),
}


def _caught() -> dict[str, Any]:
    return machine(
        {
            "StartState": to("MapState", {"Type": "Pass", "Result": [1], "ResultPath": "$.arr"}),
            "MapState": to(
                "Final",
                {
                    "Type": "Map",
                    "ResultPath": None,
                    "InputPath": "$.arr",
                    "MaxConcurrency": 1,
                    **_processor(_FAIL_ITEM),
                    "Catch": [{"ErrorEquals": ["HandleItemFailError"], "Next": "FinalCaught"}],
                },
            ),
            "FinalCaught": end({"Type": "Pass"}),
            "Final": end({"Type": "Pass"}),
        }
    )


def _retried(retriers: list[dict[str, Any]], legacy: bool = False) -> dict[str, Any]:
    return _over_array([1], _processor(_FAIL_ITEM, legacy=legacy, config=None if legacy else _INLINE), Retry=retriers)


def _shipments(selector_field: str, shipped: list[Any], legacy: bool) -> dict[str, Any]:
    processor = _processor(_PASS_ITEM, legacy=legacy, config=None if legacy else _INLINE)
    return machine(
        {
            "StartState": to(
                "MapState", {"Type": "Pass", "Result": {"detail": {"delivery-partner": "UQS", "shipped": shipped}}}
            ),
            "MapState": to(
                "Final",
                {
                    "Type": "Map",
                    "ResultPath": "$.detail.shipped_output",
                    "InputPath": "$.detail",
                    "ItemsPath": "$.shipped",
                    "MaxConcurrency": 1,
                    selector_field: _SELECTOR,
                    **processor,
                },
            ),
            "Final": end({"Type": "Pass"}),
        }
    )


def _hello_world(selector_field: str | None, legacy: bool) -> dict[str, Any]:
    """A Map over the input ["Hello", "World"], INLINE given in the ProcessorConfig of either field."""
    selector = {selector_field: _VALUES} if selector_field else {}
    return machine(
        {
            "MapState": to(
                "Finish",
                {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    **selector,
                    **_processor({"IteratorInner": end({"Type": "Pass"})}, legacy=legacy),
                },
            ),
            "Finish": {"Type": "Succeed"},
        }
    )


def _reentrant() -> dict[str, Any]:
    """A loop that maps over the same values three times (the Map state entered again)."""
    return machine(
        {
            "StartState": to(
                "BeforeIteration",
                {"Type": "Pass", "Parameters": {"Iterations": 3, "Values.$": "States.ArrayRange(0, 3, 1)"}},
            ),
            "BeforeIteration": to(
                "IterationBody",
                {
                    "Type": "Pass",
                    "Parameters": {"Iterations.$": "States.MathAdd($.Iterations, -1)", "Values.$": "$.Values"},
                },
            ),
            "IterationBody": to(
                "CheckIteration",
                {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "ItemsPath": "$.Values",
                    **_processor({"ProcessValue": end({"Type": "Pass"})}, legacy=True, config=None),
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


def _max_concurrency_path() -> dict[str, Any]:
    return machine(
        {
            "MapState": to(
                "Final",
                {
                    "Type": "Map",
                    "ItemsPath": "$.Values",
                    "MaxConcurrencyPath": "$.MaxConcurrencyValue",
                    **_processor(_PASS_ITEM),
                },
            ),
            "Final": end({"Type": "Pass"}),
        }
    )


SCENARIOS = [
    _one("test_map_state", _over_array(_ITEMS, _processor(_PASS_ITEM))),
    _one("test_map_state_legacy", _over_array(_ITEMS, _processor(_PASS_ITEM, legacy=True, config=None))),
    _one(
        "test_map_state_no_processor_config",
        machine(
            {
                "StartState": to("MapState", {"Type": "Pass", "Result": [1, 2, 3], "ResultPath": "$.arr"}),
                "MapState": end(
                    {"Type": "Map", "ItemsPath": "$.arr", "MaxConcurrency": 1, **_processor(_PASS_ITEM, config=None)}
                ),
            }
        ),
    ),
    _one(
        "test_map_state_nested",
        machine(
            {
                "MapL1": end(
                    {
                        "Type": "Map",
                        "MaxConcurrency": 1,
                        **_processor(
                            {
                                "MapL2": end(
                                    {
                                        "Type": "Map",
                                        "MaxConcurrency": 1,
                                        **_processor({"MapL2Pass": end({"Type": "Pass"})}),
                                    }
                                )
                            }
                        ),
                    }
                )
            }
        ),
        [[1, 2, 3], [4, 5, 6]],
    ),
    _one("test_map_state_legacy_config_inline", _hello_world(None, legacy=True), ["Hello", "World"]),
    _one("test_map_state_legacy_config_inline_parameters", _hello_world("Parameters", legacy=True), ["Hello", "World"]),
    _one(
        "test_map_state_legacy_config_inline_item_selector",
        _hello_world("ItemSelector", legacy=True),
        ["Hello", "World"],
    ),
    _one("test_map_state_config_inline_parameters", _hello_world("Parameters", legacy=False), ["Hello", "World"]),
    _one("test_map_state_item_selector[MAP_STATE_ITEM_SELECTOR]", _shipments("ItemSelector", _SHIPPED, legacy=False)),
    # the recording of the same test before it was parametrised (validated 2023-07-19)
    _one("test_map_state_item_selector", _shipments("ItemSelector", _SHIPPED, legacy=False)),
    _one("test_map_state_parameters_legacy", _shipments("Parameters", _SHIPPED, legacy=True)),
    _one("test_map_state_item_selector_singleton", _shipments("ItemSelector", ["A", "B", "C"], legacy=False)),
    _one("test_map_state_parameters_singleton_legacy", _shipments("Parameters", ["A", "B", "C"], legacy=True)),
    _one(
        "test_map_state_item_selector_parameters",
        machine(
            {
                "Start": to(
                    "MapState",
                    {
                        "Type": "Pass",
                        "Parameters": {"bucket": "test-bucket", "values": ["1", "2", "3"]},
                        "ResultPath": "$.content",
                    },
                ),
                "MapState": end(
                    {
                        "Type": "Map",
                        "MaxConcurrency": 1,
                        "ItemsPath": "$.content.values",
                        "ItemSelector": {"bucketName.$": "$.content.bucket", "value.$": "$$.Map.Item.Value"},
                        **_processor(
                            {"EndState": end({"Type": "Pass", "Parameters": {"message": "Processing item completed"}})}
                        ),
                        "ResultPath": None,
                    }
                ),
            }
        ),
    ),
    _one("test_map_state_catch", _caught()),
    _one("test_map_state_catch_legacy", _caught()),
    _one(
        "test_map_state_catch_empty_fail",
        machine(
            {
                "StartState": to("MapState", {"Type": "Pass", "Result": [1], "ResultPath": "$.arr"}),
                "MapState": to(
                    "CaughtNone",
                    {
                        "Type": "Map",
                        "ResultPath": None,
                        "InputPath": "$.arr",
                        "MaxConcurrency": 1,
                        **_processor({"HandleItemFail": {"Type": "Fail"}}),
                        # neither matches an error without a name ("State.ALL" is no States.ALL)
                        "Catch": [
                            {"ErrorEquals": ["Internal Error"], "Next": "CaughtInternalError"},
                            {"ErrorEquals": ["State.ALL"], "Next": "CaughtStatesALL"},
                        ],
                    },
                ),
                "CaughtInternalError": end({"Type": "Pass"}),
                "CaughtStatesALL": end({"Type": "Pass"}),
                "CaughtNone": end({"Type": "Pass"}),
            }
        ),
    ),
    _one("test_map_state_retry", _retried([{"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 2}])),
    _one(
        "test_map_state_retry_legacy",
        _retried([{"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 2}], legacy=True),
    ),
    _one(
        "test_map_state_retry_multiple_retriers",
        _retried(
            [
                {"ErrorEquals": ["NoSuchError"], "MaxAttempts": 1},
                {"ErrorEquals": ["State.ALL"], "MaxAttempts": 2},
                {"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 3},
            ]
        ),
    ),
    _one("test_map_state_break_condition", _over_array([1, "Hello", {}, 3.3, 3, 4, 5], _processor(_BREAK_AT_3))),
    _one(
        "test_map_state_break_condition_legacy",
        _over_array([1, "Hello", {}, 3.3, 3, 4, 5], _processor(_BREAK_AT_3, legacy=True, config=None)),
    ),
    _one("test_map_state_legacy_reentrant", _reentrant()),
    *(
        _one(
            f"test_max_concurrency_path[{label}]",
            _max_concurrency_path(),
            {"MaxConcurrencyValue": value, "Values": ["HelloWorld"]},
        )
        for label, value in (("max_concurrency_value0", {}), ("NoNumber", "NoNumber"), ("0", 0), ("1", 1))
    ),
    Scenario(
        sid(_T + "test_max_concurrency_path_negative"),
        (Run(_max_concurrency_path(), {"MaxConcurrencyValue": -1, "Values": ["HelloWorld"]}),),
        diverged=(
            "AWS recorded an execution that never entered its first state (its history ends at ExecutionStarted); "
            "the runner fails it at once, States.Runtime"
        ),
    ),
]
