"""Run summaries in S3: ``summaries/date=YYYY-MM-DD/<execution>.json``
(Hive-style partitions, one JSON object per file, one line: Athena reads them
with the OpenX JSON SerDe). Written by the aggregator (and RunStatus for runs that
ended early); read back, through :func:`read_summaries` and only through it, by the
concurrency calculator (history), the daily report and the operator CLI.

The history is read defensively: anyone can drop an object under ``summaries/``, and a
summary written by an older version may not fit this one. An object that is not a
summary this version can trust is *skipped and named* (:class:`Skipped`: its key and
why), never allowed to stop a run, a report or the CLI:

- not a ``.json`` object in a ``date=`` partition, larger than :data:`MAX_SUMMARY_BYTES`, unreadable, not UTF-8,
  not one JSON object, or not of the :class:`~csv_dmap.models.RunSummary` schema;
- numbers that cannot be a run's (:func:`summary_problem`): negative counts, rows that are
  not applied + failed + superseded + skipped + pending, a rate outside 0..100, a duration
  that is not a finite number of seconds, times without an offset, a ``date`` other than
  its partition's;
- a second summary of the same execution (a copy under another key): the one that
  finished last is kept, the other is named.

Keys ending in ``/`` are the S3 console's folder markers, not objects: they are passed over.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from . import keys
from .keys import SUMMARIES as PREFIX
from .keys import summary_day, summary_day_prefix
from .models import RunSummary

# A run summary is a few KiB (at most three examples per error type, a cause of at most a
# few KiB); anything much larger is not one, and is not read into a function's memory.
MAX_SUMMARY_BYTES = 1024 * 1024
COUNTS = ("applied", "failed", "superseded", "skipped", "pending")


# The columns of the Glue table ``run_summaries`` (and of the local view of the same name):
# (column, Glue type, DuckDB type, key in the summary's JSON). The partition column
# ``execution_date`` is the ``date=`` of the path.
TABLE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("execution_name", "string", "VARCHAR", "executionName"),
    ("status", "string", "VARCHAR", "status"),
    ("error", "string", "VARCHAR", "error"),
    ("cause", "string", "VARCHAR", "cause"),
    ("start_time", "string", "VARCHAR", "startTime"),
    ("finished_at", "string", "VARCHAR", "finishedAt"),
    ("duration_seconds", "double", "DOUBLE", "durationSeconds"),
    ("source_bucket", "string", "VARCHAR", "sourceBucket"),
    ("source_key", "string", "VARCHAR", "sourceKey"),
    ("encoding", "string", "VARCHAR", "encoding"),
    ("total_rows", "bigint", "BIGINT", "rows"),
    ("applied", "bigint", "BIGINT", "applied"),
    ("failed", "bigint", "BIGINT", "failed"),
    ("superseded", "bigint", "BIGINT", "superseded"),
    ("skipped", "bigint", "BIGINT", "skipped"),
    ("pending", "bigint", "BIGINT", "pending"),
    ("blank_rows", "bigint", "BIGINT", "blankRows"),
    ("error_rate", "double", "DOUBLE", "errorRate"),
    ("severity", "string", "VARCHAR", "severity"),
    ("errors_by_type", "map<string,bigint>", "MAP(VARCHAR, BIGINT)", "errorsByType"),
    ("batches", "bigint", "BIGINT", "batches"),
    ("failed_batches", "bigint", "BIGINT", "failedBatches"),
    ("max_concurrency", "bigint", "BIGINT", "maxConcurrency"),
    ("max_items_per_batch", "bigint", "BIGINT", "maxItemsPerBatch"),
    ("tolerated_failure_percentage", "double", "DOUBLE", "toleratedFailurePercentage"),
    ("map_run_arn", "string", "VARCHAR", "mapRunArn"),
    ("rows_prefix", "string", "VARCHAR", "rowsPrefix"),
    ("rejects_key", "string", "VARCHAR", "rejectsKey"),
    ("alert_sent", "boolean", "BOOLEAN", "alertSent"),
)


def summary_key(summary: RunSummary) -> str:
    return keys.summary_key(summary.date, summary.execution_name)


def day_prefix(day: date) -> str:
    return summary_day_prefix(day.isoformat())


def write_summary(s3: Any, bucket: str, summary: RunSummary) -> str:
    key = summary_key(summary)
    body = json.dumps(summary.to_payload(), ensure_ascii=False, separators=(",", ":")) + "\n"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return key


# ------------------------------------------------------------------ where summaries are read from


class SummaryStore(Protocol):
    """Where the summaries are: the results bucket (:class:`S3Summaries`), or the local data
    directory that holds the same keys (``csv_dmap_cli``)."""

    def objects(self, prefix: str) -> Iterable[tuple[str, int]]:
        """Every (key, size in bytes) under ``prefix``."""
        ...

    def read(self, key: str) -> bytes: ...


class S3Summaries:
    """The summaries of a results bucket."""

    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"], int(obj.get("Size") or 0)

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


# ------------------------------------------------------------------ reading, defensively


@dataclass(frozen=True)
class Skipped:
    """An object under ``summaries/`` that was not used, and why (one line)."""

    key: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.key}: {self.reason}"

    def to_payload(self) -> dict[str, str]:
        return {"key": self.key, "reason": self.reason}


class DamagedSummary(ValueError):
    """An object that is not a run summary this version can use (``reason`` says why)."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.skipped = Skipped(key, reason)


@dataclass
class Summaries:
    """The usable summaries read (at most one per execution), their keys, and what was skipped."""

    runs: list[RunSummary] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # execution name -> key
    skipped: list[Skipped] = field(default_factory=list)


def _schema_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'the object'}: {e['msg'].lower()}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "not a run summary of this version: " + "; ".join(parts) + more


