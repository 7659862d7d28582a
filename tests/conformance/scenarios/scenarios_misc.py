"""Catch and Retry of Lambda tasks, Choice, Wait, paths that select nothing and escapes:
``v2/scenarios/test_base_scenarios.py`` (the tests not about Parallel or Map states)."""

from __future__ import annotations

from typing import Any

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, end, function_arn, machine, sid, to

_T = "scenarios/test_base_scenarios.py::TestBaseScenarios::"
_INVOKE = "arn:aws:states:::lambda:invoke"
_ALL = ["States.ALL"]


def _one(test: str, definition: dict[str, Any], input: Any = None, **extra: Any) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, {} if input is None else input),), **extra)


def _refused(test: str, definition: dict[str, Any]) -> Scenario:
    return Scenario(sid(_T + test), (Run(definition, key="exception"),))


def _lambda(
    test: str, definition: dict[str, Any], function: str, input: Any = None, name: str = "<lambda_function_name>"
) -> Scenario:
    return _one(test, definition, input, functions={FUNCTION: handler(function)}, substitutions={FUNCTION: name})


def _retried_then_caught(resource: str, **task: Any) -> dict[str, Any]:
    """A failing function retried three times, then caught."""
    return machine(
        {
            "InvokeLambdaWithRetry": end(
                {
                    "Type": "Task",
                    "Resource": resource,
                    "Retry": [{"ErrorEquals": _ALL, "MaxAttempts": 3}],
                    "Catch": [{"ErrorEquals": _ALL, "Next": "HandleError"}],
                    **task,
                }
            ),
            "HandleError": end({"Type": "Pass"}),
        }
    )


def _retry_features(**retrier: Any) -> dict[str, Any]:
    return machine(
        {"LambdaTask": end({"Type": "Task", "Resource": function_arn(), "Retry": [{"ErrorEquals": _ALL, **retrier}]})}
    )


_CONTEXT = {"ThisContextObject.$": "$$", "ThisState.$": "$"}
_HELLO = {"Value1": "HelloWorld!", "Value2": None}
_TIMES = {"StartTime": "<start-time>", "EnteredTime": "<entered-time>"}


def _choice(choices: list[dict[str, Any]], states: dict[str, Any], name: str = "ChoiceStateX") -> dict[str, Any]:
    return machine({name: {"Type": "Choice", "Choices": choices, "Default": "DefaultState"}, **states})


_AWS_DOCS_CHOICE = _choice(
    [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {
            "And": [
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30},
            ],
            "Next": "ValueInTwenties",
        },
    ],
    {
        "Public": end({"Type": "Pass"}),
        "ValueIsZero": end({"Type": "Pass"}),
        "ValueInTwenties": end({"Type": "Pass"}),
        "DefaultState": {"Type": "Fail", "Cause": "No Matches!"},
    },
)
_UNSORTED = machine(
    {
        "CheckResult": {
            "Type": "Choice",
            "Choices": [
                {"BooleanEquals": True, "Next": "FinishTrue", "Variable": "$.result.done"},
                {"BooleanEquals": False, "Next": "FinishFalse", "Variable": "$.result.done"},
            ],
        },
        "FinishTrue": end({"Type": "Pass"}),
        "FinishFalse": end({"Type": "Pass"}),
    }
)
_TIMESTAMPS = {
    "SECONDS": "2016-03-14T01:59:00Z",
    "NANOSECONDS": "2016-03-05T21:29:29.243167252Z",
    "NO_T": "2016-12-05 21:29:29Z",
    "NO_Z": "2016-12-05T21:29:29",
    "INVALID_DATE": "2016-13-05T21:29:29Z",
    "INVALID_TIME": "2016-12-05T25:29:29Z",
    "INVALID_ISO": "05-12-2016T21:29:29Z",
}


def _wait_until(stamp: str) -> dict[str, Any]:
    return machine({"WaitUntil": end({"Type": "Wait", "Timestamp": stamp})})


