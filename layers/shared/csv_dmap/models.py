"""Pydantic models of the contracts between the parts (DESIGN.md section 3).

- ``CsvRow``: one CSV row as the ItemReader gives it (every value a string),
  under its Japanese header or its English alias.
- ``WorkerEvent``: what the ItemBatcher sends the worker:
  ``{"Items": [{"index": n, "row": {...}}, ...], "BatchInput": {...}}``.
  The ``{"index", "row"}`` shape comes from the Map's ItemSelector
  (``$$.Map.Item.Index`` / ``$$.Map.Item.Value``), applied to each item
  before batching; the index gives every row a stable key for the audit log.
- ``ItemResult`` / ``WorkerOutput``: what the worker returns; ResultWriter
  stores it (as a JSON string) in ``SUCCEEDED_n.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

USER_ID_MAX_LENGTH = 64
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]+$")
COUNT_MAX = 2_147_483_647  # signed INT in MySQL
# The largest batch the worker answers for. Its worst-case output (every row
# failed, 64-character ids, longest messages) is 125,693 bytes: under half of the 256 KiB
# a state may return (tests/integration/test_worker.py measures it).
MAX_ITEMS_PER_BATCH = 500
ERROR_MESSAGE_MAX = 120  # keeps a failed item's output small (see WorkerOutput)
ECHO_MAX = 24  # how much of a bad value an error message repeats

# Header names: the Japanese names of the export and their English aliases.
HEADER_ALIASES: dict[str, tuple[str, str]] = {
    "user_id": ("ユーザーID", "user_id"),
    "login_count": ("ログイン回数", "login_count"),
    "post_count": ("投稿回数", "post_count"),
}


class ItemStatus(str, Enum):
    APPLIED = "APPLIED"
    FAILED = "FAILED"


class RowErrorType(str, Enum):
    """Why a row was not applied. Each is a per-item failure, never a batch failure."""

    MISSING_COLUMN = "MissingColumn"
    INVALID_USER_ID = "InvalidUserId"
    INVALID_LOGIN_COUNT = "InvalidLoginCount"
    INVALID_POST_COUNT = "InvalidPostCount"
    USER_NOT_FOUND = "UserNotFound"
    INVALID_ITEM = "InvalidItem"


def _echo(value: object) -> str:
    text = str(value)
    return text if len(text) <= ECHO_MAX else text[: ECHO_MAX - 1] + "…"


def _parse_count(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {_echo(value)!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"{name} must be a whole number 0..{COUNT_MAX}, got {_echo(value)!r}")
        number = int(text)
    if not 0 <= number <= COUNT_MAX:
        raise ValueError(f"{name} must be between 0 and {COUNT_MAX}, got {_echo(value)!r}")
    return number


class CsvRow(BaseModel):
    """A validated CSV row. Strings in, typed values out."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: str = Field(validation_alias=AliasChoices(*HEADER_ALIASES["user_id"]))
    login_count: int = Field(validation_alias=AliasChoices(*HEADER_ALIASES["login_count"]))
    post_count: int = Field(validation_alias=AliasChoices(*HEADER_ALIASES["post_count"]))

    @field_validator("user_id", mode="before")
    @classmethod
    def _user_id(cls, value: object) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise ValueError("user id is empty")
        if len(text) > USER_ID_MAX_LENGTH:
            raise ValueError(f"user id is longer than {USER_ID_MAX_LENGTH} characters")
        if not USER_ID_PATTERN.match(text):
            raise ValueError(f"user id {_echo(text)!r} has characters outside A-Z a-z 0-9 _ . : @ -")
        return text

    @field_validator("login_count", mode="before")
    @classmethod
    def _login(cls, value: object) -> int:
        return _parse_count(value, "login count")

    @field_validator("post_count", mode="before")
    @classmethod
    def _post(cls, value: object) -> int:
        return _parse_count(value, "post count")


_FIELD_OF_ALIAS = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

