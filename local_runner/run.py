"""``make run``: the whole pipeline on this machine, on embedded defaults.

Generates a realistic sample CSV (or takes ``--csv``), seeds the users it
knows into the database, uploads the file to the local input bucket, runs
``statemachine/definition.asl.json`` with the template's functions, and
prints what happened and where the outputs are.
"""

from __future__ import annotations

import json
import random
import resource
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asl_runner.cli import CannotRun
from asl_runner.limits import NAME_MAX_CHARS

from . import layer
from .environment import LocalEnvironment
from .phases import Phases
from .pipeline import entered, finish, keep_for_analysis, print_summary, run_map
from .template import local_root

HEADER = "ユーザーID,ログイン回数,投稿回数\n"


def generate_sample(
    path: Path, rows: int, seed: int = 42, bad_ratio: float = 0.01, unknown_ratio: float = 0.01
) -> list[str]:
    """Write a sample export; return the user ids that exist (to be seeded).

    About ``bad_ratio`` of the rows are malformed (non-numeric, negative or
    empty counts, empty or invalid ids) and ``unknown_ratio`` name users that
    are not in ``users``.
    """
    return list(_generate(path, rows, seed, bad_ratio, unknown_ratio))


def _generate(
    path: Path, rows: int, seed: int = 42, bad_ratio: float = 0.01, unknown_ratio: float = 0.01
) -> Iterator[str]:
    """Write the sample as it goes and yield the ids that exist, so that a
    million-row sample is seeded without holding its ids in memory."""
    rng = random.Random(seed)
    bad_values = [("abc", "3"), ("-1", "2"), ("5", ""), ("1.5", "4"), ("7", "x")]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        for i in range(1, rows + 1):
            roll = rng.random()
            if roll < bad_ratio:
                kind = rng.randrange(len(bad_values) + 2)
                if kind == len(bad_values):
                    fh.write(f",{rng.randrange(100)},{rng.randrange(100)}\n")
                elif kind == len(bad_values) + 1:
                    fh.write(f"U{i:07d} X,{rng.randrange(100)},{rng.randrange(100)}\n")
                else:
                    login, post = bad_values[kind]
                    fh.write(f"U{i:07d},{login},{post}\n")
            elif roll < bad_ratio + unknown_ratio:
                fh.write(f"N{i:07d},{rng.randrange(100)},{rng.randrange(500)}\n")
            else:
                uid = f"U{i:07d}"
                fh.write(f"{uid},{rng.randrange(100)},{rng.randrange(500)}\n")
                yield uid


def execution_name(now: datetime | None = None) -> str:
    """``local-<UTC time>-<random>``: unique even for two runs in the same second, and a
    valid Step Functions name (at most 80 characters of letters, digits, ``-``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    name = f"local-{stamp}-{uuid.uuid4().hex[:12]}"
    assert len(name) <= NAME_MAX_CHARS
    return name


def main(args: Any) -> int:
    from .localdata import execution_lock
    from .redrive import keep_kit

    started = time.monotonic()
    out_dir = Path(args.out or local_root() / "out")
    _check_out_dir(out_dir)
    csv_path = Path(args.csv).resolve() if args.csv else local_root() / f"sample-{args.rows}.csv"
    if args.csv and not csv_path.is_file():
        raise CannotRun(f"--csv: no file {args.csv}")
    overrides = dict(p.split("=", 1) for p in args.parameter)
    environment = LocalEnvironment(
        database_url=args.database_url,
        quiet=not args.verbose,
        moto_server=args.moto_server,
        parameters=overrides,
        aws=getattr(args, "aws", "disk"),
    )
    environment.phases = phases = Phases(show=not args.no_progress)
    phases.start("start", "the database, S3 (s3rver) and the audit table (dynalite)")
    with entered(environment) as env:
        phases.end("start")
        first_user: list[str] = []
        total_rows = _seed(args, csv_path, phases, first_user)
        name = execution_name()
        bucket = env.physical_name("InputBucket")
        key = f"incoming/{csv_path.name}"
        with phases.phase("upload"):
            env.client("s3").upload_file(str(csv_path), bucket, key)
        with execution_lock(name):
            run = run_map(env, name, total_rows, not args.no_progress, input={"bucket": bucket, "key": key})
            result, run_seconds = run
            keep_for_analysis(env, name, rows=total_rows)
            hint = None
            if result.status != "SUCCEEDED":
                with phases.phase("kit", "keeping what a redrive needs"):
                    hint = keep_kit(env, result, parameters=overrides, rows_in_file=total_rows)
            summary = finish(
                env, out_dir, name, result, run_seconds, total_rows, started, export=not args.no_export, redrive=hint
            )
        summary["sampleUserId"] = first_user[0] if first_user else None
        summary["file"] = str(csv_path)
        if result.map_runs:
            summary["phaseSeconds"]["ProcessUserStats"] = result.map_runs[0].get("durationSeconds")
        own = resource.getrusage(resource.RUSAGE_SELF)
        # CPU seconds of each process (the runner's own; dynalite's includes other runs it served)
        summary["cpuSeconds"] = {"runner": round(own.ru_utime + own.ru_stime, 2), **env.stand_in_cpu_seconds()}
        phases.start("stop")
    summary["phaseSeconds"]["stop"] = round(phases.end("stop"), 2)
    summary["totalSeconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0 if result.status == "SUCCEEDED" else 1


def _check_out_dir(out_dir: Path) -> None:
    """``--out`` must be a directory that can be made, checked before anything runs (not after the
    whole pipeline): the nearest existing path must be a writable directory."""
    import os

    if out_dir.exists() and not out_dir.is_dir():
        raise CannotRun(f"--out: {out_dir} is a file, not a directory")
    nearest = next((p for p in [out_dir, *out_dir.parents] if p.exists()), None)
    if nearest is None or not nearest.is_dir():
        raise CannotRun(f"--out: {nearest} is a file: {out_dir} cannot be a directory")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise CannotRun(f"--out: {nearest} is not writable")


def _first(ids: Iterable[str], into: list[str]) -> Iterator[str]:
    """``ids`` as they pass, keeping the first one (a user the summary's next commands can name)."""
    for uid in ids:
        if not into:
            into.append(uid)
        yield uid


def _seed(args: Any, csv_path: Path, phases: Phases, first: list[str]) -> int:
    """Write the sample (or read the user's file), seed its users; the file's data records."""
    if not args.csv:
        with phases.phase("seed", f"generating {args.rows:,} sample rows -> {csv_path} and seeding their users"):
            layer.seed_users(_first(_generate(csv_path, args.rows), first))
        return int(args.rows)
    records = layer.CsvRecords(csv_path)
    with phases.phase("seed", f"reading {csv_path}" + (" and seeding its users" if args.seed == "csv" else "")):
        ids = _first(records.user_ids(), first)
        if args.seed == "csv":
            layer.seed_users(ids)
        else:
            for _ in ids:
                pass
    return records.count
