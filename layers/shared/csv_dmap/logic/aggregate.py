"""AggregateErrors: from the tally of a run's ResultWriter files to its
summary, severity, outcome and alert text."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..models import RunConfig, RunSummary, Severity, ValidationResult
from .tally import RunTally

MEDIUM_ABOVE = 5.0
HIGH_ABOVE = 10.0


def severity_of(error_rate: float) -> Severity:
    if error_rate > HIGH_ABOVE:
        return Severity.HIGH
    if error_rate > MEDIUM_ABOVE:
        return Severity.MEDIUM
    return Severity.LOW if error_rate > 0 else Severity.NONE


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def summarise(
    *,
    execution_name: str,
    start_time: str,
    now: datetime,
    tally: RunTally,
    source_bucket: str,
    source_key: str,
    validation: ValidationResult | None,
    config: RunConfig | None,
    map_result: dict[str, Any],
    tolerated_failure_percentage: float,
    timezone: str,
) -> RunSummary:
    started = _parse_time(start_time)
    rate = round(tally.error_rate, 3)
    map_error = map_result.get("Error")
    if map_error:
        status, error = "FAILED", map_error
        cause = f"the map failed with {map_error}: {str(map_result.get('Cause') or '')[:300]}"
    elif rate > tolerated_failure_percentage:
        status, error = "FAILED", "ErrorRateExceeded"
        cause = f"{tally.failed + tally.pending:,} of {tally.rows:,} rows failed ({rate:.2f}%), above the tolerated {tolerated_failure_percentage:g}%"
    else:
        status, error, cause = "SUCCEEDED", None, None
    if cause and tally.errors:
        cause += "; top errors: " + ", ".join(f"{k} {v:,}" for k, v in tally.errors.most_common(3))
    return RunSummary(
        execution_name=execution_name,
        date=started.astimezone(ZoneInfo(timezone)).date().isoformat(),
        start_time=started.isoformat(),
        finished_at=now.isoformat(),
        duration_seconds=round(max(0.0, (now - started).total_seconds()), 3),
        status=status,
        error=error,
        cause=cause,
        source_bucket=source_bucket,
        source_key=source_key,
        map_key=validation.key if validation else None,
        encoding=validation.encoding if validation else None,
        duplicate_rows=validation.duplicate_rows if validation else 0,
        rows=tally.rows,
        applied=tally.applied,
        failed=tally.failed,
        pending=tally.pending,
        error_rate=rate,
        severity=severity_of(rate) if not map_error else Severity.HIGH,
        errors_by_type=dict(tally.errors.most_common()),
        examples=tally.examples,
        batches=tally.batches,
        failed_batches=tally.failed_batches,
        max_concurrency=config.max_concurrency if config else None,
        max_items_per_batch=config.max_items_per_batch if config else None,
        tolerated_failure_percentage=tolerated_failure_percentage,
        map_run_arn=map_result.get("MapRunArn"),
    )


def needs_alert(summary: RunSummary) -> bool:
    return summary.status == "FAILED" or summary.severity in (Severity.MEDIUM, Severity.HIGH)


def alert(summary: RunSummary, summary_uri: str) -> tuple[str, str]:
    """SNS subject (at most 100 characters) and message."""
    subject = f"[csv-dmap] {summary.severity.value} {summary.error_rate:.1f}% errors: {summary.execution_name}"[:100]
    lines = [
        f"Execution: {summary.execution_name} ({summary.status})",
        f"Source: s3://{summary.source_bucket}/{summary.source_key}",
        f"Rows: {summary.rows:,}  applied: {summary.applied:,}  failed: {summary.failed:,}  pending: {summary.pending:,}",
        f"Error rate: {summary.error_rate:.2f}%  severity: {summary.severity.value}",
    ]
    if summary.cause:
        lines.append(f"Why it failed: {summary.cause}")
    if summary.errors_by_type:
        lines.append("Top error types:")
        for kind, count in list(summary.errors_by_type.items())[:5]:
            lines.append(f"  {kind}: {count:,}")
            for example in summary.examples.get(kind, [])[:3]:
                lines.append(f"    e.g. {example}")
    lines += [
        f"Summary: {summary_uri}",
        f"Failed rows: query the audit table's FailedItemsIndex with failedExecution = {summary.execution_name}",
    ]
    return subject, "\n".join(lines)
