"""Distributed Map states: ``v2/scenarios/test_base_scenarios.py`` (test_map_state_*distributed*,
test_map_item_reader_*, test_map_state_tolerated_failure_*, test_map_state_label,
test_map_state_result_writer) and the Label rules of ``v2/test_sfn_api_map_run.py``."""

from __future__ import annotations

import json
from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, end, machine, sid, to

_T = "scenarios/test_base_scenarios.py::TestBaseScenarios::"
_DISTRIBUTED = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}
_VALUES = {"constantValue": "constant", "mapValue.$": "$$.Map.Item.Value", "fromInput.$": "$"}
_BUCKET = "bucket-name"


def _one(test: str, definition: dict[str, Any], input: Any = None, **extra: Any) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, {} if input is None else input),), **extra)


def _processor(states: dict[str, Any], legacy: bool = False) -> dict[str, Any]:
    return {"Iterator" if legacy else "ItemProcessor": {**machine(states), **_DISTRIBUTED}}


_INNER = {"IteratorInner": end({"Type": "Pass"})}


def _hello_world(selector_field: str | None, legacy: bool) -> dict[str, Any]:
    selector = {selector_field: _VALUES} if selector_field else {}
    return machine(
        {
            "MapState": to("Finish", {"Type": "Map", "MaxConcurrency": 1, **selector, **_processor(_INNER, legacy)}),
            "Finish": {"Type": "Succeed"},
        }
    )


def _reentrant(values: dict[str, Any], processor_states: dict[str, Any]) -> dict[str, Any]:
    return machine(
        {
            "StartState": to("BeforeIteration", {"Type": "Pass", "Parameters": values}),
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
                    **_processor(processor_states),
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


def _tolerance(field: str) -> dict[str, Any]:
    return machine(
        {
            "MapState": end(
                {
                    "Type": "Map",
                    "ItemsPath": "$.Items",
                    "MaxConcurrency": 1,
                    **_processor({"HandleItem": end({"Type": "Pass"})}),
                    field: f"$.{field.removesuffix('Path')}",
                }
            )
        }
    )


def _reader(config: dict[str, Any], items_path: str | None = None) -> dict[str, Any]:
    """A Distributed Map over the object the input names (Bucket, Key); each item passes through."""
    map_state: dict[str, Any] = {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": config,
            "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"},
        },
        **_processor({"PassItem": end({"Type": "Pass"})}),
    }
    if items_path is None:
        return machine({"MapState": end(map_state)})
    return machine(
        {
            "LoadState": to(
                "MapState",
                {
                    "Type": "Pass",
                    "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key", "from_previous": ["from-previous-item-0"]},
                },
            ),
            "MapState": end({**map_state, "ItemsPath": items_path}),
        }
    )


def _object(
    key: str, body: str, test: str, definition: dict[str, Any], input: dict[str, Any] | None = None
) -> Scenario:
    given = {"Bucket": _BUCKET, "Key": key, **(input or {})}
    return _one(test, definition, given, objects={(_BUCKET, key): body.encode()})


