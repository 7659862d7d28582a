"""The audit log in DynamoDB: one item per CSV row, kept 180 days (TTL).

Table design (template.yaml, ``AuditTable``):

- key: ``executionName`` (HASH) + ``itemKey`` (RANGE, the row index zero-padded),
  so a retried batch overwrites its own items instead of adding new ones;
- GSI ``UserIdIndex``: ``userId`` (HASH) + ``timestamp`` (RANGE):
  "history of user X in the last 7 days" is one Query;
- GSI ``FailedItemsIndex``: ``failedExecution`` (HASH) + ``itemKey`` (RANGE),
  sparse (only failed rows carry ``failedExecution``): "all failed items of
  execution Y" is one Query that reads failed items only;
- ``ttl``: epoch seconds, the run's start + 180 days.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from boto3.dynamodb.types import TypeSerializer, TypeDeserializer

from .errors import AuditWriteError
from .models import AuditRecord, item_key  # noqa: F401  (item_key re-exported for callers)

BATCH_WRITE_LIMIT = 25  # BatchWriteItem accepts at most 25 put requests
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AuditLogWriter:
    """Writes audit records with BatchWriteItem, 25 at a time, retrying
    UnprocessedItems with exponential backoff and full jitter.

    The chunks of a batch are sent ``concurrency`` at a time: a 500-row batch
    is 20 calls, and on AWS each is a network round trip (boto3 clients are
    thread-safe)."""

    def __init__(self, client, table_name: str, max_attempts: int = 8, base_delay: float = 0.05,
                 max_delay: float = 2.0, concurrency: int = 4):
        self.client = client
        self.table_name = table_name
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.concurrency = max(1, concurrency)
        self._pool = None

    def _write_chunk(self, chunk: Sequence[AuditRecord]) -> int:
        pending = {
            self.table_name: [
                {"PutRequest": {"Item": {k: _serializer.serialize(v) for k, v in r.to_item().items()}}}
                for r in chunk
            ]
        }
        for attempt in range(self.max_attempts):
            response = self.client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return attempt + 1
            time.sleep(random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt)))
        left = sum(len(v) for v in pending.values())
        raise AuditWriteError(f"{left} audit records still unprocessed after {self.max_attempts} BatchWriteItem attempts")

    def write(self, records: Sequence[AuditRecord]) -> int:
        """Write every record; return the number of BatchWriteItem calls made."""
        chunks = [records[i : i + BATCH_WRITE_LIMIT] for i in range(0, len(records), BATCH_WRITE_LIMIT)]
        if self.concurrency == 1 or len(chunks) < 2:
            return sum(self._write_chunk(c) for c in chunks)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="audit")
        return sum(self._pool.map(self._write_chunk, chunks))


class AuditLogReader:
    """The two access patterns of the seeds, each a single Query (paginated)."""

    def __init__(self, client, table_name: str):
        self.client = client
        self.table_name = table_name

    def _query(self, **kwargs) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table_name, **kwargs):
            for item in page["Items"]:
                yield {k: _deserializer.deserialize(v) for k, v in item.items()}

    def user_history(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        """Every audit record of ``user_id`` at or after ``since``, newest first."""
        return list(
            self._query(
                IndexName="UserIdIndex",
                KeyConditionExpression="userId = :u AND #ts >= :since",
                ExpressionAttributeNames={"#ts": "timestamp"},
                ExpressionAttributeValues={":u": {"S": user_id}, ":since": {"S": since.isoformat()}},
                ScanIndexForward=False,
            )
        )

    def failed_items(self, execution_name: str) -> list[dict[str, Any]]:
        """Every failed row of an execution, in row order."""
        return list(
            self._query(
                IndexName="FailedItemsIndex",
                KeyConditionExpression="failedExecution = :e",
                ExpressionAttributeValues={":e": {"S": execution_name}},
            )
        )


@lru_cache(maxsize=1)
def get_audit_writer() -> AuditLogWriter:
    from .aws import dynamodb_client
    from .config import get_settings

    settings = get_settings()
    return AuditLogWriter(dynamodb_client(), settings.audit_table_name, concurrency=settings.audit_write_concurrency)
