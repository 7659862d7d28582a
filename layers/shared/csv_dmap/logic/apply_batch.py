"""Apply one batch of CSV rows: the worker's path, straight through.

parse (``decide.classify``) → one transaction (read the users with a lock,
``decide.decide``, write) → results → audit items → output. Per-row outcomes
are results (APPLIED, FAILED, SUPERSEDED, SKIPPED); only batch failures raise
(``TransientDatabaseError``, ``AuditWriteError``: retried by the ASL;
``PermanentDatabaseError``: not retried).

With ``event.failure`` set (the ItemProcessor caught the batch's last failure),
the worker reconciles instead: it reads the database without writing and
reports what the batch really did (``decide.reconcile``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..config import UnknownUserPolicy
from ..db import BatchRef
from ..models import (
    BatchCounts,
    ItemResult,
    StatsWrite,
    StoredStats,
    WorkerEvent,
    WorkerOutput,
)
from .decide import Candidate, Execution, classify, decide, reconcile


class UnitOfWork(Protocol):
    def read(self, user_ids: Sequence[str], create_missing: bool = False) -> Mapping[str, StoredStats]: ...

    def write(self, writes: Sequence[StatsWrite]) -> None: ...


class StatsStore(Protocol):
    def unit_of_work(self, batch: BatchRef, *, lock: bool = True) -> AbstractContextManager[UnitOfWork]: ...


class AuditSink(Protocol):
    """Where a batch's audit items go (``csv_dmap.audit.AuditLogWriter``): it builds them from
    the results, in the one place audit items are made, and writes them."""

    def write_results(
        self,
        results: Sequence[Mapping[str, Any]],
        *,
        execution_name: str,
        execution_start: datetime | str,
        source_key: str,
        ttl_days: int,
    ) -> int: ...


def batch_timestamp(start_time: str | None, now: datetime | None = None) -> datetime:
    """The moment recorded for a batch: the execution's start time when the
    ASL passes it (so a retried batch writes identical records), else now."""
    if start_time:
        try:
            moment = datetime.fromisoformat(start_time)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    return now or datetime.now(UTC)


@dataclass(frozen=True)
class BatchContext:
    """Everything about the batch that is not its rows."""

    execution_name: str
    source_key: str
    first_index: int
    moment: datetime  # aware UTC: the execution's start

    @classmethod
    def of(cls, event: WorkerEvent, now: datetime | None = None) -> BatchContext:
        batch = event.batch_input
        moment = batch_timestamp(batch.execution_start_time, now).astimezone(UTC)
        return cls(batch.execution_name, batch.source_key, min(i.index for i in event.items), moment)

    @property
    def naive_utc(self) -> datetime:
        return self.moment.replace(tzinfo=None)

    def execution(self) -> Execution:
        return Execution(self.execution_name, self.naive_utc, self.first_index)

    def batch_ref(self) -> BatchRef:
        return BatchRef(self.execution_name, self.first_index, self.naive_utc, self.naive_utc)


def _apply(store: StatsStore, ctx: BatchContext, candidates: list[Candidate], create: bool) -> dict[int, ItemResult]:
    with store.unit_of_work(ctx.batch_ref()) as unit:
        stored = unit.read([c.user_id for c in candidates], create_missing=create)
        decision = decide(candidates, stored, ctx.execution())
        unit.write(decision.writes)
    return decision.results


def _reconcile(
    store: StatsStore, ctx: BatchContext, candidates: list[Candidate], event: WorkerEvent, create: bool
) -> dict[int, ItemResult]:
    assert event.failure is not None
    with store.unit_of_work(ctx.batch_ref(), lock=False) as unit:
        stored = unit.read([c.user_id for c in candidates])
    return reconcile(candidates, stored, ctx.execution(), event.failure, users_created=create)


def write_audit(audit: AuditSink, results: Sequence[Mapping[str, Any]], ctx: BatchContext, ttl_days: int) -> None:
    """The audit items of a batch, from its results (contract 4 dicts)."""
    audit.write_results(
        results,
        execution_name=ctx.execution_name,
        execution_start=ctx.moment,
        source_key=ctx.source_key,
        ttl_days=ttl_days,
    )


def apply_batch(
    event: WorkerEvent,
    store: StatsStore,
    audit: AuditSink,
    *,
    unknown_user_policy: UnknownUserPolicy = UnknownUserPolicy.FAIL,
    audit_ttl_days: int = 180,
    now: datetime | None = None,
) -> WorkerOutput:
    ctx = BatchContext.of(event, now)
    settled, candidates = classify(event.items)
    create = unknown_user_policy is UnknownUserPolicy.CREATE
    if candidates and event.failure is not None:
        settled.update(_reconcile(store, ctx, candidates, event, create))
    elif candidates:
        settled.update(_apply(store, ctx, candidates, create))
    ordered = [settled[item.index] for item in event.items]
    output = WorkerOutput(ctx.execution_name, ctx.first_index, BatchCounts.of(ordered), ordered)
    write_audit(audit, output.result_dicts(), ctx, audit_ttl_days)
    return output
