"""The event log (``RunOptions.record_events``): off by default, its ids numbered all the same, and a
redrive numbering on from the attempt it continues, as AWS's history does (the redrive adds an
``ExecutionRedriven`` event to the execution's history: "Restarting state machine executions with
redrive", https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html).

What the events of each state type are is held against AWS's recordings in tests/conformance."""

from asl_runner import Execution, LocalServices, RunOptions
from tests.runner.conftest import ACCOUNT, REGION, machine, run

FN = "arn:aws:lambda:ap-northeast-1:123456789012:function:flaky"


def test_the_log_is_off_by_default_and_the_ids_count_all_the_same():
    d = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "InputPath": "$.missing", "End": True}})
    quiet = run(d, {})
    assert quiet.events == []
    # the Cause names the id of B's StateEntered: ExecutionStarted 1, A 2-3, B entered 4
    assert "(entered at the event id #4)" in quiet.cause
    loud = run(d, {}, record_events=True)
    assert [(e.id, e.type, e.name) for e in loud.events] == [
        (1, "ExecutionStarted", None),
        (2, "PassStateEntered", "A"),
        (3, "PassStateExited", "A"),
        (4, "PassStateEntered", "B"),
        (5, "ExecutionFailed", None),
    ]


def test_a_redrive_numbers_on_from_the_attempt_it_continues():
    calls = []

    def flaky(event, context):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not yet")
        return {"ok": True}

    d = machine({"A": {"Type": "Pass", "Next": "T"}, "T": {"Type": "Task", "Resource": FN, "End": True}})
    services = LocalServices({FN: flaky}, region=REGION, account=ACCOUNT)
    options = RunOptions(region=REGION, account=ACCOUNT, record_events=True)
    execution = Execution(d, services, name="e", state_machine_name="sm", options=options)
    first = execution.run({})
    assert [e.type for e in first.events][-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]
    assert first.checkpoint is not None
    again = Execution(d, services, name="e", state_machine_name="sm", options=options).redrive(first.checkpoint)
    assert again.status == "SUCCEEDED"
    assert [e.type for e in again.events] == [
        "ExecutionRedriven",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert again.events[0].id == first.events[-1].id + 1
