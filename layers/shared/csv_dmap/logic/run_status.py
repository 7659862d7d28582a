"""RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED gets an alert and a run summary, so the
daily report lists every run, including those that never reached AggregateErrors (a rejected file,
a step that failed after its retries, a timeout, an operator's stop).

The event is EventBridge's "Step Functions Execution Status Change". A summary AggregateErrors
already wrote (it runs before the execution ends) is never overwritten: its counts are the truth.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from .. import errors
from ..models import RunSummary, Severity

CAUSE_MAX = 1000  # characters of the execution's Cause kept in the summary and the alert


def _subclass_names(cls: type) -> set[str]:
    names: set[str] = set()
    sub: type
    for sub in cls.__subclasses__():
        names |= {sub.__name__} | _subclass_names(sub)
    return names


# The Error of an execution that ended in InputRejected: one of the named rejections.
REJECTION_ERRORS = frozenset(_subclass_names(errors.InputRejected))
ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


class ExecutionStatusChange(BaseModel):
    """``detail`` of a "Step Functions Execution Status Change" event (dates in epoch ms)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    name: str
    status: str
    start_date: int = Field(alias="startDate")
    stop_date: int | None = Field(alias="stopDate", default=None)
    input: str | None = None
    error: str | None = None
    cause: str | None = None


def run_status(status: str, error: str | None) -> str:
    """The summary's status: REJECTED for a file the pipeline refused, else the execution's."""
    if status == "FAILED" and error in REJECTION_ERRORS:
        return "REJECTED"
    return status


def _time(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _source(execution_input: str | None) -> tuple[str, str]:
    try:
        data: Any = json.loads(execution_input or "")
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("bucket") or ""), str(data.get("key") or "")


def failure_summary(change: ExecutionStatusChange, *, report_timezone: str, now: datetime) -> RunSummary:
    """The run summary of an execution that ended without one: no row was counted (``rows`` 0)."""
    started = _time(change.start_date)
    stopped = _time(change.stop_date) if change.stop_date else now
    bucket, key = _source(change.input)
    cause = change.cause[:CAUSE_MAX] if change.cause else None
    error: str | None
    if change.status == "TIMED_OUT" and not change.error:
        error = "States.Timeout"
    elif change.status == "ABORTED" and not change.error:
        error = "ExecutionAborted"
    else:
        error = change.error
    return RunSummary(
        execution_name=change.name,
        date=started.astimezone(ZoneInfo(report_timezone)).date().isoformat(),
        start_time=started.isoformat(),
        finished_at=stopped.isoformat(),
        duration_seconds=round(max(0.0, (stopped - started).total_seconds()), 3),
        status=run_status(change.status, change.error),
        error=error,
        cause=cause,
        source_bucket=bucket,
        source_key=key,
        rows=0,
        applied=0,
        failed=0,
        pending=0,
        error_rate=0.0,
        severity=Severity.HIGH,
    )


def alert(summary: RunSummary, summary_uri: str, execution_arn: str) -> tuple[str, str]:
    """SNS subject (at most 100 characters) and message of a run that ended without succeeding."""
    subject = f"[csv-dmap] {summary.status} {summary.error or ''}: {summary.execution_name}"[:100]
    lines = [
        f"Execution: {summary.execution_name} ({summary.status})",
        f"Source: s3://{summary.source_bucket}/{summary.source_key}",
        f"Error: {summary.error or '-'}",
        f"Why: {summary.cause or '-'}",
        f"Started: {summary.start_time}  ended: {summary.finished_at}",
        f"Summary: {summary_uri}",
        f"Execution ARN: {execution_arn}",
    ]
    if summary.status == "REJECTED":
        lines.append("The file was not processed: fix it and upload it again.")
    return subject, "\n".join(lines)
