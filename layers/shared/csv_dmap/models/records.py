"""Storage records: what the database holds for a user, what a batch writes,
and the audit record of a row (until the audit helper's item builder replaces it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .rows import ItemStatus


@dataclass(slots=True)  # not frozen: built once per row on the hot path (frozen __init__ costs ~2x)
class StoredStats:
    """What ``users``/``user_stats`` hold for one user when the batch reads it.

    ``login_count is None``: the user exists but has no stats yet. The
    bookkeeping columns say which batch wrote the row last (and what it
    replaced), so the logic can recognise a retry of that batch and a newer
    execution.
    """

    login_count: int | None = None
    post_count: int | None = None
    prev_login_count: int | None = None
    prev_post_count: int | None = None
    last_execution_name: str | None = None
    last_batch_index: int | None = None
    last_execution_start: datetime | None = None  # naive UTC

    @property
    def exists(self) -> bool:
        return self.login_count is not None


@dataclass(frozen=True, slots=True)
class StatsWrite:
    """The final values of one user after a batch. The repository adds its own
    bookkeeping (what they replace, which batch, when)."""

    user_id: str
    login_count: int
    post_count: int


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
        if self.status == ItemStatus.FAILED.value:
            item["failedExecution"] = self.execution_name
        return {k: v for k, v in item.items() if v is not None and v != ""}
