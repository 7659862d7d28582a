"""Where the local runs' analysable data accumulates, and how a run puts it there.

``make run`` serves S3 and DynamoDB with moto, which forgets everything when the run
ends; ``.local/out`` is rewritten by every run. So after each run the runner copies
the run's analysable objects into ``.local/data`` (kept until ``make clean``), under
the same keys as in the results bucket, and its audit items as JSON Lines:

    .local/data/rows/execution_date=YYYY-MM-DD/<execution>/part-NNNNN.json.gz
    .local/data/summaries/date=YYYY-MM-DD/<execution>.json
    .local/data/daily-reports/...
    .local/data/rejects/execution_date=YYYY-MM-DD/<execution>.csv
    .local/data/audit/<execution>.jsonl

``local_runner/run.py`` calls, after the state machine finished and while moto still runs::

    from csv_dmap_cli.localdata import export_local
    export_local(s3=env.client("s3"), bucket=env.physical_name("ResultsBucket"), execution_name=name,
                 dynamodb=env.client("dynamodb"), audit_table=env.physical_name("AuditTable"))

While the map runs, the runner may also leave its progress where ``csv-dmap --local status``
finds it (``.local/data/running/<execution>.json``, DescribeMapRun's shape)::

    write_map_progress(name, total=total_rows, succeeded=ok_rows, failed=bad_rows, started=map_start)
    ...                                   # from RunOptions.on_batch_done, after each batch
    clear_map_progress(name)              # when the run has ended
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import ROOT

DATA_ENV = "CSV_DMAP_LOCAL_DATA"
PREFIXES = ("rows/", "summaries/", "daily-reports/", "rejects/")


def local_data_dir() -> Path:
    """``$CSV_DMAP_LOCAL_DATA``, else ``<checkout>/.local/data``."""
    return Path(os.environ.get(DATA_ENV) or ROOT / ".local" / "data")


def _belongs_to(key: str, execution_name: str) -> bool:
    if key.startswith("rows/"):
        return f"/{execution_name}/" in key
    if key.startswith("summaries/"):
        return key.endswith(f"/{execution_name}.json")
    if key.startswith("rejects/"):
        return key.endswith(f"/{execution_name}.csv")
    return True  # daily reports are per day: the latest copy wins


def object_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under ``prefix``, page after page."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as ints/floats, sets as sorted lists (for JSON)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def execution_items(dynamodb: Any, table: str, execution_name: str) -> Iterator[dict[str, Any]]:
    """The run's audit items as DynamoDB stores them (typed JSON), found by scanning
    (locally the table holds a handful of runs)."""
    from boto3.dynamodb.types import TypeDeserializer

    from csv_dmap.audit import item_record

    deserializer = TypeDeserializer()
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        for raw in page.get("Items", []):
            if (
                item_record({k: deserializer.deserialize(v) for k, v in raw.items()}).get("executionName")
                == execution_name
            ):
                yield raw


def _audit_items(dynamodb: Any, table: str, execution_name: str) -> Iterator[dict[str, Any]]:
    """The run's audit records (contract 5, as ``AuditLogReader`` gives them)."""
    from boto3.dynamodb.types import TypeDeserializer

    from csv_dmap.audit import item_record

    deserializer = TypeDeserializer()
    for raw in execution_items(dynamodb, table, execution_name):
        yield plain(item_record({k: deserializer.deserialize(v) for k, v in raw.items()}))


def export_local(
    *,
    s3: Any,
    bucket: str,
    execution_name: str,
    dynamodb: Any | None = None,
    audit_table: str | None = None,
    data_dir: Path | None = None,
) -> dict[str, int]:
    """Copy one run's rows, summary, the daily reports and its audit items into the
    local data directory. Re-exporting the same run overwrites its files (idempotent).
    Returns how many files / audit items were written, by kind."""
    target = data_dir or local_data_dir()
    counts = {"rows": 0, "summaries": 0, "daily-reports": 0, "rejects": 0, "audit": 0}
    for stale in target.glob(f"rejects/*/{execution_name}.csv"):  # a later attempt may have left none
        stale.unlink()
    for prefix in PREFIXES:
        for key in object_keys(s3, bucket, prefix):
            if not _belongs_to(key, execution_name):
                continue
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
            counts[prefix.rstrip("/")] += 1
    if dynamodb is not None and audit_table:
        path = target / "audit" / f"{execution_name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for item in _audit_items(dynamodb, audit_table, execution_name):
                fh.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
                counts["audit"] += 1
        tmp.replace(path)
    return counts


def progress_path(execution_name: str, data_dir: Path | None = None) -> Path:
    return (data_dir or local_data_dir()) / "running" / f"{execution_name}.json"


def write_map_progress(
    execution_name: str,
    *,
    total: int,
    succeeded: int,
    failed: int,
    started: datetime,
    running: int = 0,
    data_dir: Path | None = None,
) -> None:
    """A running local map's counts, shaped like DescribeMapRun (atomically replaced)."""
    path = progress_path(execution_name, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = succeeded + failed
    body = {
        "status": "RUNNING",
        "startDate": started.isoformat(),
        "itemCounts": {
            "total": total,
            "succeeded": succeeded,
            "failed": failed,
            "running": running,
            "pending": max(0, total - done - running),
            "timedOut": 0,
            "aborted": 0,
            "resultsWritten": done,
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    tmp.replace(path)


def read_map_progress(execution_name: str, data_dir: Path | None = None) -> dict[str, Any] | None:
    path = progress_path(execution_name, data_dir)
    if not path.is_file():
        return None
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    body["startDate"] = datetime.fromisoformat(body["startDate"])
    return body


def clear_map_progress(execution_name: str, data_dir: Path | None = None) -> None:
    progress_path(execution_name, data_dir).unlink(missing_ok=True)
