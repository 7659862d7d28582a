"""StatsRepository on SQLite and on the real MariaDB."""

from datetime import datetime

import pytest
from sqlalchemy import text

from csv_dmap.db import StatsRepository, build_engine, create_schema
from csv_dmap.errors import TransientDatabaseError
from csv_dmap.models import StatsWrite
from tests.conftest import count_statements, table_rows

T0 = datetime(2026, 11, 22, 0, 30)


def write_all(values: dict[str, tuple[int, int]]):
    def compute(stored):
        return [
            StatsWrite(uid, *values[uid], stored[uid].login_count, stored[uid].post_count)
            for uid in values
            if uid in stored
        ]

    return compute


def test_upsert_inserts_then_updates_and_reports_old_values(engine):
    repo = StatsRepository(engine)
    repo.seed_users(["U1", "U2"])
    seen = []

    def compute(stored):
        seen.append(dict(stored))
        return write_all({"U1": (5, 10), "U2": (1, 1)})(stored)

    repo.apply(["U1", "U2"], compute, execution_name="e1", batch_index=0, updated_at=T0)
    assert seen[0]["U1"].exists is False
    repo.apply(["U1"], compute, execution_name="e2", batch_index=0, updated_at=T0)
    assert (seen[1]["U1"].login_count, seen[1]["U1"].post_count) == (5, 10)
    assert set(seen[1]) == {"U1"}
    stats = repo.get_stats("U1")
    assert (stats["login_count"], stats["prev_login_count"], stats["last_execution_name"]) == (5, 5, "e2")


def test_unknown_users_are_not_offered_to_compute(engine):
    repo = StatsRepository(engine)
    repo.seed_users(["U1"])
    offered = []
    repo.apply(["U1", "U404"], lambda s: offered.append(set(s)) or [], execution_name="e", batch_index=0, updated_at=T0)
    assert offered == [{"U1"}]


def test_create_policy_inserts_unknown_users(engine):
    repo = StatsRepository(engine)
    repo.apply(["NEW1"], write_all({"NEW1": (2, 3)}), execution_name="e", batch_index=0, updated_at=T0,
               create_missing_users=True)
    assert [r["user_id"] for r in table_rows(engine, "users")] == ["NEW1"]
    assert repo.get_stats("NEW1")["login_count"] == 2


def test_user_ids_are_case_sensitive(engine):
    repo = StatsRepository(engine)
    repo.seed_users(["U1"])
    offered = []
    repo.apply(["u1"], lambda s: offered.append(set(s)) or [], execution_name="e", batch_index=0, updated_at=T0)
    assert offered == [set()]


def test_reapplying_the_same_batch_sees_the_original_old_values(engine):
    repo = StatsRepository(engine)
    repo.seed_users(["U1"])
    repo.apply(["U1"], write_all({"U1": (3, 8)}), execution_name="before", batch_index=0, updated_at=T0)
    olds = []

    def compute(stored):
        olds.append((stored["U1"].login_count, stored["U1"].post_count))
        return write_all({"U1": (5, 10)})(stored)

    for _ in range(2):  # first attempt, then the Step Functions retry
        repo.apply(["U1"], compute, execution_name="run", batch_index=500, updated_at=T0)
    assert olds == [(3, 8), (3, 8)]
    # another batch of the same run is not a retry: it sees the current value
    repo.apply(["U1"], compute, execution_name="run", batch_index=1000, updated_at=T0)
    assert olds[-1] == (5, 10)


@pytest.mark.parametrize("size", [10, 1000])
def test_a_batch_costs_a_constant_number_of_statements(engine, size):
    repo = StatsRepository(engine)
    ids = [f"U{i:06d}" for i in range(size)]
    repo.seed_users(ids)
    counter = count_statements(engine)
    values = {uid: (i, i * 2) for i, uid in enumerate(ids)}
    repo.apply(ids, write_all(values), execution_name="e", batch_index=0, updated_at=T0)
    selects = [s for s in counter["statements"] if s == "SELECT"]
    inserts = [s for s in counter["statements"] if s == "INSERT"]
    # one read of old values, one upsert statement: not one per row
    assert (len(selects), len(inserts)) == (1, 1), counter["statements"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM user_stats")).scalar() == size
        assert conn.execute(text("SELECT SUM(post_count) FROM user_stats")).scalar() == sum(
            i * 2 for i in range(size)
        )


@pytest.mark.mariadb
def test_round_trips_counted_by_the_server_stay_constant(mariadb_url):
    """MariaDB's own count of statements received, not the client's view."""
    engine = build_engine(mariadb_url)  # pool of one: every call below uses the same session
    create_schema(engine)
    repo = StatsRepository(engine)

    def questions() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SHOW SESSION STATUS LIKE 'Questions'")).one()[1])

    per_size = {}
    for size in (10, 1000):
        ids = [f"R{size}-{i:05d}" for i in range(size)]
        repo.seed_users(ids)
        before = questions()
        repo.apply(ids, write_all({u: (1, 1) for u in ids}), execution_name="e", batch_index=size, updated_at=T0)
        per_size[size] = questions() - before
    engine.dispose()
    assert per_size[10] == per_size[1000], per_size
    assert per_size[1000] <= 8, per_size  # ping, SELECT, INSERT, COMMIT, SHOW: never ~1000


def test_unreachable_database_raises_the_transient_error():
    engine = build_engine("mysql+pymysql://root@127.0.0.1:1/none")
    with pytest.raises(TransientDatabaseError, match="database unavailable"):
        StatsRepository(engine).apply(["U1"], lambda s: [], execution_name="e", batch_index=0, updated_at=T0)


def test_schema_creation_is_idempotent(engine):
    create_schema(engine)
    create_schema(engine)
    assert table_rows(engine, "users") == []