def _aware(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} {text[:40]!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ValueError(f"{name} {text[:40]!r} has no UTC offset")
    return moment


def summary_problem(summary: RunSummary, partition: str | None = None) -> str | None:
    """Why these numbers cannot be a run's (None when they can): what the daily report and the
    concurrency calculator would otherwise add up or divide by."""
    counts = {name: getattr(summary, name) for name in ("rows", *COUNTS, "blank_rows", "batches", "failed_batches")}
    negative = [f"{name} {value}" for name, value in counts.items() if value < 0]
    negative += [f"errorsByType[{kind}] {n}" for kind, n in summary.errors_by_type.items() if n < 0]
    if negative:
        return "negative count: " + ", ".join(negative)
    parts = sum(counts[name] for name in COUNTS)
    if summary.rows != parts:
        return f"rows {summary.rows} is not applied + failed + superseded + skipped + pending = {parts}"
    if not (math.isfinite(summary.error_rate) and 0 <= summary.error_rate <= 100):
        return f"errorRate {summary.error_rate} is not a percentage (0..100)"
    if not (math.isfinite(summary.duration_seconds) and summary.duration_seconds >= 0):
        return f"durationSeconds {summary.duration_seconds} is not a duration"
    try:
        _aware(summary.start_time, "startTime")
        _aware(summary.finished_at, "finishedAt")
    except ValueError as exc:
        return str(exc)
    if partition is not None and summary.date != partition:
        return f"its date {summary.date[:40]!r} is not its partition's ({partition})"
    return None


def parse_summary(key: str, body: bytes) -> RunSummary:
    """One object's body as a run summary this version can use, or :class:`DamagedSummary`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedSummary(key, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise DamagedSummary(key, "empty")
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and a number too long to convert
        raise DamagedSummary(key, f"not JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        raise DamagedSummary(key, f"not a JSON object (a {type(data).__name__})")
    try:
        summary = RunSummary.model_validate(data)
    except ValidationError as exc:
        raise DamagedSummary(key, _schema_problem(exc)) from None
    problem = summary_problem(summary, summary_day(key))
    if problem:
        raise DamagedSummary(key, problem)
    return summary


def _read_one(store: SummaryStore, key: str, size: int) -> RunSummary:
    if not key.endswith(".json"):
        raise DamagedSummary(key, "not a run summary (not a .json object)")
    if summary_day(key) is None:
        raise DamagedSummary(key, "not in a date=YYYY-MM-DD partition")
    if size > MAX_SUMMARY_BYTES:
        raise DamagedSummary(key, f"{size:,} bytes, more than a run summary can be ({MAX_SUMMARY_BYTES:,})")
    try:
        body = store.read(key)
    except Exception as exc:  # noqa: BLE001 - a store's own errors (S3's ClientError, OSError): that object only
        raise DamagedSummary(key, f"cannot be read: {str(exc).splitlines()[0][:200]}") from None
    return parse_summary(key, body)


def read_summaries(store: SummaryStore, objects: Iterable[tuple[str, int]]) -> Summaries:
    """The usable summaries among ``objects`` ((key, size) pairs), one per execution (the one
    that finished last), and every object skipped, named with its reason."""
    found = Summaries()
    finished: dict[str, datetime] = {}
    for key, size in objects:
        if key.endswith("/"):
            continue  # a folder marker
        try:
            summary = _read_one(store, key, size)
        except DamagedSummary as exc:
            found.skipped.append(exc.skipped)
            continue
        name, when = summary.execution_name, _aware(summary.finished_at, "finishedAt")
        if name in finished:
            earlier = found.keys[name]
            newer = (when, key) > (finished[name], earlier)
            kept, dropped = (key, earlier) if newer else (earlier, key)
            found.skipped.append(
                Skipped(dropped, f"a second summary of execution {name}; kept {kept}, which finished later")
            )
            if not newer:
                continue
            found.runs = [s for s in found.runs if s.execution_name != name]
        found.runs.append(summary)
        found.keys[name], finished[name] = key, when
    return found


def summaries_of(store: SummaryStore, day: date) -> Summaries:
    """The summaries of one day's partition (the report time zone's day)."""
    return read_summaries(store, store.objects(day_prefix(day)))


def all_summaries(store: SummaryStore) -> Summaries:
    return read_summaries(store, store.objects(PREFIX))


def summary_of(store: SummaryStore, execution: str, days: Iterable[date] | None = None) -> Summaries:
    """The summary of one execution (``runs`` empty when there is none), looked for under
    ``<execution>.json`` in the given days' partitions, or in every partition. ``execution``
    is compared, never used as a pattern."""
    prefixes = [day_prefix(d) for d in days] if days is not None else [PREFIX]
    wanted = f"/{execution}.json"
    candidates = [(key, size) for prefix in prefixes for key, size in store.objects(prefix) if key.endswith(wanted)]
    found = read_summaries(store, candidates)
    found.runs = [s for s in found.runs if s.execution_name == execution]
    return found


def recent_summaries(store: SummaryStore, today: date, days: int = 7, limit: int = 50) -> Summaries:
    """The most recent run summaries of the last ``days`` days, newest first."""
    found = Summaries()
    for offset in range(days):
        day = summaries_of(store, today - timedelta(days=offset))
        found.skipped += day.skipped
        for summary in day.runs:
            if summary.execution_name not in found.keys:  # a run seen on a later day stays as read there
                found.runs.append(summary)
                found.keys[summary.execution_name] = day.keys[summary.execution_name]
        if len(found.runs) >= limit:
            break
    found.runs = sorted(found.runs, key=lambda s: s.start_time, reverse=True)[:limit]
    return found
