"""Faults of the database, real where MariaDB can produce them on demand (lock wait
timeout, a killed connection, a deadlock), injected at the driver otherwise:
each ends as the named batch error the ASL retries (``TransientDatabaseError``)
or does not (``PermanentDatabaseError``), with a short one-line message, and
leaves nothing half-written."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from csv_dmap.db import BatchRef, StatsRepository, build_engine, classify, create_schema, seed_users
from csv_dmap.errors import PermanentDatabaseError, TransientDatabaseError
from csv_dmap.models import StatsWrite
from tests.conftest import table_rows

T0 = datetime(2026, 11, 22)
IDS = [f"U{i}" for i in range(1, 6)]


def apply(engine, values, execution="e"):
    repo = StatsRepository(engine)
    with repo.unit_of_work(BatchRef(execution, 0, T0, T0)) as unit:
        seen = unit.read(list(values))
        unit.write([StatsWrite(u, *values[u]) for u in values if u in seen])


@pytest.fixture
def db(database_url):
    engine = build_engine(database_url)
    create_schema(engine)
    seed_users(engine, IDS)
    apply(engine, {u: (1, 1) for u in IDS}, execution="before")
    yield engine
    engine.dispose()


def inject(engine, error, when="INSERT"):
    """Raise the driver's own exception when a statement starting with ``when`` is sent."""

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(when):
            raise error

    event.listen(engine, "before_cursor_execute", fail)


def mysql_error(code: int, message: str):
    import pymysql

    return pymysql.err.OperationalError(code, message)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1205, "Lock wait timeout exceeded; try restarting transaction"),
        (1213, "Deadlock found when trying to get lock; try restarting transaction"),
        (2006, "MySQL server has gone away"),
        (2013, "Lost connection to MySQL server during query"),
        (1040, "Too many connections"),
    ],
)
@pytest.mark.mariadb
def test_driver_errors_that_clear_are_transient(mariadb_url, code, message):
    engine = build_engine(mariadb_url)
    create_schema(engine)
    seed_users(engine, ["F1"])
    inject(engine, mysql_error(code, message))
    with pytest.raises(TransientDatabaseError) as info:
        apply(engine, {"F1": (9, 9)})
    assert str(info.value) == f"database unavailable: OperationalError {code}: {message}"
    engine.dispose()


def test_sqlite_busy_is_transient(tmp_path):
    import sqlite3

    engine = build_engine(f"sqlite:///{tmp_path / 'busy.sqlite'}")
    create_schema(engine)
    seed_users(engine, ["F1"])
    inject(engine, sqlite3.OperationalError("database is locked"))
    with pytest.raises(TransientDatabaseError, match="database is locked"):
        apply(engine, {"F1": (9, 9)})
    assert table_rows(engine, "user_stats") == []
    engine.dispose()


def test_an_error_a_retry_cannot_clear_is_permanent_and_short(db):
    with db.begin() as conn:
        conn.execute(text("DROP TABLE user_stats"))
    with pytest.raises(PermanentDatabaseError) as info:
        apply(db, {"U1": (2, 2)})
    message = str(info.value)
    assert message.startswith("database error: ") and "user_stats" in message
    assert "\n" not in message and "Traceback" not in message and len(message) <= 1000


def test_passwords_never_reach_the_message():
    import pymysql

    orig = pymysql.err.OperationalError(1045, "cannot use mysql+pymysql://admin:s3cr3t-pw@db.example:3306/x\nline 2")
    err = classify(OperationalError("SELECT 1", {}, orig))
    assert isinstance(err, PermanentDatabaseError)
    assert "s3cr3t-pw" not in str(err) and "admin:***@db.example" in str(err) and "line 2" not in str(err)


def test_a_very_long_driver_message_is_capped():
    import pymysql

    err = classify(OperationalError("SELECT 1", {}, pymysql.err.OperationalError(1213, "x" * 100_000)))
    assert isinstance(err, TransientDatabaseError) and len(str(err)) <= 1100


