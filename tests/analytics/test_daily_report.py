"""The DailyReport function: the day's summaries -> the report in its three forms, the
table line readable by the local engine under the Glue table's name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from csv_dmap.logic.aggregate import summarise
from csv_dmap.logic.tally import RunTally
from csv_dmap.summaries import write_summary
from csv_dmap_cli.engine import connect, run_query

from .conftest import BUCKET
from .test_row_results import _Context, _load_handler

START = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def _summary(name: str, statuses: list[str]) -> object:
    results = [{"status": s, "errorType": "UserNotFound" if s == "FAILED" else None} for s in statuses]
    tally = RunTally()
    for result in results:
        tally.add_row(result)
    return summarise(
        execution_name=name,
        start_time=START.isoformat(),
        now=START + timedelta(seconds=9),
        tally=tally,
        source_bucket="in",
        source_key="k",
        validation=None,
        config=None,
        map_result={},
        tolerated_failure_percentage=50,
        timezone="Asia/Tokyo",
    )


def test_the_daily_report_function_writes_three_forms(s3, monkeypatch, tmp_path: Path):
    from csv_dmap.runtime import reset as reset_clients

    write_summary(s3, BUCKET, _summary("r1", ["APPLIED"] * 7 + ["SUPERSEDED", "SKIPPED", "FAILED"]))
    write_summary(s3, BUCKET, _summary("r2", ["APPLIED"] * 4))
    monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    reset_clients()
    try:
        answer = _load_handler("daily_report").lambda_handler({"date": "2026-11-23"}, _Context())
    finally:
        reset_clients()
    assert answer["reportKeys"] == [
        "daily-reports/2026-11-23.json",
        "daily-reports/2026-11-23.html",
        "daily-reports/date=2026-11-23/report.json",
    ]
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=answer["reportKeys"][0])["Body"].read())
    assert (report["rows"], report["applied"], report["failed"], report["superseded"], report["skipped"]) == (
        14,
        11,
        1,
        1,
        1,
    )
    line = s3.get_object(Bucket=BUCKET, Key=answer["reportKeys"][2])["Body"].read().decode()
    assert line.count("\n") == 1 and line.endswith("\n")
    target = tmp_path / answer["reportKeys"][2]
    target.parent.mkdir(parents=True)
    target.write_text(line)
    got = run_query(
        connect(tmp_path),
        "SELECT report_date, total_rows, applied, superseded, skipped, "
        "errors_by_type['UserNotFound'] AS not_found FROM daily_reports",
    ).records()
    assert got == [
        {"report_date": "2026-11-23", "total_rows": 14, "applied": 11, "superseded": 1, "skipped": 1, "not_found": 1}
    ]
