"""The local data directory (``.local/data``): the one module that writes it.

S3 of a local run lives only as long as the run (``local_aws``), and ``.local/out`` is rewritten by
every run, so after each run (and each redrive) the runner copies what later questions need into
``.local/data``, kept until ``make clean-local``, under the same keys as in the results bucket:

    rows/execution_date=YYYY-MM-DD/<execution>/part-NNNNN.json.gz    per-row results
    summaries/date=YYYY-MM-DD/<execution>.json                        run summary
    daily-reports/...
    rejects/execution_date=YYYY-MM-DD/<execution>.csv                the rows not applied (reject file)
    audit/<execution>.jsonl                                           the run's audit records
    running/<execution>.json        a running map's counts (DescribeMapRun's shape), while it runs
    executions/<execution>/         a failed run's redrive kit (``local_runner.redrive``)
    locks/<execution>.lock          held while a run or a redrive of the execution writes

``csv-dmap --local`` (``csv_dmap_cli``) reads it, its run summaries through ``DirectorySummaries``. It lives here, in ``local_runner``, because the
runs write it and the dependency order is csv_dmap < asl_runner < local_runner < csv_dmap_cli: the
CLI may import the runner, never the other way round.

Every file is written whole under a temporary name of its own (process, thread, random) and
renamed into place, so concurrent writers (map worker threads, two redrives, two runs) never share
a temporary file and a reader never sees half a file.

A run's audit records are read **by key**, never by scanning the table (which holds every run
until ``make clean-local``): the keys of an execution's items derive from its rows
(``csv_dmap.audit``, docs/audit-table.md), which its ResultWriter files list. Rows under a user's
key (``U#<user>``) are fetched with BatchGetItem; the execution's own 64 keys (``E#<execution>#nn``:
superseded rows and rows without a valid user id) with one Query each.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from itertools import batched
from pathlib import Path
from typing import IO, Any

from asl_runner.cli import CannotRun

from .template import local_root

DATA_ENV = "CSV_DMAP_LOCAL_DATA"
BATCH_GET_LIMIT = 100  # BatchGetItem takes at most 100 keys
READS_IN_FLIGHT = 4


def local_data_dir() -> Path:
    """``$CSV_DMAP_LOCAL_DATA``, else ``<checkout>/.local/data``."""
    return Path(os.environ.get(DATA_ENV) or local_root() / "data")


# ----------------------------------------------------------------------------- reading summaries


class DirectorySummaries:
    """The local data directory as a ``csv_dmap.summaries.SummaryStore``: it holds the results
    bucket's keys as files (``summaries/date=YYYY-MM-DD/<execution>.json``)."""

    def __init__(self, root: Path):
        self.root = root

    def objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):  # the pattern is fixed: no name the user gave is a pattern
            if path.is_file():
                yield path.relative_to(self.root).as_posix(), path.stat().st_size

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


# ----------------------------------------------------------------------------- writing files


