"""RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED gets an alert and a run summary, so the
daily report lists every run, including those that never reached AggregateErrors: a rejected file,
a map whose batch could not commit (left uncaught, so that a redrive restarts at the map), a step
that failed after its retries, a timeout, an operator's stop.

The event is EventBridge's "Step Functions Execution Status Change". A summary AggregateErrors
wrote for the same attempt (it runs before the RunFailed state) is kept: its counts are the truth.
A summary of an earlier attempt (before a redrive) is replaced.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    redrive_count: int | None = Field(alias="redriveCount", default=None)  # not in the documented schema


def status_change_of(event: Any) -> ExecutionStatusChange:
    """The ``detail`` of a status-change event; ``InvalidEvent`` (one line) for anything else."""
    detail = event.get("detail") if isinstance(event, dict) else None
    try:
        return ExecutionStatusChange.model_validate(detail)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "detail"
        raise errors.InvalidEvent(
            f"not a Step Functions Execution Status Change event: detail.{where}: {first['msg']}"
        ) from None


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


def start_time_of(change: ExecutionStatusChange) -> str:
    """The execution's start as ``$$.Execution.StartTime`` writes it (ISO 8601, UTC, milliseconds)."""
    return _time(change.start_date).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def source_of(change: ExecutionStatusChange) -> tuple[str, str]:
    """(bucket, key) of the run's input file."""
    return _source(change.input)


def ended_error(change: ExecutionStatusChange) -> str | None:
    if change.status == "TIMED_OUT" and not change.error:
        return "States.Timeout"
    if change.status == "ABORTED" and not change.error:
        return "ExecutionAborted"
    return change.error


def failure_summary(change: ExecutionStatusChange, *, report_timezone: str, now: datetime) -> RunSummary:
    """The run summary of an execution that ended before its map wrote anything (a rejected file,
    a step before the map): no row was counted (``rows`` 0)."""
    started = _time(change.start_date)
    stopped = _time(change.stop_date) if change.stop_date else now
    bucket, key = _source(change.input)
    cause = cause_text(change.cause)
    error = ended_error(change)
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
        redrive_count=change.redrive_count or 0,
        written_by="RunStatus",
    )


def cause_text(cause: str | None) -> str | None:
    """A Cause for people: a Lambda error's ``errorMessage`` rather than its JSON and stack
    trace, at most ``CAUSE_MAX`` characters."""
    if not cause:
        return None
    try:
        data = json.loads(cause)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errorMessage"), str):
        kind = data.get("errorType")
        cause = f"{kind}: {data['errorMessage']}" if isinstance(kind, str) and kind else data["errorMessage"]
    return cause[:CAUSE_MAX]
