"""Aggregating a run from what its Distributed Map's ResultWriter wrote: one streamed pass over
the result files that counts every row (``RunTally``), writes the per-row dataset, rewrites the
audit items of applied rows whose audit write failed, and summarises the run.

The same pass collects the rows not applied for the run's reject file (``csv_dmap.rejects``),
written after it from the original file.

Two functions make this pass, with the same code:

- AggregateErrors, after the map succeeded (the map's output names the manifest);
- RunStatus, after an execution that failed before AggregateErrors ran, most often a map that
  failed because a batch could not commit: the failure is left uncaught so that a redrive
  restarts at the map, and the run still gets its summary, dataset and alert before anyone
  redrives it. After a redrive, AggregateErrors makes the pass again and the summary and the
  dataset are rewritten whole: each describes every row once.

The manifest is the latest Map Run's (``results.latest_manifest``) unless the map's output names
one; its records are read once each (``results.RecordReader``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .errors import InputRejected
from .keys import rejects_key
from .logic.aggregate import ResultCheck, execution_date, summarise
from .logic.tally import RunTally
from .logic.validation import printable
from .models import RunConfig, RunSummary, ValidationResult
from .rejects import RejectSpill, RejectsUnavailable, RunFiles, publish_rejects
from .results import DamagedResults, ReadProblems, RecordReader, latest_manifest
from .row_results import RowResultsWriter

AUDIT_REPAIR_CHUNK = 25  # one BatchWriteItem


class AuditSink(Protocol):
    """Where rebuilt audit items go (``csv_dmap.audit.AuditLogWriter``): built from results in the
    one place audit items are made."""

    def write_results(
        self,
        results: Sequence[Mapping[str, Any]],
        *,
        execution_name: str,
        execution_start: datetime | str,
        source_key: str,
        ttl_days: int,
    ) -> int: ...


@dataclass(frozen=True)
class RunFacts:
    """What is known of a run besides its result files."""

    execution_name: str
    start_time: str  # ISO 8601, the execution's StartTime (unchanged by a redrive)
    source_bucket: str
    source_key: str
    validation: ValidationResult | None = None
    config: RunConfig | None = None
    redrive_count: int = 0
    map_result: Mapping[str, Any] = field(default_factory=dict)  # the map's output, or {Error, Cause}


@dataclass(frozen=True)
class AggregateOptions:
    report_timezone: str
    tolerated_failure_percentage: float
    medium_ratio: float
    row_results_part_rows: int
    audit_ttl_days: int = 180
    tmp_dir: str | None = None  # the reject file's spill and the file itself (Lambda: /tmp)


@dataclass
class Aggregation:
    summary: RunSummary
    tally: RunTally
    problems: ReadProblems
    row_parts: list[str]
    manifest_key: str | None
    rows_prefix: str


class _AuditRepair:
    """Rewrites the audit items of the rows the worker marked ``auditMissing`` (any status: a batch's
    audit write carries all its rows); what it cannot write stays counted as missing."""

    def __init__(self, sink: AuditSink | None, facts: RunFacts, ttl_days: int) -> None:
        self.sink, self.facts, self.ttl_days = sink, facts, ttl_days
        self.pending: list[dict[str, Any]] = []
        self.repaired = 0
        self.error: str | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        if row.get("auditMissing") is True and self.sink is not None and self.error is None:
            self.pending.append({k: v for k, v in row.items() if k != "auditMissing"})
            if len(self.pending) >= AUDIT_REPAIR_CHUNK:
                self.flush()

    def flush(self) -> None:
        if not self.pending or self.sink is None or self.error is not None:
            return
        try:
            self.sink.write_results(
                self.pending,
                execution_name=self.facts.execution_name,
                execution_start=self.facts.start_time,
                source_key=self.facts.source_key,
                ttl_days=self.ttl_days,
            )
        except Exception as exc:  # noqa: BLE001 - the audit log is down again: the rows stay "audit missing"
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        else:
            self.repaired += len(self.pending)
        self.pending = []


def tally_manifest(
    s3: Any, bucket: str, manifest_key: str, *, on_row: Callable[[dict[str, Any]], None] | None = None
) -> tuple[RunTally, RecordReader]:
    """Count every row of one manifest's records (each child once), handing each row to ``on_row``
    too; what could not be read is in ``reader.problems``."""
    tally = RunTally()
    reader = RecordReader(s3, bucket, manifest_key)
    try:
        for row in reader.rows():
            tally.add_row(row)
            if on_row is not None:
                on_row(row)
    except DamagedResults as exc:
        reader.problems.note(str(exc))
    return tally, reader


def aggregate_run(
    s3: Any,
    bucket: str,
    facts: RunFacts,
    options: AggregateOptions,
    *,
    now: datetime,
    audit: AuditSink | None = None,
    written_by: str,
) -> Aggregation:
    """Count the run, write its per-row dataset, repair missing audit items, and summarise it.
    Nothing is written to ``summaries/`` here: the caller decides (and alerts)."""
    details = facts.map_result.get("ResultWriterDetails") if isinstance(facts.map_result, Mapping) else None
    manifest_key = details.get("Key") if isinstance(details, Mapping) and details.get("Key") else None
    manifest_key = manifest_key or latest_manifest(s3, bucket, facts.execution_name)
    repair = _AuditRepair(audit, facts, options.audit_ttl_days)
    tally, reader = RunTally(), None
    day = execution_date(facts.start_time, options.report_timezone)
    spill = RejectSpill(options.tmp_dir)
    with (
        spill,
        RowResultsWriter(
            s3,
            bucket,
            execution_name=facts.execution_name,
            execution_date=day,
            execution_start=facts.start_time,
            source_key=facts.source_key,
            part_rows=options.row_results_part_rows,
        ) as rows_out,
    ):
        if manifest_key is not None:

            def each(row: dict[str, Any]) -> None:
                rows_out.add(row)
                repair.add(row)
                spill.add(row)

            tally, reader = tally_manifest(s3, bucket, manifest_key, on_row=each)
        rejects = _rejects(s3, bucket, rejects_key(day, facts.execution_name), facts, spill, options)
    repair.flush()
    problems = reader.problems if reader else ReadProblems()
    tally.audit_missing -= repair.repaired
    check = ResultCheck(
        manifest=f"s3://{bucket}/{manifest_key}" if manifest_key else None,
        expected_rows=facts.validation.row_count if facts.validation else None,
        batches=reader.batches if reader else 0,
        failed_batches=reader.failed_batches if reader else 0,
        problems=list(problems.damaged),
        duplicates=problems.duplicate_records + problems.duplicate_files,
        audit_repair_error=repair.error,
    )
    summary = summarise(
        execution_name=facts.execution_name,
        start_time=facts.start_time,
        now=now,
        tally=tally,
        check=check,
        source_bucket=facts.source_bucket,
        source_key=facts.source_key,
        validation=facts.validation,
        config=facts.config,
        map_result=dict(facts.map_result),
        tolerated_failure_percentage=options.tolerated_failure_percentage,
        timezone=options.report_timezone,
        medium_ratio=options.medium_ratio,
    )
    summary.manifest_key = manifest_key
    summary.rows_prefix = f"s3://{bucket}/{rows_out.prefix}"
    summary.redrive_count = facts.redrive_count
    summary.written_by = written_by
    summary.rejects_key, summary.rejects_error = rejects
    return Aggregation(summary, tally, problems, list(rows_out.keys), manifest_key, rows_out.prefix)


def _rejects(
    s3: Any, bucket: str, key: str, facts: RunFacts, spill: RejectSpill, options: AggregateOptions
) -> tuple[str | None, str | None]:
    """Write (or remove) the run's reject file: (its key when written, why it could not be)."""
    map_failed = bool(facts.map_result.get("Error")) if isinstance(facts.map_result, Mapping) else False
    validation = facts.validation
    if validation is None or not validation.source_key:
        if spill.count == 0 and not map_failed:
            s3.delete_object(Bucket=bucket, Key=key)
            return None, None
        return None, "ValidateInput's result is not known, so the original file cannot be read"
    files = RunFiles(
        bucket=validation.bucket,
        source_key=validation.source_key,
        version_id=validation.version_id,
        copy_key=validation.key,
        rows=validation.row_count,
    )
    try:
        rows = publish_rejects(s3, bucket, key, files, spill, map_failed=map_failed, tmp_dir=options.tmp_dir)
    except (RejectsUnavailable, InputRejected) as exc:
        return None, printable(str(exc), 500)
    except (ClientError, BotoCoreError) as exc:
        return None, printable(f"the original file s3://{files.bucket}/{files.source_key} cannot be read: {exc}", 500)
    return (key if rows else None), None
