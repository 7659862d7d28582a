"""The operator CLI against moto (a CloudFormation stack's outputs, S3, DynamoDB) and,
for what moto does not serve (DescribeMapRun, RedriveExecution), AWS's documented
answers injected."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from csv_dmap.logic.aggregate import summarise
from csv_dmap.logic.tally import RunTally
from csv_dmap.summaries import write_summary
from csv_dmap_cli.backends import AwsBackend, CliError, StackResources, stack_outputs
from csv_dmap_cli.cli import main
from local_runner.template import load_template

ROOT = Path(__file__).parents[2]
REGION = "ap-northeast-1"
SM_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:csv-dmap-dev"
START = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # the 23rd in Tokyo


def run(argv: list[str], backend: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        code = main(argv, out=out, backend=backend)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ fakes of what moto lacks


class FakeStates:
    """DescribeExecution / ListMapRuns / DescribeMapRun / RedriveExecution as AWS documents them;
    ``map_runs`` is the sequence of DescribeMapRun answers, one per call."""

    def __init__(
        self,
        status: str = "RUNNING",
        map_runs: list[dict[str, Any]] | None = None,
        redrivable: bool = True,
        ended_in: tuple[str, str] = ("Map", "ProcessUserStats"),
    ):
        self.status, self.map_runs, self.redrivable = status, list(map_runs or []), redrivable
        self.redriven: list[str] = []
        self.ended_in = ended_in  # (state type, name) of the last state entered and not exited

    def get_execution_history(self, executionArn: str, reverseOrder: bool, **_: Any) -> dict[str, Any]:
        """GetExecutionHistory newest first, as AWS records a run that stopped in ``ended_in``."""
        assert reverseOrder
        kind, name = self.ended_in
        events = [
            {"type": "ExecutionFailed"},
            {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}},
            {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "DetermineConcurrency"}},
            {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "DetermineConcurrency"}},
        ]
        return {"events": events}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        if not executionArn.endswith(":run-1"):
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": "Execution Does Not Exist"}}, "DescribeExecution"
            )
        return {"executionArn": executionArn, "status": self.status, "startDate": START}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": executionArn.replace(":execution:", ":mapRun:") + "/ProcessUserStats:1"}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        return self.map_runs.pop(0)

    def redrive_execution(self, executionArn: str) -> dict[str, Any]:
        if not self.redrivable:
            raise ClientError(
                {"Error": {"Code": "ExecutionNotRedrivable", "Message": "Execution is RUNNING and cannot be redriven"}},
                "RedriveExecution",
            )
        self.redriven.append(executionArn)
        return {"redriveDate": START + timedelta(hours=1)}


class Clock:
    def __init__(self, *moments: datetime):
        self.moments = list(moments)

    def __call__(self) -> datetime:
        return self.moments.pop(0)


def map_run(done: int, failed: int, total: int) -> dict[str, Any]:
    return {
        "status": "RUNNING",
        "startDate": START,
        "itemCounts": {
            "pending": total - done - failed - 500,
            "running": 500,
            "succeeded": done,
            "failed": failed,
            "timedOut": 0,
            "aborted": 0,
            "total": total,
            "resultsWritten": done + failed,
        },
    }


# ------------------------------------------------------------------ tests


def test_status_of_a_running_map_shows_progress_that_increases_and_an_eta():
    states = FakeStates(map_runs=[map_run(1_800, 200, 10_000), map_run(5_700, 300, 10_000)])
    clock = Clock(START + timedelta(seconds=10), START + timedelta(seconds=20))
    backend = AwsBackend(StackResources("results", "audit", SM_ARN), s3=None, dynamodb=None, states=states, clock=clock)
    first = backend.status("run-1")["progress"]
    second = backend.status("run-1")["progress"]
    # 2,000 rows done in 10 s: 200 rows/s, 8,000 left -> 40 s; then 6,000 in 20 s: 300 rows/s, 4,000 left -> 13.3 s
    assert (first["done"], first["rows_per_second"], first["eta_seconds"]) == (2_000, 200.0, 40.0)
    assert (second["done"], second["rows_per_second"], second["eta_seconds"]) == (6_000, 300.0, 13.3)
    assert first["percent"] < second["percent"] == 60.0


def test_status_prints_progress_for_people():
    states = FakeStates(map_runs=[map_run(1_800, 200, 10_000)])
    backend = AwsBackend(
        StackResources("results", "audit", SM_ARN),
        s3=None,
        dynamodb=None,
        states=states,
        clock=Clock(START + timedelta(seconds=10)),
    )
    code, out, _ = run(["--stack", "s", "status", "run-1"], backend)
    assert code == 0
    assert out.splitlines() == [
        "run-1  RUNNING",
        "progress  2,000 of 10,000 rows (20.0%), 200 failed, 500 running",
        "rate      200.0 rows/s",
        "eta       0:00:40",
    ]


def summary_of(name: str, applied: int, failed: int) -> Any:
    results = [{"status": "APPLIED"}] * applied + [{"status": "FAILED", "errorType": "UserNotFound"}] * failed
    tally = RunTally()
    for result in results:
        tally.add_row(result)
    return summarise(
        execution_name=name,
        start_time=START.isoformat(),
        now=START + timedelta(seconds=30),
        tally=tally,
        source_bucket="in",
        source_key=f"incoming/{name}.csv",
        validation=None,
        config=None,
        map_result={},
        tolerated_failure_percentage=5,
        timezone="Asia/Tokyo",
    )


@pytest.fixture
def aws():
    """moto: a stack whose outputs name the results bucket, the audit table (keys as in
    template.yaml) and the state machine."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="results", CreateBucketConfiguration={"LocationConstraint": REGION})
        table = load_template(ROOT / "template.yaml")["Resources"]["AuditTable"]["Properties"]
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="audit",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            GlobalSecondaryIndexes=[
                {k: v for k, v in g.items() if k in ("IndexName", "KeySchema", "Projection")}
                for g in table["GlobalSecondaryIndexes"]
            ],
        )
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName="csv-dmap-dev",
            TemplateBody=json.dumps(
                {
                    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {
                        "ResultsBucketName": {"Value": "results"},
                        "AuditTableName": {"Value": "audit"},
                        "StateMachineArn": {"Value": SM_ARN},
                    },
                }
            ),
        )
        states = boto3.client("stepfunctions", region_name=REGION)
        states.create_state_machine(
            name="csv-dmap-dev",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/csv-dmap-dev",
        )
        yield {"s3": s3, "dynamodb": ddb, "cloudformation": cfn, "states": states}


