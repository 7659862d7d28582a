"""StatsRepository's unit of work on SQLite and on the real MariaDB."""

from datetime import datetime

import pytest
from sqlalchemy import text

from csv_dmap.db import BatchRef, StatsRepository, build_engine, create_schema, seed_users
from csv_dmap.errors import TransientDatabaseError
from csv_dmap.logic.decide import Candidate, Execution, decide
from tests.conftest import count_statements, table_rows
from tests.integration.conftest import stats

T0 = datetime(2026, 11, 22, 0, 30)


def ref(execution: str, index: int = 0, start: datetime = T0) -> BatchRef:
    return BatchRef(execution, index, start, start)


def apply(repo: StatsRepository, batch: BatchRef, values: dict[str, tuple[int, int]], create: bool = False):
    """Read the users, write ``values`` for those that exist, with the values they replace as
    the worker's decisions give them; return what was read."""
    with repo.unit_of_work(batch) as unit:
        seen = unit.read(list(values), create_missing=create)
        rows = [Candidate(i, i + 2, uid, *values[uid]) for i, uid in enumerate(values) if uid in seen]
        execution = Execution(batch.execution_name, batch.execution_start, batch.batch_index)
        unit.write(decide(rows, seen, execution).writes)
    return seen


def test_upsert_inserts_then_updates_and_keeps_its_own_bookkeeping(engine):
    repo = StatsRepository(engine)
    seed_users(engine, ["U1", "U2"])
    first = apply(repo, ref("e1"), {"U1": (5, 10), "U2": (1, 1)})
    assert first["U1"].exists is False
    second = apply(repo, ref("e2", start=datetime(2026, 11, 23)), {"U1": (6, 11)})
    assert (second["U1"].login_count, second["U1"].post_count, second["U1"].last_execution_name) == (5, 10, "e1")
    row = stats(engine, "U1")
    assert (row["login_count"], row["prev_login_count"], row["prev_post_count"]) == (6, 5, 10)
    assert (row["last_execution_name"], row["last_batch_index"]) == ("e2", 0)
    assert row["last_execution_start"] == datetime(2026, 11, 23)


def test_unknown_users_are_not_read(engine):
    repo = StatsRepository(engine)
    seed_users(engine, ["U1"])
    assert set(apply(repo, ref("e"), {"U1": (1, 1), "U404": (1, 1)})) == {"U1"}
    assert stats(engine, "U404") is None


def test_create_policy_inserts_unknown_users(engine):
    repo = StatsRepository(engine)
    apply(repo, ref("e"), {"NEW1": (2, 3)}, create=True)
    assert [r["user_id"] for r in table_rows(engine, "users")] == ["NEW1"]
    assert stats(engine, "NEW1")["login_count"] == 2


def test_user_ids_are_case_sensitive(engine):
    repo = StatsRepository(engine)
    seed_users(engine, ["U1"])
    assert apply(repo, ref("e"), {"u1": (1, 1)}) == {}


def test_a_retried_batch_keeps_the_values_its_first_attempt_replaced(engine):
    repo = StatsRepository(engine)
    seed_users(engine, ["U1"])
    apply(repo, ref("before"), {"U1": (3, 8)})
    for _ in range(2):  # first attempt, then the Step Functions retry
        apply(repo, ref("run", 500), {"U1": (5, 10)})
    row = stats(engine, "U1")
    assert (row["prev_login_count"], row["prev_post_count"]) == (3, 8)
    # another batch of the same run is not a retry: it replaces the current value
    apply(repo, ref("run", 1000), {"U1": (6, 11)})
    assert (stats(engine, "U1")["prev_login_count"], stats(engine, "U1")["prev_post_count"]) == (5, 10)


