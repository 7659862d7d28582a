"""Tally, severity, outcome and alert text of a run's aggregation; the report builder."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from csv_dmap.logic.aggregate import ResultCheck, alert, needs_alert, severity_of, summarise
from csv_dmap.logic.daily_report import build_report, render_html, table_line
from csv_dmap.logic.tally import RunTally
from csv_dmap.models import Severity
from csv_dmap.results import rows_of

START = "2026-11-22T15:30:00+00:00"  # 00:30 on the 23rd in Tokyo


def succeeded(results):
    return {"Status": "SUCCEEDED", "Output": json.dumps({"results": results})}


def failed_batch(n, error="BatchNotApplied", first=0):
    items = [{"index": first + i, "row": {}} for i in range(n)]
    cause = json.dumps({"errorMessage": "TransientDatabaseError: db down", "errorType": error, "stackTrace": []})
    return {"Status": "FAILED", "Input": json.dumps({"Items": items}), "Error": error, "Cause": cause}


def add(tally, status, records):
    """Count records as the aggregation does: each through ``rows_of``, row by row."""
    for record in records:
        for row in rows_of(status, record):
            tally.add_row(row)
    return tally


# By table: (error rate, tolerance, medium ratio) -> severity. With the defaults
# (tolerance 5, ratio 0.5) every severity is reachable: LOW <= 2.5 < MEDIUM <= 5 < HIGH.
@pytest.mark.parametrize(
    ("rate", "tolerance", "ratio", "severity"),
    [
        (0, 5, 0.5, Severity.NONE),
        (0.1, 5, 0.5, Severity.LOW),
        (2.5, 5, 0.5, Severity.LOW),
        (2.51, 5, 0.5, Severity.MEDIUM),
        (5, 5, 0.5, Severity.MEDIUM),
        (5.01, 5, 0.5, Severity.HIGH),
        (100, 5, 0.5, Severity.HIGH),
        (4, 10, 0.5, Severity.LOW),
        (7, 10, 0.5, Severity.MEDIUM),
        (10.5, 10, 0.5, Severity.HIGH),
        (1, 5, 0.1, Severity.MEDIUM),
        (0.4, 5, 0.1, Severity.LOW),
        (0.01, 0, 0.5, Severity.HIGH),  # nothing tolerated: any failed row fails the run
        (100, 100, 0.5, Severity.MEDIUM),  # everything tolerated: only a failed map is HIGH
    ],
)
def test_severity_is_relative_to_the_tolerance(rate, tolerance, ratio, severity):
    assert severity_of(rate, tolerance, ratio) is severity


def test_with_default_settings_every_severity_is_reachable_and_high_is_exactly_a_failed_run():
    from csv_dmap.config import AggregateSettings

    settings = AggregateSettings.from_env({})
    seen = {}
    for failed in range(101):
        summary = make(tally_of(100 - failed, failed), tolerance=settings.tolerated_failure_percentage)
        seen.setdefault(summary.severity, failed)
        assert (summary.severity is Severity.HIGH) == (summary.status == "FAILED")
        assert needs_alert(summary) == (summary.severity in (Severity.MEDIUM, Severity.HIGH))
    assert seen == {Severity.NONE: 0, Severity.LOW: 1, Severity.MEDIUM: 3, Severity.HIGH: 6}


def test_rows_of_batches_that_failed_or_never_ran_are_pending_with_their_reason():
    tally = RunTally()
    add(
        tally,
        "SUCCEEDED",
        [succeeded([{"status": "APPLIED"}, {"status": "FAILED", "errorType": "UserNotFound", "userId": "U9"}])],
    )
    add(tally, "FAILED", [failed_batch(5, first=2)])
    add(tally, "PENDING", [{"Input": json.dumps({"Items": [{"index": 7}, {"index": 8}]})}])
    assert (tally.rows, tally.applied, tally.failed, tally.pending) == (9, 1, 1, 7)
    assert tally.errors == {"BatchNotApplied": 5, "UserNotFound": 1, "NotRun": 2}
    assert tally.error_rate == pytest.approx(100 * 8 / 9)  # not applied in error
    assert tally.row_error_rate == pytest.approx(100 * 1 / 9)  # what the tolerance judges: bad rows only
    assert tally.examples["UserNotFound"] == [{"userId": "U9"}]
    assert tally.examples["BatchNotApplied"][0] == {"line": 4, "errorMessage": "TransientDatabaseError: db down"}


def test_superseded_and_skipped_rows_are_counted_and_are_not_failures():
    tally = RunTally()
    add(
        tally,
        "SUCCEEDED",
        [
            succeeded(
                [{"status": "APPLIED"}] * 6
                + [{"status": "SUPERSEDED", "supersededBy": 9}] * 3
                + [{"status": "SKIPPED", "errorType": "NewerExecutionApplied"}] * 2
                + [{"status": "FAILED", "errorType": "FieldCountMismatch", "line": 4}]
            )
        ],
    )
    add(tally, "PENDING", [{"Input": json.dumps({"Items": [{"index": 12}]})}])
    assert (tally.rows, tally.applied, tally.superseded, tally.skipped, tally.failed, tally.pending) == (
        13,
        6,
        3,
        2,
        1,
        1,
    )
    assert tally.rows == tally.applied + tally.failed + tally.superseded + tally.skipped + tally.pending
    assert tally.errors == {"FieldCountMismatch": 1, "NotRun": 1}  # no NewerExecutionApplied: not an error
    assert tally.error_rate == pytest.approx(100 * 2 / 13)
    summary = make(tally)
    assert (summary.superseded, summary.skipped, summary.pending, summary.failed) == (3, 2, 1, 1)
    payload = summary.to_payload()
    assert payload["rows"] == sum(payload[k] for k in ("applied", "failed", "superseded", "skipped", "pending"))


def test_an_unknown_status_is_a_failed_row_never_lost():
    tally = add(RunTally(), "SUCCEEDED", [succeeded([{"status": "WEIRD"}, {"status": "FAILED"}])])
    assert (tally.rows, tally.failed) == (2, 2)
    assert tally.errors == {"UnknownStatus:WEIRD": 1, "Unknown": 1}


def test_examples_are_capped():
    tally = RunTally(max_examples=2)
    add(tally, "SUCCEEDED", [succeeded([{"status": "FAILED", "errorType": "X", "index": i} for i in range(10)])])
    assert len(tally.examples["X"]) == 2 and tally.errors["X"] == 10


def test_applied_rows_without_audit_items_keep_the_run_succeeded_and_alert():
    rows = [{"status": "APPLIED", "auditMissing": True}] * 3 + [{"status": "APPLIED"}] * 97
    summary = make(add(RunTally(), "SUCCEEDED", [succeeded(rows)]))
    assert (summary.status, summary.applied, summary.failed, summary.audit_missing) == ("SUCCEEDED", 100, 0, 3)
    assert summary.severity is Severity.MEDIUM and needs_alert(summary)
    assert "3 rows have no audit item" in summary.cause
    subject, message = alert(summary, "s3://r/x.json")
    assert "3 audit items missing" in subject and "applied: 100" in message


def test_result_files_that_do_not_account_for_the_file_fail_the_run_naming_them():
    check = ResultCheck(manifest="s3://r/results/run-1/m/manifest.json", expected_rows=12)
    summary = make(tally_of(10, 0), check=check)
    assert (summary.status, summary.error) == ("FAILED", "ResultsIncomplete")
    assert "s3://r/results/run-1/m/manifest.json account for 10 rows, the file has 12" in summary.cause
    damaged = ResultCheck(manifest="s3://r/m.json", expected_rows=10, problems=["s3://r/SUCCEEDED_0.json: cut short"])
    summary = make(tally_of(10, 0), check=damaged)
    assert summary.error == "ResultsIncomplete" and "unreadable: s3://r/SUCCEEDED_0.json: cut short" in summary.cause
    assert make(tally_of(10, 0), check=ResultCheck(manifest="s3://r/m.json", expected_rows=10)).status == "SUCCEEDED"


def test_a_failed_map_counts_the_rows_it_never_read_as_pending():
    tally = add(RunTally(), "SUCCEEDED", [succeeded([{"status": "APPLIED"}] * 4)])
    add(tally, "FAILED", [failed_batch(4, first=4)])
    check = ResultCheck(manifest="s3://r/m.json", expected_rows=20, batches=2, failed_batches=1)
    failure = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "threshold", "State": "ProcessUserStats"}
    summary = make(tally, map_result=failure, check=check)
    assert (summary.rows, summary.applied, summary.pending) == (20, 4, 16)
    assert summary.errors_by_type == {"NotRun": 12, "BatchNotApplied": 4}
    assert summary.cause.startswith("the run failed at ProcessUserStats with States.ExceedToleratedFailureThreshold")
    assert "16 rows not applied (1 batches failed as a whole" in summary.cause


def make(tally, map_result=None, tolerance=5.0, check=None):
    return summarise(
        check=check,
        execution_name="run-1",
        start_time=START,
        now=datetime(2026, 11, 22, 15, 31, tzinfo=UTC),
        tally=tally,
        source_bucket="in",
        source_key="incoming/a.csv",
        validation=None,
        config=None,
        map_result=map_result or {"MapRunArn": "arn"},
        tolerated_failure_percentage=tolerance,
        timezone="Asia/Tokyo",
    )


def tally_of(applied, failed):
    tally = RunTally()
    add(
        tally,
        "SUCCEEDED",
        [
            succeeded(
                [{"status": "APPLIED"}] * applied + [{"status": "FAILED", "errorType": "InvalidPostCount"}] * failed
            )
        ],
    )
    return tally


def test_summary_date_is_the_day_in_the_report_time_zone_and_duration_is_measured():
    summary = make(tally_of(10, 0))
    assert summary.date == "2026-11-23" and summary.duration_seconds == 60.0
    assert (summary.status, summary.severity, needs_alert(summary)) == ("SUCCEEDED", Severity.NONE, False)


def test_error_rate_above_tolerance_fails_the_run_with_a_readable_cause():
    summary = make(tally_of(80, 20))
    assert (summary.status, summary.error, summary.severity) == ("FAILED", "ErrorRateExceeded", Severity.HIGH)
    assert summary.cause.startswith("20 of 100 rows failed (20.00%), above the tolerated 5%")
    assert "InvalidPostCount 20" in summary.cause
    subject, message = alert(summary, "s3://r/summaries/x.json")
    assert len(subject) <= 100 and "HIGH" in subject
    assert "InvalidPostCount: 20" in message and "s3://r/summaries/x.json" in message


def test_a_failed_map_fails_the_run_even_with_few_failed_rows():
    summary = make(tally_of(10, 0), map_result={"Error": "States.ItemReaderFailed", "Cause": "boom", "State": "M"})
    assert (summary.status, summary.error, summary.severity) == ("FAILED", "States.ItemReaderFailed", Severity.HIGH)
    assert needs_alert(summary)


def test_medium_rate_within_a_higher_tolerance_succeeds_and_alerts():
    summary = make(tally_of(93, 7), tolerance=10)
    assert (summary.status, summary.severity, needs_alert(summary)) == ("SUCCEEDED", Severity.MEDIUM, True)


def test_report_aggregates_and_renders():
    runs = []
    for i, (applied, failed) in enumerate([(10, 0), (5, 5)]):
        s = make(tally_of(applied, failed))
        runs.append(s.model_copy(update={"execution_name": f"r{i}", "duration_seconds": 10.0 * (i + 1)}))
    report = build_report("2026-11-23", "Asia/Tokyo", runs, datetime.now(UTC) + timedelta(days=1))
    assert (report["rows"], report["applied"], report["failed"], report["executions"]) == (20, 15, 5, 2)
    assert report["successRate"] == 75.0 and report["failedExecutions"] == 1
    assert [r["executionName"] for r in report["slowestRuns"]] == ["r1", "r0"]
    line = json.loads(table_line(report))
    assert (line["total_rows"], line["applied"], line["failed"], line["executions"]) == (20, 15, 5, 2)
    assert line["errors_by_type"] == {"InvalidPostCount": 5} and "\n" not in table_line(report).rstrip("\n")
    page = render_html(report)
    assert page.count("<rect") == 4 and "r1" in page and "75.00%" in page
