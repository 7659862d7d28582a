"""Conformance of the state types and the data flow, on small definitions."""

import pytest

from asl_runner import DefinitionError
from tests.runner.conftest import machine, run

FN = "arn:aws:lambda:ap-northeast-1:123456789012:function:fn"


def test_pass_with_result_result_path_and_output_path():
    d = machine(
        {
            "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "B"},
            "B": {"Type": "Pass", "InputPath": "$.r", "ResultPath": "$.copy", "OutputPath": "$.copy", "End": True},
        }
    )
    result = run(d, {"keep": True})
    assert result.status == "SUCCEEDED" and result.output == {"x": 1}


def test_parameters_context_object_and_intrinsics():
    d = machine(
        {
            "A": {
                "Type": "Pass",
                "Parameters": {
                    "name.$": "$$.Execution.Name",
                    "state.$": "$$.State.Name",
                    "greeting.$": "States.Format('hello {} #{}', $.who, $.n)",
                    "parsed.$": "States.StringToJson($.json)",
                    "text.$": "States.JsonToString($.obj)",
                    "arr.$": "States.Array($.n, 'b', States.MathAdd($.n, 2))",
                    "sum.$": "States.MathAdd($.n, -10)",
                    "literal": "kept $.not.a.path",
                },
                "End": True,
            }
        }
    )
    out = run(d, {"who": "ada", "n": 5, "json": '{"a": [1, 2]}', "obj": {"k": "v"}}).output
    assert out == {
        "name": "exec-1",
        "state": "A",
        "greeting": "hello ada #5",
        "parsed": {"a": [1, 2]},
        "text": '{"k":"v"}',
        "arr": [5, "b", 7],
        "sum": -5,
        "literal": "kept $.not.a.path",
    }


def test_result_path_null_discards_and_input_path_null_gives_empty_object():
    d = machine(
        {
            "A": {"Type": "Pass", "Result": "x", "ResultPath": None, "Next": "B"},
            "B": {"Type": "Pass", "InputPath": None, "ResultPath": "$.empty", "End": True},
        }
    )
    assert run(d, {"a": 1}).output == {"a": 1, "empty": {}}


def test_missing_path_is_a_runtime_error():
    result = run(machine({"A": {"Type": "Pass", "InputPath": "$.nope", "End": True}}), {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "$.nope" in result.cause


def test_choice_rules_and_default():
    d = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.n", "NumericGreaterThan": 10},
                            {"Variable": "$.s", "StringMatches": "ab*"},
                        ],
                        "Next": "Big",
                    },
                    {"Not": {"Variable": "$.flag", "IsPresent": True}, "Next": "NoFlag"},
                    {"Variable": "$.n", "NumericLessThanEqualsPath": "$.limit", "Next": "Small"},
                ],
                "Default": "Other",
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "NoFlag": {"Type": "Pass", "Result": "noflag", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "End": True},
            "Other": {"Type": "Pass", "Result": "other", "End": True},
        }
    )
    assert run(d, {"n": 11, "s": "abc", "flag": 1}).output == "big"
    assert run(d, {"n": 11, "s": "x"}).output == "noflag"
    assert run(d, {"n": 3, "limit": 3, "flag": 1, "s": ""}).output == "small"
    assert run(d, {"n": 4, "limit": 3, "flag": 1, "s": ""}).output == "other"


def test_choice_without_match_and_default_fails():
    d = machine(
        {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "E"}]},
            "E": {"Type": "Succeed"},
        }
    )
    assert run(d, {"n": 2}).error == "States.NoChoiceMatched"


def test_wait_is_not_slept_but_reported():
    waited = []
    d = machine({"W": {"Type": "Wait", "Seconds": 3600, "Next": "P"}, "P": {"Type": "Pass", "End": True}})
    assert run(d, {"a": 1}, sleep=waited.append).output == {"a": 1}
    assert waited == [3600.0]


def test_fail_state_error_and_cause_paths():
    d = machine({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}})
    result = run(d, {"e": "Custom", "c": "because"})
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom", "because")


def test_task_lambda_invoke_payload_and_bare_arn():
    calls = []

    def handler(event, context):
        calls.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return {"doubled": event["n"] * 2}

    d = machine(
        {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FN, "Payload.$": "$"},
                "ResultSelector": {"v.$": "$.Payload.doubled"},
                "ResultPath": "$.a",
                "Next": "Bare",
            },
            "Bare": {"Type": "Task", "Resource": FN, "InputPath": "$.a", "Parameters": {"n.$": "$.v"}, "End": True},
        }
    )
    assert run(d, {"n": 2}, functions={FN: handler}).output == {"doubled": 8}
    assert calls == [{"n": 2}, {"n": 4}]


