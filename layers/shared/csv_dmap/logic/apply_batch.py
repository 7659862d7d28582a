"""Apply one batch of CSV rows: the worker's path, straight through.

parse (``decide.classify``) → one transaction (claim the batch in
``applied_batches``, read the users with a lock, ``decide.decide``, write, record
what the batch did) → results → audit items → output. Per-row outcomes are
results (APPLIED, FAILED, SUPERSEDED, SKIPPED); only batch failures raise
(``TransientDatabaseError``, ``AuditWriteError``: retried by the ASL;
``PermanentDatabaseError``, ``AuditWriteRejected``: not retried).

A batch that committed already (its ``applied_batches`` record exists: a retry
after a commit whose answer was lost) writes nothing to the database and
replays: ``decide.replay`` answers as the first attempt did. Its audit items
are written again, except where the answer depends on what another execution
wrote since: there the first attempt's item stands and gives its answer back.

With ``event.failure`` set (ReconcileBatch: the ItemProcessor caught the batch's
last failure), the worker only reads. A batch that committed answers as a
replay; if its audit items still cannot be written, the results say
``auditMissing`` instead of raising (this is the last attempt). A batch that
never committed raises ``BatchNotApplied`` and writes no audit item, so the
child execution fails and its Map Run can be redriven. Rows settled by the rows
alone (no candidate reaches the database) are answered in every case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from ..config import UnknownUserPolicy
from ..db import BatchRef
from ..errors import BatchNotApplied, PermanentDatabaseError
from ..models import (
    AppliedBatch,
    AuditReport,
    BatchCounts,
    ItemResult,
    StatsWrite,
    StoredStats,
    WorkerEvent,
    WorkerOutput,
)
from .decide import (
    Candidate,
    Execution,
    classify,
    codes_by_index,
    committed_before,
    decide,
    inferred_codes,
    outcome_codes,
    replay,
    restore,
)


class UnitOfWork(Protocol):
    def claim(self) -> AppliedBatch | None: ...

    def find(self) -> AppliedBatch | None: ...

    def read(self, user_ids: Sequence[str], create_missing: bool = False) -> Mapping[str, StoredStats]: ...

    def write(self, writes: Sequence[StatsWrite]) -> None: ...

    def record(self, outcomes: str, rows_written: int) -> None: ...


class StatsStore(Protocol):
    def unit_of_work(self, batch: BatchRef, *, lock: bool = True) -> AbstractContextManager[UnitOfWork]: ...


class AuditSink(Protocol):
    """Where a batch's audit items go (``csv_dmap.audit.AuditLogWriter``): it builds them from
    the results, in the one place audit items are made, and writes them; the rows of
    ``keep_existing`` only where no item exists yet."""

    def write_results_report(
        self,
        results: Sequence[Mapping[str, Any]],
        *,
        execution_name: str,
        execution_start: datetime | str,
        source_key: str,
        ttl_days: int,
        keep_existing: frozenset[int] = frozenset(),
    ) -> AuditReport: ...


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
    now: datetime  # aware UTC: this attempt's clock

    @classmethod
    def of(cls, event: WorkerEvent, now: datetime | None = None) -> BatchContext:
        batch = event.batch_input
        clock = (now or datetime.now(UTC)).astimezone(UTC)
        moment = batch_timestamp(batch.execution_start_time, now).astimezone(UTC)
        return cls(batch.execution_name, batch.source_key, min(i.index for i in event.items), moment, clock)

    @property
    def naive_utc(self) -> datetime:
        return self.moment.replace(tzinfo=None)

    def execution(self) -> Execution:
        return Execution(self.execution_name, self.naive_utc, self.first_index)

    def batch_ref(self) -> BatchRef:
        return BatchRef(
            self.execution_name, self.first_index, self.naive_utc, self.naive_utc, self.now.replace(tzinfo=None)
        )


@dataclass(frozen=True)
class Answer:
    """The candidates' results, and the rows whose first audit item stands (a replay)."""

    results: dict[int, ItemResult]
    keep: frozenset[int] = field(default_factory=frozenset)


