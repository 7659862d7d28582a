"""Apply one batch of CSV rows: the worker's logic.

Per-item outcomes: a row that fails validation, or names a user that is not
in ``users`` (with the FAIL policy), is a failed item with its reason; the
other rows of the batch are applied. Only systemic failures raise.

Duplicate user ids inside a batch are applied in row order: the last row
wins in the database, and the audit log shows every row, each with the old
value it replaced (the first row's old value is what the database held).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Protocol

from ..config import UnknownUserPolicy
from ..models import (
    AuditRecord,
    StatsWrite,
    StoredStats,
    is_valid_user_id,
    ttl_epoch,
    BatchCounts,
    CsvRow,
    ItemResult,
    ItemStatus,
    RowError,
    RowErrorType,
    WorkerEvent,
    WorkerOutput,
    parse_row,
    raw_user_id,
)


class StatsStore(Protocol):
    def apply(self, user_ids, compute, *, execution_name, batch_index, updated_at, create_missing_users=False): ...


class AuditSink(Protocol):
    def write(self, records: Sequence[AuditRecord]) -> int: ...


def batch_timestamp(start_time: str | None, now: datetime | None = None) -> datetime:
    """The moment recorded for a batch: the execution's start time when the
    ASL passes it (so a retried batch writes identical records), else now."""
    if start_time:
        try:
            moment = datetime.fromisoformat(start_time.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return now or datetime.now(timezone.utc)


def apply_batch(
    event: WorkerEvent,
    store: StatsStore,
    audit: AuditSink,
    *,
    unknown_user_policy: UnknownUserPolicy = UnknownUserPolicy.FAIL,
    audit_ttl_days: int = 180,
    now: datetime | None = None,
) -> WorkerOutput:
    batch = event.batch_input
    moment = batch_timestamp(batch.execution_start_time, now)
    first_index = min(item.index for item in event.items)

    results: dict[int, ItemResult] = {}
    valid: list[tuple[int, CsvRow]] = []
    for item in event.items:
        try:
            valid.append((item.index, parse_row(item.row)))
        except RowError as err:
            results[item.index] = ItemResult(
                index=item.index,
                user_id=raw_user_id(item.row),
                status=ItemStatus.FAILED,
                error_type=err.error_type.value,
                error_message=err.message,
            )

    def compute(stored: dict[str, StoredStats]) -> list[StatsWrite]:
        current: dict[str, tuple[int | None, int | None]] = {}
        for index, row in valid:
            before = stored.get(row.user_id)
            if before is None:
                results[index] = ItemResult(
                    index=index,
                    user_id=row.user_id,
                    status=ItemStatus.FAILED,
                    error_type=RowErrorType.USER_NOT_FOUND.value,
                    error_message="user is not in the users table",
                )
                continue
            old = current.get(row.user_id, (before.login_count, before.post_count))
            results[index] = ItemResult(
                index=index,
                user_id=row.user_id,
                status=ItemStatus.APPLIED,
                old_login_count=old[0],
                new_login_count=row.login_count,
                old_post_count=old[1],
                new_post_count=row.post_count,
            )
            current[row.user_id] = (row.login_count, row.post_count)
        return [
            StatsWrite(uid, login, post, stored[uid].login_count, stored[uid].post_count)
            for uid, (login, post) in current.items()
        ]

    if valid:
        store.apply(
            [row.user_id for _, row in valid],
            compute,
            execution_name=batch.execution_name,
            batch_index=first_index,
            updated_at=moment.astimezone(timezone.utc).replace(tzinfo=None),
            create_missing_users=unknown_user_policy is UnknownUserPolicy.CREATE,
        )

    ordered = [results[item.index] for item in event.items]
    timestamp = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    ttl = ttl_epoch(moment, audit_ttl_days)
    audit.write(
        [
            AuditRecord(
                execution_name=batch.execution_name,
                index=r.index,
                status=r.status.value,
                timestamp=timestamp,
                ttl=ttl,
                source_key=batch.source_key,
                **({"user_id": r.user_id} if is_valid_user_id(r.user_id) else {"raw_user_id": r.user_id}),
                old_login_count=r.old_login_count,
                new_login_count=r.new_login_count,
                old_post_count=r.old_post_count,
                new_post_count=r.new_post_count,
                error_type=r.error_type,
                error_message=r.error_message,
            )
            for r in ordered
        ]
    )
    applied = sum(1 for r in ordered if r.status is ItemStatus.APPLIED)
    return WorkerOutput(
        execution_name=batch.execution_name,
        first_index=first_index,
        counts=BatchCounts(total=len(ordered), applied=applied, failed=len(ordered) - applied),
        results=ordered,
    )

