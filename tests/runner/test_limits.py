"""AWS's limits, kept by the runner. The numbers are AWS's documented quotas, written
here independently of asl_runner.limits:
- 256 KiB (262,144 bytes) input/output of a state or execution, States.DataLimitExceeded
  https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
- 25,000 events in a Standard execution's history (service quotas)
- Error <= 256 characters, Cause <= 32,768 characters
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionFailedEventDetails.html
"""

import pytest

from tests.runner.conftest import machine, run

FN = "arn:aws:lambda:ap-northeast-1:123456789012:function:fn"
KIB_256 = 262_144


def big(n_bytes):
    return "x" * n_bytes


def test_a_state_output_above_256_kib_fails_the_execution():
    d = machine({"A": {"Type": "Pass", "Result": big(KIB_256), "End": True}})
    result = run(d, {})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'A'" in result.cause


def test_an_output_just_under_the_limit_passes():
    # the JSON text of a string is the string plus two quotes
    d = machine({"A": {"Type": "Pass", "Result": big(KIB_256 - 2), "End": True}})
    assert run(d, {}).status == "SUCCEEDED"


def test_a_task_input_above_256_kib_after_parameters_is_rejected_before_the_call():
    calls = []
    d = machine({"T": {"Type": "Task", "Resource": FN, "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}})
    result = run(d, {"s": big(KIB_256 // 2)}, functions={FN: lambda e, c: calls.append(e)})
    assert result.error == "States.DataLimitExceeded" and calls == []


def test_a_function_result_above_256_kib_is_data_limit_exceeded_which_states_all_catches():
    # Against the documentation ("a terminal error that can't be caught by States.ALL"), AWS catches
    # a task's oversized result with States.ALL: LocalStack's snapshot test_states_errors.py::
    # TestStatesErrors::test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response
    # (validated against AWS 2024-03-21; tests/conformance reproduces it)
    def handler(event, context):
        return big(300 * 1024)

    uncaught = run(machine({"T": {"Type": "Task", "Resource": FN, "End": True}}), {}, functions={FN: handler})
    assert (uncaught.status, uncaught.error) == ("FAILED", "States.DataLimitExceeded")
    d = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "End": True,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            },
            "Caught": {"Type": "Succeed"},
        }
    )
    caught = run(d, {}, functions={FN: handler})
    assert caught.status == "SUCCEEDED"
    assert caught.output["Error"] == "States.DataLimitExceeded"


def test_the_execution_input_above_256_kib_fails_the_execution():
    result = run(machine({"A": {"Type": "Pass", "End": True}}), {"s": big(KIB_256)})
    assert result.error == "States.DataLimitExceeded"


def test_multibyte_characters_count_as_their_utf8_bytes():
    # 90,000 three-byte characters are 270,000 bytes: above the limit though under 262,144 characters
    d = machine({"A": {"Type": "Pass", "Result": "あ" * 90_000, "End": True}})
    assert run(d, {}).error == "States.DataLimitExceeded"


def test_an_infinite_choice_loop_ends_at_the_history_limit():
    d = machine(
        {
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Again"}]},
            "Again": {"Type": "Pass", "Next": "Loop"},
        }
    )
    result = run(d, {"go": True})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "25,000" in result.cause and "history" in result.cause
    assert 25_000 < result.history_events <= 25_010


def test_the_history_limit_cannot_be_caught():
    d = machine(
        {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Catch": [{"ErrorEquals": ["States.ALL", "States.Runtime"], "Next": "Caught"}],
                "Branches": [
                    machine(
                        {
                            "Loop": {"Type": "Pass", "Next": "Back"},
                            "Back": {"Type": "Pass", "Next": "Loop"},
                        }
                    )
                ],
            },
            "Caught": {"Type": "Succeed"},
        }
    )
    result = run(d, {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_a_short_execution_counts_a_few_events():
    d = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Task", "Resource": FN, "End": True}})
    result = run(d, {}, functions={FN: lambda e, c: 1})
    # ExecutionStarted/Succeeded, 2 per state, 3 for the task (scheduled, started, succeeded)
    assert result.history_events == 2 + 2 + 2 + 3


def test_a_100_kib_error_message_becomes_a_cause_of_32768_characters():
    def handler(event, context):
        raise ValueError("m" * 100 * 1024)

    result = run(machine({"T": {"Type": "Task", "Resource": FN, "End": True}}), {}, functions={FN: handler})
    assert result.error == "ValueError" and len(result.cause) == 32_768


def test_fail_state_error_and_cause_are_capped():
    d = machine({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}})
    result = run(d, {"e": "E" * 1000, "c": "C" * 40_000})
    assert (len(result.error), len(result.cause)) == (256, 32_768)


@pytest.mark.parametrize("items", [1, 3])
def test_a_child_execution_output_above_256_kib_fails_that_child(s3, items):
    from tests.runner.test_distributed_map import dmap, put_csv

    inp = put_csv(s3, "id\n" + "".join(f"{i}\n" for i in range(items)))
    child = "arn:aws:lambda:ap-northeast-1:123456789012:function:child"
    result = run(dmap(ToleratedFailurePercentage=100), inp, functions={child: lambda e, c: big(KIB_256)})
    assert result.status == "SUCCEEDED"
    assert result.map_runs[0]["failedBatches"] == items
