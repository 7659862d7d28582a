"""The full definition through the local runner, over the files operators
actually receive: each outcome, its named error and Cause, its summary and alert."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from local_runner.exec_cli import run_definition
from local_runner.invoke import invoke
from local_runner.pipeline import DEFINITION, announce

USERS = [f"U{i:05d}" for i in range(1, 101)]


@pytest.fixture
def pipeline(local_env):
    """Seeded users, an SQS queue on the alert topic, and a run() helper."""
    from csv_dmap.db import get_engine, seed_users

    seed_users(get_engine(), USERS)
    sns, sqs = local_env.client("sns"), local_env.client("sqs")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=local_env.physical_name("AlertTopic"), Protocol="sqs", Endpoint=queue_arn)

    class Pipeline:
        env = local_env
        input_bucket = local_env.physical_name("InputBucket")
        results_bucket = local_env.physical_name("ResultsBucket")

        def run(self, body: bytes, name: str, key: str | None = None):
            key = key or f"incoming/{name}.csv"
            local_env.client("s3").put_object(Bucket=self.input_bucket, Key=key, Body=body)
            return self.start({"bucket": self.input_bucket, "key": key}, name)

        def start(self, execution_input: dict, name: str):
            """The execution, then what EventBridge does when it ends (RunStatus on a failure)."""
            result = run_definition(local_env, DEFINITION, input=execution_input, name=name)
            announce(local_env, result, execution_input)
            return result

        def alerts(self):
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        def summary(self, name):
            s3 = local_env.client("s3")
            keys = [
                o["Key"]
                for o in s3.list_objects_v2(Bucket=self.results_bucket, Prefix="summaries/").get("Contents", [])
                if o["Key"].endswith(f"/{name}.json")
            ]
            assert len(keys) == 1, keys
            return json.loads(s3.get_object(Bucket=self.results_bucket, Key=keys[0])["Body"].read())

    return Pipeline()


def csv_text(rows, header="ユーザーID,ログイン回数,投稿回数", newline="\n"):
    return newline.join([header, *rows]) + newline


def stats(uid):
    from sqlalchemy import text

    from csv_dmap.db import get_engine

    with get_engine().connect() as conn:
        row = conn.execute(
            text("SELECT login_count, post_count FROM user_stats WHERE user_id = :u"), {"u": uid}
        ).first()
    return tuple(row) if row else None


def test_clean_utf8_file_succeeds(pipeline):
    result = pipeline.run(csv_text([f"{u},{i},{i * 2}" for i, u in enumerate(USERS[:50])]).encode(), "clean")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["rows"] == 50 and result.output["applied"] == 50 and result.output["severity"] == "NONE"
    assert stats("U00050") == (49, 98)
    summary = pipeline.summary("clean")
    assert summary["status"] == "SUCCEEDED" and summary["encoding"] == "UTF-8" and summary["alertSent"] is False
    assert summary["mapKey"] == "staging/clean/clean.csv"  # the map always reads the normalised copy
    assert pipeline.alerts() == []


def test_cp932_file_with_crlf_is_normalised_and_applied(pipeline):
    body = csv_text(["U00001,7,70", "U00002,8,80", '"U00003","9","90"'], newline="\r\n").encode("cp932")
    result = pipeline.run(body, "excel-sjis")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [stats(u) for u in ("U00001", "U00002", "U00003")] == [(7, 70), (8, 80), (9, 90)]
    summary = pipeline.summary("excel-sjis")
    assert summary["encoding"] == "CP932 (Shift_JIS)" and summary["mapKey"] == "staging/excel-sjis/excel-sjis.csv"
    copy = pipeline.env.client("s3").get_object(Bucket=pipeline.input_bucket, Key=summary["mapKey"])["Body"].read()
    assert copy.decode("utf-8").splitlines() == [
        "user_id,login_count,post_count,line,note",
        "U00001,7,70,2,",
        "U00002,8,80,3,",
        "U00003,9,90,4,",
    ]


def test_bom_file_with_columns_in_another_order_and_duplicates(pipeline):
    body = (
        "\ufeff"
        + csv_text(["5,U00010,x-extra,1", "6,U00011,y,2", "7,U00010,z,3"], header="投稿回数,user_id,memo,login_count")
    ).encode("utf-8")
    result = pipeline.run(body, "bom-reordered")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert stats("U00010") == (3, 7)  # the last row of a duplicated user wins
    assert stats("U00011") == (2, 6)
    summary = pipeline.summary("bom-reordered")
    # every record reaches the map (the earlier U00010 row marked superseded by line 4): 3 rows, not 2
    assert (summary["encoding"], summary["duplicateRows"], summary["rows"]) == ("UTF-8 with BOM", 1, 3)
    copy = pipeline.env.client("s3").get_object(Bucket=pipeline.input_bucket, Key=summary["mapKey"])["Body"].read()
    assert copy.decode("utf-8").splitlines()[1:] == ["U00010,1,5,2,superseded:4", "U00011,2,6,3,", "U00010,3,7,4,"]


def test_twenty_percent_bad_rows_fail_through_the_tolerance_with_summary_and_alert(pipeline):
    rows = [f"{u},1,1" for u in USERS[:80]] + [f"U{i:05d},bad,1" for i in range(81, 101)]
    result = pipeline.run(csv_text(rows).encode(), "too-many-errors")
    assert (result.status, result.error) == ("FAILED", "ErrorRateExceeded")
    assert "20 of 100 rows failed (20.00%), above the tolerated 5%" in result.cause
    assert "summaries/date=" in result.cause
    summary = pipeline.summary("too-many-errors")
    assert (summary["severity"], summary["failed"], summary["alertSent"]) == ("HIGH", 20, True)
    assert summary["errorsByType"] == {"InvalidLoginCount": 20}
    assert stats("U00080") == (1, 1)  # the good rows were applied all the same
    alerts = pipeline.alerts()
    assert len(alerts) == 1 and "HIGH 20.0% errors" in alerts[0]["Subject"]
    assert "InvalidLoginCount: 20" in alerts[0]["Message"] and "U00081" in alerts[0]["Message"]


def test_four_percent_errors_succeed_with_a_medium_alert(pipeline):
    # severity is relative to the tolerance T = 5%: MEDIUM above T/2, the run still succeeds
    rows = [f"{u},1,1" for u in USERS[:96]] + [f"N{i:05d},1,1" for i in range(4)]
    result = pipeline.run(csv_text(rows).encode(), "medium")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert pipeline.summary("medium")["severity"] == "MEDIUM"
    assert "MEDIUM" in pipeline.alerts()[0]["Subject"]


def test_six_percent_errors_fail_the_run_with_a_high_alert(pipeline):
    # above the tolerated 5% the run fails, and that is HIGH: every severity is reachable by default
    rows = [f"{u},1,1" for u in USERS[:94]] + [f"N{i:05d},1,1" for i in range(6)]
    result = pipeline.run(csv_text(rows).encode(), "high")
    assert result.status == "FAILED" and result.error == "ErrorRateExceeded"  # 6% > tolerated 5%
    assert pipeline.summary("high")["severity"] == "HIGH"
    assert "HIGH" in pipeline.alerts()[0]["Subject"]


@pytest.mark.parametrize(
    ("body", "error", "cause"),
    [
        (b"", "EmptyFile", "is empty (0 bytes)"),
        (
            "ユーザーID,ログイン回数,投稿回数\r\n".encode(),
            "EmptyFile",
            "has a header (ユーザーID,ログイン回数,投稿回数) but no data rows",
        ),
        (b"id,logins,posts\nU00001,1,1\n", "InvalidHeader", "no column for ユーザーID or user_id"),
        ("ユーザーID,ログイン回数,投稿回数\nU1,1,1\n".encode("utf-16"), "UnsupportedEncoding", "UTF-16"),
        (b"user_id,login_count,post_count\nU1,\x85\x40\x81\x20,1\n", "UnsupportedEncoding", "neither UTF-8 nor CP932"),
        (
            "user_id,login_count,post_count\nU1,1,1,é\n".encode() + "U2,1,1,ア\n".encode("cp932"),
            "UnsupportedEncoding",
            "line 3 is not UTF-8 (byte offset 48: 83 41 0a)",
        ),
        (
            b"user_id," + b"x" * 120_000 + b",login_count,post_count\nU1,1,1\n",
            "InvalidHeader",
            "above the limit of 4,096",
        ),
        (
            b'user_id,login_count,post_count\nU1,1,"' + b"9" * (16 * 1024 * 1024) + b'"\n',
            "RecordTooLarge",
            "line 2 is longer than 16,777,216 bytes",
        ),
    ],
)
def test_files_that_cannot_be_processed_end_in_a_named_fail(pipeline, body, error, cause):
    result = pipeline.run(body, f"rejected-{error.lower()}")
    assert (result.status, result.error) == ("FAILED", error)
    assert cause in result.cause
    assert "Traceback" not in result.cause and "{" not in result.cause  # a sentence, not a stack trace
    assert len(result.cause) <= 1000


def test_missing_object_is_a_named_fail(local_env):
    bucket = local_env.physical_name("InputBucket")
    result = run_definition(local_env, DEFINITION, input={"bucket": bucket, "key": "incoming/nope.csv"}, name="missing")
    assert (result.status, result.error) == ("FAILED", "InputNotFound")


def test_a_bucket_that_does_not_exist_is_input_not_found_naming_it(local_env):
    """S3 answers HeadObject on a missing bucket with NoSuchBucket (a bare 404 on AWS, since a HEAD
    has no body): ValidateInput turns it into its own InputNotFound, one line naming the bucket and
    key, instead of letting botocore's ClientError text become the run's cause."""
    bucket, key = "csv-dmap-no-such-bucket", "incoming/users.csv"
    result = run_definition(local_env, DEFINITION, input={"bucket": bucket, "key": key}, name="no-bucket")
    assert (result.status, result.error) == ("FAILED", "InputNotFound"), (result.error, result.cause)
    assert f"s3://{bucket}/{key} does not exist" in result.cause, result.cause
    assert "\n" not in result.cause and len(result.cause) <= 1000
    for botocore in ("An error occurred", "HeadObject operation", "ClientError", "Traceback"):
        assert botocore not in result.cause, result.cause


def test_daily_report_over_a_day_with_several_runs(pipeline):
    pipeline.run(csv_text([f"{u},1,1" for u in USERS[:10]]).encode(), "day-a")
    pipeline.run(csv_text([f"{u},2,2" for u in USERS[:8]] + ["N1,1,1", "U00009,x,1"]).encode(), "day-b")
    pipeline.run(csv_text([f"{u},1,1" for u in USERS[:4]] + ["U00005,-1,1"]).encode(), "day-c")
    summaries = {n: pipeline.summary(n) for n in ("day-a", "day-b", "day-c")}
    day = summaries["day-a"]["date"]
    assert day == datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    out = invoke(pipeline.env, "DailyReportFunction", {"date": day})
    assert out["executions"] == 3
    s3 = pipeline.env.client("s3")
    report = json.loads(s3.get_object(Bucket=pipeline.results_bucket, Key=f"daily-reports/{day}.json")["Body"].read())
    assert report["date"] == day and report["timezone"] == "Asia/Tokyo"
    assert (report["executions"], report["succeededExecutions"], report["failedExecutions"]) == (3, 1, 2)
    assert (report["rows"], report["applied"], report["failed"], report["pending"]) == (25, 22, 3, 0)
    assert report["successRate"] == round(100 * 22 / 25, 3)
    assert report["errorsByType"] == {"UserNotFound": 1, "InvalidLoginCount": 2}
    assert [r["executionName"] for r in report["runs"]] == ["day-a", "day-b", "day-c"]
    assert [r["status"] for r in report["runs"]] == ["SUCCEEDED", "FAILED", "FAILED"]
    slowest = report["slowestRuns"]
    assert len(slowest) == 3 and slowest == sorted(slowest, key=lambda r: r["durationSeconds"], reverse=True)
    assert {r["executionName"]: r["durationSeconds"] for r in slowest} == {
        n: summaries[n]["durationSeconds"] for n in summaries
    }
    page = s3.get_object(Bucket=pipeline.results_bucket, Key=f"daily-reports/{day}.html")["Body"].read().decode()
    assert "<svg" in page and "day-b" in page and "22 of 25 rows applied" in page
    messages = [m for m in pipeline.alerts() if "daily report" in m.get("Subject", "")]
    assert len(messages) == 1 and "3 run(s)" in messages[0]["Message"]


def test_daily_report_of_a_day_without_runs_says_so(local_env):
    out = invoke(local_env, "DailyReportFunction", {"date": "2026-01-01"})
    assert out["executions"] == 0
    body = (
        local_env.client("s3")
        .get_object(Bucket=local_env.physical_name("ResultsBucket"), Key="daily-reports/2026-01-01.json")["Body"]
        .read()
    )
    report = json.loads(body)
    assert report["message"] == "No csv-dmap runs on 2026-01-01 (Asia/Tokyo)." and report["runs"] == []


def test_an_input_the_functions_cannot_use_is_rejected_naming_the_field(pipeline):
    """An execution input without a usable key is the file's fault, not a crash: InputNotFound with
    a Cause that names the field, never a stack trace, and a REJECTED summary."""
    result = pipeline.start({"bucket": pipeline.input_bucket, "key": ""}, "no-key")
    assert (result.status, result.error) == ("FAILED", "InputNotFound"), (result.error, result.cause)
    assert "input.key" in result.cause and "at least 1 character" in result.cause
    for trace in ("Traceback", "stackTrace", 'File "', "requestId"):
        assert trace not in result.cause, result.cause
    assert result.checkpoint.restart_point()[1].state == "InputRejected"  # a redrive would fail again
    assert pipeline.summary("no-key")["status"] == "REJECTED"


def test_a_step_that_fails_unexpectedly_is_the_redrive_restart_point_and_its_summary_says_why(database_url):
    """A misconfigured function (here DetermineConcurrency's MAX_ITEMS_PER_BATCH=0) fails its step
    after the retries. The failure is not caught, so the step is where a redrive restarts; the run
    summary and the alert (RunStatus) carry the function's message, never its stack trace."""
    from csv_dmap.db import get_engine, seed_users
    from local_runner.environment import LocalEnvironment

    with LocalEnvironment(database_url=database_url, parameters={"MaxItemsPerBatch": "0"}) as env:
        seed_users(get_engine(), USERS)
        bucket = env.physical_name("InputBucket")
        env.client("s3").put_object(Bucket=bucket, Key="incoming/x.csv", Body=csv_text(["U00001,1,2"]).encode())
        execution_input = {"bucket": bucket, "key": "incoming/x.csv"}
        result = run_definition(env, DEFINITION, input=execution_input, name="misconfigured")
        assert (result.status, result.error) == ("FAILED", "ConfigurationError"), result.cause
        assert result.checkpoint.restart_point()[1].state == "DetermineConcurrency"
        announce(env, result, execution_input)
        s3, results = env.client("s3"), env.physical_name("ResultsBucket")
        (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=results, Prefix="summaries/")["Contents"]]
        summary = json.loads(s3.get_object(Bucket=results, Key=key)["Body"].read())
        get_engine().dispose()
    assert (summary["status"], summary["error"], summary["writtenBy"]) == ("FAILED", "ConfigurationError", "RunStatus")
    assert "MAX_ITEMS_PER_BATCH='0'" in summary["cause"] and summary["alertSent"] is True
    for trace in ("Traceback", "stackTrace", 'File "'):
        assert trace not in summary["cause"], summary["cause"]
