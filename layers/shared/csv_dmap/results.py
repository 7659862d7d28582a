"""Reading what a Distributed Map's ResultWriter wrote, in AWS's layout:
``<Prefix>/<map-run-id>/manifest.json`` listing ``SUCCEEDED_n.json`` /
``FAILED_n.json`` / ``PENDING_n.json``, each a JSON array of child-execution
records whose ``Input`` and ``Output`` are JSON strings
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).

Result files can reach 5 GB, so records are streamed (ijson), never loaded whole;
a record holds one batch (at most 500 rows, under 256 KiB), so one record at a
time is the most that is ever in memory.

``rows_of`` is the one place that turns a record into the rows it stands for
(worker result dicts, camelCase): the tally, the per-row dataset and the reject
file all read it. Nothing here trusts the files: ``RecordReader`` reads each
child once (by the index of its first item), and a record that cannot be read is
named, not counted, so that the run's row count shows the shortfall.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ijson

from .models import HEADER_ALIASES, USER_ID_MAX_LENGTH, RowStatus, is_valid_user_id, row_line, superseded_by

STATUSES = ("SUCCEEDED", "FAILED", "PENDING")  # SUCCEEDED first: a child that succeeded in any attempt wins
CAUSE_MAX = 300  # how much of a failed batch's Cause each of its rows repeats
NOT_RUN_ERROR = "NotRun"  # errorType of a row whose batch never ran (a PENDING record, or never read)
from .keys import results_prefix

Row = dict[str, Any]


class DamagedResults(Exception):
    """A manifest or result file that cannot be read; the message names the object."""


def read_manifest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ValueError as exc:
        raise DamagedResults(f"s3://{bucket}/{key} is not a ResultWriter manifest (not JSON: {exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("ResultFiles"), dict):
        raise DamagedResults(f"s3://{bucket}/{key} is not a ResultWriter manifest (no ResultFiles)")
    return manifest


def latest_manifest(s3: Any, bucket: str, execution_name: str) -> str | None:
    """The manifest of the execution's latest Map Run (``results/<execution>/<map-run>/``), or None.
    A redrive that starts a new Map Run leaves the old one's manifest beside it; the newest covers
    every item, so only it is read (reading both would count rows twice)."""
    newest: tuple[Any, str] | None = None
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=results_prefix(execution_name)):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/manifest.json") and (newest is None or (obj["LastModified"], obj["Key"]) > newest):
                newest = (obj["LastModified"], obj["Key"])
    return newest[1] if newest else None


def _json_field(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def record_items(record: Mapping[str, Any]) -> list[Any]:
    """The items of a child's input: a batch's ``Items``."""
    data = _json_field(record, "Input")
    if isinstance(data, dict) and isinstance(data.get("Items"), list):
        return list(data["Items"])
    return []


def _index(item: Any) -> int | None:
    index = item.get("index") if isinstance(item, dict) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def first_index(record: Mapping[str, Any]) -> int | None:
    """The index of the child's first item: what identifies one child across attempts and files
    (from its input's items, else from the worker's answer)."""
    indexes = [i for i in map(_index, record_items(record)) if i is not None]
    if not indexes:
        output = _json_field(record, "Output")
        results = output.get("results") if isinstance(output, dict) else None
        indexes = [i for i in map(_index, results if isinstance(results, list) else []) if i is not None]
    return min(indexes) if indexes else None


def _cell(row: Mapping[str, Any], name: str) -> str | None:
    for alias in HEADER_ALIASES.get(name, (name,)):
        value = row.get(alias)
        if value not in (None, ""):
            return str(value).strip()
    return None


def _cause_message(cause: Any) -> str | None:
    """The readable part of a Cause: a Lambda error's ``errorMessage``, else the text."""
    text = str(cause or "")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errorMessage"), str):
        text = data["errorMessage"]
    return text[:CAUSE_MAX] or None


def not_run_row(item: Any, error_type: str, message: str | None) -> Row:
    """One row of a batch that has no worker answer: PENDING, not applied, with why; with
    ``supersededBy`` when ValidateInput's note says a later row of the same user decides (the
    batch would have reported it SUPERSEDED, and the reject file leaves it out)."""
    item = item if isinstance(item, dict) else {}
    index = _index(item)
    row = item.get("row") if isinstance(item.get("row"), dict) else {}
    uid = _cell(row, "user_id")
    line = row_line(row, index) if index is not None else None
    out: Row = {"index": index, "line": line, "status": RowStatus.PENDING.value, "errorType": error_type}
    later = superseded_by(str(row.get("note") or ""))
    if later is not None:
        out["supersededBy"] = later
    if uid is not None:
        if is_valid_user_id(uid):
            out["userId"] = uid
        else:
            out["rawUserId"] = uid[: USER_ID_MAX_LENGTH + 1]
    if message:
        out["errorMessage"] = message
    return out


