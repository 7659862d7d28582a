"""AggregateErrors: from the tally of a run's ResultWriter files to its
summary, severity, outcome and alert text.

Severity and tolerance agree (issue 8.9): with tolerance T (TOLERATED_FAILURE_PERCENTAGE,
default 5) and ratio r (SEVERITY_MEDIUM_RATIO, default 0.5), an error rate e is
NONE when e = 0, LOW when 0 < e <= r*T, MEDIUM when r*T < e <= T (the run succeeds
and the operators are alerted), HIGH when e > T (the run fails). So every severity
is reachable whatever T in (0, 100) is; with T = 0 every failed row is HIGH, with
T = 100 only a failed map is HIGH.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..models import RunConfig, RunSummary, Severity, ValidationResult
from .tally import RunTally

DEFAULT_MEDIUM_RATIO = 0.5


def severity_of(error_rate: float, tolerance: float, medium_ratio: float = DEFAULT_MEDIUM_RATIO) -> Severity:
    if error_rate <= 0:
        return Severity.NONE
    if error_rate > tolerance:
        return Severity.HIGH
    if error_rate > tolerance * medium_ratio:
        return Severity.MEDIUM
    return Severity.LOW


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # Python 3.11+ reads a trailing Z


def execution_date(start_time: str, timezone: str) -> str:
    """The run's day (YYYY-MM-DD) in the report time zone: the partition of its
    summary and of its per-row results."""
    return _parse_time(start_time).astimezone(ZoneInfo(timezone)).date().isoformat()


def _outcome(
    tally: RunTally, rate: float, tolerance: float, map_result: dict[str, Any]
) -> tuple[str, str | None, str | None]:
    map_error = map_result.get("Error")
    if map_error:
        return "FAILED", str(map_error), f"the map failed with {map_error}: {str(map_result.get('Cause') or '')[:300]}"
    if rate > tolerance:
        what = "rows failed" if not tally.pending else "rows failed or never ran"
        return (
            "FAILED",
            "ErrorRateExceeded",
            (
                f"{tally.not_applied_in_error:,} of {tally.rows:,} {what} ({rate:.2f}%), above the tolerated {tolerance:g}%"
            ),
        )
    return "SUCCEEDED", None, None


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
    medium_ratio: float = DEFAULT_MEDIUM_RATIO,
) -> RunSummary:
    started = _parse_time(start_time)
    rate = round(tally.error_rate, 3)
    map_error = map_result.get("Error")
    status, error, cause = _outcome(tally, rate, tolerated_failure_percentage, map_result)
    if cause and tally.errors:
        cause += "; top errors: " + ", ".join(f"{k} {v:,}" for k, v in tally.errors.most_common(3))
    # by field name (populate_by_name): the aliases are the JSON contract
    return RunSummary.model_validate(
        {
            "execution_name": execution_name,
            "date": execution_date(start_time, timezone),
            "start_time": started.isoformat(),
            "finished_at": now.isoformat(),
            "duration_seconds": round(max(0.0, (now - started).total_seconds()), 3),
            "status": status,
            "error": error,
            "cause": cause,
            "source_bucket": source_bucket,
            "source_key": source_key,
            "map_key": validation.key if validation else None,
            "encoding": validation.encoding if validation else None,
            "duplicate_rows": int(getattr(validation, "duplicate_rows", 0) or 0),
            "blank_rows": int(getattr(validation, "blank_rows", 0) or 0),
            "rows": tally.rows,
            "applied": tally.applied,
            "failed": tally.failed,
            "superseded": tally.superseded,
            "skipped": tally.skipped,
            "pending": tally.pending,
            "error_rate": rate,
            "severity": Severity.HIGH if map_error else severity_of(rate, tolerated_failure_percentage, medium_ratio),
            "errors_by_type": dict(tally.errors.most_common()),
            "examples": tally.examples,
            "batches": tally.batches,
            "failed_batches": tally.failed_batches,
            "max_concurrency": config.max_concurrency if config else None,
            "max_items_per_batch": config.max_items_per_batch if config else None,
            "tolerated_failure_percentage": tolerated_failure_percentage,
            "map_run_arn": map_result.get("MapRunArn"),
        }
    )


def needs_alert(summary: RunSummary) -> bool:
    return summary.status == "FAILED" or summary.severity in (Severity.MEDIUM, Severity.HIGH)


def alert(summary: RunSummary, summary_uri: str) -> tuple[str, str]:
    """SNS subject (at most 100 characters) and message."""
    subject = f"[csv-dmap] {summary.severity.value} {summary.error_rate:.1f}% errors: {summary.execution_name}"[:100]
    lines = [
        f"Execution: {summary.execution_name} ({summary.status})",
        f"Source: s3://{summary.source_bucket}/{summary.source_key}",
        (
            f"Rows: {summary.rows:,}  applied: {summary.applied:,}  failed: {summary.failed:,}  "
            f"superseded: {summary.superseded:,}  skipped: {summary.skipped:,}  pending: {summary.pending:,}"
        ),
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
        f"Failed rows: csv-dmap failures {summary.execution_name}"
        + (f"  (per-row results: {summary.rows_prefix})" if summary.rows_prefix else ""),
    ]
    return subject, "\n".join(lines)
