"""Tally, severity, outcome and alert text of AggregateErrors; the report builder."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from csv_dmap.logic.aggregate import alert, needs_alert, severity_of, summarise
from csv_dmap.logic.daily_report import build_report, render_html, table_line
from csv_dmap.logic.tally import RunTally
from csv_dmap.models import Severity

START = "2026-11-22T15:30:00+00:00"  # 00:30 on the 23rd in Tokyo


def succeeded(results):
    return {"Status": "SUCCEEDED", "Output": json.dumps({"results": results})}


def failed_batch(n, error="TransientDatabaseError"):
    items = [{"index": i, "row": {}} for i in range(n)]
    return {"Status": "FAILED", "Input": json.dumps({"Items": items}), "Error": error, "Cause": "db down"}


# Issue 8.9, by table: (error rate, tolerance, medium ratio) -> severity. With the defaults
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


def test_tally_counts_rows_of_failed_batches_and_pending_batches():
    tally = RunTally()
    tally.add(
        "SUCCEEDED",
        [succeeded([{"status": "APPLIED"}, {"status": "FAILED", "errorType": "UserNotFound", "userId": "U9"}])],
    )
    tally.add("FAILED", [failed_batch(5)])
    tally.add("PENDING", [{"Input": json.dumps({"Items": [{}, {}]})}])
    assert (tally.rows, tally.applied, tally.failed, tally.pending) == (9, 1, 6, 2)
    assert tally.errors == {"TransientDatabaseError": 5, "UserNotFound": 1, "Pending": 2}
    assert (tally.batches, tally.failed_batches) == (3, 1)
    assert tally.error_rate == pytest.approx(100 * 8 / 9)
    assert tally.examples["UserNotFound"] == [{"userId": "U9"}]


def test_superseded_and_skipped_rows_are_counted_and_are_not_failures():
    tally = RunTally()
    tally.add(
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
    tally.add("PENDING", [{"Input": json.dumps({"Items": [{"index": 12}]})}])
    assert (tally.rows, tally.applied, tally.superseded, tally.skipped, tally.failed, tally.pending) == (
        13,
        6,
        3,
        2,
        1,
        1,
    )
    assert tally.rows == tally.applied + tally.failed + tally.superseded + tally.skipped + tally.pending
    assert tally.errors == {"FieldCountMismatch": 1, "Pending": 1}  # no NewerExecutionApplied: not an error
    assert tally.error_rate == pytest.approx(100 * 2 / 13)
    summary = make(tally)
    assert (summary.superseded, summary.skipped, summary.pending, summary.failed) == (3, 2, 1, 1)
    payload = summary.to_payload()
    assert payload["rows"] == sum(payload[k] for k in ("applied", "failed", "superseded", "skipped", "pending"))


def test_an_unknown_status_is_a_failed_row_never_lost():
    tally = RunTally().add("SUCCEEDED", [succeeded([{"status": "WEIRD"}, {"status": "FAILED"}])])
    assert (tally.rows, tally.failed) == (2, 2)
    assert tally.errors == {"UnknownStatus:WEIRD": 1, "Unknown": 1}


def test_examples_are_capped():
    tally = RunTally(max_examples=2)
    tally.add("SUCCEEDED", [succeeded([{"status": "FAILED", "errorType": "X", "index": i} for i in range(10)])])
    assert len(tally.examples["X"]) == 2 and tally.errors["X"] == 10


def make(tally, map_result=None, tolerance=5.0):
    return summarise(
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
    tally.add(
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
    summary = make(tally_of(10, 0), map_result={"Error": "States.ItemReaderFailed", "Cause": "boom"})
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