def temporary_name(path: Path) -> Path:
    """A temporary name beside ``path`` that no other writer (process or thread) uses."""
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` whole or not at all: a temporary file of this writer's own, renamed into
    place when the block ends without an error (removed when it raises)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_file(path) as fh:
        fh.write(text)


class Busy(CannotRun):
    """Another process holds the execution (a run or a redrive of it is under way)."""


@contextlib.contextmanager
def execution_lock(execution_name: str, data_dir: Path | None = None) -> Iterator[None]:
    """Hold the execution for this process while it writes its data, kit or progress; another
    holder is ``Busy`` at once (one line), never a wait or a race on the same files."""
    path = (data_dir or local_data_dir()) / "locks" / f"{execution_name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(
                f"execution {execution_name} is being run or redriven by another process: wait until it ends"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- S3 and the audit table


def object_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under ``prefix``, page after page."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def download(s3: Any, bucket: str, key: str, path: Path) -> None:
    """One object to ``path``, atomically, streamed a MiB at a time. (One GetObject, not
    s3transfer's ranged download: s3rver answers a ranged GET of an empty object with a byte.)"""
    import shutil

    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with atomic_file(path, "wb") as fh:
            shutil.copyfileobj(body, fh, 1 << 20)
    finally:
        body.close()


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


def _execution_rows(s3: Any, bucket: str, execution_name: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(start time, rows) of the execution's latest Map Run, as its ResultWriter files list them
    (``csv_dmap.results.RecordReader``: each child once), streamed, a batch of rows at a time."""
    from csv_dmap.results import RecordReader, latest_manifest, read_manifest

    key = latest_manifest(s3, bucket, execution_name)
    if key is None:
        return
    start = _start_time(s3, read_manifest(s3, bucket, key))
    if not start:
        return
    for rows in batched(RecordReader(s3, bucket, key).rows(), 500, strict=False):
        yield start, list(rows)


def _start_time(s3: Any, manifest: dict[str, Any]) -> str:
    """``$$.Execution.StartTime`` of the run (the sort keys' prefix), from the BatchInput of the
    first record of its result files; "" when no record holds it."""
    import ijson

    for status in ("SUCCEEDED", "FAILED"):
        for entry in manifest["ResultFiles"].get(status) or []:
            body = s3.get_object(Bucket=manifest.get("DestinationBucket"), Key=entry["Key"])["Body"]
            for record in ijson.items(body, "item", use_float=True):
                data = json.loads(record.get("Input") or "{}") if isinstance(record, dict) else {}
                start = (data.get("BatchInput") or {}).get("executionStartTime") if isinstance(data, dict) else None
                body.close()
                return str(start or "")
    return ""


def user_keys(batches: Iterable[tuple[str, list[dict[str, Any]]]], execution_name: str) -> Iterator[tuple[str, str]]:
    """(pk, sk) of every row's item that lives under a user's key, built by the layer's one
    builder (``csv_dmap.audit.audit_items``) from the rows as the worker reported them (rows of a
    batch that never committed have no item)."""
    from csv_dmap.audit import USER_PREFIX, audit_items
    from csv_dmap.models import AUDITED_STATUSES

    for start, rows in batches:
        results = [row for row in rows if row.get("status") in AUDITED_STATUSES and row.get("index") is not None]
        if not results:
            continue
        items = audit_items(results, execution_name=execution_name, execution_start=start, source_key="", ttl_days=0)
        for item in items:
            if str(item["pk"]).startswith(USER_PREFIX):
                yield str(item["pk"]), str(item["sk"])


def execution_items(
    s3: Any,
    bucket: str,
    dynamodb: Any,
    table: str,
    execution_name: str,
    on_read: Callable[[int], None] | None = None,
    in_flight: int = READS_IN_FLIGHT,
) -> Iterator[dict[str, Any]]:
    """The execution's audit items as DynamoDB stores them (typed JSON), read by key: the items
    under its users' keys (BatchGetItem, 100 keys a call, ``in_flight`` calls at a time so that the
    server works while this process parses), then the items under its own 64 keys (one Query
    each). Nothing of another execution is read. ``on_read(n)`` after each call."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from csv_dmap.audit import SHARDS, execution_partition_key

    keys = (
        {"pk": {"S": pk}, "sk": {"S": sk}}
        for pk, sk in user_keys(_execution_rows(s3, bucket, execution_name), execution_name)
    )
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="audit-export") as pool:
        pending: list[Future[list[dict[str, Any]]]] = []
        for chunk in batched(keys, BATCH_GET_LIMIT, strict=False):
            pending.append(pool.submit(_batch_get, dynamodb, table, list(chunk), on_read))
            if len(pending) >= in_flight:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()
    paginator = dynamodb.get_paginator("query")
    for shard in range(SHARDS):
        for page in paginator.paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": execution_partition_key(execution_name, shard)}},
        ):
            items = page.get("Items", [])
            if on_read:
                on_read(len(items))
            yield from items


def _batch_get(
    dynamodb: Any, table: str, keys: list[dict[str, Any]], on_read: Callable[[int], None] | None
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {table: {"Keys": keys}}
    while request:
        answer = dynamodb.batch_get_item(RequestItems=request)
        items = answer.get("Responses", {}).get(table, [])
        if on_read:
            on_read(len(items))
        found += items
        request = answer.get("UnprocessedKeys") or {}
    return found


def audit_records(items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Stored items (typed JSON) as readers see them (``AuditLogReader``'s shape)."""
    from boto3.dynamodb.types import TypeDeserializer

    from csv_dmap.audit import item_record

    deserializer = TypeDeserializer()
    for raw in items:
        yield plain(item_record({k: deserializer.deserialize(v) for k, v in raw.items()}))


# ----------------------------------------------------------------------------- a run's data


def audit_path(execution_name: str, data_dir: Path | None = None) -> Path:
    return (data_dir or local_data_dir()) / "audit" / f"{execution_name}.jsonl"


def export_local(
    *,
    s3: Any,
    bucket: str,
    execution_name: str,
    dynamodb: Any | None = None,
    audit_table: str | None = None,
    data_dir: Path | None = None,
    on_audit: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Copy one run's rows, summary, the daily reports and its audit records into the local data
    directory. Re-exporting the same run overwrites its files (idempotent). Returns how many files
    / audit records were written, by kind; ``on_audit(n)`` as audit items are read."""
    from csv_dmap import keys

    target = data_dir or local_data_dir()
    counts = {"rows": 0, "summaries": 0, "daily-reports": 0, "rejects": 0, "audit": 0}
    for stale in target.glob(keys.rejects_files(execution_name)):  # a later attempt may have left none
        stale.unlink()
    for prefix in (keys.ROWS, keys.SUMMARIES, keys.DAILY_REPORTS, keys.REJECTS):
        for key in object_keys(s3, bucket, prefix):
            if keys.of_execution(key, execution_name):  # daily reports are per day: the latest copy wins
                download(s3, bucket, key, target / key)
                counts[prefix.rstrip("/")] += 1
    if dynamodb is not None and audit_table:
        with atomic_file(audit_path(execution_name, target)) as fh:
            items = execution_items(s3, bucket, dynamodb, audit_table, execution_name, on_audit)
            for record in audit_records(items):
                fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                counts["audit"] += 1
    return counts


# ----------------------------------------------------------------------------- a running map


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
    """A running local map's counts, shaped like DescribeMapRun (replaced whole)."""
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
    write_text(progress_path(execution_name, data_dir), json.dumps(body))


def read_map_progress(execution_name: str, data_dir: Path | None = None) -> dict[str, Any] | None:
    path = progress_path(execution_name, data_dir)
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    body["startDate"] = datetime.fromisoformat(body["startDate"])
    return body


def clear_map_progress(execution_name: str, data_dir: Path | None = None) -> None:
    progress_path(execution_name, data_dir).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- after a run


def keep_for_analysis(env: Any, execution_name: str, data_dir: Path | None = None, rows: int = 0) -> dict[str, int]:
    """The execution's rows, summary, reports and audit records into the local data directory,
    while the run's S3 still holds them; with a bar over the audit records when the run shows
    progress (``rows``: how many to expect)."""
    phases = env.phases
    bar = None
    if phases.show and rows:
        from tqdm import tqdm

        bar = tqdm(total=rows, unit="items", desc="audit records", file=sys.stderr, smoothing=0.1)
    target = data_dir or local_data_dir()
    phases.start("keep", f"copying the run's results and audit records (read by key) into {target}")
    try:
        counts = export_local(
            s3=env.client("s3"),
            bucket=env.physical_name("ResultsBucket"),
            execution_name=execution_name,
            dynamodb=reader_client(env),
            audit_table=env.physical_name("AuditTable"),
            data_dir=target,
            on_audit=bar.update if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()
    phases.end("keep", f"{counts['audit']:,} audit records, {counts['rows']} row files")
    return counts


def reader_client(env: Any) -> Any:
    """The export's DynamoDB client: botocore's client-side check of every request is a third of
    a BatchGetItem's cost here, and the keys it sends are built by the layer (the server checks
    them all the same); as many connections as reads in flight."""
    from botocore.config import Config

    return env.client("dynamodb", config=Config(parameter_validation=False, max_pool_connections=READS_IN_FLIGHT + 2))


def export_out(
    env: Any, out_dir: Path, execution_name: str, data_dir: Path | None = None
) -> tuple[Path, Path, int | None]:
    """``.local/out``: every object of the run's S3 under ``out_dir/s3/<bucket>/<key>``, and the
    run's audit records as ``out_dir/audit.jsonl``, a copy of what ``keep_for_analysis`` wrote
    (the audit table is read once per run). Returns the two paths and the number of records."""
    import shutil

    with env.phases.phase("out", f"writing the run's objects and audit records to {out_dir}"):
        s3_dir = out_dir / "s3"
        s3 = env.client("s3")
        for bucket in s3.list_buckets()["Buckets"]:
            for key in object_keys(s3, bucket["Name"], ""):
                download(s3, bucket["Name"], key, s3_dir / bucket["Name"] / key)
        source, target = audit_path(execution_name, data_dir), out_dir / "audit.jsonl"
        count = None
        if source.is_file():
            shutil.copyfile(source, target)
            with open(target, "rb") as fh:
                count = sum(1 for _ in fh)
    return s3_dir, target, count