_CSV_ROWS = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
_CSV_FOUR = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n"
_STATEMENTS = [
    {"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
    {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
    {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"},
]
_FIRST_ROW = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}


def _given(headers: list[str]) -> dict[str, Any]:
    return {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": headers}


_LABELLED = {"Type": "Map", **_processor(_INNER), "Label": "TestMap"}

SCENARIOS = [
    # ItemSelector / Parameters, ItemProcessor / Iterator
    _one("test_map_state_legacy_config_distributed", _hello_world(None, legacy=True), ["Hello", "World"]),
    _one(
        "test_map_state_legacy_config_distributed_parameters",
        _hello_world("Parameters", legacy=True),
        ["Hello", "World"],
    ),
    _one(
        "test_map_state_legacy_config_distributed_item_selector",
        _hello_world("ItemSelector", legacy=True),
        ["Hello", "World"],
    ),
    _one(
        "test_map_state_config_distributed_item_selector",
        _hello_world("ItemSelector", legacy=False),
        ["Hello", "World"],
    ),
    _one("test_map_state_config_distributed_parameters", _hello_world("Parameters", legacy=False), ["Hello", "World"]),
    # the test named inline ran the distributed definition: what it recorded is a distributed map
    _one("test_map_state_config_inline_item_selector", _hello_world("ItemSelector", legacy=False), ["Hello", "World"]),
    _one(
        "test_map_state_config_distributed_item_selector_parameters",
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
                "MapState": to(
                    "Finish",
                    {
                        "Type": "Map",
                        "MaxConcurrency": 1,
                        "ItemsPath": "$.content.values",
                        "ItemSelector": {"bucketName.$": "$.content.bucket", "value.$": "$$.Map.Item.Value"},
                        **_processor(_INNER),
                    },
                ),
                "Finish": {"Type": "Succeed"},
            }
        ),
    ),
    _one(
        "test_map_state_config_distributed_items_path_from_previous",
        machine(
            {
                "PreviousState": to(
                    "MapState", {"Type": "Pass", "Result": {"result_value": ["item-value-from-previous"]}}
                ),
                "MapState": end(
                    {
                        "Type": "Map",
                        "MaxConcurrency": 1,
                        "ItemsPath": "$.result_value",
                        **_processor({"PassState": end({"Type": "Pass"})}),
                    }
                ),
            }
        ),
    ),
    # the same Map state entered again: a map run each time
    _one(
        "test_map_state_config_distributed_reentrant",
        _reentrant(
            {"Iterations": 3, "Values.$": "States.ArrayRange(0, 3, 1)"}, {"ProcessValue": end({"Type": "Pass"})}
        ),
    ),
    Scenario(
        sid(_T + "test_map_state_config_distributed_reentrant_lambda"),
        (
            Run(
                _reentrant(
                    {"Iterations": 2, "Values": ["HelloWorld"]},
                    {
                        "ProcessValue": end(
                            {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:111111111111:function:{FUNCTION}"}
                        )
                    },
                )
            ),
        ),
        functions={FUNCTION: handler("identity")},
    ),
    # a Distributed Map in the child executions of a Distributed Map
    _one(
        "test_map_state_nested_config_distributed",
        machine(
            {
                "SetupState": to(
                    "MapState",
                    {
                        "Type": "Pass",
                        "Result": {"values": [{"sub-values": [{"num": 1, "str": "A"}, {"num": 2, "str": "B"}]}]},
                    },
                ),
                "MapState": end(
                    {
                        "Type": "Map",
                        "MaxConcurrency": 1,
                        "ItemsPath": "$.values",
                        **_processor(
                            {
                                "SubMapState": end(
                                    {
                                        "Type": "Map",
                                        "MaxConcurrency": 1,
                                        "ItemsPath": "$.sub-values",
                                        "ResultPath": "$.result",
                                        **_processor({"SubMapStateSuccess": {"Type": "Succeed"}}),
                                    }
                                )
                            }
                        ),
                    }
                ),
            }
        ),
    ),
    Scenario(
        sid(_T + "test_map_state_nested_config_distributed_no_max_max_concurrency"),
        (
            Run(
                machine(
                    {
                        "InputValue": to(
                            "OuterMap", {"Type": "Pass", "Result": {"outerJobs": [{"innerJobs": [0, 1, 2, 3, 4]}] * 4}}
                        ),
                        "OuterMap": to(
                            "FinalState",
                            {
                                "Type": "Map",
                                "ResultPath": None,
                                "ItemsPath": "$.outerJobs",
                                "ItemSelector": {"innerJobs.$": "$$.Map.Item.Value.innerJobs"},
                                "MaxConcurrency": 50,
                                **_processor(
                                    {
                                        "InnerMap": end(
                                            {
                                                "Type": "Map",
                                                "ResultPath": None,
                                                "ItemsPath": "$.innerJobs",
                                                "ItemSelector": {"job.$": "$$.Map.Item.Value"},
                                                "MaxConcurrency": 9,
                                                **_processor(
                                                    {
                                                        "ProcessJob": end(
                                                            {
                                                                "Type": "Task",
                                                                "Resource": "arn:aws:states:::lambda:invoke",
                                                                "Parameters": {
                                                                    "FunctionName": FUNCTION,
                                                                    "Payload": {"job.$": "$.job"},
                                                                },
                                                            }
                                                        )
                                                    }
                                                ),
                                            }
                                        )
                                    }
                                ),
                            },
                        ),
                        "FinalState": end({"Type": "Pass"}),
                    }
                )
            ),
        ),
        functions={FUNCTION: handler("identity")},
    ),
    # tolerance: literal values, and paths with AWS's checks
    _one(
        "test_map_state_tolerated_failure_values[count_literal]",
        machine(
            {
                "MapState": end(
                    {
                        "Type": "Map",
                        "InputPath": "$",
                        "MaxConcurrency": 1,
                        **_processor({"HandleItem": end({"Type": "Pass"})}),
                        "ToleratedFailureCount": 10,
                    }
                )
            }
        ),
        [0],
    ),
    _one(
        "test_map_state_tolerated_failure_values[percentage_literal]",
        machine(
            {
                "MapState": end(
                    {
                        "Type": "Map",
                        "InputPath": "$",
                        "MaxConcurrency": 1,
                        **_processor({"HandleItem": end({"Type": "Pass"})}),
                        "ToleratedFailurePercentage": 0.5,
                    }
                )
            }
        ),
        [0],
    ),
    *(
        _one(
            f"test_map_state_tolerated_failure_count_path[{label}]",
            _tolerance("ToleratedFailureCountPath"),
            {"Items": [0], "ToleratedFailureCount": value},
        )
        for label, value in (
            ("tolerated_failure_count_value0", {}),
            ("NoNumber", "NoNumber"),
            ("-1", -1),
            ("0", 0),
            ("1", 1),
        )
    ),
    *(
        _one(
            f"test_map_state_tolerated_failure_percentage_path[{label}]",
            _tolerance("ToleratedFailurePercentagePath"),
            {"Items": [0], "ToleratedFailurePercentage": value},
        )
        for label, value in (
            ("tolerated_failure_percentage_value0", {}),
            ("NoNumber", "NoNumber"),
            ("-1.1", -1.1),
            ("-1", -1),
            ("0", 0),
            ("1", 1),
            ("1.1", 1.1),
            ("100", 100),
            ("100.1", 100.1),
        )
    ),
    # Label names the map run; ResultWriter writes its results to S3
    _one("test_map_state_label", machine({"MapState": end(_LABELLED)}), ["Hello", "World"]),
    _one(
        "test_map_state_result_writer",
        machine(
            {
                "MapState": end(
                    {
                        **_LABELLED,
                        "ResultWriter": {
                            "Resource": "arn:aws:states:::s3:putObject",
                            "Parameters": {"Bucket": "result-bucket", "Prefix": "mapJobs"},
                        },
                    }
                )
            }
        ),
        ["Hello", "World"],
    ),
    # ItemReader: CSV with the header in the first row or given, JSON, MaxItems(Path)
    _object(
        "file.csv",
        "Col1,Col2,Col3\n" + _CSV_ROWS,
        "test_map_item_reader_base_csv_headers_first_line",
        _reader(_FIRST_ROW),
    ),
    _object("file.csv", _CSV_ROWS, "test_map_item_reader_base_csv_headers_decl", _reader(_given(["H1", "H2", "H3"]))),
    _object(
        "file.csv",
        _CSV_ROWS,
        "test_map_item_reader_csv_headers_decl_duplicate_headers",
        _reader(_given(["H1", "H1", "H3"])),
    ),
    _object("file.csv", _CSV_ROWS, "test_map_item_reader_csv_headers_decl_extra_fields", _reader(_given(["H1"]))),
    _object(
        "file.csv",
        "0,True,{}\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n",
        "test_map_item_reader_csv_headers_first_row_typed_headers",
        _reader(_FIRST_ROW),
    ),
    _object(
        "file.csv",
        "H1,\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n",
        "test_map_item_reader_csv_first_row_extra_fields",
        _reader(_FIRST_ROW),
    ),
    *(
        _object(
            "file.csv", _CSV_FOUR, f"test_map_item_reader_csv_max_items[{n}]", _reader({**_FIRST_ROW, "MaxItems": n})
        )
        for n in (0, 2, 100_000_000)
    ),
    *(
        _object(
            "file.csv",
            _CSV_FOUR,
            f"test_map_item_reader_csv_max_items_paths[{n}]",
            _reader({**_FIRST_ROW, "MaxItemsPath": "$.MaxItems"}),
            {"MaxItems": n},
        )
        for n in (-1, 0, 1.5, 2, 100_000_000, 100_000_001)
    ),
    _object("file.json", json.dumps(_STATEMENTS), "test_map_item_reader_base_json", _reader({"InputType": "JSON"})),
    _object(
        "file.json",
        json.dumps([_STATEMENTS[0]] * 3),
        "test_map_item_reader_base_json_max_items",
        _reader({"InputType": "JSON", "MaxItems": 2}),
    ),
    _object(
        "file.json",
        json.dumps({"Hello": "world"}),
        "test_map_item_reader_json_no_json_list_object",
        _reader({"InputType": "JSON"}),
    ),
    # recorded in JSONata; the same values picked with JSONPath (catalog.JSONPATH_EQUIVALENT)
    _object(
        "file.json",
        json.dumps(_STATEMENTS),
        "test_map_item_reader_base_json_max_items_jsonata",
        _reader({"InputType": "JSON", "MaxItemsPath": "$.MaxItems"}),
        {"MaxItems": 2},
    ),
    Scenario(
        sid(_T + "test_map_item_batching_base_json_max_per_batch_jsonata"),
        (
            Run(
                machine(
                    {
                        "BatchMapState": end(
                            {
                                **_reader({"InputType": "JSON", "MaxItems": 2})["States"]["MapState"],
                                "ItemBatcher": {
                                    "MaxItemsPerBatchPath": "$.MaxItemsPerBatch",
                                    "MaxInputBytesPerBatchPath": "$.MaxInputBytesPerBatch",
                                    "BatchInput": {"BatchTimestamp.$": "$$.State.EnteredTime"},
                                },
                                "ItemProcessor": {**_DISTRIBUTED, **machine({"ProcessBatch": end({"Type": "Pass"})})},
                            }
                        )
                    }
                ),
                {"Bucket": _BUCKET, "Key": "file.json", "MaxItemsPerBatch": 2, "MaxInputBytesPerBatch": 150_000},
            ),
        ),
        objects={(_BUCKET, "file.json"): json.dumps(_STATEMENTS).encode()},
        field_placeholders={"BatchTimestamp": "date"},
    ),
    # with an ItemReader, ItemsPath selects nothing: the items are the object's
    *(
        _object(
            "file.json",
            json.dumps([["from-bucket-item-0"]]),
            f"test_map_item_reader_base_json_with_items_path[{label}]",
            _reader({"InputType": "JSON"}, items_path=path),
            {"from_input_items": ["input-item-0"]},
        )
        for label, path in (
            ("VALID_ITEMS_PATH_FROM_PREVIOUS", "$.from_previous"),
            ("VALID_ITEMS_PATH_FROM_ITEM_READER", "$[0]"),
            ("INVALID_ITEMS_PATH", "$.no_such_path_in_bucket_result"),
        )
    ),
]

# Labels AWS refuses when the state machine is created (LocalStack's test_sfn_api_map_run.py,
# recorded 2024-07-20, never validated): every character an execution name cannot hold, "", 41 characters
_LABEL_TEST = "test_sfn_api_map_run.py::TestSnfApiMapRun::"
_BAD_CHARACTERS = [
    " ",
    "?",
    "*",
    "<",
    ">",
    "{",
    "}",
    "[",
    "]",
    ":",
    ";",
    ",",
    "\\",
    "|",
    "^",
    "~",
    "$",
    "#",
    "%",
    "&",
    "`",
    '"',
]
_BAD_CHARACTERS += [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]


def _label_id(character: str) -> str:
    shown = (
        character.encode("unicode_escape").decode() if not character.isprintable() or character == "\\" else character
    )
    return sid(f"{_LABEL_TEST}test_map_state_label_invalid_char_fail[{shown}]")


def _labelled(label: str) -> dict[str, Any]:
    return machine({"MapState": end({**_LABELLED, "Label": label})})


SCENARIOS += [
    Scenario(_label_id(c), (Run(_labelled(f"label_{c}"), key="map_state_label_invalid_char_fail"),))
    for c in _BAD_CHARACTERS
]
SCENARIOS += [
    Scenario(
        sid(_LABEL_TEST + "test_map_state_label_empty_fail"), (Run(_labelled(""), key="map_state_label_empty_fail"),)
    ),
    Scenario(
        sid(_LABEL_TEST + "test_map_state_label_too_long_fail"),
        (Run(_labelled("1" * 41), key="map_state_label_too_long_fail"),),
    ),
]