# --------------------------------------------------------------------------- real MariaDB faults


@pytest.mark.mariadb
def test_a_real_lock_wait_timeout_is_transient_and_changes_nothing(mariadb_url):
    holder, engine = build_engine(mariadb_url), build_engine(mariadb_url)
    event.listen(
        engine, "connect", lambda dbapi, rec: dbapi.cursor().execute("SET SESSION innodb_lock_wait_timeout = 1")
    )
    create_schema(engine)
    seed_users(engine, ["L1", "L2"])
    with holder.connect() as other:
        other.begin()
        other.execute(text("SELECT * FROM users WHERE user_id = 'L2' FOR UPDATE"))
        with pytest.raises(TransientDatabaseError, match="1205"):
            apply(engine, {"L1": (5, 5), "L2": (6, 6)})
        other.rollback()
    assert [r["user_id"] for r in table_rows(engine, "user_stats")] == []
    holder.dispose()
    engine.dispose()


@pytest.mark.mariadb
def test_a_connection_killed_mid_batch_is_transient_and_commits_nothing(mariadb_url):
    engine, admin = build_engine(mariadb_url), build_engine(mariadb_url)
    create_schema(engine)
    seed_users(engine, ["K1", "K2"])

    def kill_after_read(conn, cursor, statement, parameters, context, executemany):
        if statement.rstrip().upper().endswith("FOR UPDATE"):
            with admin.connect() as a:
                a.execute(text(f"KILL CONNECTION {cursor.connection.thread_id()}"))

    event.listen(engine, "after_cursor_execute", kill_after_read)
    with pytest.raises(TransientDatabaseError, match=r"20(06|13)|connection"):
        apply(engine, {"K1": (5, 5), "K2": (6, 6)})
    event.remove(engine, "after_cursor_execute", kill_after_read)
    assert table_rows(admin, "user_stats") == []
    apply(engine, {"K1": (5, 5)})  # the pool recovers: the next batch applies
    assert [r["login_count"] for r in table_rows(admin, "user_stats")] == [5]
    engine.dispose()
    admin.dispose()


@pytest.mark.mariadb
def test_a_real_deadlock_is_transient(mariadb_url):
    """Another writer (not a batch: batches lock in id order) holds D2 and then asks for
    D1, which the batch holds while it waits for D2. InnoDB rolls back the lighter
    transaction: the batch, because the other one has modified many rows."""
    engine, other_engine = build_engine(mariadb_url), build_engine(mariadb_url)
    create_schema(engine)
    seed_users(engine, ["D1", "D2", *[f"H{i:03d}" for i in range(200)]])
    errors: list[BaseException] = []

    with other_engine.connect() as other:
        other.begin()
        other.execute(text("UPDATE users SET created_at = created_at + INTERVAL 1 SECOND WHERE user_id LIKE 'H%'"))
        other.execute(text("SELECT * FROM users WHERE user_id = 'D2' FOR UPDATE"))

        def batch():
            try:
                apply(engine, {"D1": (1, 1), "D2": (2, 2)})
            except BaseException as exc:  # noqa: BLE001 - examined below
                errors.append(exc)

        worker = threading.Thread(target=batch)
        worker.start()
        deadline = time.monotonic() + 60
        query = text(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE db = DATABASE() AND info LIKE 'SELECT%FOR UPDATE' AND id <> CONNECTION_ID()"
        )
        with other_engine.connect() as watch:
            while not watch.execute(query).scalar():
                assert time.monotonic() < deadline, "the batch never reached its locking read"
                watch.rollback()
                time.sleep(0.05)
        time.sleep(0.2)  # let the batch take D1 and queue on D2 (not asserted on)
        other.execute(text("SELECT * FROM users WHERE user_id = 'D1' FOR UPDATE"))  # the cycle closes
        worker.join(60)
        other.rollback()
    assert len(errors) == 1 and isinstance(errors[0], TransientDatabaseError), errors
    assert "1213" in str(errors[0])
    engine.dispose()
    other_engine.dispose()
