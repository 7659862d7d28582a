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
    before = _aggregated(stack, alert_sent=False)
    out = handler_module("run_status").lambda_handler(status_event(error="ErrorRateExceeded"), Context())
    after = stack["s3"].get_object(Bucket=BUCKET, Key="summaries/date=2026-12-01/users-1.json")["Body"].read()
    assert after == before and out["alertSent"] is True
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
