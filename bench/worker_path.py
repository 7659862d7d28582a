"""The worker's data path on MariaDB (the Aurora stand-in), batch by batch,
over a 1,000,000-user table, measured in one run against two references:

- ceiling: the same rows as one PyMySQL executemany of INSERT ... ON DUPLICATE
  KEY UPDATE per batch: no reads, no validation, no audit (the driver's and the
  server's own rate);
- baseline: the seed design's path (per row: SELECT, UPDATE, SELECT, one
  transaction each, and one PutItem), written here only;
- project (db): apply_batch with the real repository and an audit sink that
  drops the records: validation + read of old values + upsert;
- project (full): the same with the real AuditLogWriter against moto's DynamoDB.

Usage: python -m bench.worker_path [--rows N] [--sizes 25,100,500,1000]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime

from bench.common import mariadb_version, save

USERS = 1_000_000
ROUNDS = 4
SERVER = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def bench_url() -> str:
    from sqlalchemy.engine import make_url

    from tests import mariadb

    server = mariadb.server_url() if SERVER == os.environ.get("TEST_DATABASE_URL", SERVER) else SERVER
    from sqlalchemy import create_engine, text

    engine = create_engine(server)
    with engine.begin() as conn:
        conn.execute(text("CREATE DATABASE IF NOT EXISTS csv_dmap_bench CHARACTER SET utf8mb4"))
    engine.dispose()
    return make_url(server).set(database="csv_dmap_bench").render_as_string(hide_password=False)


def populate(engine) -> None:
    """users and user_stats with USERS rows each (kept between runs)."""
    from csv_dmap.db import create_schema
    from sqlalchemy import text

    create_schema(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT COUNT(*) FROM user_stats")).scalar()
    if have >= USERS:
        return
    print(f"populating {USERS:,} users (once) ...", flush=True)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        chunk = 20_000
        now = datetime(2026, 1, 1)
        for start in range(0, USERS, chunk):
            ids = [f"U{i:07d}" for i in range(start, min(USERS, start + chunk))]
            cur.executemany("INSERT IGNORE INTO users (user_id) VALUES (%s)", ids)
            cur.executemany(
                "INSERT IGNORE INTO user_stats (user_id, login_count, post_count, prev_login_count, prev_post_count,"
                " last_execution_name, last_batch_index, updated_at) VALUES (%s,%s,%s,NULL,NULL,'seed',0,%s)",
                [(u, 1, 1, now) for u in ids])
            raw.commit()
    finally:
        raw.close()


def batches(size: int, rows: int, rng: random.Random, run: str):
    index = 0
    for _ in range(max(1, rows // size)):
        ids = rng.sample(range(USERS), size)
        items = [{"index": index + i, "row": {"ユーザーID": f"U{u:07d}", "ログイン回数": str(rng.randrange(1000)),
                                               "投稿回数": str(rng.randrange(5000))}} for i, u in enumerate(ids)]
        index += size
        yield {"Items": items, "BatchInput": {"executionName": run, "executionStartTime": "2026-11-22T00:00:00Z",
                                             "sourceKey": "bench.csv"}}


def ceiling(engine, events) -> int:
    raw = engine.raw_connection()
    sql = ("INSERT INTO user_stats (user_id, login_count, post_count, prev_login_count, prev_post_count,"
           " last_execution_name, last_batch_index, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
           " ON DUPLICATE KEY UPDATE login_count=VALUES(login_count), post_count=VALUES(post_count),"
           " prev_login_count=VALUES(prev_login_count), prev_post_count=VALUES(prev_post_count),"
           " last_execution_name=VALUES(last_execution_name), last_batch_index=VALUES(last_batch_index),"
           " updated_at=VALUES(updated_at)")
    now = datetime.now(UTC).replace(tzinfo=None)
    n = 0
    try:
        cur = raw.cursor()
        for event in events:
            rows = [(i["row"]["ユーザーID"], int(i["row"]["ログイン回数"]), int(i["row"]["投稿回数"]), None, None,
                     "ceiling", event["Items"][0]["index"], now) for i in event["Items"]]
            cur.executemany(sql, rows)
            raw.commit()
            n += len(rows)
    finally:
        raw.close()
    return n


class DropAudit:
    """Audit sink that keeps nothing: isolates the database path."""

    def write(self, records):
        return 0


def project(engine, events, audit) -> int:
    from csv_dmap.db import StatsRepository
    from csv_dmap.logic.apply_batch import apply_batch
    from csv_dmap.models import WorkerEvent

    repo = StatsRepository(engine)
    n = 0
    for event in events:
        # model_construct for 1000-row batches, above the worker's 500-row contract
        batch = WorkerEvent.model_validate(event) if len(event["Items"]) <= 500 else _construct(event)
        out = apply_batch(batch, repo, audit)
        n += out.counts.total
        assert out.counts.applied == out.counts.total, out.counts
    return n


def _construct(event):
    from csv_dmap.models import BatchInput, BatchItem, WorkerEvent

    return WorkerEvent.model_construct(items=[BatchItem(**i) for i in event["Items"]],
                                       batch_input=BatchInput.model_validate(event["BatchInput"]))


def baseline(engine, events, ddb, table) -> int:
    """The seeds' process_single_item: select, update, select, PutItem, per row."""
    from sqlalchemy import text

    n = 0
    for event in events:
        for item in event["Items"]:
            row = item["row"]
            uid, login, post = row["ユーザーID"], int(row["ログイン回数"]), int(row["投稿回数"])
            with engine.begin() as conn:
                old = conn.execute(text("SELECT login_count, post_count FROM user_stats WHERE user_id=:u"), {"u": uid}).one()
                conn.execute(text("UPDATE user_stats SET login_count=:l, post_count=:p, updated_at=NOW() WHERE user_id=:u"),
                             {"l": login, "p": post, "u": uid})
                new = conn.execute(text("SELECT login_count, post_count FROM user_stats WHERE user_id=:u"), {"u": uid}).one()
            ddb.put_item(TableName=table, Item={
                "executionName": {"S": event["BatchInput"]["executionName"]}, "itemKey": {"S": f"{item['index']:010d}"},
                "userId": {"S": uid}, "timestamp": {"S": datetime.now(UTC).isoformat()},
                "status": {"S": "success"}, "oldValue": {"S": str(tuple(old))}, "newValue": {"S": str(tuple(new))}})
            n += 1
    return n