def test_the_stack_outputs_name_the_resources(aws):
    outputs = stack_outputs(aws["cloudformation"], "csv-dmap-dev")
    assert StackResources.from_outputs(outputs, "csv-dmap-dev") == StackResources("results", "audit", SM_ARN)
    with pytest.raises(CliError) as missing:
        StackResources.from_outputs({"ResultsBucketName": "r"}, "other")
    assert missing.value.code == 2 and "AuditTableName, StateMachineArn" in missing.value.message
    code, out, err = run(["--stack", "nope", "--region", REGION, "runs"])
    assert code == 2 and out == "" and err.startswith("csv-dmap: stack nope: ") and err.count("\n") == 1


def test_runs_and_status_after_the_run_read_the_summaries(aws):
    write_summary(aws["s3"], "results", summary_of("run-1", 97, 3))
    write_summary(aws["s3"], "results", summary_of("run-2", 10, 10))
    code, out, _ = run(["--stack", "csv-dmap-dev", "--region", REGION, "--json", "runs", "--date", "2026-11-23"])
    assert code == 0
    assert [(r["executionName"], r["rows"], r["failed"], r["status"]) for r in json.loads(out)] == [
        ("run-1", 100, 3, "SUCCEEDED"),
        ("run-2", 20, 10, "FAILED"),
    ]
    backend = AwsBackend(
        StackResources("results", "audit", SM_ARN),
        s3=aws["s3"],
        dynamodb=aws["dynamodb"],
        states=FakeStates(status="SUCCEEDED"),
    )
    code, out, _ = run(["--stack", "x", "status", "run-1"], backend)
    fields = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert code == 0 and out.splitlines()[0] == "run-1  SUCCEEDED"
    assert (fields["executionName"], fields["rows"], fields["failed"], fields["severity"]) == (
        "run-1",
        "100",
        "3",
        "MEDIUM",
    )
    code, _, err = run(["--stack", "x", "status", "run-9"], backend)
    assert code == 1 and "no execution 'run-9'" in err


def test_report_is_regenerated_on_demand(aws):
    write_summary(aws["s3"], "results", summary_of("run-1", 97, 3))
    code, out, _ = run(["--stack", "csv-dmap-dev", "--region", REGION, "report", "2026-11-23"])
    assert code == 0 and out.startswith("1 run(s) on 2026-11-23: 97 of 100 rows applied (97.00%)")
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket="results", Prefix="daily-reports/")["Contents"]}
    assert keys == {
        "daily-reports/2026-11-23.json",
        "daily-reports/2026-11-23.html",
        "daily-reports/date=2026-11-23/report.json",
    }


