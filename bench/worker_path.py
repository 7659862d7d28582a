"""The worker's data path on MariaDB (the Aurora stand-in), batch by batch,
over a 1,000,000-user table, measured in one run against two references:

- ceiling: the same rows as one PyMySQL executemany of INSERT ... ON DUPLICATE
  KEY UPDATE per batch (the same columns the worker writes): no reads, no
  validation, no audit (the driver's and the server's own rate);
- baseline: the per-row path the specification described (per row: SELECT, UPDATE, SELECT, one
  transaction each, and one PutItem), written here only;
- project_db: apply_batch with the repository as shipped and an audit sink that
  drops the items: validation + the batch's users read with
  ``SELECT ... FOR UPDATE`` (sorted, locked until the batch commits) + decide +
  multi-row upserts. This is the path with the row locking concurrent runs need
  (docs/contracts.md, "Update semantics")
  (``project_db_lock`` on the command line is the same path);
- project_db_nolock: the same repository with the read's FOR UPDATE removed
  (:class:`UnlockedRepository`, a bench-only subclass: production has no such
  switch), to show what the lock costs;
- project_full: project_db with the real AuditLogWriter against moto's DynamoDB.

Every path runs in interleaved rounds in one process, and each is reported in
rows/s and as a ratio to the ceiling measured in the same run. Every batch of a
round gets its own execution name and a later ``executionStartTime`` than any
before it (:func:`batches`), so "newer execution wins" applies every row.

Hooks (each a ``module:function`` taking the engine and returning a repository):

    python -m bench.worker_path --repository csv_dmap.db:StatsRepository \\
        --unlocked-repository bench.worker_path:unlocked_repository

Usage: python -m bench.worker_path [--rows N] [--sizes 25,100,500,1000]
                                   [--paths ceiling,project_db,project_db_nolock,project_full,baseline]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import fresh_database, mariadb_version, save

USERS = 1_000_000
ROUNDS = 6
ALL_PATHS = ("ceiling", "project_db", "project_db_nolock", "project_full", "baseline")
ALIASES = {"project_db_lock": "project_db"}  # the shipped path is the locking one
Event = dict[str, Any]
RepositoryFactory = Callable[[Any], Any]


def populate(engine: Any) -> None:
    """users and user_stats with USERS rows each (kept between runs)."""
    from sqlalchemy import text

    from csv_dmap.db import create_schema

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
                [(u, 1, 1, now) for u in ids],
            )
            raw.commit()
    finally:
        raw.close()


_STARTS = itertools.count()
_EPOCH = datetime.now(UTC)


def next_start() -> str:
    """A start time later than every earlier one of this process (and, being
    taken from the clock at import, than those of earlier runs): each
    execution of the bench is the newest, so "newer wins" applies all its rows."""
    return (_EPOCH + timedelta(milliseconds=next(_STARTS))).isoformat().replace("+00:00", "Z")


def batches(size: int, rows: int, rng: random.Random, run: str) -> Iterator[Event]:
    """The batches of one execution ``run`` (its own, later start time)."""
    index = 0
    start = next_start()
    for _ in range(max(1, rows // size)):
        ids = rng.sample(range(USERS), size)
        items = [
            {
                "index": index + i,
                "row": {
                    "ユーザーID": f"U{u:07d}",
                    "ログイン回数": str(rng.randrange(1000)),
                    "投稿回数": str(rng.randrange(5000)),
                },
            }
            for i, u in enumerate(ids)
        ]
        index += size
        yield {
            "Items": items,
            "BatchInput": {"executionName": run, "executionStartTime": start, "sourceKey": "bench.csv"},
        }


def ceiling(engine: Any, events: Sequence[Event]) -> int:
    raw = engine.raw_connection()
    sql = (
        "INSERT INTO user_stats (user_id, login_count, post_count, prev_login_count, prev_post_count,"
        " last_execution_name, last_batch_index, updated_at, last_execution_start)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE login_count=VALUES(login_count), post_count=VALUES(post_count),"
        " prev_login_count=VALUES(prev_login_count), prev_post_count=VALUES(prev_post_count),"
        " last_execution_name=VALUES(last_execution_name), last_batch_index=VALUES(last_batch_index),"
        " updated_at=VALUES(updated_at), last_execution_start=VALUES(last_execution_start)"
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    n = 0
    try:
        cur = raw.cursor()
        for event in events:
            # the execution's start, as the worker writes it (a later path then still wins)
            start = datetime.fromisoformat(event["BatchInput"]["executionStartTime"]).replace(tzinfo=None)
            rows = [
                (
                    i["row"]["ユーザーID"],
                    int(i["row"]["ログイン回数"]),
                    int(i["row"]["投稿回数"]),
                    None,
                    None,
                    "ceiling",
                    event["Items"][0]["index"],
                    now,
                    start,
                )
                for i in event["Items"]
            ]
            cur.executemany(sql, rows)
            raw.commit()
            n += len(rows)
    finally:
        raw.close()
    return n


class DropAudit:
    """Audit sink (``csv_dmap.logic.apply_batch.AuditSink``) that keeps nothing: isolates the
    database path."""

    def write_results_report(
        self,
        results: Sequence[Any],
        *,
        execution_name: str,
        execution_start: Any,
        source_key: str,
        ttl_days: int,
        keep_existing: frozenset[int] = frozenset(),
    ) -> Any:
        from csv_dmap.models import AuditReport

        return AuditReport()


def load_factory(spec: str) -> RepositoryFactory:
    """``module:function`` -> the callable (a repository factory hook)."""
    module, _, name = spec.partition(":")
    factory: RepositoryFactory = getattr(importlib.import_module(module), name)
    return factory


def shipped_repository(engine: Any) -> Any:
    from csv_dmap.db import StatsRepository

    return StatsRepository(engine)


def reads_for_update(repo: Any) -> bool:
    """Whether ``repo``'s unit of work reads the batch's users with ``SELECT ... FOR UPDATE``."""
    from csv_dmap import db

    if isinstance(repo, UnlockedRepository):
        return False
    locked = getattr(db, "_READ_LOCKED", None)
    return getattr(locked, "_for_update_arg", None) is not None


def _unlocked_class() -> type:
    from csv_dmap.db import StatsRepository

    class _Unlocked(StatsRepository):
        """The shipped repository, its read of the batch's users without FOR UPDATE
        (bench only: the worker always locks; the reconcile path already reads unlocked)."""

        def unit_of_work(self, batch: Any, *, lock: bool = True) -> Any:
            return super().unit_of_work(batch, lock=False)

    return _Unlocked


class UnlockedRepository:
    """Marker base: ``unlocked_repository`` returns an instance of a subclass of both."""


def unlocked_repository(engine: Any) -> Any:
    """The repository as shipped, its read of old values a plain ``SELECT`` (no row lock)."""
    cls = type("UnlockedStatsRepository", (UnlockedRepository, _unlocked_class()), {})
    return cls(engine)


def project(engine: Any, events: Sequence[Event], audit: Any, repo: Any) -> int:
    from csv_dmap.logic.apply_batch import apply_batch
    from csv_dmap.models import WorkerEvent

    n = 0
    for event in events:
        # model_construct for 1000-row batches, above the worker's 500-row contract
        batch = WorkerEvent.model_validate(event) if len(event["Items"]) <= 500 else _construct(event)
        out = apply_batch(batch, repo, audit)
        n += out.counts.total
        assert out.counts.applied == out.counts.total, out.counts
    return n


def _construct(event: Event) -> Any:
    from csv_dmap.models import BatchInput, BatchItem, WorkerEvent

    return WorkerEvent.model_construct(
        items=[BatchItem(**i) for i in event["Items"]], batch_input=BatchInput.model_validate(event["BatchInput"])
    )


def baseline(engine: Any, events: Sequence[Event], ddb: Any, table: str) -> int:
    """The specification's process_single_item: select, update, select, PutItem, per row."""
    from sqlalchemy import text

    n = 0
    for event in events:
        for item in event["Items"]:
            row = item["row"]
            uid, login, post = row["ユーザーID"], int(row["ログイン回数"]), int(row["投稿回数"])
            with engine.begin() as conn:
                old = conn.execute(
                    text("SELECT login_count, post_count FROM user_stats WHERE user_id=:u"), {"u": uid}
                ).one()
                conn.execute(
                    text("UPDATE user_stats SET login_count=:l, post_count=:p, updated_at=NOW() WHERE user_id=:u"),
                    {"l": login, "p": post, "u": uid},
                )
                new = conn.execute(
                    text("SELECT login_count, post_count FROM user_stats WHERE user_id=:u"), {"u": uid}
                ).one()
            ddb.put_item(
                TableName=table,
                Item={
                    "executionName": {"S": event["BatchInput"]["executionName"]},
                    "itemKey": {"S": f"{item['index']:010d}"},
                    "userId": {"S": uid},
                    "timestamp": {"S": datetime.now(UTC).isoformat()},
                    "status": {"S": "success"},
                    "oldValue": {"S": str(tuple(old))},
                    "newValue": {"S": str(tuple(new))},
                },
            )
            n += 1
    return n