def test_retry_backoff_max_delay_and_jitter_without_sleeping():
    attempts = {"n": 0}
    delays = []

    class Flaky(Exception):
        pass

    def handler(event, context):
        attempts["n"] += 1
        if attempts["n"] < 4:
            raise Flaky("not yet")
        return "ok"

    d = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "Retry": [
                    {"ErrorEquals": ["Other"], "MaxAttempts": 9},
                    {
                        "ErrorEquals": ["Flaky"],
                        "IntervalSeconds": 2,
                        "BackoffRate": 3,
                        "MaxAttempts": 3,
                        "MaxDelaySeconds": 10,
                    },
                ],
                "End": True,
            }
        }
    )
    result = run(d, {}, functions={FN: handler}, sleep=delays.append)
    assert result.output == "ok" and attempts["n"] == 4
    assert delays == [2, 6, 10]  # 2, 2*3, min(2*9, 10)
    jittered = []
    attempts["n"] = 0
    d["States"]["T"]["Retry"][1]["JitterStrategy"] = "FULL"
    run(d, {}, functions={FN: handler}, sleep=jittered.append)
    assert len(jittered) == 3
    assert all(0 <= j <= c for j, c in zip(jittered, [2, 6, 10], strict=True))


def test_retry_exhausted_then_catch_with_result_path():
    def handler(event, context):
        raise ValueError("bad value")

    d = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                "Catch": [
                    {"ErrorEquals": ["KeyError"], "Next": "Wrong"},
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Handled"},
                ],
                "End": True,
            },
            "Wrong": {"Type": "Fail"},
            "Handled": {"Type": "Pass", "End": True},
        }
    )
    result = run(d, {"in": 1}, functions={FN: handler})
    assert result.status == "SUCCEEDED"
    assert result.output["in"] == 1 and result.output["err"]["Error"] == "ValueError"
    assert "bad value" in result.output["err"]["Cause"]
    assert [r["attempt"] for r in result.retries] == [1, 2]


def test_states_all_does_not_catch_runtime_errors():
    d = machine(
        {
            "T": {"Type": "Pass", "InputPath": "$.missing", "End": True},
        }
    )
    assert run(d, {}).error == "States.Runtime"


def test_parallel_branches_run_and_collect_outputs():
    d = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    machine({"A": {"Type": "Pass", "Result": 1, "End": True}}),
                    machine({"B": {"Type": "Pass", "InputPath": "$.x", "End": True}}),
                ],
                "ResultPath": "$.both",
                "End": True,
            }
        }
    )
    assert run(d, {"x": "y"}).output == {"x": "y", "both": [1, "y"]}


def test_inline_map_with_item_selector_and_index():
    d = machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"},
                "ItemProcessor": machine({"S": {"Type": "Pass", "End": True}}),
                "End": True,
            }
        }
    )
    assert run(d, {"items": ["a", "b"], "k": 7}).output == [{"i": 0, "v": "a", "k": 7}, {"i": 1, "v": "b", "k": 7}]


def test_sns_publish_task(s3):
    import boto3

    sns = boto3.client("sns", region_name="ap-northeast-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    d = machine(
        {
            "N": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": topic, "Message.$": "$.m"},
                "End": True,
            }
        }
    )
    result = run(d, {"m": "hello"})
    assert result.status == "SUCCEEDED" and result.output["MessageId"]


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        ({"Type": "Task", "Resource": FN, "HeartbeatSeconds": 5, "End": True}, "HeartbeatSeconds"),
        ({"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}, "dynamodb:putItem"),
        ({"Type": "Pass", "Assign": {"x": 1}, "End": True}, "Assign"),
        ({"Type": "Pass", "Parameters": {"u.$": "States.StringToJson($.a, $.b)"}, "End": True}, None),
        ({"Type": "Task", "Resource": "${WorkerArn}", "End": True}, "WorkerArn"),
        (
            {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Colour": 2, "Next": "Only"}]},
            "Colour",
        ),
        ({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "Only"}]}, "NumericEquals"),
        ({"Type": "Wait", "Seconds": "10", "End": True}, "Seconds"),
        ({"Type": "Pass", "End": True, "Next": "Only"}, "Next and End"),
    ],
)
def test_unsupported_fields_stop_the_run_before_it_starts(state, fragment):
    d = machine({"Only": state})
    if fragment is None:  # supported: arity errors surface at run time, not before
        assert run(d, {"a": "1", "b": 2}).error == "States.IntrinsicFailure"
        return
    with pytest.raises(DefinitionError) as info:
        run(d, {})
    assert any("Only" in p and fragment in p for p in info.value.problems), info.value.problems


def test_invalid_asl_is_reported_with_state_and_field():
    with pytest.raises(DefinitionError) as info:
        run(machine({"A": {"Type": "Pass", "Next": "Missing"}}), {})
    assert any("'Missing'" in p for p in info.value.problems)
