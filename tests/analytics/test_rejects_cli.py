"""``csv-dmap --stack NAME rejects``: the reject file from the results bucket, byte for byte, or
what to do when a run has none; the alert's pointer to it."""

from __future__ import annotations

from pathlib import Path

from csv_dmap.logic.aggregate import alert
from csv_dmap.summaries import write_summary
from csv_dmap_cli.backends import AwsBackend, StackResources
from tests.analytics.test_cli import SM_ARN, START, FakeStates, aws, run, summary_of

__all__ = ["aws"]  # the fixture, shared with test_cli

BODY = "\ufeffユーザーID,ログイン回数,投稿回数,line,error_type,error_message\r\nU2,x,1,3,InvalidLoginCount,bad\r\n".encode()
KEY = "rejects/execution_date=2026-11-23/run-1.csv"


def backend_of(aws) -> AwsBackend:
    """The stack as of the run's start (``failures`` looks for the summary around "now")."""
    return AwsBackend(
        StackResources("results", "audit", SM_ARN),
        s3=aws["s3"],
        dynamodb=aws["dynamodb"],
        states=FakeStates("FAILED"),
        clock=lambda: START,
    )


def test_the_reject_file_of_a_stack_run(aws, tmp_path: Path):
    summary = summary_of("run-1", 97, 3)
    summary.rejects_key = KEY
    write_summary(aws["s3"], "results", summary)
    aws["s3"].put_object(Bucket="results", Key=KEY, Body=BODY)
    backend = backend_of(aws)
    target = tmp_path / "r.csv"
    code, out, _ = run(["--stack", "x", "rejects", "run-1", "-o", str(target)], backend)
    assert code == 0 and target.read_bytes() == BODY
    assert out.strip() == f"wrote {target} (s3://results/{KEY})"
    code, out, _ = run(["--stack", "x", "rejects", "run-1"], backend)
    assert code == 0 and out == BODY.decode()  # a text-only stream gets the text, BOM and CRLF kept
    code, out, _ = run(["--stack", "x", "failures", "run-1"], backend)
    assert f"reject file: s3://results/{KEY} (csv-dmap rejects run-1 -o rejects.csv" in out


def test_a_run_without_rejects_says_so(aws):
    write_summary(aws["s3"], "results", summary_of("run-1", 10, 0))
    code, out, err = run(["--stack", "x", "rejects", "run-1"], backend_of(aws))
    assert (code, out) == (0, ""), err
    assert err.strip() == "csv-dmap: run-1 has no rows left unapplied: no reject file"


def test_a_reject_file_that_could_not_be_written_says_why(aws):
    failed = summary_of("run-1", 10, 2)
    failed.rejects_error = "s3://in/incoming/run-1.csv is not the file the run read: it has 3 rows"
    write_summary(aws["s3"], "results", failed)
    code, _, err = run(["--stack", "x", "rejects", "run-1"], backend_of(aws))
    assert code == 1 and "has rows not applied but no reject file: s3://in/incoming/run-1.csv is not" in err
    code, _, err = run(["--stack", "x", "rejects", "run-9"], backend_of(aws))
    assert code == 1 and "no execution 'run-9'" in err


def test_the_alert_points_to_the_reject_file_or_says_why_there_is_none():
    summary = summary_of("run-1", 90, 10)
    summary.rejects_key = KEY
    _, message = alert(summary, "s3://results/summaries/date=2026-11-23/run-1.json")
    assert f"Reject file (the rows not applied, with line, error_type, error_message): s3://results/{KEY}" in message
    assert "csv-dmap rejects run-1 -o rejects.csv" in message
    summary.rejects_key, summary.rejects_error = None, "the original upload is gone"
    _, message = alert(summary, "s3://results/summaries/date=2026-11-23/run-1.json")
    assert "No reject file: the original upload is gone" in message