_FIELD_ERROR = {
    "user_id": RowErrorType.INVALID_USER_ID,
    "login_count": RowErrorType.INVALID_LOGIN_COUNT,
    "post_count": RowErrorType.INVALID_POST_COUNT,
}


class RowError(Exception):
    """A row that cannot be applied, with the named reason."""

    def __init__(self, error_type: RowErrorType, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message[:ERROR_MESSAGE_MAX]


def parse_row(raw: object) -> CsvRow:
    """Validate one raw row; raise ``RowError`` naming the first problem."""
    if not isinstance(raw, dict):
        raise RowError(RowErrorType.INVALID_ITEM, f"row is not an object: {_echo(raw)!r}")
    try:
        return CsvRow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        field = _FIELD_OF_ALIAS.get(loc, loc)
        if first["type"] == "missing":
            names = " or ".join(HEADER_ALIASES.get(field, (field,)))
            raise RowError(RowErrorType.MISSING_COLUMN, f"column {names} is missing") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise RowError(_FIELD_ERROR.get(field, RowErrorType.INVALID_ITEM), message) from None


def raw_user_id(raw: object) -> str | None:
    """The user id of a raw row, as written (for reporting a row that failed)."""
    if not isinstance(raw, dict):
        return None
    for name in HEADER_ALIASES["user_id"]:
        value = raw.get(name)
        if value not in (None, ""):
            return str(value).strip()[:USER_ID_MAX_LENGTH]
    return None


class BatchItem(BaseModel):
    """One item of a batch, as the Map's ItemSelector shapes it."""

    index: int = Field(ge=0)
    row: Any


class BatchInput(BaseModel):
    """The ItemBatcher's BatchInput: the same for every batch of a run."""

    model_config = ConfigDict(populate_by_name=True)

    execution_name: str = Field(alias="executionName", min_length=1, max_length=80)
    source_key: str = Field(alias="sourceKey", default="")
    source_bucket: str = Field(alias="sourceBucket", default="")
    execution_start_time: str | None = Field(alias="executionStartTime", default=None)


class WorkerEvent(BaseModel):
    """``{"Items": [...], "BatchInput": {...}}`` as defined by AWS."""

    items: list[BatchItem] = Field(alias="Items", min_length=1, max_length=MAX_ITEMS_PER_BATCH)
    batch_input: BatchInput = Field(alias="BatchInput")


class ItemResult(BaseModel):
    """The outcome of one row. Field names are short but readable: the output
    of the largest batch must stay well under 256 KiB."""

    model_config = ConfigDict(populate_by_name=True)

    index: int
    user_id: str | None = Field(default=None, serialization_alias="userId")
    status: ItemStatus
    old_login_count: int | None = Field(default=None, serialization_alias="oldLoginCount")
    new_login_count: int | None = Field(default=None, serialization_alias="newLoginCount")
    old_post_count: int | None = Field(default=None, serialization_alias="oldPostCount")
    new_post_count: int | None = Field(default=None, serialization_alias="newPostCount")
    error_type: str | None = Field(default=None, serialization_alias="errorType")
    error_message: str | None = Field(default=None, serialization_alias="errorMessage")


class BatchCounts(BaseModel):
    total: int
    applied: int
    failed: int


class WorkerOutput(BaseModel):
    execution_name: str = Field(serialization_alias="executionName")
    first_index: int = Field(serialization_alias="firstIndex")
    counts: BatchCounts
    results: list[ItemResult]

    def to_payload(self) -> dict[str, Any]:
        """The JSON-ready dict the handler returns (None fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class StoredStats:
    """What the database holds for a user before the batch (None: no stats row)."""

    login_count: int | None = None
    post_count: int | None = None

    @property
    def exists(self) -> bool:
        return self.login_count is not None


@dataclass(frozen=True)
class StatsWrite:
    """The final values of one user after a batch, and the values they replace."""

    user_id: str
    login_count: int
    post_count: int
    prev_login_count: int | None
    prev_post_count: int | None


def item_key(index: int) -> str:
    """The per-item sort key: the row index, zero-padded so it sorts."""
    return f"{index:010d}"


def ttl_epoch(moment: datetime, days: int) -> int:
    return int((moment + timedelta(days=days)).timestamp())


@dataclass(frozen=True)
class AuditRecord:
    execution_name: str
    index: int
    status: str
    timestamp: str  # ISO 8601, UTC
    ttl: int
    source_key: str
    user_id: str | None = None  # a valid user id (GSI key); None for rows whose id is invalid
    raw_user_id: str | None = None  # what the row said, when it was not a valid id
    old_login_count: int | None = None
    new_login_count: int | None = None
    old_post_count: int | None = None
    new_post_count: int | None = None
    error_type: str | None = None
    error_message: str | None = None

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "executionName": self.execution_name,
            "itemKey": item_key(self.index),
            "rowIndex": self.index,
            "status": self.status,
            "timestamp": self.timestamp,
            "ttl": self.ttl,
            "sourceKey": self.source_key,
            "userId": self.user_id,
            "rawUserId": self.raw_user_id,
            "oldLoginCount": self.old_login_count,
            "newLoginCount": self.new_login_count,
            "oldPostCount": self.old_post_count,
            "newPostCount": self.new_post_count,
            "errorType": self.error_type,
            "errorMessage": self.error_message,
        }
        if self.status == "FAILED":
            item["failedExecution"] = self.execution_name
        return {k: v for k, v in item.items() if v is not None and v != ""}


def is_valid_user_id(value: str | None) -> bool:
    return bool(value) and len(value) <= USER_ID_MAX_LENGTH and bool(USER_ID_PATTERN.match(value))


# --------------------------------------------------------------------------- pipeline steps


class _CamelModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ValidateRequest(_CamelModel):
    bucket: str = Field(min_length=3, max_length=63)  # S3's bounds: the output echoes both
    key: str = Field(min_length=1, max_length=1024)
    execution_name: str = Field(alias="executionName", default="manual", min_length=1, max_length=80)


class ValidationResult(_CamelModel):
    """What ValidateInput hands on: the object the map must read, and the facts.
    Small by construction: the header is echoed as at most 32 names of at most 64 characters."""

    bucket: str
    key: str = Field(description="the object the map reads: always the normalised copy under staging/")
    source_key: str = Field(alias="sourceKey")
    byte_size: int = Field(alias="byteSize")
    encoding: str
    header: list[str] = Field(description="the original header's names, capped")
    source_rows: int = Field(alias="sourceRows", description="data records of the file (blank ones not counted)")
    duplicate_rows: int = Field(alias="duplicateRows", description="records superseded by a later one of their user")
    blank_rows: int = Field(alias="blankRows", default=0, description="blank records after the header, skipped")
    row_count: int = Field(alias="rowCount", description="rows the map will read: every data record, noted or not")
    normalized: bool = Field(default=True, description="always true: the map reads the copy")


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


class Severity(str, Enum):
    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"  # error rate over 5%
    HIGH = "HIGH"  # error rate over 10%


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
    rows: int
    applied: int
    failed: int
    pending: int = 0
    error_rate: float = Field(alias="errorRate")
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
    alert_sent: bool = Field(alias="alertSent", default=False)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.duration_seconds if self.duration_seconds > 0 else 0.0


class SourceObject(_CamelModel):
    bucket: str
    key: str


class AggregateRequest(_CamelModel):
    """AggregateErrors' input: the run's state, whether the map succeeded or
    was caught (then ``map`` holds ``Error`` and ``Cause``)."""

    execution_name: str = Field(alias="executionName")
    execution_start_time: str = Field(alias="executionStartTime")
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
    error_rate: float = Field(alias="errorRate")
    severity: Severity
    alert_sent: bool = Field(alias="alertSent")
    summary_uri: str = Field(alias="summaryUri")


class ReportRequest(_CamelModel):
    """DailyReport's event: empty from the schedule, or a day to re-run."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    report_date: date | None = Field(alias="date", default=None)
