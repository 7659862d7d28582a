"""The local run's own state under concurrency: the progress file written from many map worker
threads, one execution held by one process, seeding through deadlocks, and the audit table's
server shared by runs of one checkout."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import text


def test_the_progress_of_a_map_survives_every_worker_thread_reporting_at_once(tmp_path):
    from local_runner.layer import MapProgress

    progress = MapProgress("local-progress", total=16_000, data_dir=tmp_path)
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def worker(ok: bool) -> None:
        start.wait()
        try:
            for _ in range(100):
                progress.batch_done(10, ok)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n % 4 != 0,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    body = json.loads((tmp_path / "running" / "local-progress.json").read_text())
    assert (body["itemCounts"]["succeeded"], body["itemCounts"]["failed"]) == (12_000, 4_000)
    assert [p.name for p in (tmp_path / "running").iterdir()] == ["local-progress.json"]  # no temporary left
    progress.close()
    assert not (tmp_path / "running" / "local-progress.json").exists()


def test_an_execution_held_by_one_process_is_busy_for_another(tmp_path):
    from local_runner.localdata import Busy, execution_lock
    from local_runner.redrive import redrive

    busy = "local-held is being run or redriven by another process"
    with execution_lock("local-held", tmp_path), pytest.raises(Busy, match=busy):
        redrive("local-held", data_dir=tmp_path)
    with execution_lock("local-held", tmp_path):  # released: it can be held again
        pass


def test_a_file_written_whole_leaves_no_temporary_when_the_writer_fails(tmp_path):
    from local_runner.localdata import atomic_file

    target = tmp_path / "a.json"
    target.write_text("before")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write("half")
        raise RuntimeError("the writer died")
    assert target.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.mariadb
def test_seeding_that_meets_a_deadlock_tries_its_chunk_again(mariadb_url, monkeypatch):
    """A real InnoDB deadlock: another transaction holds U2 and many rows, the seeder takes U1 and
    waits for U2, the other asks for U1. InnoDB rolls back the seeder (it changed fewer rows); the
    seeder pauses and inserts its chunk again once the other transaction has committed."""
    from csv_dmap.db import build_engine, create_schema
    from local_runner import layer

    engine = build_engine(mariadb_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE user_id LIKE 'DL%'"))
    monkeypatch.setenv("DATABASE_URL", mariadb_url)
    layer.reset()
    pauses: list[float] = []
    other = engine.connect()
    transaction = other.begin()
    other.execute(text("INSERT INTO users (user_id) VALUES " + ",".join(f"('DLX{i:03d}')" for i in range(200))))
    other.execute(text("INSERT INTO users (user_id) VALUES ('DL2')"))

    def seed() -> None:
        layer.seed_users(iter(["DL1", "DL2"]), sleep=pauses.append)

    seeder = threading.Thread(target=seed)
    seeder.start()
    waited = 0.0
    while waited < 10 and not _waiting_for_a_lock(engine):
        threading.Event().wait(0.05)
        waited += 0.05
    other.execute(text("INSERT INTO users (user_id) VALUES ('DL1')"))  # the deadlock: the seeder is the victim
    transaction.commit()
    other.close()
    seeder.join(timeout=60)
    assert not seeder.is_alive()
    assert len(pauses) == 1, "the seeder's chunk was rolled back once and tried again"
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("SELECT user_id FROM users WHERE user_id IN ('DL1', 'DL2')"))}
    assert ids == {"DL1", "DL2"}
    engine.dispose()
    layer.reset()


def _waiting_for_a_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE '%lock%' AND INFO LIKE 'INSERT%'"
                )
            ).scalar()
        )


def test_seeding_that_never_gets_through_is_one_line(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from asl_runner.cli import CannotRun
    from local_runner import layer

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    layer.reset()

    class Deadlock(Exception):
        pass

    def always_deadlocks(engine, ids, chunk=100):
        orig = Deadlock(1213, "Deadlock found when trying to get lock; try restarting transaction")
        raise OperationalError("INSERT IGNORE INTO users ...", {}, orig)

    monkeypatch.setattr("csv_dmap.db.seed_users", always_deadlocks)
    pauses: list[float] = []
    with pytest.raises(CannotRun) as caught:
        layer.seed_users(iter(["U1"]), sleep=pauses.append)
    assert len(pauses) == layer.SEED_ATTEMPTS - 1
    message = str(caught.value)
    assert message.startswith("seeding the users failed after 0 users: (1213, 'Deadlock found") and "\n" not in message
    layer.reset()


def test_runs_of_one_checkout_share_the_audit_tables_server(tmp_path):
    from local_runner.local_aws import SharedDynamoDB, peak_rss_mib

    first, second = SharedDynamoDB(tmp_path / "ddb"), SharedDynamoDB(tmp_path / "ddb")
    endpoint = first.attach()
    assert second.attach() == endpoint  # the second run joins the server the first started
    assert first.server is not None
    pid = first.server.pid
    first.detach()
    assert peak_rss_mib(pid) is not None, "the server stays while another run uses it"
    second.detach()
    assert peak_rss_mib(pid) is None, "the last run to leave stops it"
    assert not (tmp_path / "ddb" / "server.json").exists()
    assert Path(tmp_path / "ddb" / "leveldb").is_dir()  # the table's data stays on disk