_INVALID_PATHS = {
    "INVALID_JSONPATH_IN_ERRORPATH": machine(
        {
            "pass": to("fail", {"Type": "Pass", "Parameters": {"Error": "error-value"}}),
            "fail": {"Type": "Fail", "ErrorPath": "$.ErrorX"},
        }
    ),
    "INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH": machine(
        {"pass": end({"Type": "Pass", "Parameters": {"value.$": "$.no_such_jsonpath"}})}
    ),
    "INVALID_JSONPATH_IN_STRING_EXPR_CONTEXTPATH": machine(
        {"pass": end({"Type": "Pass", "Parameters": {"value.$": "$$.Execution.Input.no_such_jsonpath"}})}
    ),
    "ST.INVALID_JSONPATH_IN_CAUSEPATH": machine(
        {
            "pass": to("fail", {"Type": "Pass", "Parameters": {"Error": "error-value"}}),
            "fail": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.NoSuchCausePath"},
        }
    ),
    "ST.INVALID_JSONPATH_IN_INPUTPATH": machine({"pass": end({"Type": "Pass", "InputPath": "$.NoSuchInputPath"})}),
    "ST.INVALID_JSONPATH_IN_OUTPUTPATH": machine({"pass": end({"Type": "Pass", "OutputPath": "$.NoSuchOutputPath"})}),
    # recorded with an aws-sdk task: the path fails before any call, so a Lambda task shows the same
    "ST.INVALID_JSONPATH_IN_TIMEOUTSECONDSPATH": machine(
        {
            "task": end(
                {
                    "Type": "Task",
                    "TimeoutSecondsPath": "$.NoSuchTimeoutSecondsPath",
                    "Resource": function_arn(),
                    "Parameters": {},
                }
            )
        }
    ),
}
_ESCAPED = {
    "literal_single_quote": "'",
    "literal_double_quote": '"',
    "mixed_quotes": "Text with both \"double\" and 'single' quotes.",
    "escaped_double_in_string": 'An escaped quote: \\"hello\\"',
    "escaped_backslash": "Backslash \\\\ in string",
    "unicode_double_quote": '"unicode-quote"',
    "whitespace_escapes": "Line1\nLine2\tTabbed",
    "emoji": "\U0001f197",
}
_ESCAPES_INPUT = {'Test\\""Name"': 'Value"\\'}