def timed(fn, *args) -> tuple[int, float]:
    start = time.perf_counter()
    n = fn(*args)
    return n, time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000, help="rows per measurement (baseline: a tenth)")
    parser.add_argument("--sizes", default="25,100,500,1000")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "ap-northeast-1"})
    import boto3
    from csv_dmap.audit import AuditLogWriter
    from csv_dmap.db import build_engine
    from moto import mock_aws

    from local_runner.template import load_template, table_definition

    url = bench_url()
    engine = build_engine(url)
    populate(engine)
    rng = random.Random(2026)
    results = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="ap-northeast-1")
        ddb.create_table(**table_definition(load_template(), "AuditTable", "bench-audit"))
        writer = AuditLogWriter(ddb, "bench-audit")
        for size in [int(s) for s in args.sizes.split(",")]:
            rows = max(args.rows, size * 4)
            paths = (
                ("ceiling", ceiling, (), rows),
                ("project_db", project, (DropAudit(),), rows),
                ("project_full", project, (writer,), max(size, rows // 4)),
                ("baseline", baseline, (ddb, "bench-audit"), max(size, rows // 20)),
            )
            done = {name: [0, 0.0] for name, *_ in paths}
            # Interleaved rounds, each path on fresh random users, so that drift
            # on a shared machine (and the buffer pool warming) hits all paths alike.
            for round_no in range(ROUNDS):
                for name, fn, extra, n_rows in paths:
                    events = list(batches(size, max(size, n_rows // ROUNDS), rng, f"bench-{name}-{size}-{round_no}"))
                    n, seconds = timed(fn, engine, events, *extra)
                    done[name][0] += n
                    done[name][1] += seconds
            figures = {"batch": size, **{name: round(n / sec) for name, (n, sec) in done.items()}}
            figures["project_db/ceiling"] = round(figures["project_db"] / figures["ceiling"], 3)
            figures["project_full/ceiling"] = round(figures["project_full"] / figures["ceiling"], 3)
            figures["project_db/baseline"] = round(figures["project_db"] / figures["baseline"], 1)
            figures["project_full/baseline"] = round(figures["project_full"] / figures["baseline"], 1)
            results.append(figures)
            print(" ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    data = {"benchmark": "worker_path", "database": mariadb_version(url), "users": USERS, "rowsPerMeasurement": args.rows,
            "unit": "rows/s", "results": results}
    save("worker_path", data)
    engine.dispose()
    return data


if __name__ == "__main__":
    main()
