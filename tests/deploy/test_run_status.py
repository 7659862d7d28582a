"""RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED is announced and gets a run summary,
without overwriting the one AggregateErrors wrote (moto serves S3, SNS, SQS and Step Functions)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from csv_dmap import runtime
from csv_dmap.logic.run_status import REJECTION_ERRORS, run_status
from csv_dmap.models import RunSummary, Severity
from csv_dmap.summaries import summary_key, write_summary
from tests.deploy.functions import Context, handler_module

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "run_status.json").read_text())
DEFINITION = json.loads((ROOT / "statemachine" / "definition.asl.json").read_text())
BUCKET = "csv-dmap-results"
REGION = "ap-northeast-1"
# 2026-11-30 15:30 UTC is 2026-12-01 00:30 in Tokyo: the summary's day is the report time zone's.
START_MS = 1_796_052_600_000


def status_event(
    status: str = "FAILED",
    error: str | None = "InvalidHeader",
    name: str = "users-1",
    cause: str | None = "no user id column",
    **detail: Any,
) -> dict[str, Any]:
    e = copy.deepcopy(EVENT)
    e["detail"].update(
        {
            "status": status,
            "error": error,
            "cause": cause,
            "name": name,
            "startDate": START_MS,
            "stopDate": START_MS + 5_000,
            "executionArn": f"arn:aws:states:{REGION}:123456789012:execution:csv-dmap-dev:{name}",
        }
    )
    e["detail"].update(detail)
    return e


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        for key, value in {"RESULTS_BUCKET": BUCKET, "ALERT_TOPIC_ARN": topic, "REPORT_TIMEZONE": "Asia/Tokyo"}.items():
            monkeypatch.setenv(key, value)
        runtime.reset()
        yield {"s3": s3, "sqs": sqs, "queue": queue}
        runtime.reset()


def alerts(stack: dict[str, Any]) -> list[str]:
    got = stack["sqs"].receive_message(QueueUrl=stack["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in got]


def stored(stack: dict[str, Any], name: str, day: str = "2026-12-01") -> dict[str, Any]:
    body = stack["s3"].get_object(Bucket=BUCKET, Key=f"summaries/date={day}/{name}.json")["Body"].read()
    return json.loads(body)


def test_the_rejections_are_the_ones_the_state_machine_catches():
    catch = DEFINITION["States"]["ValidateInput"]["Catch"][0]["ErrorEquals"]
    assert set(catch) <= REJECTION_ERRORS
    assert {"EmptyFile", "InvalidHeader", "UnsupportedEncoding", "FileTooLarge", "InputNotFound"} <= REJECTION_ERRORS
    assert run_status("FAILED", "InvalidHeader") == "REJECTED"
    assert run_status("FAILED", "States.TaskFailed") == "FAILED"
    assert run_status("TIMED_OUT", None) == "TIMED_OUT" and run_status("ABORTED", None) == "ABORTED"


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("FAILED", "InvalidHeader", "REJECTED"),
        ("FAILED", "Lambda.ServiceException", "FAILED"),
        ("TIMED_OUT", None, "TIMED_OUT"),
        ("ABORTED", None, "ABORTED"),
    ],
)
def test_a_run_that_ended_without_a_summary_gets_one_and_an_alert(stack, status, error, expected):
    app = handler_module("run_status")
    out = app.lambda_handler(status_event(status=status, error=error), Context())
    summary = stored(stack, "users-1")
    assert out["summaryWritten"] is True and out["status"] == expected
    assert summary["status"] == expected and summary["executionName"] == "users-1"
    assert summary["error"] == (error or {"TIMED_OUT": "States.Timeout", "ABORTED": "ExecutionAborted"}[status])
    assert (summary["rows"], summary["applied"], summary["failed"], summary["pending"]) == (0, 0, 0, 0)
    assert summary["sourceBucket"] == "csv-dmap-input" and summary["sourceKey"] == "incoming/users.csv"
    assert summary["durationSeconds"] == 5.0 and summary["alertSent"] is True
    RunSummary.model_validate(summary)  # the daily report reads it back
    (message,) = alerts(stack)
    assert "users-1" in message and expected in message and "incoming/users.csv" in message


def _aggregated(stack: dict[str, Any], *, alert_sent: bool) -> bytes:
    summary = RunSummary(
        execution_name="users-1",
        date="2026-12-01",
        start_time="2026-11-30T15:30:00+00:00",
        finished_at="2026-11-30T15:40:00+00:00",
        duration_seconds=600,
        status="FAILED",
        error="ErrorRateExceeded",
        cause="12 of 100 rows failed",
        source_bucket="csv-dmap-input",
        source_key="incoming/users.csv",
        rows=100,
        applied=88,
        failed=12,
        error_rate=12.0,
        severity=Severity.HIGH,
        alert_sent=alert_sent,
        written_by="AggregateErrors",
    )
    write_summary(stack["s3"], BUCKET, summary)
    return stack["s3"].get_object(Bucket=BUCKET, Key=summary_key(summary))["Body"].read()


def test_the_summary_aggregate_errors_wrote_is_kept_and_not_announced_twice(stack):
    before = _aggregated(stack, alert_sent=True)
    out = handler_module("run_status").lambda_handler(status_event(error="ErrorRateExceeded"), Context())
    after = stack["s3"].get_object(Bucket=BUCKET, Key="summaries/date=2026-12-01/users-1.json")["Body"].read()
    assert after == before and out["summaryWritten"] is False and out["alertSent"] is False
    assert alerts(stack) == []


def test_a_kept_summary_whose_alert_was_not_sent_is_announced(stack):
    before = json.loads(_aggregated(stack, alert_sent=False))
    out = handler_module("run_status").lambda_handler(status_event(error="ErrorRateExceeded"), Context())
    after = stored(stack, "users-1")
    assert after == {**before, "alertSent": True} and out["alertSent"] is True  # the counts are AggregateErrors'
    assert out["summaryWritten"] is False
    (message,) = alerts(stack)
    assert "12 of 100 rows failed" in message


def test_the_error_comes_from_describe_execution_when_the_event_lacks_it(stack, monkeypatch):
    # moto's DescribeExecution drops a stopped execution's error and cause: the answer is stubbed
    # from the API's model (botocore validates it), as AWS gives it for a failed execution.
    from botocore.stub import Stubber

    app = handler_module("run_status")
    client = boto3.client("stepfunctions", region_name=REGION)
    arn = f"arn:aws:states:{REGION}:123456789012:execution:csv-dmap-dev:users-2"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": f"arn:aws:states:{REGION}:123456789012:stateMachine:csv-dmap-dev",
                "status": "FAILED",
                "startDate": 1_796_052_600,
                "error": "EmptyFile",
                "cause": "the object has no bytes",
            },
            {"executionArn": arn},
        )
        monkeypatch.setattr(app, "stepfunctions_client", lambda: client)
        out = app.lambda_handler(status_event(name="users-2", error=None, cause=None, executionArn=arn), Context())
        stub.assert_no_pending_responses()
    assert out["status"] == "REJECTED" and stored(stack, "users-2")["cause"] == "the object has no bytes"


def test_run_ended_is_emitted_with_the_status(stack, capsys):
    handler_module("run_status").lambda_handler(status_event(status="TIMED_OUT", error=None), Context())
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    ended = [m for m in metrics if "RunEnded" in m]
    assert len(ended) == 1 and ended[0]["Status"] == "TIMED_OUT" and ended[0]["RunEnded"] == [1.0]


class FakeStates:
    """Step Functions as AWS answers for an execution whose map failed uncaught: DescribeExecution,
    GetExecutionHistory newest first (the recorded shape of an uncaught Distributed Map failure:
    MapStateEntered, MapStateStarted, MapRunStarted, MapRunFailed, MapStateFailed, ExecutionFailed),
    and Map Runs that are RUNNING for ``running`` polls."""

    def __init__(self, state_input: dict[str, Any], redrive_count: int = 0, running: int = 0):
        self.state_input, self.redrive_count, self.running = state_input, redrive_count, running
        self.polls = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, "status": "FAILED", "redriveCount": self.redrive_count}

    def get_execution_history(self, executionArn: str, reverseOrder: bool, **_: Any) -> dict[str, Any]:
        assert reverseOrder
        details = {"name": "ProcessUserStats", "input": json.dumps(self.state_input)}
        events = [
            {"type": "ExecutionFailed"},
            {"type": "MapStateFailed"},
            {"type": "MapRunFailed"},
            {"type": "MapRunStarted"},
            {"type": "MapStateStarted"},
            {"type": "MapStateEntered", "stateEnteredEventDetails": details},
            {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "DetermineConcurrency"}},
        ]
        return {"events": events}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": executionArn.replace(":execution:", ":mapRun:") + "/ProcessUserStats:m1"}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        self.polls += 1
        return {"status": "RUNNING" if self.polls <= self.running else "FAILED"}


def _map_results(s3: Any, execution: str) -> None:
    """What ResultWriter wrote for a map whose second batch of three did not commit (the third never ran)."""
    items = [{"index": i, "row": {"user_id": f"U{i:05d}", "line": str(i + 2)}} for i in range(9)]
    ok = [{"index": i, "line": i + 2, "userId": f"U{i:05d}", "status": "APPLIED"} for i in range(3)]
    cause = json.dumps({"errorType": "BatchNotApplied", "errorMessage": "TransientDatabaseError: gone"})
    files = {
        "SUCCEEDED_0.json": [
            {"Input": json.dumps({"Items": items[:3]}), "Output": json.dumps({"results": ok}), "Status": "SUCCEEDED"}
        ],
        "FAILED_0.json": [
            {"Input": json.dumps({"Items": items[3:6]}), "Error": "BatchNotApplied", "Cause": cause, "Status": "FAILED"}
        ],
        "PENDING_0.json": [{"Input": json.dumps({"Items": items[6:]}), "Status": "PENDING"}],
    }
    prefix = f"results/{execution}/m1/"
    for name, records in files.items():
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=json.dumps(records).encode())
    manifest = {
        "DestinationBucket": BUCKET,
        "ResultFiles": {n.split("_")[0]: [{"Key": prefix + n, "Size": 1}] for n in files},
    }
    s3.put_object(Bucket=BUCKET, Key=prefix + "manifest.json", Body=json.dumps(manifest).encode())


def _validation(rows: int) -> dict[str, Any]:
    return {
        "bucket": "csv-dmap-input",
        "key": "staging/users-9/users.csv",
        "sourceKey": "incoming/users.csv",
        "versionId": None,
        "byteSize": 100,
        "encoding": "UTF-8",
        "header": ["user_id", "login_count", "post_count"],
        "sourceRows": rows,
        "duplicateRows": 0,
        "blankRows": 0,
        "rowCount": rows,
        "normalized": True,
    }


def test_a_failed_map_is_counted_from_its_result_files_and_the_alert_says_how_to_redrive(stack, monkeypatch):
    app = handler_module("run_status")
    _map_results(stack["s3"], "users-9")
    states = FakeStates(
        {"bucket": "csv-dmap-input", "key": "incoming/users.csv", "validation": _validation(12)}, running=2
    )
    monkeypatch.setattr(app, "stepfunctions_client", lambda: states)
    monkeypatch.setattr(app, "POLL_SECONDS", 0)
    event = status_event(name="users-9", error="States.ExceedToleratedFailureThreshold", cause="threshold")
    out = app.lambda_handler(event, Context())
    assert states.polls == 3  # it waited until the Map Run stopped before reading its results
    summary = stored(stack, "users-9")
    assert (summary["status"], summary["writtenBy"], summary["redrivable"], out["redrivable"]) == (
        "FAILED",
        "RunStatus",
        True,
        True,
    )
    # 3 applied; 3 of the failed batch and 3 never run are pending; 3 rows the map never read too
    assert (summary["rows"], summary["applied"], summary["pending"], summary["failed"]) == (12, 3, 9, 0)
    assert summary["errorsByType"] == {"BatchNotApplied": 3, "NotRun": 6}
    assert summary["cause"].startswith("the run failed at ProcessUserStats with States.ExceedToleratedFailureThreshold")
    parts = stack["s3"].list_objects_v2(Bucket=BUCKET, Prefix="rows/execution_date=2026-12-01/users-9/")["Contents"]
    assert len(parts) == 1  # the per-row dataset, before anyone redrives
    (message,) = alerts(stack)
    assert "csv-dmap --stack <stack> redrive users-9" in message and "pending: 9" in message


def test_after_a_redrive_fails_again_its_summary_replaces_the_earlier_attempts(stack, monkeypatch):
    app = handler_module("run_status")
    _aggregated(stack, alert_sent=True)  # AggregateErrors' summary of attempt 0 (say it had run before)
    _map_results(stack["s3"], "users-1")
    states = FakeStates({"validation": _validation(9)}, redrive_count=1)
    monkeypatch.setattr(app, "stepfunctions_client", lambda: states)
    out = app.lambda_handler(status_event(error="States.ExceedToleratedFailureThreshold"), Context())
    summary = stored(stack, "users-1")
    assert out["summaryWritten"] is True and summary["redriveCount"] == 1 and summary["writtenBy"] == "RunStatus"
    assert (summary["rows"], summary["applied"], summary["pending"]) == (9, 3, 6)
    assert "Redrives so far: 1" in alerts(stack)[0]


def test_a_running_status_is_ignored_and_an_event_that_is_not_one_is_named(stack):
    app = handler_module("run_status")
    out = app.lambda_handler(status_event(status="RUNNING", error=None), Context())
    assert out["ignored"] is True and alerts(stack) == []
    assert stack["s3"].list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    from csv_dmap.errors import InvalidEvent

    with pytest.raises(InvalidEvent, match=r"^not a Step Functions Execution Status Change event: detail"):
        app.lambda_handler({}, Context())


def test_a_failed_map_that_left_no_result_files_still_gets_its_summary_and_alert(stack, monkeypatch):
    """AWS does not document when a failed Map Run's manifest is complete: if none is there once the
    Map Run stopped, every row ValidateInput counted is reported not applied, and the alert goes out."""
    app = handler_module("run_status")
    states = FakeStates({"validation": _validation(7)}, running=0)
    monkeypatch.setattr(app, "stepfunctions_client", lambda: states)
    monkeypatch.setattr(app, "POLL_SECONDS", 0)
    out = app.lambda_handler(status_event(name="users-9", error="States.ExceedToleratedFailureThreshold"), Context())
    summary = stored(stack, "users-9")
    assert out["summaryWritten"] is True and summary["status"] == "FAILED" and summary["alertSent"] is True
    assert (summary["rows"], summary["applied"], summary["pending"]) == (7, 0, 7)
    assert summary["errorsByType"] == {"NotRun": 7}  # not applied, and a redrive applies them
    (message,) = alerts(stack)
    assert "users-9" in message
