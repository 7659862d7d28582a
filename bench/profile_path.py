"""Where the worker's database path spends its time, at one batch size, with
and without the row lock: parsing the event (pydantic), the read of old values
(SELECT [... FOR UPDATE], driver and server), the upsert (driver's executemany
and server), and the rest (apply_batch's row validation and results, COMMIT,
SQLAlchemy's bookkeeping). Statements are timed with
SQLAlchemy's before/after_cursor_execute events, so no profiler slows the path.

Usage: python -m bench.profile_path [--rows 10000] [--batch 500]
                                    [--repository M:F] [--locked-repository M:F]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from typing import Any

from bench.common import fresh_database, save
from bench.worker_path import DropAudit, batches, load_factory, populate, reads_for_update

ROUNDS = 4


class StatementClock:
    """Seconds spent inside the driver per kind of statement (read / upsert / other)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.seconds = {"read": 0.0, "upsert": 0.0, "other": 0.0}
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip()[:6].upper()
        kind = "read" if head == "SELECT" else "upsert" if head == "INSERT" else "other"
        self.seconds[kind] += time.perf_counter() - self._started


def run(events: Sequence[dict[str, Any]], repo: Any, clock: StatementClock) -> dict[str, float]:
    from csv_dmap.logic.apply_batch import apply_batch
    from csv_dmap.models import WorkerEvent

    before = dict(clock.seconds)
    validation = 0.0
    started = time.perf_counter()
    for event in events:
        t0 = time.perf_counter()
        batch = WorkerEvent.model_validate(event)
        validation += time.perf_counter() - t0
        apply_batch(batch, repo, DropAudit())
    total = time.perf_counter() - started
    spent = {k: clock.seconds[k] - before[k] for k in clock.seconds}
    return {"total": total, "validation": validation, **spent}


def shares(seconds: dict[str, float], rows: int) -> dict[str, Any]:
    total = seconds["total"]
    parts = {
        "parse the event (WorkerEvent.model_validate)": seconds["validation"],
        "read old values (SELECT, driver + server)": seconds["read"],
        "upsert (executemany, driver + server)": seconds["upsert"],
        "other statements (BEGIN/COMMIT/users)": seconds["other"],
    }
    parts["rest: row validation, results, COMMIT, SQLAlchemy"] = total - sum(parts.values())
    return {
        "rowsPerSecond": round(rows / total),
        "shares": {k: round(v / total, 3) for k, v in parts.items()},
        "microsecondsPerRow": {k: round(v / rows * 1e6, 2) for k, v in parts.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Where the worker's database path spends its time.")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repository", default="bench.worker_path:shipped_repository")
    parser.add_argument("--locked-repository", default="bench.worker_path:locking_repository")
    args = parser.parse_args(argv)
    from csv_dmap.db import build_engine

    engine = build_engine(fresh_database("csv_dmap_bench", drop=False))
    populate(engine)
    clock = StatementClock(engine)
    variants = {
        "without lock": load_factory(args.repository)(engine),
        "with FOR UPDATE": load_factory(args.locked_repository)(engine),
    }
    rng = random.Random(7)
    totals = {name: {"total": 0.0, "validation": 0.0, "read": 0.0, "upsert": 0.0, "other": 0.0} for name in variants}
    for round_no in range(ROUNDS):  # interleaved, as in bench.worker_path
        for name, repo in variants.items() if round_no % 2 == 0 else reversed(variants.items()):
            events = list(batches(args.batch, args.rows // ROUNDS, rng, f"profile-{round_no}"))
            for k, v in run(events, repo, clock).items():
                totals[name][k] += v
    rows = (args.rows // ROUNDS // args.batch) * args.batch * ROUNDS
    results = {name: {"locks": reads_for_update(variants[name]), **shares(t, rows)} for name, t in totals.items()}
    for name, r in results.items():
        print(name, r["rowsPerSecond"], "rows/s", r["shares"])
    data = {
        "benchmark": "profile_path",
        "rows": rows,
        "batch": args.batch,
        "command": f"python -m bench.profile_path --rows {args.rows} --batch {args.batch}",
        "results": results,
    }
    save("profile_path", data)
    engine.dispose()
    return data


if __name__ == "__main__":
    main()
