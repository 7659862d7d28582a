"""Rows are locked when read: two batches over the same users, on two connections
at once — the second reads what the first committed as its old value."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from csv_dmap.audit import audit_items, item_record
from csv_dmap.db import StatsRepository, build_engine, create_schema, seed_users
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import AuditReport, WorkerEvent
from tests.integration.conftest import stats

WAIT = 60  # seconds before a test gives up waiting for the other thread (a failure, never a pass)


class Captured:
    """The audit sink: keeps the results it was given and the items the layer builds from them."""

    def __init__(self):
        self.results = []
        self.items = []

    def write_results_report(self, results, *, execution_name, execution_start, source_key, ttl_days, keep_existing=()):
        self.results.extend(results)
        self.items.extend(
            audit_items(
                results,
                execution_name=execution_name,
                execution_start=execution_start,
                source_key=source_key,
                ttl_days=ttl_days,
            )
        )
        return AuditReport()


class PausingRepository(StatsRepository):
    """Holds its transaction open after the locked read until ``release`` is set."""

    def __init__(self, engine, read_done: threading.Event, release: threading.Event):
        super().__init__(engine)
        self.read_done, self.release = read_done, release

    def read(self, conn, user_ids, *, lock):
        stored = super().read(conn, user_ids, lock=lock)
        self.read_done.set()
        assert self.release.wait(WAIT)
        return stored


def batch(execution: str, started: str, values: dict[str, tuple[int, int]], first: int = 0) -> WorkerEvent:
    rows = [
        {"index": first + i, "row": {"user_id": u, "login_count": str(v[0]), "post_count": str(v[1])}}
        for i, (u, v) in enumerate(values.items())
    ]
    return WorkerEvent.model_validate(
        {"Items": rows, "BatchInput": {"executionName": execution, "executionStartTime": started}}
    )


def wait_until_blocked(url: str, engine) -> None:
    """MariaDB: until the second batch's locking read is under way in this database
    (it cannot finish while the first holds the rows). SQLite (no process list):
    give the second writer a moment to reach its BEGIN IMMEDIATE."""
    if url.startswith("sqlite"):
        time.sleep(0.5)
        return
    deadline = time.monotonic() + WAIT
    query = text(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE db = DATABASE() AND info LIKE 'SELECT%FOR UPDATE' AND id <> CONNECTION_ID()"
    )
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(query).scalar():
                return
            conn.rollback()
            time.sleep(0.05)
    pytest.fail("the second batch never reached its locking read")


def test_the_second_batch_reads_the_first_ones_committed_value(database_url):
    first_engine, second_engine = build_engine(database_url), build_engine(database_url)
    create_schema(first_engine)
    seed_users(first_engine, ["U1", "U2", "U3"])
    apply_batch(
        batch("seed", "2026-11-21T00:00:00Z", {"U1": (1, 1), "U2": (2, 2)}), StatsRepository(first_engine), Captured()
    )
    read_done, release = threading.Event(), threading.Event()
    first_audit, second_audit = Captured(), Captured()
    outputs = {}

    def first():
        repo = PausingRepository(first_engine, read_done, release)
        outputs["first"] = apply_batch(
            batch("A", "2026-11-22T00:00:00Z", {"U1": (10, 10), "U2": (20, 20)}), repo, first_audit
        )

    def second():
        # the same users in the other order: the locks are still taken in id order
        outputs["second"] = apply_batch(
            batch("B", "2026-11-22T01:00:00Z", {"U2": (200, 200), "U1": (100, 100), "U3": (3, 3)}),
            StatsRepository(second_engine),
            second_audit,
        )

    a = threading.Thread(target=first)
    a.start()
    assert read_done.wait(WAIT)
    b = threading.Thread(target=second)
    b.start()
    wait_until_blocked(database_url, first_engine)
    release.set()
    a.join(WAIT)
    b.join(WAIT)
    assert not a.is_alive() and not b.is_alive()
    olds = {r.user_id: (r.old_login_count, r.new_login_count) for r in outputs["second"].results}
    assert olds == {"U1": (10, 100), "U2": (20, 200), "U3": (None, 3)}
    assert {r.user_id: r.old_login_count for r in outputs["first"].results} == {"U1": 1, "U2": 2}
    audited = [item_record(item) for item in second_audit.items]
    assert [(r["userId"], r.get("oldLoginCount")) for r in audited] == [("U2", 20), ("U1", 10), ("U3", None)]
    final = stats(first_engine, "U1")
    assert (final["login_count"], final["prev_login_count"], final["last_execution_name"]) == (100, 10, "B")
    first_engine.dispose()
    second_engine.dispose()


def test_the_locking_read_is_sent_as_select_for_update_on_mysql(database_url):
    from sqlalchemy import event

    engine = build_engine(database_url)
    create_schema(engine)
    seed_users(engine, ["U1"])
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    apply_batch(
        batch("A", datetime(2026, 11, 22, tzinfo=UTC).isoformat(), {"U1": (1, 1)}), StatsRepository(engine), Captured()
    )
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1
    if engine.dialect.name == "sqlite":
        assert any(s.upper().startswith("BEGIN IMMEDIATE") for s in seen)
    else:
        assert reads[0].rstrip().upper().endswith("FOR UPDATE") and "ORDER BY" in reads[0].upper()
    engine.dispose()


def wait_until_claim_blocked(url: str, engine) -> None:
    """MariaDB: until the second attempt's claim of the batch waits for the first one's.
    SQLite: the second writer waits at its BEGIN IMMEDIATE; give it a moment to get there."""
    if url.startswith("sqlite"):
        time.sleep(0.5)
        return
    deadline = time.monotonic() + WAIT
    query = text(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE db = DATABASE() AND info LIKE 'INSERT IGNORE INTO applied_batches%' AND id <> CONNECTION_ID()"
    )
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(query).scalar():
                return
            conn.rollback()
            time.sleep(0.05)
    pytest.fail("the second attempt never reached its claim of the batch")


def test_two_attempts_of_one_batch_at_once_apply_it_once_and_answer_alike(database_url):
    """A retry that starts while the first attempt is still in its transaction (its answer
    was lost, it was not): the retry waits for the first attempt's claim of the batch, then
    finds the batch committed, writes nothing and answers as the first attempt did."""
    from sqlalchemy import event

    first_engine, second_engine = build_engine(database_url), build_engine(database_url)
    create_schema(first_engine)
    seed_users(first_engine, ["U1", "U2"])
    apply_batch(
        batch("seed", "2026-11-21T00:00:00Z", {"U1": (1, 1), "U2": (2, 2)}), StatsRepository(first_engine), Captured()
    )
    the_batch = batch("A", "2026-11-22T00:00:00Z", {"U1": (10, 10), "U2": (20, 20)}, first=500)
    second_writes: list[str] = []
    event.listen(
        second_engine,
        "before_cursor_execute",
        lambda c, cur, stmt, *a: second_writes.append(stmt) if "user_stats" in stmt and "INSERT" in stmt else None,
    )
    read_done, release = threading.Event(), threading.Event()
    outputs = {}

    def first():
        outputs["first"] = apply_batch(the_batch, PausingRepository(first_engine, read_done, release), Captured())

    def second():
        outputs["second"] = apply_batch(the_batch, StatsRepository(second_engine), Captured())

    a = threading.Thread(target=first)
    a.start()
    assert read_done.wait(WAIT)
    b = threading.Thread(target=second)
    b.start()
    wait_until_claim_blocked(database_url, first_engine)
    release.set()
    a.join(WAIT)
    b.join(WAIT)
    assert not a.is_alive() and not b.is_alive()
    assert outputs["second"] == outputs["first"]
    assert [(r.status.value, r.old_login_count) for r in outputs["second"].results] == [("APPLIED", 1), ("APPLIED", 2)]
    assert second_writes == []  # the second attempt wrote nothing to user_stats
    final = stats(first_engine, "U1")
    assert (final["login_count"], final["prev_login_count"], final["last_batch_index"]) == (10, 1, 500)
    first_engine.dispose()
    second_engine.dispose()
