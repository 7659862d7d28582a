"""Run summaries in S3: ``summaries/date=YYYY-MM-DD/<execution>.json``
(Hive-style partitions, one JSON object per file, one line: Athena reads them
with the OpenX JSON SerDe). Written by the aggregator, read by the
concurrency calculator (history) and the daily report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from enum import Enum
from typing import Any

from .models import RunSummary

PREFIX = "summaries/"


class RunStatus(str, Enum):
    """How a run ended (contract 6): the ``status`` of its summary."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


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