SCENARIOS = [
    _lambda(
        "test_catch_states_runtime",
        machine(
            {
                # an OutputPath that selects nothing is not caught, even by a catcher of States.Runtime
                "RaiseRuntime": to(
                    "Final",
                    {
                        "Type": "Task",
                        "Resource": function_arn(),
                        "OutputPath": "$.no.such.result.path",
                        "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "CaughtRuntime"}],
                    },
                ),
                "CaughtRuntime": end({"Type": "Pass"}),
                "Final": end({"Type": "Pass"}),
            }
        ),
        "identity",
    ),
    _lambda(
        "test_catch_empty",
        machine(
            {
                "StartTask": to("Final", {"Type": "Task", "Resource": function_arn(), "Catch": []}),
                "Final": end({"Type": "Pass"}),
            }
        ),
        "identity",
    ),
    _lambda(
        "test_lambda_empty_retry",
        machine({"LambdaTask": end({"Type": "Task", "Resource": function_arn(), "Retry": []})}),
        "raise_exception",
    ),
    _lambda(
        "test_lambda_invoke_with_retry_base",
        _retried_then_caught(function_arn(), ResultSelector={"Retries.$": "$$.State.RetryCount"}),
        "raise_exception",
        _HELLO,
        "<lambda_function_1_name>",
    ),
    Scenario(
        sid(_T + "test_lambda_invoke_with_retry_extended_input"),
        (
            Run(
                _retried_then_caught(
                    function_arn(),
                    Parameters=_CONTEXT,
                    ResultPath="$.state_output",
                    ResultSelector={"FinalRetryCount.$": "$$.State.RetryCount"},
                ),
                _HELLO,
            ),
        ),
        functions={FUNCTION: handler("raise_exception")},
        substitutions={FUNCTION: "<lambda_function_1_name>"},
        field_placeholders=_TIMES,
    ),
    Scenario(
        sid(_T + "test_lambda_service_invoke_with_retry_extended_input"),
        (
            Run(
                _retried_then_caught(
                    _INVOKE,
                    Parameters={"FunctionName.$": "$.FunctionName", "Payload": _CONTEXT},
                    ResultPath="$.state_output",
                    ResultSelector={"FinalRetryCount.$": "$$.State.RetryCount"},
                ),
                {"FunctionName": FUNCTION, **_HELLO},
            ),
        ),
        functions={FUNCTION: handler("raise_exception")},
        substitutions={FUNCTION: "<lambda_function_1_name>"},
        field_placeholders=_TIMES,
    ),
    _lambda(
        "test_retry_interval_features",
        _retry_features(
            IntervalSeconds=3, MaxAttempts=2, BackoffRate=2, MaxDelaySeconds=5, JitterStrategy="FULL", Comment="all"
        ),
        "raise_exception",
    ),
    _lambda(
        "test_retry_interval_features_jitter_none",
        _retry_features(IntervalSeconds=1, MaxAttempts=2, BackoffRate=1, MaxDelaySeconds=3, JitterStrategy="NONE"),
        "raise_exception",
    ),
    _lambda(
        "test_retry_interval_features_max_attempts_zero",
        machine(
            {
                "LambdaTask": end(
                    {
                        "Type": "Task",
                        "Resource": _INVOKE,
                        "Parameters": {
                            "FunctionName.$": "$.FunctionName",
                            "Payload": {"RetryAttempt.$": "$$.State.RetryCount"},
                        },
                        "Retry": [
                            {
                                "ErrorEquals": _ALL,
                                "IntervalSeconds": 3,
                                "MaxAttempts": 0,
                                "BackoffRate": 2,
                                "MaxDelaySeconds": 5,
                                "JitterStrategy": "FULL",
                            }
                        ],
                    }
                )
            }
        ),
        "raise_exception",
        {"FunctionName": FUNCTION},
        "lambda_function_name",
    ),
    # Choice
    _one(
        "test_choice_unsorted_parameters_positive[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS]",
        _UNSORTED,
        {"result": {"done": True}},
    ),
    _one(
        "test_choice_unsorted_parameters_negative[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS]",
        _UNSORTED,
        {"result": {"done": False}},
    ),
    _one(
        "test_choice_aws_docs_scenario[CHOICE_STATE_AWS_SCENARIO]", _AWS_DOCS_CHOICE, {"type": "Private", "value": 22}
    ),
    _one(
        "test_choice_singleton_composite[CHOICE_STATE_SINGLETON_COMPOSITE]",
        _choice(
            [{"And": [{"Variable": "$.type", "StringEquals": "Public"}], "Next": "Public"}],
            {"Public": end({"Type": "Pass"}), "DefaultState": {"Type": "Fail", "Cause": "No Matches!"}},
        ),
        {"type": "Public", "value": 22},
    ),
    # Wait until a timestamp: RFC 3339 with T and an offset, any number of fraction digits
    *(_one(f"test_wait_timestamp[{label}]", _wait_until(_TIMESTAMPS[label])) for label in ("SECONDS", "NANOSECONDS")),
    # the recordings of the two tests before they were parametrised (validated 2023-10-31)
    _one("test_wait_timestamp", _wait_until(_TIMESTAMPS["SECONDS"])),
    _one(
        "test_wait_timestamp_path",
        machine({"WaitUntil": end({"Type": "Wait", "TimestampPath": "$.TimestampValue"})}),
        {"TimestampValue": _TIMESTAMPS["SECONDS"]},
        field_placeholders={"TimestampValue": "date"},
    ),
    # refused when the state machine is created
    *(
        _refused(f"test_wait_timestamp_invalid[{label}]", _wait_until(_TIMESTAMPS[label]))
        for label in ("NO_T", "NO_Z", "INVALID_DATE", "INVALID_TIME", "INVALID_ISO")
    ),
    *(
        _one(
            f"test_wait_timestamp_path[{label}]",
            machine({"WaitUntil": end({"Type": "Wait", "TimestampPath": "$.TimestampValue"})}),
            {"TimestampValue": stamp},
            field_placeholders={"TimestampValue": "date" if label in ("SECONDS", "NANOSECONDS") else "timestamp"},
        )
        for label, stamp in _TIMESTAMPS.items()
    ),
    # paths that select nothing, in AWS's words
    *(
        _one(f"test_invalid_jsonpath[{label}]", definition, {"int-literal": 0})
        for label, definition in _INVALID_PATHS.items()
    ),
    # escapes in string literals, in a path, and in intrinsic functions' strings
    _one(
        "test_escape_sequence_parsing[ESCAPE_SEQUENCES_STRING_LITERALS]",
        machine(
            {
                "TestEscapesParameters": to("TestEscapesResult", {"Type": "Pass", "Parameters": _ESCAPED}),
                "TestEscapesResult": end(
                    {
                        "Type": "Pass",
                        "Result": {
                            **_ESCAPED,
                            # a Result is not evaluated: not even checked as an intrinsic function
                            "not_an_intrinsic_function.$": 'States.StringToJson(\'{"text":"An \\"escaped double quote\\" here"}\')',
                        },
                    }
                ),
            }
        ),
        _ESCAPES_INPUT,
    ),
    _one(
        "test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]",
        machine({"JsonPathEscapeTest": end({"Type": "Pass", "Parameters": {"value.$": '$[\'Test\\""Name"\']'}})}),
        _ESCAPES_INPUT,
    ),
    # a backslash before a double quote in an intrinsic function's string: refused when created
    _refused(
        "test_illegal_escapes[ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION]",
        machine(
            {
                "IntrinsicEscape": end(
                    {
                        "Type": "Pass",
                        "Parameters": {
                            "parsed.$": 'States.StringToJson(\'{"text":"An \\"escaped double quote\\" here"}\')'
                        },
                    }
                )
            }
        ),
    ),
    _refused(
        "test_illegal_escapes[ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION_2]",
        machine(
            {
                "IntrinsicEscape": end(
                    {
                        "Type": "Pass",
                        "Parameters": {
                            "parsed.$": "States.Format('He said, \\\"Hello, {}!\\\"', 'Test \\\"Name\\\" Here')"
                        },
                    }
                )
            }
        ),
    ),
]
