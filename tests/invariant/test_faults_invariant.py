"""The invariant under faults: hostile files run through the real definition while one batch
meets an outage, and afterwards every row is still accounted for exactly once, by the same
oracle (``oracle.py``, written from the CSV text and the contracts alone) as the fault-free
property.

- The audit table refuses every write carrying an item of one batch, through every attempt of
  ApplyBatch and ReconcileBatch, and is back by the time AggregateErrors runs. The batch
  committed, so its rows are reported as the oracle says (APPLIED, never FAILED) with
  ``auditMissing`` in the result files; AggregateErrors rewrites their audit items from the result
  files, and the summary counts none missing (docs/runbook.md, "Audit items missing").
- The database refuses the transaction of one batch that has rows to write or look up (a lost
  connection at its first statement) through every attempt. The run FAILED with the rows of that batch and of the batches never started
  pending: no result, no audit item, nothing in the database; every other row is as the oracle
  says. Once the database is mended a redrive applies the rest, and then the whole file is as the
  oracle says: each row once in the result files and the audit log, the database's final values,
  the summary's counts.

A batch is the ItemBatcher's: MaxItemsPerBatch consecutive items of ValidateInput's copy, whose
item index is the row's position among the file's data records (docs/contracts.md, worker input)."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from tests.invariant import oracle
from tests.invariant.checks import assert_counts, assert_rows
from tests.invariant.conftest import BATCH
from tests.invariant.harness import PipelineHarness
from tests.invariant.strategies import SEEDED, HostileFile, hostile_files

_names = itertools.count(1)

EXAMPLES = int(os.environ.get("CSV_DMAP_INVARIANT_FAULT_EXAMPLES", "5"))  # per fault; deeper: 100

faulted = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def _prepare(
    h: PipelineHarness, hostile: HostileFile, pick: int, *, reaches_database: bool = False
) -> tuple[oracle.Prediction, list[int], str]:
    """The oracle's expectation of an accepted file, the item indexes of the batch ``pick`` chooses
    (modulo the file's batches; with ``reaches_database``, among the batches with a row the
    database must answer: a valid row of the file's last say for its user), and a context."""
    expected = oracle.predict(hostile.data, set(SEEDED), h.stats())
    assume(not expected.rejected and expected.rows)  # a fault needs a batch to hit
    firsts = list(range(0, len(expected.rows), BATCH))
    if reaches_database:
        firsts = [f for f in firsts if any(_asks_database(r) for r in expected.rows[f : f + BATCH])]
        assume(firsts)
    first = firsts[pick % len(firsts)]
    chosen = list(range(first, min(first + BATCH, len(expected.rows))))
    context = f"{hostile.description}, faulted batch {first}: {hostile.data[:400]!r}"
    return expected, chosen, context


def _asks_database(row: oracle.Expected) -> bool:
    return row.status == "APPLIED" or row.error_type == "UserNotFound"


def _lines(expected: oracle.Prediction, indexes: list[int]) -> set[int]:
    return {expected.rows[i].line for i in indexes}


# --------------------------------------------------------------------------- audit outage


class AuditOutage:
    """DynamoDB refusing (ProvisionedThroughputExceededException, what it answers a throttled
    write) every BatchWriteItem or PutItem that carries an item of rows ``indexes``, until
    ``over``. Each audit writer gets one attempt per call, so the outage costs no backoff: the
    retries it exercises are the state machine's (ApplyBatch's retrier, ReconcileBatch)."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = {str(i) for i in indexes}
        self.over = False
        self.refused = 0
        self._lock = threading.Lock()

    def _carries(self, items: list[dict[str, Any]]) -> bool:
        return any(item.get("rowIndex", {}).get("N") in self.indexes for item in items)

    def refuse(self, operation: str, items: list[dict[str, Any]]) -> None:
        if self.over or not self._carries(items):
            return
        with self._lock:
            self.refused += 1
        raise ClientError(
            {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "refused by the test"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            operation,
        )


class _RefusingClient:
    def __init__(self, client: Any, outage: AuditOutage) -> None:
        self.client, self.outage = client, outage

    def batch_write_item(self, **kwargs: Any) -> Any:
        requests = [r for table in kwargs["RequestItems"].values() for r in table]
        self.outage.refuse("BatchWriteItem", [r["PutRequest"]["Item"] for r in requests if "PutRequest" in r])
        return self.client.batch_write_item(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        self.outage.refuse("PutItem", [kwargs["Item"]])
        return self.client.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@contextmanager
def audit_outage(indexes: list[int]) -> Iterator[AuditOutage]:
    """Every audit writer built meanwhile (one per cold container) talks to the refusing table.
    The outage ends when the aggregator's repair begins (``write_results``, its call; the worker's
    is ``write_results_report``): DynamoDB is back by the time AggregateErrors runs."""
    from csv_dmap.audit import AuditLogWriter

    outage = AuditOutage(indexes)
    real_init, real_write_results = AuditLogWriter.__init__, AuditLogWriter.write_results

    def init(self: AuditLogWriter, client: Any, table_name: str, **kwargs: Any) -> None:
        real_init(self, _RefusingClient(client, outage), table_name, **{**kwargs, "max_attempts": 1})

    def write_results(self: AuditLogWriter, *args: Any, **kwargs: Any) -> int:
        outage.over = True
        return real_write_results(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AuditLogWriter, "__init__", init)
        mp.setattr(AuditLogWriter, "write_results", write_results)
        yield outage


@faulted
@given(hostile=hostile_files(), pick=st.integers(0, 4))
def test_an_audit_outage_for_one_batch_leaves_every_row_accounted_for(harness, hostile, pick):
    expected, chosen, context = _prepare(harness, hostile, pick)
    with audit_outage(chosen) as outage:
        run = harness.run(hostile.data, name=f"audit-out-{next(_names):05d}", may_fail=True)
    assert outage.refused > 0, f"{context}: the outage refused nothing"
    assert outage.over, f"{context}: AggregateErrors repaired nothing"
    assert run.status == "SUCCEEDED" or run.error == "ErrorRateExceeded", f"{context}: {run.error}: {run.cause}"
    assert run.failed_children == [], context
    # the batch committed: its rows are reported as the oracle says, flagged, never FAILED for it
    flagged = {r["line"] for r in run.results if r.get("auditMissing") is True}
    assert flagged == _lines(expected, chosen), f"{context}: auditMissing on lines {sorted(flagged)}"
    # ... and AggregateErrors wrote their audit items from the result files
    assert_rows(expected.rows, run, context)
    assert harness.stats() == expected.final_stats, context
    assert_counts(expected.rows, run.summary, context)
    assert run.summary.get("auditMissing", 0) == 0, context


# --------------------------------------------------------------------------- database failure


@contextmanager
def database_outage(first_index: int) -> Iterator[dict[str, int]]:
    """Every transaction of the batch that starts at item ``first_index`` loses its connection at
    its first statement, the claim of its ``applied_batches`` row: the batch never commits, in
    ApplyBatch or its retries. Reads (ReconcileBatch's) still work. Any engine, any dialect."""
    seen = {"refused": 0}

    def refuse(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith("INSERT") or "applied_batches" not in statement:
            return
        compiled = getattr(context, "compiled_parameters", None) or [{}]
        if compiled[0].get("first_index") != first_index:
            return
        seen["refused"] += 1
        dbapi = conn.dialect.dbapi
        if conn.dialect.name == "sqlite":
            raise dbapi.OperationalError("disk I/O error (injected by the test)")
        raise dbapi.OperationalError(2013, "Lost connection to MySQL server during query (injected by the test)")

    sa_event.listen(Engine, "before_cursor_execute", refuse)
    try:
        yield seen
    finally:
        sa_event.remove(Engine, "before_cursor_execute", refuse)


@faulted
@given(hostile=hostile_files(), pick=st.integers(0, 4))
def test_a_batch_the_database_refuses_is_pending_and_a_redrive_accounts_for_every_row(harness, hostile, pick):
    expected, chosen, context = _prepare(harness, hostile, pick, reaches_database=True)
    before = harness.stats()
    name = f"db-out-{next(_names):05d}"
    with database_outage(chosen[0]) as seen:
        run = harness.run(hostile.data, name=name, may_fail=True)
    assert seen["refused"] > 0, f"{context}: the outage refused nothing"
    assert run.status == "FAILED", f"{context}: {run.status} {run.error}: {run.cause}"
    assert run.error == "States.ExceedToleratedFailureThreshold", f"{context}: {run.error}: {run.cause}"
    assert run.cause and "Traceback" not in run.cause, context
    assert len(run.failed_children) == 1, f"{context}: {len(run.failed_children)} failed children"

    # the faulted batch's rows are pending, and so are those of batches the failed map never ran;
    # every row that ran is as the oracle says
    ran = {r["line"] for r in run.results}
    pending = {row.line for row in expected.rows} - ran
    assert _lines(expected, chosen) <= pending, f"{context}: lines {sorted(_lines(expected, chosen) - pending)} ran"
    assert_rows(expected.rows, run, context, pending=pending)
    assert_counts(expected.rows, run.summary, context, pending=pending)
    assert run.summary["status"] == "FAILED" and run.summary["failedBatches"] == 1, context
    # nothing of a pending row is in the database: a user's values are those of its deciding row
    # when that row ran, else what they were before the run
    partial = dict(before)
    partial.update({r.user_id: r.new for r in expected.rows if r.status == "APPLIED" and r.line not in pending})
    assert harness.stats() == partial, context

    # the database is mended (the outage is over): a redrive applies the rest, each row once
    redriven = harness.redrive(run, name)
    assert redriven.status == "SUCCEEDED" or redriven.error == "ErrorRateExceeded", (
        f"{context}: redrive {redriven.error}: {redriven.cause}"
    )
    assert redriven.failed_children == [], context
    assert_rows(expected.rows, redriven, context + " (redriven)")
    assert harness.stats() == expected.final_stats, context + " (redriven)"
    assert_counts(expected.rows, redriven.summary, context + " (redriven)")
    assert redriven.summary.get("failedBatches", 0) == 0, context
