"""From the tally of a run's ResultWriter files to its summary, severity, outcome and alert text
(AggregateErrors after the map, RunStatus after a run whose map failed).

The outcome, first match wins:

1. the map failed (a batch did not commit, the reader or the writer failed, the run was stopped):
   FAILED with the map's error; the rows it never read are pending, and a redrive can apply them;
2. the result files do not account for every row of the file (a damaged or missing record, a
   count that differs from ValidateInput's): FAILED ``ResultsIncomplete``, naming the files;
3. the rows' error rate (failed rows only: bad data, unknown users) is above the tolerance:
   FAILED ``ErrorRateExceeded``;
4. otherwise SUCCEEDED. Applied rows whose audit item is still missing keep the run SUCCEEDED
   (they were applied) but raise its severity to at least MEDIUM, so that operators are alerted.

Severity and tolerance agree: with tolerance T (TOLERATED_FAILURE_PERCENTAGE,
default 5) and ratio r (SEVERITY_MEDIUM_RATIO, default 0.5), an error rate e is
NONE when e = 0, LOW when 0 < e <= r*T, MEDIUM when r*T < e <= T (the run succeeds
and the operators are alerted), HIGH when e > T (the run fails). So every severity
is reachable whatever T in (0, 100) is; with T = 0 every failed row is HIGH, with
T = 100 only a failed map is HIGH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ResultCheck:
    """What reading the result files found besides rows: the cross-check of the tally."""

    manifest: str | None = None  # s3:// URI of the manifest read, None when there was none
    expected_rows: int | None = None  # ValidateInput's rowCount: rows the map reads
    batches: int = 0
    failed_batches: int = 0
    problems: list[str] = field(default_factory=list)  # damaged files or records, named
    duplicates: int = 0  # records or files listed twice, read once
    audit_repair_error: str | None = None


def _map_failure(map_result: dict[str, Any], tally: RunTally, check: ResultCheck) -> tuple[str, str]:
    error = str(map_result.get("Error"))
    cause = str(map_result.get("Cause") or "")
    state = map_result.get("State")
    parts = [f"the run failed{f' at {state}' if state else ''} with {error}" + (f": {cause[:500]}" if cause else "")]
    if tally.pending:
        parts.append(
            f"{tally.pending:,} rows not applied ({check.failed_batches:,} batches failed as a whole, the rest never "
            "ran); mend the cause and redrive the execution to apply them"
        )
    return error, "; ".join(parts)


def _incomplete(tally: RunTally, check: ResultCheck) -> str | None:
    """Why the result files do not account for the file, or None when they do."""
    reasons: list[str] = []
    if check.manifest is None:
        reasons.append("the map wrote no result manifest")
    if check.expected_rows is not None and tally.rows != check.expected_rows:
        where = f" in {check.manifest}" if check.manifest else ""
        reasons.append(f"the result files{where} account for {tally.rows:,} rows, the file has {check.expected_rows:,}")
    reasons += [f"unreadable: {p}" for p in check.problems]
    return "; ".join(reasons) if reasons else None


def _outcome(
    tally: RunTally, tolerance: float, map_result: dict[str, Any], check: ResultCheck
) -> tuple[str, str | None, str | None]:
    if map_result.get("Error"):
        error, cause = _map_failure(map_result, tally, check)
        return "FAILED", error, cause
    incomplete = _incomplete(tally, check)
    if incomplete:
        return "FAILED", "ResultsIncomplete", incomplete
    exceeded = error_rate_exceeded(tally, tolerance)
    if exceeded:
        return "FAILED", "ErrorRateExceeded", exceeded
    return "SUCCEEDED", None, None


def error_rate_exceeded(tally: RunTally, tolerance: float) -> str | None:
    """The Cause of ``ErrorRateExceeded`` when the rows' failures are above the tolerance, else None
    (AggregateErrors' rule; ``csv-dmap check`` applies it to a file before any run)."""
    rate = round(tally.row_error_rate, 3)
    if rate > tolerance:
        return f"{tally.failed:,} of {tally.rows:,} rows failed ({rate:.2f}%), above the tolerated {tolerance:g}%"
    return None


def _add_unread(tally: RunTally, check: ResultCheck, map_result: dict[str, Any]) -> None:
    """A map that failed stopped reading the file: the rows it never read are pending too."""
    if map_result.get("Error") and check.expected_rows is not None and check.expected_rows > tally.rows:
        unread = check.expected_rows - tally.rows
        tally.rows += unread
        tally.pending += unread
        tally.errors["NotRun"] += unread


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
    check: ResultCheck | None = None,
) -> RunSummary:
    check = check or ResultCheck(manifest="(given)")
    started = _parse_time(start_time)
    _add_unread(tally, check, map_result)
    status, error, cause = _outcome(tally, tolerated_failure_percentage, map_result, check)
    if cause and tally.errors:
        cause += "; top errors: " + ", ".join(f"{k} {v:,}" for k, v in tally.errors.most_common(3))
    if tally.audit_missing:
        note = f"{tally.audit_missing:,} rows have no audit item"
        if check.audit_repair_error:
            note += f" (repair failed: {check.audit_repair_error})"
        cause = f"{cause}; {note}" if cause else note
    severity = severity_of(round(tally.row_error_rate, 3), tolerated_failure_percentage, medium_ratio)
    if status == "FAILED":
        severity = Severity.HIGH
    elif tally.audit_missing and severity in (Severity.NONE, Severity.LOW):
        severity = Severity.MEDIUM
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
            "audit_missing": tally.audit_missing,
            "error_rate": round(tally.error_rate, 3),
            "severity": severity,
            "errors_by_type": dict(tally.errors.most_common()),
            "examples": tally.examples,
            "batches": check.batches,
            "failed_batches": check.failed_batches,
            "max_concurrency": config.max_concurrency if config else None,
            "max_items_per_batch": config.max_items_per_batch if config else None,
            "tolerated_failure_percentage": tolerated_failure_percentage,
            "map_run_arn": map_result.get("MapRunArn"),
        }
    )


