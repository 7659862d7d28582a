"""The audit log in DynamoDB: one item per CSV row (every status), kept by TTL.

Key design (template.yaml ``AuditTable``; the reasoning and the figures are in
docs/audit-table.md):

- base table ``pk`` (HASH) + ``sk`` (RANGE), ``sk = <start>#<execution>#<line:010d>``
  where ``<start>`` is the execution's start time, UTC, fixed width, so text
  order is time order;
- the deciding row of a user (APPLIED, SKIPPED, or FAILED with a valid user id:
  any row that is not SUPERSEDED) lives under ``pk = U#<userId>``: one write per
  user key per run, and "history of user X since T" is ONE Query
  (``pk = U#X AND sk >= T``, newest first);
- every other row (SUPERSEDED rows, rows without a valid user id) lives under
  ``pk = E#<execution>#<index mod 64>``: consecutive row indexes cycle through the
  64 keys, so each key takes at most ceil(n/64) of an n-row run's writes, at
  every moment of the run, not just on average;
- FAILED rows also carry ``failedPk = <execution>#<index mod 64>``, the key of the
  sparse GSI ``FailedItemsIndex``: "failed rows of execution Y" is a fixed
  fan-out of 64 Queries that read failed rows only. APPLIED rows enter no
  index: one write unit each (items stay under 1 KB by construction);
- keys derive only from execution name, start time, row index/line and user
  id: a retried or reconciled batch overwrites its own items;
- ``ttl``: epoch seconds, execution start + ``ttl_days``.

Writes retry throttling, 5xx, connection errors and UnprocessedItems with
exponential backoff and full jitter inside a fixed time budget, then raise
``AuditWriteError`` (the ASL retries the batch). A request DynamoDB refuses
(ValidationException, ...) raises ``AuditWriteRejected`` at once. The worker's
call, ``write_results_report``, reports instead of raising (``AuditReport``: which rows'
items are missing, and the error): the worker raises it, except in
ReconcileBatch, where the results say ``auditMissing``. ``write_results`` (the
aggregator's call, rewriting those items) raises as ``write_items`` does. Rows a replayed batch can
no longer answer in full are written only where no item exists (a conditional
PutItem): the first attempt's item stands and is reported back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .errors import AuditWriteError, AuditWriteRejected
from .models import AUDITED_STATUSES, AuditReport, RowStatus, is_valid_user_id, row_line

# ----------------------------------------------------------------------------- keys

SHARDS = 64  # E#... keys and FailedItemsIndex keys per execution (see docs/audit-table.md)
USER_PREFIX = "U#"
EXECUTION_PREFIX = "E#"
FAILED_INDEX = "FailedItemsIndex"
FAILED_KEY = "failedPk"


_MOMENT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MOMENT_WIDTH = 27  # len("2026-11-22T00:30:00.000000Z")
LINE_WIDTH = 10

# Caps that keep an APPLIED item under 1 KB even with an 80-character execution
# name in 4-byte characters (docs/audit-table.md has the arithmetic).
SOURCE_KEY_MAX_BYTES = 400
RAW_USER_ID_MAX_BYTES = 128
ERROR_MESSAGE_MAX_BYTES = 512

_NUMBER_FIELDS = ("oldLoginCount", "newLoginCount", "oldPostCount", "newPostCount", "supersededBy")


def format_moment(moment: datetime | str) -> str:
    """A moment as the fixed-width UTC text used in sort keys (sorts as time)."""
    return parse_moment(moment).strftime(_MOMENT_FORMAT)


def parse_moment(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime (naive = UTC) or an ISO 8601 text
    such as ``$$.Execution.StartTime`` (``2026-11-22T00:30:00.123Z``)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shard_of(index: int) -> int:
    return index % SHARDS


def sort_key(stamp: str, execution_name: str, line: int) -> str:
    return f"{stamp}#{execution_name}#{line:0{LINE_WIDTH}d}"


def user_partition_key(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def execution_partition_key(execution_name: str, shard: int) -> str:
    return f"{EXECUTION_PREFIX}{execution_name}#{shard:02d}"


def failed_partition_key(execution_name: str, shard: int) -> str:
    return f"{execution_name}#{shard:02d}"


def cap_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, ending in ``…`` when cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


# ----------------------------------------------------------------------------- items


def audit_items(
    results: Sequence[Mapping[str, Any]],
    *,
    execution_name: str,
    execution_start: datetime | str,
    source_key: str,
    ttl_days: int,
) -> list[dict[str, Any]]:
    """The audit items of a batch, built from the worker's result dicts
    (camelCase, None fields omitted: docs/contracts.md, "Worker output"). The one place items are built."""
    start = parse_moment(execution_start)
    context = _BatchContext(
        execution_name=execution_name,
        stamp=start.strftime(_MOMENT_FORMAT),
        ttl=int(start.timestamp()) + ttl_days * 86_400,
        source_key=cap_utf8(source_key, SOURCE_KEY_MAX_BYTES),
    )
    return [context.item(result) for result in results]


class _BatchContext:
    def __init__(self, *, execution_name: str, stamp: str, ttl: int, source_key: str) -> None:
        if not execution_name:
            raise ValueError("audit items need an execution name")
        self.execution_name = execution_name
        self.stamp = stamp
        self.ttl = ttl
        self.source_key = source_key

    def item(self, result: Mapping[str, Any]) -> dict[str, Any]:
        index = int(result["index"])
        line = row_line(result, index)
        status = str(result["status"])
        if status not in AUDITED_STATUSES:
            raise ValueError(f"audit item for line {line}: unknown status {status!r}")
        item: dict[str, Any] = {
            **self._identity(result, index, status),
            "sk": sort_key(self.stamp, self.execution_name, line),
            "status": status,
            "rowIndex": index,
            "ttl": self.ttl,
            "sourceKey": self.source_key,
        }
        item.update(_details(result))
        if status == RowStatus.FAILED:
            item[FAILED_KEY] = failed_partition_key(self.execution_name, shard_of(index))
        return item

    def _identity(self, result: Mapping[str, Any], index: int, status: str) -> dict[str, Any]:
        """``pk`` and who the row is about. The deciding row of a valid user (not
        SUPERSEDED) goes under the user's key, which carries the id; every other
        row goes to one of the execution's SHARDS keys and carries the id itself."""
        user_id = result.get("userId")
        if isinstance(user_id, str) and is_valid_user_id(user_id):
            if status != RowStatus.SUPERSEDED and result.get("supersededBy") is None:
                return {"pk": user_partition_key(user_id)}
            return {"pk": execution_partition_key(self.execution_name, shard_of(index)), "userId": user_id}
        identity: dict[str, Any] = {"pk": execution_partition_key(self.execution_name, shard_of(index))}
        raw = result.get("rawUserId", user_id)  # a userId that is not a valid id is what the row said
        if raw:
            identity["rawUserId"] = cap_utf8(str(raw), RAW_USER_ID_MAX_BYTES)
        return identity


