"""Contracts between the pipeline's steps (ValidateInput, DetermineConcurrency,
AggregateErrors, DailyReport), and the statuses a run ends with."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .worker import MAX_ITEMS_PER_BATCH


class _CamelModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RunInput(_CamelModel):
    """The execution's input: the uploaded object, and the exact version that started the run
    (StartRun passes ``versionId`` and ``etag`` from the S3 event; a manual start may omit them,
    and then the latest version is read)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    bucket: str = Field(min_length=3, max_length=63)  # S3's bounds: the output echoes both
    key: str = Field(min_length=1, max_length=1024)
    version_id: str | None = Field(alias="versionId", default=None, min_length=1, max_length=1024)
    etag: str | None = Field(default=None, min_length=1, max_length=256)


class ValidateRequest(_CamelModel):
    input: RunInput
    execution_name: str = Field(alias="executionName", default="manual", min_length=1, max_length=80)


class ValidationResult(_CamelModel):
    """What ValidateInput hands on: the object the map must read, and the facts.
    Small by construction: the header is echoed as at most 32 names of at most 64 characters."""

    bucket: str
    key: str = Field(description="the object the map reads: always the normalised copy under staging/")
    source_key: str = Field(alias="sourceKey")
    version_id: str | None = Field(alias="versionId", default=None, description="the version read, when versioned")
    byte_size: int = Field(alias="byteSize")
    encoding: str
    header: list[str] = Field(description="the original header's names, capped")
    source_rows: int = Field(alias="sourceRows", description="data records of the file (blank ones not counted)")
    duplicate_rows: int = Field(alias="duplicateRows", description="records superseded by a later one of their user")
    blank_rows: int = Field(alias="blankRows", default=0, description="blank records after the header, skipped")
    row_count: int = Field(alias="rowCount", description="rows the map will read: every data record, noted or not")
    normalized: bool = Field(default=True, description="always true: the map reads the copy")

    def to_payload(self) -> dict[str, Any]:
        """Every field, ``versionId`` too when it is null: the state machine's ResultSelector
        names each one, and a missing field would fail the run with States.Runtime."""
        return self.model_dump(mode="json", by_alias=True)


class ConcurrencyRequest(_CamelModel):
    row_count: int = Field(alias="rowCount", ge=0)
    byte_size: int = Field(alias="byteSize", ge=0)


class RunConfig(_CamelModel):
    """The Distributed Map settings DetermineConcurrency chooses."""

    max_concurrency: int = Field(alias="maxConcurrency", ge=1)
    max_items_per_batch: int = Field(alias="maxItemsPerBatch", ge=1, le=MAX_ITEMS_PER_BATCH)
    tolerated_failure_percentage: float = Field(alias="toleratedFailurePercentage", ge=0, le=100)
    estimated_seconds: float = Field(alias="estimatedSeconds")
    basis: str
    # The bound that set max_concurrency ("target duration", "database connections", "audit table write
    # throughput", ...); optional because the ASL's ResultSelector hands on only the fields above.
    bound_by: str | None = Field(alias="boundBy", default=None)


class Severity(str, Enum):
    """How bad a run's error rate is, relative to the tolerated failure percentage T
    (``csv_dmap.logic.aggregate.severity_of``; defaults T = 5, medium ratio 0.5):
    NONE = no failed row; LOW = at most half of T (<= 2.5%); MEDIUM = above half of T,
    the run still succeeds but the operators are alerted (> 2.5%); HIGH = above T, the
    run fails (> 5%), or the map itself failed."""

    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RunSummary(_CamelModel):
    """One run, as the aggregator writes it to ``summaries/date=YYYY-MM-DD/<execution>.json``
    (one JSON object on one line: what Athena's JSON SerDe reads)."""

    execution_name: str = Field(alias="executionName")
    date: str = Field(description="the run's start date in the report time zone (YYYY-MM-DD)")
    start_time: str = Field(alias="startTime")
    finished_at: str = Field(alias="finishedAt")
    duration_seconds: float = Field(alias="durationSeconds")
    status: str
    error: str | None = None
    cause: str | None = None
    source_bucket: str = Field(alias="sourceBucket")
    source_key: str = Field(alias="sourceKey")
    map_key: str | None = Field(alias="mapKey", default=None)
    encoding: str | None = None
    duplicate_rows: int = Field(alias="duplicateRows", default=0)
    rows: int = Field(description="rows == applied + failed + superseded + skipped + pending")
    applied: int
    failed: int
    superseded: int = 0
    skipped: int = 0
    pending: int = Field(default=0, description="not applied: the batch failed as a whole or never ran (redrive)")
    audit_missing: int = Field(
        alias="auditMissing", default=0, description="rows whose audit item is still missing after repair"
    )
    blank_rows: int = Field(alias="blankRows", default=0)
    error_rate: float = Field(alias="errorRate", description="(failed + pending) / rows, in percent")
    severity: Severity
    errors_by_type: dict[str, int] = Field(alias="errorsByType", default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    batches: int = 0
    failed_batches: int = Field(alias="failedBatches", default=0)
    max_concurrency: int | None = Field(alias="maxConcurrency", default=None)
    max_items_per_batch: int | None = Field(alias="maxItemsPerBatch", default=None)
    tolerated_failure_percentage: float | None = Field(alias="toleratedFailurePercentage", default=None)
    map_run_arn: str | None = Field(alias="mapRunArn", default=None)
    manifest_key: str | None = Field(alias="manifestKey", default=None)
    rows_prefix: str | None = Field(alias="rowsPrefix", default=None, description="the run's per-row results")
    rejects_key: str | None = Field(
        alias="rejectsKey",
        default=None,
        description="the run's reject file in the results bucket (csv_dmap.rejects); None: no row left unapplied",
    )
    rejects_error: str | None = Field(
        alias="rejectsError", default=None, description="why the reject file could not be written, when it could not"
    )
    alert_sent: bool = Field(alias="alertSent", default=False)
    redrive_count: int = Field(alias="redriveCount", default=0, description="the execution's redrives so far")
    written_by: str | None = Field(
        alias="writtenBy", default=None, description="AggregateErrors (the map ended) or RunStatus (it did not)"
    )
    redrivable: bool | None = Field(
        default=None, description="a redrive would rerun what failed (None: not known, e.g. locally)"
    )

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.duration_seconds if self.duration_seconds > 0 else 0.0


class SourceObject(_CamelModel):
    bucket: str
    key: str


class AggregateRequest(_CamelModel):
    """AggregateErrors' input: the run's state after the map succeeded (``map`` holds the map's
    output, ``{MapRunArn, ResultWriterDetails}``)."""

    execution_name: str = Field(alias="executionName")
    execution_start_time: str = Field(alias="executionStartTime")
    redrive_count: int = Field(alias="redriveCount", default=0, ge=0)
    source: SourceObject
    validation: ValidationResult | None = None
    config: RunConfig | None = None
    map: dict[str, Any] = Field(default_factory=dict)


class AggregateResult(_CamelModel):
    """The compact answer the ASL's Choice reads."""

    status: str
    error: str | None = None
    cause: str | None = None
    rows: int
    applied: int
    failed: int
    superseded: int = 0
    skipped: int = 0
    pending: int = 0
    audit_missing: int = Field(alias="auditMissing", default=0)
    error_rate: float = Field(alias="errorRate")
    severity: Severity
    alert_sent: bool = Field(alias="alertSent")
    summary_uri: str = Field(alias="summaryUri")


class ReportRequest(_CamelModel):
    """DailyReport's event: empty from the schedule, or a day to re-run."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    report_date: date | None = Field(alias="date", default=None)