def timed(fn: Callable[..., int], *args: Any) -> tuple[int, float]:
    start = time.perf_counter()
    n = fn(*args)
    return n, time.perf_counter() - start


def ratios(figures: dict[str, Any]) -> dict[str, float]:
    """Each path as a share of the ceiling (and of the baseline) measured in the same run."""
    out: dict[str, float] = {}
    for name in ("project_db", "project_db_nolock", "project_full"):
        if name in figures and "ceiling" in figures:
            out[f"{name}/ceiling"] = round(figures[name] / figures["ceiling"], 3)
        if name in figures and "baseline" in figures:
            out[f"{name}/baseline"] = round(figures[name] / figures["baseline"], 1)
    if "project_db" in figures and "project_db_nolock" in figures:
        out["project_db/project_db_nolock"] = round(figures["project_db"] / figures["project_db_nolock"], 3)
    return out


def measure_size(
    size: int,
    rows: int,
    rng: random.Random,
    paths: dict[str, tuple[Callable[..., int], tuple[Any, ...], int]],
    engine: Any,
) -> dict[str, Any]:
    done = {name: [0, 0.0] for name in paths}
    names = list(paths)
    # Interleaved rounds, each path on fresh random users, so that drift on a
    # shared machine (and the buffer pool warming) hits all paths alike; the
    # order rotates each round, so no path always follows the ceiling's burst
    # of writes (InnoDB flushes them while the next path runs).
    for round_no in range(ROUNDS):
        for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
            fn, extra, n_rows = paths[name]
            events = list(batches(size, max(size, n_rows // ROUNDS), rng, f"bench-{name}-{size}-{round_no}"))
            n, seconds = timed(fn, engine, events, *extra)
            done[name][0] += n
            done[name][1] += seconds
    figures: dict[str, Any] = {"batch": size, **{name: round(n / sec) for name, (n, sec) in done.items()}}
    return {**figures, **ratios(figures)}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The worker's data path against the driver's ceiling.")
    parser.add_argument(
        "--rows", type=int, default=20_000, help="rows per measurement (full: a quarter; baseline: a twentieth)"
    )
    parser.add_argument("--sizes", default="25,100,500,1000")
    parser.add_argument("--paths", default=",".join(ALL_PATHS), help=f"a subset of {','.join(ALL_PATHS)}")
    parser.add_argument(
        "--repository",
        default="bench.worker_path:shipped_repository",
        help="module:function(engine) -> repository for project_db and project_full",
    )
    parser.add_argument(
        "--unlocked-repository",
        default="bench.worker_path:unlocked_repository",
        help="module:function(engine) -> repository that reads without FOR UPDATE (project_db_nolock)",
    )
    args = parser.parse_args(argv)
    args.paths = ",".join(dict.fromkeys(ALIASES.get(p, p) for p in args.paths.split(",")))
    unknown = set(args.paths.split(",")) - set(ALL_PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))} (choose from {', '.join(ALL_PATHS)})")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    wanted = args.paths.split(",")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "ap-northeast-1"})
    import boto3
    from moto import mock_aws

    from csv_dmap.audit import AuditLogWriter
    from csv_dmap.db import build_engine
    from local_runner.template import load_template, table_definition

    url = fresh_database("csv_dmap_bench", drop=False)
    engine = build_engine(url)
    populate(engine)
    repo, unlocked = load_factory(args.repository)(engine), load_factory(args.unlocked_repository)(engine)
    rng = random.Random(2026)
    results = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="ap-northeast-1")
        ddb.create_table(**table_definition(load_template(), "AuditTable", "bench-audit"))
        # the specification's audit table (partition key executionName), for the baseline's PutItems
        ddb.create_table(
            TableName="bench-audit-per-row",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "executionName", "KeyType": "HASH"},
                {"AttributeName": "itemKey", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "executionName", "AttributeType": "S"},
                {"AttributeName": "itemKey", "AttributeType": "S"},
            ],
        )
        writer = AuditLogWriter(ddb, "bench-audit")
        for size in [int(s) for s in args.sizes.split(",")]:
            rows = max(args.rows, size * 4)
            every: dict[str, tuple[Callable[..., int], tuple[Any, ...], int]] = {
                "ceiling": (ceiling, (), rows),
                "project_db": (project, (DropAudit(), repo), rows),
                "project_db_nolock": (project, (DropAudit(), unlocked), rows),
                "project_full": (project, (writer, repo), max(size, rows // 4)),
                "baseline": (baseline, (ddb, "bench-audit-per-row"), max(size, rows // 20)),
            }
            figures = measure_size(size, rows, rng, {k: v for k, v in every.items() if k in wanted}, engine)
            results.append(figures)
            print(" ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    data = {
        "benchmark": "worker_path",
        "database": mariadb_version(url),
        "users": USERS,
        "rowsPerMeasurement": args.rows,
        "unit": "rows/s",
        "paths": wanted,
        "repository": args.repository,
        "unlockedRepository": args.unlocked_repository,
        "shippedRepositoryLocks": reads_for_update(repo),
        "unlockedRepositoryLocks": reads_for_update(unlocked),
        "command": "python -m bench.worker_path " + " ".join(argv if argv is not None else sys.argv[1:]),
        "results": results,
    }
    save("worker_path", data)
    engine.dispose()
    return data


if __name__ == "__main__":
    main()
