"""Reading what a Distributed Map's ResultWriter wrote, in AWS's layout:
``<Prefix>/<map-run-id>/manifest.json`` listing ``SUCCEEDED_n.json`` /
``FAILED_n.json`` / ``PENDING_n.json``, each a JSON array of child-execution
records whose ``Input`` and ``Output`` are JSON strings.

Result files can reach 5 GB, so records are streamed (ijson), never loaded whole;
a record holds one batch (at most 500 rows, under 256 KiB), so one record at a
time is the most that is ever in memory.

``rows_of`` is the one place that turns a record into the rows it stands for
(contract 4 shape, camelCase): the tally and the per-row dataset both read it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import ijson

from .models import HEADER_ALIASES, USER_ID_MAX_LENGTH, is_valid_user_id

if TYPE_CHECKING:
    from .logic.tally import RunTally

STATUSES = ("SUCCEEDED", "FAILED", "PENDING")
CAUSE_MAX = 300  # how much of a failed batch's Cause each of its rows repeats
PENDING_ERROR = "Pending"  # errorType of a row whose batch never ran

Row = dict[str, Any]


def read_manifest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return manifest


def iter_records(s3: Any, manifest: Mapping[str, Any], status: str) -> Iterator[dict[str, Any]]:
    """Every child-execution record of one status, file after file."""
    bucket = manifest["DestinationBucket"]
    for entry in (manifest.get("ResultFiles") or {}).get(status) or []:
        body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"]
        yield from ijson.items(body, "item", use_float=True)


def manifest_keys(s3: Any, bucket: str, execution_name: str) -> list[str]:
    """The manifests ResultWriter wrote for an execution (``results/<execution>/<map-run>/``).
    Used when the map failed and its output does not name the manifest."""
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"results/{execution_name}/"):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/manifest.json")]
    return keys


def _json_field(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _items(record: Mapping[str, Any]) -> list[Any]:
    data = _json_field(record, "Input") or {}
    if isinstance(data, dict):
        items = data.get("Items", [data])
        return items if isinstance(items, list) else [items]
    return [data]


def _cell(row: Mapping[str, Any], field: str) -> str | None:
    for name in HEADER_ALIASES.get(field, (field,)):
        value = row.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return None


def _line(item: Mapping[str, Any], index: int | None) -> int | None:
    row = item.get("row")
    raw = row.get("line") if isinstance(row, dict) else None
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return index + 2 if index is not None else None


def _item_row(item: Any, status: str, error_type: str, message: str | None) -> Row:
    """One row of a batch that has no worker answer (a FAILED or PENDING record)."""
    item = item if isinstance(item, dict) else {}
    index = item.get("index") if isinstance(item.get("index"), int) else None
    row = item.get("row") if isinstance(item.get("row"), dict) else {}
    uid = _cell(row, "user_id")
    out: Row = {"index": index, "line": _line(item, index), "status": status, "errorType": error_type}
    if uid is not None:
        out["userId" if is_valid_user_id(uid) else "rawUserId"] = uid[:USER_ID_MAX_LENGTH]
    if message:
        out["errorMessage"] = message
    return out


def rows_of(status: str, record: Mapping[str, Any]) -> Iterator[Row]:
    """The rows one ResultWriter record stands for, each a worker result dict:

    - SUCCEEDED: the worker's ``results`` as they are (APPLIED, FAILED, SUPERSEDED, SKIPPED);
    - FAILED (even reconciliation failed): every item FAILED, errorType = the record's Error;
    - PENDING (the batch never ran): every item PENDING, errorType ``Pending``.
    """
    if status == "SUCCEEDED":
        output = _json_field(record, "Output") or {}
        results = output.get("results") if isinstance(output, dict) else None
        for result in results or []:
            yield dict(result) if isinstance(result, dict) else {"status": "FAILED", "errorType": "InvalidItem"}
        return
    if status == "FAILED":
        error = str(record.get("Error") or "Unknown")
        cause = str(record.get("Cause") or "")[:CAUSE_MAX] or None
        for item in _items(record):
            yield _item_row(item, "FAILED", error, cause)
        return
    for item in _items(record):
        yield _item_row(item, "PENDING", PENDING_ERROR, None)


def tally_run(s3: Any, bucket: str, keys: list[str], on_row: Callable[[Row], None] | None = None) -> RunTally:
    """Count every row of the runs whose manifests are ``keys``; hand each row to
    ``on_row`` as well (the per-row dataset writer), in one pass over the files."""
    from .logic.tally import RunTally

    tally = RunTally()
    for key in keys:
        manifest = read_manifest(s3, bucket, key)
        for status in STATUSES:
            tally.add(status, iter_records(s3, manifest, status), on_row=on_row)
    return tally