def rows_of(status: str, record: Mapping[str, Any]) -> list[Row]:
    """The rows one ResultWriter record stands for, each a worker result dict:

    - SUCCEEDED: the worker's ``results`` (APPLIED, FAILED, SUPERSEDED, SKIPPED), one per item;
    - FAILED (the batch failed as a whole, after its retries and the reconciliation: it did not
      commit): every item PENDING, errorType = the child's Error, errorMessage = its Cause's message;
    - PENDING (the child never ran): every item PENDING, errorType ``NotRun``.

    ``DamagedResults`` when a SUCCEEDED record's output is not the worker's answer for its items.
    """
    items = record_items(record)
    if status == "SUCCEEDED":
        output = _json_field(record, "Output")
        results = output.get("results") if isinstance(output, dict) else None
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise DamagedResults("its Output is not the worker's answer (no list of results)")
        if items and len(results) != len(items):
            raise DamagedResults(f"its Output has {len(results)} results for {len(items)} items")
        return [dict(r) for r in results]
    if status == "FAILED":
        error = str(record.get("Error") or "BatchFailed")[:48]
        message = _cause_message(record.get("Cause"))
        return [not_run_row(item, error, message) for item in items]
    return [not_run_row(item, NOT_RUN_ERROR, "the batch never ran") for item in items]


@dataclass
class ReadProblems:
    """What ``RecordReader`` skipped, each named: the run's summary and alert say it."""

    duplicate_records: int = 0
    duplicate_files: int = 0
    damaged: list[str] = field(default_factory=list)  # "<file>: <what>", the first few

    def note(self, text: str) -> None:
        if len(self.damaged) < 5:
            self.damaged.append(text)
        else:
            self.damaged[-1] = f"{text} (and more)"

    @property
    def any(self) -> bool:
        return bool(self.duplicate_records or self.duplicate_files or self.damaged)


@dataclass
class RecordReader:
    """Every child of one manifest, once: a file listed twice is read once, a record whose first
    item was already read (listed twice, or a child that failed in an earlier attempt and
    succeeded in a later one) is skipped, and a record that cannot be read is named."""

    s3: Any
    bucket: str
    manifest_key: str
    problems: ReadProblems = field(default_factory=ReadProblems)
    seen: set[int] = field(default_factory=set)
    batches: int = 0
    failed_batches: int = 0

    def rows(self) -> Iterator[Row]:
        manifest = read_manifest(self.s3, self.bucket, self.manifest_key)
        bucket = str(manifest.get("DestinationBucket") or self.bucket)
        files: set[str] = set()
        for status in STATUSES:
            for entry in manifest["ResultFiles"].get(status) or []:
                key = entry.get("Key") if isinstance(entry, dict) else None
                if not isinstance(key, str):
                    self.problems.note(f"s3://{self.bucket}/{self.manifest_key}: a {status} entry names no Key")
                    continue
                if key in files:
                    self.problems.duplicate_files += 1
                    continue
                files.add(key)
                yield from self._file_rows(status, bucket, key)

    def _file_rows(self, status: str, bucket: str, key: str) -> Iterator[Row]:
        where = f"s3://{bucket}/{key}"
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
            for number, record in enumerate(ijson.items(body, "item", use_float=True)):
                yield from self._record_rows(status, record, f"{where} record {number}")
        except ijson.JSONError as exc:
            self.problems.note(f"{where}: not a JSON array of records ({exc})")
        except Exception as exc:
            if type(exc).__name__ in ("NoSuchKey", "ClientError"):
                self.problems.note(f"{where}: cannot be read ({exc})")
                return
            raise

    def _record_rows(self, status: str, record: Any, where: str) -> Iterator[Row]:
        if not isinstance(record, dict):
            self.problems.note(f"{where}: not a child execution record")
            return
        first = first_index(record)
        if first is None:
            self.problems.note(f"{where}: names no items (neither its Input nor its Output)")
            return
        if first in self.seen:
            self.problems.duplicate_records += 1
            return
        try:
            rows = rows_of(status, record)
        except DamagedResults as exc:
            self.problems.note(f"{where} (items from {first}): {exc}")
            return
        self.seen.add(first)
        self.batches += 1
        self.failed_batches += status == "FAILED"
        yield from rows
