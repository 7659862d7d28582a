"""The per-row results dataset: one record per CSV row of a run,
whatever its outcome, as gzip JSON Lines under a date-partitioned prefix:

    rows/execution_date=YYYY-MM-DD/<execution>/part-00000.json.gz

The Glue table ``user_update_results`` (template.yaml, ``# ---- analytics``) and the
local DuckDB view of the same name read these files; ``COLUMNS`` is their one schema.

- Streaming: AggregateErrors hands each row to ``RowResultsWriter.add`` while it
  tallies the ResultWriter files; rows go through gzip into a temporary file of at
  most ``part_rows`` rows, uploaded when full. Memory does not grow with the rows.
- Idempotent: part names are deterministic (the n-th ``part_rows`` rows of the run,
  in ResultWriter order), so a retried AggregateErrors overwrites the same keys; parts
  left from an earlier attempt beyond the last one written are deleted.
- Why gzip JSON Lines and not Parquet: measured in docs/decisions.md (DuckDB reads 1M
  rows of Parquet faster and Parquet is smaller, but pyarrow alone is ~170 MB unzipped
  against Lambda's 250 MB for a function and its layers); JSON Lines needs only the
  standard library, and Athena reads gzip JSON natively (Hive JSON SerDe).
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Self

from .keys import rows_prefix

PART_ROWS = 100_000
LINES_PER_WRITE = 1_000  # lines are compressed in blocks: one gzip write a row costs twice the time
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
TEXT_MAX = 300  # error messages are already capped by the worker; this bounds anything else

# (column, Athena/Glue type, DuckDB type) - the order of the Glue table's columns.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("execution_name", "string", "VARCHAR"),
    ("line", "bigint", "BIGINT"),
    ("row_index", "bigint", "BIGINT"),
    ("user_id", "string", "VARCHAR"),
    ("raw_user_id", "string", "VARCHAR"),
    ("status", "string", "VARCHAR"),
    ("old_login_count", "bigint", "BIGINT"),
    ("new_login_count", "bigint", "BIGINT"),
    ("old_post_count", "bigint", "BIGINT"),
    ("new_post_count", "bigint", "BIGINT"),
    ("error_type", "string", "VARCHAR"),
    ("error_message", "string", "VARCHAR"),
    ("superseded_by", "bigint", "BIGINT"),
    ("update_timestamp", "timestamp", "TIMESTAMP"),
    ("source_key", "string", "VARCHAR"),
)
PARTITION = ("execution_date", "string", "VARCHAR")  # from the path, not in the files

_RESULT_FIELDS = {  # record column <- worker result key
    "line": "line",
    "row_index": "index",
    "user_id": "userId",
    "raw_user_id": "rawUserId",
    "status": "status",
    "old_login_count": "oldLoginCount",
    "new_login_count": "newLoginCount",
    "old_post_count": "oldPostCount",
    "new_post_count": "newPostCount",
    "error_type": "errorType",
    "error_message": "errorMessage",
    "superseded_by": "supersededBy",
}
_INT_COLUMNS = {name for name, glue, _ in COLUMNS if glue == "bigint"}
_FIELDS = tuple((column, key, column in _INT_COLUMNS) for column, key in _RESULT_FIELDS.items())


def hive_timestamp(moment: str | datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC: the form the Hive JSON SerDe reads as a
    timestamp by default (java.sql.Timestamp.valueOf) and DuckDB casts directly."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat(sep=" ", timespec="microseconds")


def part_key(prefix: str, number: int) -> str:
    return f"{prefix}part-{number:05d}.json.gz"


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def row_record(
    result: Mapping[str, Any], *, execution_name: str, update_timestamp: str, source_key: str
) -> dict[str, Any]:
    """One dataset record from one worker result dict (camelCase)."""
    record: dict[str, Any] = {"execution_name": execution_name}
    get = result.get
    for column, key, is_int in _FIELDS:  # the common case (int / short str) costs one type check
        value = get(key)
        if value is not None:
            if is_int:
                value = value if type(value) is int else _as_int(value)
            elif type(value) is not str or len(value) > TEXT_MAX:
                value = str(value)[:TEXT_MAX]
        record[column] = value
    record["update_timestamp"] = update_timestamp
    record["source_key"] = source_key
    return record


class RowResultsWriter:
    """Writes one run's rows as gzip JSON Lines parts. Use as a context manager:
    the last part is uploaded and stale parts removed on a clean exit only."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        *,
        execution_name: str,
        execution_date: str,
        execution_start: str,
        source_key: str,
        part_rows: int = PART_ROWS,
    ):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = rows_prefix(execution_date, execution_name)
        self.execution_name = execution_name
        self.update_timestamp = hive_timestamp(execution_start)
        self.source_key = source_key
        self.part_rows = max(1, part_rows)
        self.keys: list[str] = []
        self.rows = 0
        self._file: IO[bytes] | None = None
        self._gzip: gzip.GzipFile | None = None
        self._lines: list[str] = []
        self._in_part = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._discard()

    def add(self, result: Mapping[str, Any]) -> None:
        if self._gzip is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives across add() calls, closed by _upload/_discard
            # mtime=0: the same rows give the same bytes, so a retry writes identical objects
            self._gzip = gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=6, mtime=0)
        record = row_record(
            result,
            execution_name=self.execution_name,
            update_timestamp=self.update_timestamp,
            source_key=self.source_key,
        )
        self._lines.append(_encode(record))
        self.rows += 1
        self._in_part += 1
        if len(self._lines) >= LINES_PER_WRITE:
            self._write_lines()
        if self._in_part >= self.part_rows:
            self._upload()

    def _write_lines(self) -> None:
        if self._gzip is not None and self._lines:
            self._gzip.write(("\n".join(self._lines) + "\n").encode())
        self._lines = []

    def _upload(self) -> None:
        if self._gzip is None or self._file is None:
            return
        self._write_lines()
        self._gzip.close()
        self._file.seek(0)
        key = part_key(self.prefix, len(self.keys))
        self.s3.upload_fileobj(self._file, self.bucket, key, ExtraArgs={"ContentType": "application/gzip"})
        self._file.close()
        self.keys.append(key)
        self._gzip, self._file, self._in_part = None, None, 0

    def _discard(self) -> None:
        self._lines = []
        if self._gzip is not None:
            self._gzip.close()
        if self._file is not None:
            self._file.close()
        self._gzip, self._file, self._in_part = None, None, 0

    def close(self) -> list[str]:
        """Upload the last part and delete parts an earlier attempt left beyond it."""
        self._upload()
        self._delete_stale()
        return self.keys

    def _delete_stale(self) -> None:
        written = set(self.keys)
        paginator = self.s3.get_paginator("list_objects_v2")
        stale = [
            o["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)
            for o in page.get("Contents", [])
            if o["Key"] not in written
        ]
        for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1,000 keys
            chunk = stale[start : start + 1000]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