def _write_audit(ddb: Any, results: list[dict[str, Any]], execution: str, start: datetime) -> None:
    """Audit items through the layer's own item builder and writer."""
    from csv_dmap import audit

    items = audit.audit_items(results, execution_name=execution, execution_start=start, source_key="k", ttl_days=180)
    audit.AuditLogWriter(ddb, "audit").write_items(items)


def test_failures_and_history_from_the_audit_log(aws):
    now = datetime.now(UTC)
    for name in ("run-0", "run-1", "run-2"):
        aws["states"].start_execution(stateMachineArn=SM_ARN, name=name)
    _write_audit(
        aws["dynamodb"],
        [
            {
                "index": 0,
                "line": 2,
                "userId": "U1",
                "status": "APPLIED",
                "oldLoginCount": 1,
                "newLoginCount": 3,
                "oldPostCount": 0,
                "newPostCount": 2,
            },
            {
                "index": 1,
                "line": 3,
                "rawUserId": "U 2",
                "status": "FAILED",
                "errorType": "InvalidUserId",
                "errorMessage": "bad id",
            },
            {
                "index": 2,
                "line": 4,
                "userId": "U3",
                "status": "FAILED",
                "errorType": "UserNotFound",
                "errorMessage": "U3 is not in users",
            },
        ],
        "run-1",
        now - timedelta(days=2),
    )
    _write_audit(
        aws["dynamodb"],
        [
            {
                "index": 0,
                "line": 2,
                "userId": "U1",
                "status": "APPLIED",
                "oldLoginCount": 3,
                "newLoginCount": 8,
                "oldPostCount": 2,
                "newPostCount": 2,
            }
        ],
        "run-2",
        now - timedelta(hours=1),
    )
    _write_audit(
        aws["dynamodb"],
        [
            {
                "index": 0,
                "line": 2,
                "userId": "U1",
                "status": "APPLIED",
                "oldLoginCount": 0,
                "newLoginCount": 1,
                "oldPostCount": 0,
                "newPostCount": 0,
            }
        ],
        "run-0",
        now - timedelta(days=30),
    )
    base = ["--stack", "csv-dmap-dev", "--region", REGION]
    code, out, _ = run([*base, "--json", "failures", "run-1"])
    assert code == 0
    assert [(f.get("userId") or f.get("rawUserId"), f["errorType"]) for f in json.loads(out)] == [
        ("U 2", "InvalidUserId"),
        ("U3", "UserNotFound"),
    ]
    code, out, err = run([*base, "failures", "run-9"])  # no such execution: an error, not an empty list
    assert code == 1 and out == "" and err.strip() == f"csv-dmap: no execution 'run-9' in {SM_ARN}"
    code, out, _ = run([*base, "failures", "run-1", "--type", "UserNotFound"])
    assert code == 0 and out.splitlines()[0].split() == ["line", "user", "error", "message"]
    assert len(out.splitlines()) == 2 and "U3" in out and "U 2" not in out
    code, out, _ = run([*base, "--json", "history", "U1", "--days", "7"])
    history = json.loads(out)
    assert [(h["executionName"], h["oldLoginCount"], h["newLoginCount"]) for h in history] == [
        ("run-2", 3, 8),
        ("run-1", 1, 3),
    ]  # newest first; run-0 is older than 7 days
    code, out, _ = run([*base, "history", "U1"])
    assert "3 -> 8" in out and "1 -> 3" in out


def test_redrive_on_aws_and_its_errors():
    states = FakeStates(status="FAILED")
    backend = AwsBackend(StackResources("results", "audit", SM_ARN), s3=None, dynamodb=None, states=states)
    code, out, _ = run(["--stack", "x", "redrive", "run-1"], backend)
    assert code == 0 and out.startswith("redriven run-1 at 2026-11-22 16:30:00")
    assert states.redriven == [SM_ARN.replace(":stateMachine:", ":execution:") + ":run-1"]
    backend.states = FakeStates(status="FAILED", redrivable=False)
    code, _, err = run(["--stack", "x", "redrive", "run-1"], backend)
    assert code == 1 and err.strip() == (
        "csv-dmap: cannot redrive run-1: ExecutionNotRedrivable: Execution is RUNNING and cannot be redriven"
    )