def _apply(
    store: StatsStore, ctx: BatchContext, indexes: Sequence[int], candidates: list[Candidate], create: bool
) -> Answer:
    with store.unit_of_work(ctx.batch_ref()) as unit:
        record = unit.claim()
        stored = unit.read([c.user_id for c in candidates], create_missing=create and record is None)
        if record is not None:  # an earlier attempt committed the batch: answer as it did
            return _replayed(record, indexes, candidates, stored, ctx)
        decision = decide(candidates, stored, ctx.execution())
        unit.write(decision.writes)
        unit.record(outcome_codes(indexes, decision.results), len(decision.writes))
    return Answer(decision.results)


def _reconcile(
    store: StatsStore, ctx: BatchContext, event: WorkerEvent, indexes: Sequence[int], candidates: list[Candidate]
) -> Answer:
    assert event.failure is not None
    with store.unit_of_work(ctx.batch_ref(), lock=False) as unit:
        record = unit.find()
        stored = unit.read([c.user_id for c in candidates])
    if record is None and not committed_before(candidates, stored, ctx.execution()):
        raise BatchNotApplied.after(event.failure.error, event.failure.message())
    return _replayed(record, indexes, candidates, stored, ctx)


def _replayed(
    record: AppliedBatch | None,
    indexes: Sequence[int],
    candidates: list[Candidate],
    stored: Mapping[str, StoredStats],
    ctx: BatchContext,
) -> Answer:
    execution = ctx.execution()
    if record is None:  # committed before applied_batches existed: the database's own marks tell
        codes = inferred_codes(candidates, stored, execution)
    else:
        recorded = codes_by_index(indexes, record.outcomes)
        if recorded is None:
            raise PermanentDatabaseError(
                f"applied_batches records {len(record.outcomes)} outcomes for batch {ctx.first_index} of execution "
                f"{ctx.execution_name}, which has {len(indexes)} items: the execution name was used for other rows"
            )
        codes = recorded
    answer = replay(candidates, stored, execution, codes)
    return Answer(answer.results, answer.keep)


def write_audit(
    audit: AuditSink,
    results: Sequence[Mapping[str, Any]],
    ctx: BatchContext,
    ttl_days: int,
    keep: frozenset[int] = frozenset(),
) -> AuditReport:
    """The audit items of a batch, from its results (the worker's result dicts)."""
    return audit.write_results_report(
        results,
        execution_name=ctx.execution_name,
        execution_start=ctx.moment,
        source_key=ctx.source_key,
        ttl_days=ttl_days,
        keep_existing=keep,
    )


def _settle_audit(
    results: list[ItemResult], dicts: list[dict[str, Any]], report: AuditReport
) -> tuple[list[ItemResult], list[dict[str, Any]]]:
    """The results as the audit log leaves them: a kept item gives the first attempt's answer
    back, a missing item is flagged ``audit_missing``. ``dicts`` are the results as already
    serialised for the audit writer: only the ones that change are serialised again."""
    if not report.kept and not report.missing:
        return results, dicts
    settled, shaped = [], []
    for result, shape in zip(results, dicts, strict=True):
        first = report.kept.get(result.index)
        if first is not None:
            result = restore(result, first)
        if result.index in report.missing:
            result = replace(result, audit_missing=True)
        settled.append(result)
        shaped.append(result.to_dict() if first is not None or result.audit_missing else shape)
    return settled, shaped


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
    indexes = [item.index for item in event.items]
    create = unknown_user_policy is UnknownUserPolicy.CREATE
    answer = Answer({})
    if candidates and event.failure is not None:
        answer = _reconcile(store, ctx, event, indexes, candidates)
    elif candidates:
        answer = _apply(store, ctx, indexes, candidates, create)
    settled.update(answer.results)
    ordered = [settled[index] for index in indexes]
    dicts = [r.to_dict() for r in ordered]  # serialised once: for the audit items and the answer
    report = write_audit(audit, dicts, ctx, audit_ttl_days, answer.keep)
    if report.error is not None and event.failure is None:
        raise report.error  # retried by the ASL; the retry replays the committed batch
    ordered, dicts = _settle_audit(ordered, dicts, report)
    return WorkerOutput(ctx.execution_name, ctx.first_index, BatchCounts.of(ordered), ordered, dicts)
