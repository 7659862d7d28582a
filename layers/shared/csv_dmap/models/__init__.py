"""Pydantic models and records of the contracts between the parts, by concern:

- ``rows``: one CSV row and its rules (``CsvRow``, ``RowError``, ``ItemStatus``);
- ``worker``: the worker's event and output (``WorkerEvent``, ``ItemResult``, ``WorkerOutput``);
- ``records``: what the database and the audit log store (``StoredStats``, ``StatsWrite``);
- ``steps``: the contracts of the steps around the map (``ValidationResult``, ``RunSummary``, ``RunStatus``...).

``from csv_dmap.models import X`` works for every public name.
"""

from .records import StatsWrite, StoredStats
from .rows import (
    COUNT_MAX,
    ECHO_MAX,
    ERROR_MESSAGE_MAX,
    HEADER_ALIASES,
    LINE_MAX,
    USER_ID_MAX_LENGTH,
    USER_ID_PATTERN,
    CsvRow,
    ItemStatus,
    RowError,
    RowErrorType,
    cap_escaped,
    echo,
    escaped_len,
    is_valid_user_id,
    note_error,
    parse_row,
    raw_user_id,
    row_line,
    superseded_by,
)
from .steps import (
    AggregateRequest,
    AggregateResult,
    ConcurrencyRequest,
    ReportRequest,
    RunConfig,
    RunStatus,
    RunSummary,
    Severity,
    SourceObject,
    ValidateRequest,
    ValidationResult,
)
from .worker import (
    MAX_ITEMS_PER_BATCH,
    MAX_OUTPUT_BYTES,
    MAX_RESULT_BYTES,
    BatchCounts,
    BatchInput,
    BatchItem,
    Failure,
    ItemResult,
    WorkerEvent,
    WorkerOutput,
)

__all__ = [
    "COUNT_MAX",
    "ECHO_MAX",
    "ERROR_MESSAGE_MAX",
    "HEADER_ALIASES",
    "LINE_MAX",
    "MAX_ITEMS_PER_BATCH",
    "MAX_OUTPUT_BYTES",
    "MAX_RESULT_BYTES",
    "USER_ID_MAX_LENGTH",
    "USER_ID_PATTERN",
    "AggregateRequest",
    "AggregateResult",
    "BatchCounts",
    "BatchInput",
    "BatchItem",
    "ConcurrencyRequest",
    "CsvRow",
    "Failure",
    "ItemResult",
    "ItemStatus",
    "ReportRequest",
    "RowError",
    "RowErrorType",
    "RunConfig",
    "RunStatus",
    "RunSummary",
    "Severity",
    "SourceObject",
    "StatsWrite",
    "StoredStats",
    "ValidateRequest",
    "ValidationResult",
    "WorkerEvent",
    "WorkerOutput",
    "cap_escaped",
    "echo",
    "escaped_len",
    "is_valid_user_id",
    "note_error",
    "parse_row",
    "raw_user_id",
    "row_line",
    "superseded_by",
]
