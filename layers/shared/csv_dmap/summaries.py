"""Run summaries in S3: ``summaries/date=YYYY-MM-DD/<execution>.json``
(Hive-style partitions, one JSON object per file, one line: Athena reads them
with the OpenX JSON SerDe). Written by the aggregator, read by the
concurrency calculator (history) and the daily report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from .models import RunSummary

PREFIX = "summaries/"


# The columns of the Glue table ``run_summaries`` (and of the local view of the same name):
# (column, Glue type, DuckDB type, key in the summary's JSON). The partition column
# ``execution_date`` is the ``date=`` of the path.
TABLE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("execution_name", "string", "VARCHAR", "executionName"),
    ("status", "string", "VARCHAR", "status"),
    ("error", "string", "VARCHAR", "error"),
    ("cause", "string", "VARCHAR", "cause"),
    ("start_time", "string", "VARCHAR", "startTime"),
    ("finished_at", "string", "VARCHAR", "finishedAt"),
    ("duration_seconds", "double", "DOUBLE", "durationSeconds"),
    ("source_bucket", "string", "VARCHAR", "sourceBucket"),
    ("source_key", "string", "VARCHAR", "sourceKey"),
    ("encoding", "string", "VARCHAR", "encoding"),
    ("total_rows", "bigint", "BIGINT", "rows"),
    ("applied", "bigint", "BIGINT", "applied"),
    ("failed", "bigint", "BIGINT", "failed"),
    ("superseded", "bigint", "BIGINT", "superseded"),
    ("skipped", "bigint", "BIGINT", "skipped"),
    ("pending", "bigint", "BIGINT", "pending"),
    ("blank_rows", "bigint", "BIGINT", "blankRows"),
    ("error_rate", "double", "DOUBLE", "errorRate"),
    ("severity", "string", "VARCHAR", "severity"),
    ("errors_by_type", "map<string,bigint>", "MAP(VARCHAR, BIGINT)", "errorsByType"),
    ("batches", "bigint", "BIGINT", "batches"),
    ("failed_batches", "bigint", "BIGINT", "failedBatches"),
    ("max_concurrency", "bigint", "BIGINT", "maxConcurrency"),
    ("max_items_per_batch", "bigint", "BIGINT", "maxItemsPerBatch"),
    ("tolerated_failure_percentage", "double", "DOUBLE", "toleratedFailurePercentage"),
    ("map_run_arn", "string", "VARCHAR", "mapRunArn"),
    ("rows_prefix", "string", "VARCHAR", "rowsPrefix"),
    ("rejects_key", "string", "VARCHAR", "rejectsKey"),
    ("alert_sent", "boolean", "BOOLEAN", "alertSent"),
)


def summary_key(summary: RunSummary) -> str:
    return f"{PREFIX}date={summary.date}/{summary.execution_name}.json"


def write_summary(s3: Any, bucket: str, summary: RunSummary) -> str:
    key = summary_key(summary)
    body = json.dumps(summary.to_payload(), ensure_ascii=False, separators=(",", ":")) + "\n"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return key


def summaries_of(s3: Any, bucket: str, day: date) -> Iterator[RunSummary]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{PREFIX}date={day.isoformat()}/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            yield RunSummary.model_validate(json.loads(body))


def recent_summaries(s3: Any, bucket: str, today: date, days: int = 7, limit: int = 50) -> list[RunSummary]:
    """The most recent run summaries of the last ``days`` days, newest first."""
    found: list[RunSummary] = []
    for offset in range(days):
        found.extend(summaries_of(s3, bucket, today - timedelta(days=offset)))
        if len(found) >= limit:
            break
    return sorted(found, key=lambda s: s.start_time, reverse=True)[:limit]