@pytest.mark.parametrize("size", [10, 1000])
def test_a_batch_costs_one_read_and_a_few_upserts_never_one_per_row(engine, size):
    repo = StatsRepository(engine)
    ids = [f"U{i:06d}" for i in range(size)]
    seed_users(engine, ids)
    counter = count_statements(engine)
    apply(repo, ref("e"), {uid: (i, i * 2) for i, uid in enumerate(ids)})
    selects = [s for s in counter["statements"] if s == "SELECT"]
    inserts = [s for s in counter["statements"] if s == "INSERT"]
    # one read of old values; upserts of up to 16 KB each (about 150 rows): never one per row
    assert len(selects) == 1, counter["statements"]
    assert 1 <= len(inserts) <= max(1, size // 100), counter["statements"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM user_stats")).scalar() == size
        assert conn.execute(text("SELECT SUM(post_count) FROM user_stats")).scalar() == sum(i * 2 for i in range(size))


@pytest.mark.mariadb
def test_round_trips_counted_by_the_server_grow_with_bytes_not_rows(mariadb_url):
    """MariaDB's own count of statements received: a handful per 16 KB of rows, never one per row."""
    engine = build_engine(mariadb_url)  # pool of one: every call below uses the same session
    create_schema(engine)
    repo = StatsRepository(engine)

    def questions() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SHOW SESSION STATUS LIKE 'Questions'")).one()[1])

    per_size = {}
    for size in (10, 1000):
        ids = [f"R{size}-{i:05d}" for i in range(size)]
        seed_users(engine, ids)
        before = questions()
        apply(repo, ref("e", size), {u: (1, 1) for u in ids})
        per_size[size] = questions() - before
    engine.dispose()
    # 1000 rows of ~110 bytes: about 7 upsert statements of < 16 KB, one read
    assert per_size[10] <= 8, per_size
    assert per_size[1000] <= per_size[10] + 10, per_size


def test_unreachable_database_raises_the_transient_error():
    engine = build_engine("mysql+pymysql://root@127.0.0.1:1/none")
    with pytest.raises(TransientDatabaseError, match="database unavailable"):
        apply(StatsRepository(engine), ref("e"), {"U1": (1, 1)})


def test_schema_creation_is_idempotent(engine):
    create_schema(engine)
    seed_users(engine, ["U1"])
    apply(StatsRepository(engine), ref("e1"), {"U1": (5, 10)})
    create_schema(engine)  # again, over tables that hold data: neither fails nor loses it
    assert len(table_rows(engine, "users")) == 1
    row = stats(engine, "U1")
    assert (row["login_count"], row["post_count"], row["last_execution_name"]) == (5, 10, "e1")


# --------------------------------------------------------------------------- applied_batches


def test_a_claimed_batch_is_found_committed_by_every_later_attempt(engine):
    repo = StatsRepository(engine)
    batch = BatchRef("run", 500, T0, T0, datetime(2026, 12, 7, 9, 0))
    with repo.unit_of_work(batch) as unit:
        assert unit.find() is None
        assert unit.claim() is None  # the batch never committed: this attempt applies it
        unit.record("A-SU", 1)
    with repo.unit_of_work(batch) as unit:
        again = unit.claim()
    assert again is not None and (again.outcomes, again.rows_written) == ("A-SU", 1)
    assert again.committed_at == datetime(2026, 12, 7, 9, 0)
    with repo.unit_of_work(batch, lock=False) as unit:
        assert unit.find() == again
    assert [r["first_index"] for r in table_rows_by(engine, "applied_batches", "first_index")] == [500]


def test_a_claim_rolled_back_with_its_batch_leaves_no_record(engine):
    repo = StatsRepository(engine)
    batch = BatchRef("run", 0, T0, T0)
    with pytest.raises(RuntimeError), repo.unit_of_work(batch) as unit:
        assert unit.claim() is None
        raise RuntimeError("the batch failed after its claim")
    with repo.unit_of_work(batch) as unit:
        assert unit.find() is None and unit.claim() is None


def table_rows_by(engine, table: str, order: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}")).mappings()]


def test_records_older_than_15_days_are_pruned_by_the_batch_that_reaches_a_multiple_of_50000(engine):
    from datetime import timedelta

    from csv_dmap.db import APPLIED_BATCHES_KEPT, PRUNE_LIMIT, applied_batches, prune_due

    now = datetime(2026, 12, 7, 12, 0)
    old = [
        {"execution_name": f"old-{i:04d}", "first_index": 0, "rows_written": 1, "outcomes": "A", "committed_at": now}
        for i in range(PRUNE_LIMIT + 200)
    ]
    for i, record in enumerate(old):  # old-0000 is the most recent of them, old-1199 the oldest
        record["committed_at"] = now - APPLIED_BATCHES_KEPT - timedelta(minutes=1 + i)
    recent = [
        {"execution_name": f"new-{i}", "first_index": 0, "rows_written": 1, "outcomes": "A", "committed_at": now}
        for i in range(3)
    ]
    recent[0]["committed_at"] = now - timedelta(days=14, hours=23)  # a redrive may still need it
    with engine.begin() as conn:
        conn.execute(applied_batches.insert(), old + recent)
    repo = StatsRepository(engine)

    def run_batch(first_index: int) -> None:
        with repo.unit_of_work(BatchRef("run", first_index, T0, T0, now)) as unit:
            assert unit.claim() is None
            unit.record("A" * 500, 0)

    assert not prune_due(500, 500) and prune_due(0, 500) and prune_due(49_800, 500) and not prune_due(50_500, 500)
    run_batch(500)  # not due: nothing pruned
    assert len(table_rows_by(engine, "applied_batches", "execution_name")) == len(old) + len(recent) + 1
    run_batch(49_800)  # its rows reach 50,000: prunes the oldest PRUNE_LIMIT
    left = [r["execution_name"] for r in table_rows_by(engine, "applied_batches", "execution_name")]
    assert left == [f"new-{i}" for i in range(3)] + [f"old-{i:04d}" for i in range(200)] + ["run", "run"]