def needs_alert(summary: RunSummary) -> bool:
    return summary.status == "FAILED" or summary.severity in (Severity.MEDIUM, Severity.HIGH)


def redrive_hint(summary: RunSummary, execution_arn: str | None = None) -> str:
    """How an operator redrives this run (RedriveExecution is possible for 14 days after it ended)."""
    arn = f" or: aws stepfunctions redrive-execution --execution-arn {execution_arn}" if execution_arn else ""
    return (
        f"Redrive (reruns only what did not apply): csv-dmap --stack <stack> redrive {summary.execution_name}"
        f"{arn}, or the console's Redrive button"
    )


def _rejects_lines(summary: RunSummary, summary_uri: str) -> list[str]:
    """Where the run's reject file is (in the summary's bucket), or why there is none."""
    if summary.rejects_key:
        bucket = summary_uri.removeprefix("s3://").split("/", 1)[0]
        return [
            (
                "Reject file (the rows not applied, with line, error_type, error_message): "
                f"s3://{bucket}/{summary.rejects_key}"
            ),
            f"  csv-dmap rejects {summary.execution_name} -o rejects.csv; fix the rows and upload the file as a new "
            "run (the three added columns are ignored)"
            + ("; or redrive, which applies the pending rows" if summary.redrivable else ""),
        ]
    if summary.rejects_error:
        return [f"No reject file: {summary.rejects_error}"]
    return []


def alert(summary: RunSummary, summary_uri: str, execution_arn: str | None = None) -> tuple[str, str]:
    """SNS subject (at most 100 characters) and message."""
    if summary.status == "SUCCEEDED":
        what = f"{summary.severity.value} {summary.error_rate:.1f}% errors"
        if summary.audit_missing:
            what += f", {summary.audit_missing:,} audit items missing"
    elif summary.rows:
        what = f"{summary.status} {summary.error or ''} {summary.severity.value} {summary.error_rate:.1f}% errors"
    else:
        what = f"{summary.status} {summary.error or ''}".strip()
    subject = f"[csv-dmap] {what}: {summary.execution_name}"[:100]
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
        lines.append(f"{'Why' if summary.status == 'SUCCEEDED' else 'Why it failed'}: {summary.cause}")
    if summary.errors_by_type:
        lines.append("Top error types:")
        for kind, count in list(summary.errors_by_type.items())[:5]:
            lines.append(f"  {kind}: {count:,}")
            for example in summary.examples.get(kind, [])[:3]:
                lines.append(f"    e.g. {example}")
    lines.append(f"Summary: {summary_uri}")
    if summary.rows:
        lines.append(
            f"Rows not applied: csv-dmap failures {summary.execution_name}"
            + (f"  (per-row results: {summary.rows_prefix})" if summary.rows_prefix else "")
        )
    lines += _rejects_lines(summary, summary_uri)
    if summary.redrivable:
        lines.append(redrive_hint(summary, execution_arn))
    elif summary.status == "REJECTED":
        lines.append("The file was not processed: fix it and upload it again.")
    elif summary.status != "SUCCEEDED" and summary.redrivable is False:
        lines.append("A redrive would not change this outcome: fix the rows and upload them again.")
    if summary.redrive_count:
        lines.append(f"Redrives so far: {summary.redrive_count}")
    return subject, "\n".join(lines)