def _details(result: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {name: int(result[name]) for name in _NUMBER_FIELDS if result.get(name) is not None}
    if result.get("errorType"):
        details["errorType"] = str(result["errorType"])
    if result.get("errorMessage"):
        details["errorMessage"] = cap_utf8(str(result["errorMessage"]), ERROR_MESSAGE_MAX_BYTES)
    return details


def item_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item as readers see it (docs/contracts.md, "Audit log"): the key parts spelled out
    (executionName, timestamp, line, userId) and the storage keys dropped."""
    sk = str(item["sk"])
    pk = str(item["pk"])
    record: dict[str, Any] = {
        "executionName": sk[MOMENT_WIDTH + 1 : -(LINE_WIDTH + 1)],
        "timestamp": sk[:MOMENT_WIDTH],
        "line": int(sk[-LINE_WIDTH:]),
    }
    if pk.startswith(USER_PREFIX):
        record["userId"] = pk[len(USER_PREFIX) :]
    for name, value in item.items():
        if name in ("pk", "sk", FAILED_KEY, "ttl"):
            continue
        record[name] = int(value) if isinstance(value, Decimal) else value
    return record


# ----------------------------------------------------------------------------- writing

BATCH_WRITE_LIMIT = 25  # BatchWriteItem accepts at most 25 put requests
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class _ChunkOutcome:
    calls: int
    left: list[dict[str, Any]] = field(default_factory=list)  # put requests still unwritten at the end
    problem: str = ""
    rejected: AuditWriteRejected | None = None
    kept: dict[int, dict[str, Any]] = field(default_factory=dict)  # row index -> the item left standing


def _row_index(request: Mapping[str, Any]) -> int:
    return int(request["PutRequest"]["Item"]["rowIndex"]["N"])


def retryable(error: ClientError) -> bool:
    """Throttling and server-side errors are worth another attempt; the rest
    (ValidationException, ResourceNotFoundException, AccessDenied...) are not."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code in RETRYABLE_ERROR_CODES or status >= 500


class AuditLogWriter:
    """Writes audit items with BatchWriteItem, 25 at a time, ``concurrency``
    chunks at once (a 500-row batch is 20 calls; boto3 clients are thread-safe).

    Each chunk is retried on throttling, 5xx, connection errors and
    UnprocessedItems with exponential backoff and full jitter
    (``uniform(0, min(max_delay, base_delay * 2**attempt))``), for at most
    ``max_attempts`` calls and never past ``budget_seconds`` after the write
    began. What is still unwritten then raises ``AuditWriteError``."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        max_attempts: int = 10,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        budget_seconds: float = 30.0,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.budget_seconds = budget_seconds
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._pool: ThreadPoolExecutor | None = None

    def write_items(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Write every item (a later item with the same key replaces an earlier
        one, as a retry would); return the number of BatchWriteItem calls made.

        Every chunk runs to its end (written, refused or out of attempts) before
        this returns or raises: nothing is still writing after a failure."""
        requests = _put_requests(items)
        outcomes = self._write(requests, [])
        error = _failure(outcomes, len(requests), self.budget_seconds)
        if error is not None:
            raise error
        return sum(outcome.calls for outcome in outcomes)

    def _write(self, requests: list[dict[str, Any]], guarded: list[dict[str, Any]]) -> list[_ChunkOutcome]:
        """Put ``requests`` with BatchWriteItem (25 a call) and each of ``guarded`` with a
        PutItem that writes only where no item exists, ``concurrency`` calls at once."""
        deadline = self._clock() + self.budget_seconds
        tasks: list[Callable[[], _ChunkOutcome]] = [
            partial(self._write_chunk, requests[i : i + BATCH_WRITE_LIMIT], deadline)
            for i in range(0, len(requests), BATCH_WRITE_LIMIT)
        ]
        tasks += [partial(self._put_guarded, request, deadline) for request in guarded]
        if self.concurrency == 1 or len(tasks) < 2:
            return [task() for task in tasks]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="audit")
        futures = [self._pool.submit(task) for task in tasks]
        wait(futures)
        return [future.result() for future in futures]

    def _write_chunk(self, requests: list[dict[str, Any]], deadline: float) -> _ChunkOutcome:
        pending = requests
        calls = 0
        problem = ""
        for attempt in range(self.max_attempts):
            if attempt and not self._back_off(attempt, deadline):
                break
            calls += 1
            try:
                response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            except ClientError as err:
                if not retryable(err):
                    return _ChunkOutcome(calls, pending, "", _rejected(err))
                problem = str(err.response.get("Error", {}).get("Code", "ClientError"))
                continue
            except (BotoConnectionError, HTTPClientError) as err:
                problem = type(err).__name__
                continue
            pending = list((response.get("UnprocessedItems") or {}).get(self.table_name, []))
            if not pending:
                return _ChunkOutcome(calls)
            problem = f"{len(pending)} UnprocessedItems"
        return _ChunkOutcome(calls, pending, problem)

    def _put_guarded(self, request: dict[str, Any], deadline: float) -> _ChunkOutcome:
        """PutItem where no item has the key yet; an item in place is kept and reported."""
        item = request["PutRequest"]["Item"]
        calls = 0
        problem = ""
        for attempt in range(self.max_attempts):
            if attempt and not self._back_off(attempt, deadline):
                break
            calls += 1
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return _ChunkOutcome(calls)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    existing = {k: _deserializer.deserialize(v) for k, v in (err.response.get("Item") or {}).items()}
                    kept = item_record(existing) if existing else {}
                    return _ChunkOutcome(calls, kept={_row_index(request): kept})
                if not retryable(err):
                    return _ChunkOutcome(calls, [request], "", _rejected(err))
                problem = str(err.response.get("Error", {}).get("Code", "ClientError"))
            except (BotoConnectionError, HTTPClientError) as err:
                problem = type(err).__name__
        return _ChunkOutcome(calls, [request], problem)

    def _back_off(self, attempt: int, deadline: float) -> bool:
        """Sleep before retry ``attempt`` (full jitter); False when the budget is spent."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            return False
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        self._sleep(min(remaining, self._rng.uniform(0, ceiling)))
        return True

    def write_results(
        self,
        results: Sequence[Mapping[str, Any]],
        *,
        execution_name: str,
        execution_start: datetime | str,
        source_key: str,
        ttl_days: int,
    ) -> int:
        """Audit result dicts (the worker's output), overwriting what is there; raise ``AuditWriteError``
        / ``AuditWriteRejected`` when some item is not written (the aggregator's call, which
        rewrites the items a worker could not write). Returns the calls made."""
        report = self.write_results_report(
            results,
            execution_name=execution_name,
            execution_start=execution_start,
            source_key=source_key,
            ttl_days=ttl_days,
        )
        if report.error is not None:
            raise report.error
        return report.calls

    def write_results_report(
        self,
        results: Sequence[Mapping[str, Any]],
        *,
        execution_name: str,
        execution_start: datetime | str,
        source_key: str,
        ttl_days: int,
        keep_existing: frozenset[int] = frozenset(),
    ) -> AuditReport:
        """Audit a batch from the worker's result dicts: the worker's one call.
        The rows of ``keep_existing`` (row indexes) are written only where no item exists;
        an item in place is left standing and reported in ``kept``. Never raises for an
        item it could not write: the report names them and the error."""
        items = audit_items(
            results,
            execution_name=execution_name,
            execution_start=execution_start,
            source_key=source_key,
            ttl_days=ttl_days,
        )
        requests = _put_requests(items)
        plain = [r for r in requests if _row_index(r) not in keep_existing]
        guarded = [r for r in requests if _row_index(r) in keep_existing]
        outcomes = self._write(plain, guarded)
        kept = {index: record for outcome in outcomes for index, record in outcome.kept.items()}
        missing = frozenset(_row_index(request) for outcome in outcomes for request in outcome.left)
        calls = sum(outcome.calls for outcome in outcomes)
        return AuditReport(missing, kept, _failure(outcomes, len(requests), self.budget_seconds), calls)


def _failure(outcomes: Sequence[_ChunkOutcome], total: int, budget: float) -> Exception | None:
    """The error of a write some of whose items are not written: a refusal first (not worth
    a retry), else what was still failing when the attempts or the time budget ran out."""
    rejected = next((outcome.rejected for outcome in outcomes if outcome.rejected is not None), None)
    if rejected is not None:
        return rejected
    left = [outcome for outcome in outcomes if outcome.left]
    if not left:
        return None
    return AuditWriteError(
        f"{sum(len(o.left) for o in left)} of {total} audit items not written after "
        f"{max(o.calls for o in left)} attempts in at most {budget:g} s (last: {left[-1].problem})"
    )


def _put_requests(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """PutRequests in DynamoDB JSON, one per key (the last item of a key wins)."""
    unique = {(item["pk"], item["sk"]): item for item in items}
    return [{"PutRequest": {"Item": {k: _serializer.serialize(v) for k, v in i.items()}}} for i in unique.values()]


def _rejected(err: ClientError) -> AuditWriteRejected:
    error = err.response.get("Error", {})
    message = cap_utf8(str(error.get("Message", "")), 300)
    return AuditWriteRejected(f"DynamoDB refused the audit write ({error.get('Code', 'ClientError')}): {message}")


class AuditLogReader:
    """The table's two access patterns (docs/audit-table.md): a user's history (ONE Query) and
    the failed rows of an execution (a fixed fan-out of SHARDS Queries on the
    sparse FailedItemsIndex, run ``concurrency`` at a time)."""

    def __init__(self, client: Any, table_name: str, *, concurrency: int = 16) -> None:
        self.client = client
        self.table_name = table_name
        self.concurrency = max(1, concurrency)

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table_name, **kwargs):
            for item in page["Items"]:
                yield item_record({k: _deserializer.deserialize(v) for k, v in item.items()})

    def user_history(self, user_id: str, since: datetime | str) -> list[dict[str, Any]]:
        """Every audit record of ``user_id`` from executions started at or after
        ``since``, newest first: the deciding row of each run (its SUPERSEDED
        rows of the same file are under the execution's keys)."""
        return list(
            self._query(
                KeyConditionExpression="pk = :pk AND sk >= :since",
                ExpressionAttributeValues={
                    ":pk": {"S": user_partition_key(user_id)},
                    ":since": {"S": format_moment(since)},
                },
                ScanIndexForward=False,
            )
        )

    def failed_items(self, execution_name: str) -> list[dict[str, Any]]:
        """Every FAILED row of an execution, in line order."""

        def shard(number: int) -> list[dict[str, Any]]:
            return list(
                self._query(
                    IndexName=FAILED_INDEX,
                    KeyConditionExpression="#f = :f",
                    ExpressionAttributeNames={"#f": FAILED_KEY},
                    ExpressionAttributeValues={":f": {"S": failed_partition_key(execution_name, number)}},
                )
            )

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="audit-read") as pool:
            rows = [row for part in pool.map(shard, range(SHARDS)) for row in part]
        return sorted(rows, key=lambda r: (r["timestamp"], r["line"]))


# ----------------------------------------------------------------------------- per container

# Retries are the writer's alone (one policy, one time budget); short socket
# timeouts so one stuck call cannot eat the worker's time (budget + one call).
# The worker's Lambda timeout is 20 s (template.yaml): the audit write's worst case
# (budget + one stuck call) stays under a third of it, leaving the rest to the database.
AUDIT_CONNECT_TIMEOUT_SECONDS = 1
AUDIT_READ_TIMEOUT_SECONDS = 2
AUDIT_WRITE_BUDGET_SECONDS = 3.5


@lru_cache(maxsize=1)
def get_audit_writer() -> AuditLogWriter:
    import boto3
    from botocore.config import Config

    from .config import AuditSettings, load

    settings = load(AuditSettings)
    client = boto3.client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=AUDIT_CONNECT_TIMEOUT_SECONDS,
            read_timeout=AUDIT_READ_TIMEOUT_SECONDS,
        ),
    )
    return AuditLogWriter(
        client,
        settings.audit_table_name,
        concurrency=settings.audit_write_concurrency,
        budget_seconds=AUDIT_WRITE_BUDGET_SECONDS,
    )
