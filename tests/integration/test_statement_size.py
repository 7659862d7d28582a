"""Every statement the worker sends stays under 16,384 bytes whatever the batch
(RDS Proxy pins a session on a longer one: docs/contracts.md, "Statements under 16 KB"). Measured where the
text leaves for the server: PyMySQL's ``Connection.query`` (its executemany packs
multi-row INSERTs), and SQLAlchemy's ``before_cursor_execute`` for the rest."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from csv_dmap.db import build_engine, create_schema, metadata, seed_users
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import MAX_ITEMS_PER_BATCH, USER_ID_MAX_LENGTH, AuditReport, WorkerEvent
from tests.conftest import table_rows

PINNING_LIMIT = 16_384


class Drop:
    """An audit sink that writes nothing (this test measures SQL only)."""

    def write_results_report(self, results, *, execution_name, execution_start, source_key, ttl_days, keep_existing=()):
        return AuditReport()


def long_ids(prefix: str) -> list[str]:
    return [f"{prefix}{i:06d}".rjust(USER_ID_MAX_LENGTH, "x") for i in range(MAX_ITEMS_PER_BATCH)]


NAME = "run-%s-%(x)s-'quoted'-\\-実行".ljust(80, "z")  # escaping and placeholders in the batch's constants


def event_for(ids: list[str], execution: str, first: int) -> WorkerEvent:
    items = [
        {"index": first + i, "row": {"user_id": u, "login_count": "2147483647", "post_count": "2147483647"}}
        for i, u in enumerate(ids)
    ]
    return WorkerEvent.model_validate(
        {"Items": items, "BatchInput": {"executionName": execution, "executionStartTime": "2026-11-22T00:00:00Z"}}
    )


@pytest.fixture
def sent(monkeypatch):
    """Bytes of every statement PyMySQL sends."""
    import pymysql.connections

    sizes: list[int] = []
    real = pymysql.connections.Connection.query

    def query(self, sql, unbuffered=False):
        sizes.append(len(sql.encode() if isinstance(sql, str) else sql))
        return real(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", query)
    return sizes


@pytest.mark.mariadb
@pytest.mark.parametrize("policy", ["FAIL", "CREATE"])
def test_a_500_row_batch_of_64_character_ids_sends_only_statements_under_16_kb(mariadb_url, sent, policy):
    from csv_dmap.config import UnknownUserPolicy
    from csv_dmap.db import StatsRepository

    engine = build_engine(mariadb_url)
    metadata.drop_all(engine)  # a fresh schema: the batches below are new ones, not retries of another test's
    create_schema(engine)
    ids = long_ids(policy)
    if policy == "FAIL":
        seed_users(engine, ids)
    texts: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, *a: texts.append(stmt))
    sent.clear()
    repo = StatsRepository(engine)
    for attempt in range(2):  # first write, then an update of every row
        out = apply_batch(
            event_for(ids, NAME, attempt * 1000), repo, Drop(), unknown_user_policy=UnknownUserPolicy(policy)
        )
        assert out.counts.applied == MAX_ITEMS_PER_BATCH
    assert max(sent) < PINNING_LIMIT, max(sent)
    assert max(len(t.encode()) for t in texts) < PINNING_LIMIT
    # the batch really was large: its rows took several statements, none of them one per row
    data = [s for s in sent if s > 1000]
    assert sum(data) > 2 * PINNING_LIMIT and len(data) < MAX_ITEMS_PER_BATCH / 10
    written = [r for r in table_rows(engine, "user_stats") if r["user_id"] in set(ids)]
    assert len(written) == MAX_ITEMS_PER_BATCH
    assert {
        (r["last_execution_name"], r["last_batch_index"], r["login_count"], r["prev_login_count"]) for r in written
    } == {(NAME, 1000, 2147483647, 2147483647)}
    engine.dispose()