def test_redrive_on_aws_is_refused_where_aws_would_reenter_a_fail_state():
    """A run that ended in RunFailed (rows over the tolerance) would be redriven by AWS into the
    same Fail state and fail again: csv-dmap says so instead of starting a pointless redrive."""
    states = FakeStates(status="FAILED", ended_in=("Fail", "RunFailed"))
    backend = AwsBackend(StackResources("results", "audit", SM_ARN), s3=None, dynamodb=None, states=states)
    code, _, err = run(["--stack", "x", "redrive", "run-1"], backend)
    assert code == 1 and states.redriven == []
    assert "ended in its Fail state RunFailed" in err and "re-enters and fails again" in err
    backend.states = FakeStates(status="SUCCEEDED")
    code, _, err = run(["--stack", "x", "redrive", "run-1"], backend)
    assert code == 1 and "ended SUCCEEDED and cannot be redriven" in err


def test_local_mode_errors_are_one_line_with_exit_codes(tmp_path):
    code, _, err = run(["--local", "--data-dir", str(tmp_path / "none"), "runs"])
    assert code == 2 and err == f"csv-dmap: no local data in {tmp_path / 'none'}: run `make run` first\n"
    (tmp_path / "data").mkdir()
    code, _, err = run(["--local", "--data-dir", str(tmp_path / "data"), "redrive", "run-1"])
    assert (
        code == 1
        and err
        == f"csv-dmap: no local execution 'run-1' to redrive in {tmp_path / 'data'} (see `csv-dmap --local runs`)\n"
    )
    code, out, err = run(["--local", "--data-dir", str(tmp_path / "data"), "failures", "run-1"])
    assert code == 1 and out == "" and "no local execution 'run-1'" in err
    code, _, err = run(["--local", "--data-dir", str(tmp_path / "data"), "status", "run-1"])
    assert code == 1 and "no run summary for 'run-1'" in err
    code, _, err = run(["--local", "--data-dir", str(tmp_path / "data"), "query", "--sql", "SELEC 1"])
    assert code == 2 and err.startswith("csv-dmap: query failed: Parser Error") and err.count("\n") == 1
    with pytest.raises(SystemExit) as usage:
        main(["--local", "report", "not-a-date"])
    assert usage.value.code == 2


def test_status_of_a_running_local_map_shows_progress_that_increases_and_an_eta(tmp_path):
    from csv_dmap_cli.backends import LocalBackend
    from local_runner.localdata import clear_map_progress, write_map_progress

    clock = Clock(START + timedelta(seconds=4), START + timedelta(seconds=8))
    backend = LocalBackend(tmp_path, clock=clock)
    write_map_progress("local-1", total=10_000, succeeded=990, failed=10, started=START, data_dir=tmp_path)
    first = backend.status("local-1")
    write_map_progress("local-1", total=10_000, succeeded=3_950, failed=50, started=START, data_dir=tmp_path)
    second = backend.status("local-1")
    # 1,000 rows in 4 s: 250 rows/s, 9,000 left -> 36 s; 4,000 in 8 s: 500 rows/s, 6,000 left -> 12 s
    assert first["state"] == second["state"] == "RUNNING"
    assert (first["progress"]["percent"], first["progress"]["rows_per_second"], first["progress"]["eta_seconds"]) == (
        10.0,
        250.0,
        36.0,
    )
    assert (
        second["progress"]["percent"],
        second["progress"]["rows_per_second"],
        second["progress"]["eta_seconds"],
    ) == (40.0, 500.0, 12.0)
    clear_map_progress("local-1", tmp_path)
    with pytest.raises(CliError):
        backend.status("local-1")


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path):
    """``csv-dmap ... | head``: the pipe closes early; the CLI stops quietly (no BrokenPipeError)."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csv_dmap_cli",
            "--local",
            "--data-dir",
            str(tmp_path),
            "query",
            "--sql",
            "SELECT range AS n FROM range(200000)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline().split() == [b"n"]
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_the_summary_of_a_run_of_last_month_is_found_on_its_own_day(aws):
    """The summary's key holds the day the run started; a run looked up weeks later is found by its
    DescribeExecution startDate, not by today's date."""
    write_summary(aws["s3"], "results", summary_of("run-1", 97, 3))
    backend = AwsBackend(
        StackResources("results", "audit", SM_ARN),
        s3=aws["s3"],
        dynamodb=aws["dynamodb"],
        states=FakeStates(status="SUCCEEDED"),
        clock=lambda: START + timedelta(days=40),
    )
    found = backend.summary("run-1")
    assert found is not None and (found.execution_name, found.rows) == ("run-1", 100)
    assert backend.summary("run-1", around=START + timedelta(days=40)) is None  # today's day: not there
