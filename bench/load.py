"""Load test: concurrent local runs over overlapping users on MariaDB.

Ten runs (``--runs``) of ``--rows`` rows each are started at once, each in an OS
process of its own (the local runner with its own in-process moto: the shared
resource under test is the database). Their files take users from one pool of
``--users`` users, so most users appear in several runs; some rows repeat a user
within a file and about 1% are bad (bad counts, malformed ids, unknown users).

Afterwards the invariant is checked by an oracle written from the CSV files alone
(standard ``csv`` module, its own rules) and from what the runs reported:

- every row of every file has exactly one result (APPLIED / FAILED / SUPERSEDED /
  SKIPPED) and exactly one audit record, with the status the file implies: an earlier
  row of a user is SUPERSEDED by the line of its last row; a last row that is bad is
  FAILED; a last row that is good is APPLIED with the file's values, or SKIPPED only
  when a newer execution (later start, ties by name) APPLIED that user;
- for every user, ``user_stats`` holds the values of the newest execution that
  APPLIED the user (and names it); a user nobody applied has no row;
- the old values chain: per user, the old values the APPLIED rows report plus the
  final value are the new values plus "no row yet" (two writers that read the same
  old value, or a lost update, break it).

Figures: rows/s per run and overall, ASL retries by error, InnoDB row-lock waits,
lock time and deadlocks (``SHOW GLOBAL STATUS`` deltas: server-wide, so other
clients of the same server count too), peak RSS per run.

Usage: python -m bench.load [--runs 10] [--rows 100000] [--users 150000] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, fresh_database, git_revision, mariadb_version, save, server_url

WORK = ROOT / ".local" / "load"
HEADER = ("user_id", "login_count", "post_count")
STATUSES = ("APPLIED", "FAILED", "SUPERSEDED", "SKIPPED")
LOCK_STATUS = (
    "Innodb_row_lock_waits",
    "Innodb_row_lock_time",
    "Innodb_row_lock_time_max",
    "Innodb_deadlocks",
    "Innodb_row_lock_current_waits",
)
# The oracle's own rules (not the layer's): an id of these characters, at most 64 long;
# a count of ASCII digits that fits a signed 32-bit INT.
_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
_COUNT = re.compile(r"[0-9]+")
COUNT_MAX = 2**31 - 1
EVIDENCE_MAX = 200  # violations kept in full in the evidence file (all are counted)


# --------------------------------------------------------------------------- files


def user_id(n: int) -> str:
    return f"U{n:07d}"


def generate_file(
    path: Path, rows: int, users: int, rng: random.Random, *, bad_ratio: float = 0.01, duplicate_ratio: float = 0.05
) -> None:
    """``rows`` rows over a random subset of ``users`` users (overlapping other files):
    ~``duplicate_ratio`` repeat a user already in the file, ~``bad_ratio`` are bad."""
    fresh = iter(rng.sample(range(1, users + 1), min(users, rows)))
    seen: list[str] = []
    bad_counts = ("abc", "-1", "", "1.5", "x")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(HEADER)
        for i in range(rows):
            roll = rng.random()
            if roll < bad_ratio:
                kind = rng.randrange(4)
                if kind == 0 and seen:  # a known user with a bad count (may be that user's last row)
                    out.writerow((rng.choice(seen), rng.choice(bad_counts), rng.randrange(100)))
                elif kind == 1:
                    out.writerow((f"N{i:07d}", rng.randrange(100), rng.randrange(100)))  # not in users
                elif kind == 2:
                    out.writerow((f"U{i:07d} X", rng.randrange(100), rng.randrange(100)))  # malformed id
                else:
                    out.writerow(("", rng.randrange(100), rng.randrange(100)))
                continue
            if roll < bad_ratio + duplicate_ratio and seen:
                uid = rng.choice(seen)
            else:
                uid = user_id(next(fresh, rng.randrange(1, users + 1)))
                seen.append(uid)
            out.writerow((uid, rng.randrange(1000), rng.randrange(5000)))


# --------------------------------------------------------------------------- oracle


@dataclass(frozen=True)
class Expected:
    """What the file says of one row: ``kind`` is ``superseded`` (by line ``by``),
    ``failed`` or ``apply`` (the values ``login``/``post``)."""

    line: int
    user: str | None
    kind: str
    by: int | None = None
    login: int | None = None
    post: int | None = None


def _count(text: str) -> int | None:
    text = text.strip()
    if _COUNT.fullmatch(text) and int(text) <= COUNT_MAX:
        return int(text)
    return None


def read_records(path: Path) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells) of every non-blank data record."""
    records: list[tuple[int, list[str]]] = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        line = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, cells))
            line = reader.line_num + 1
    return records


def _valid_id(cells: list[str]) -> str | None:
    uid = cells[0].strip() if cells else ""
    return uid if _ID.fullmatch(uid) else None


def expect_file(path: Path, known: set[str]) -> dict[int, Expected]:
    """Line number -> expectation, from the file alone. The last row of a user (a
    syntactically valid id) decides; earlier rows of that user are superseded by it."""
    records = read_records(path)
    last = {uid: line for line, cells in records if (uid := _valid_id(cells))}
    out: dict[int, Expected] = {}
    for line, cells in records:
        user = _valid_id(cells)
        if user is not None and last[user] != line:
            out[line] = Expected(line, user, "superseded", by=last[user])
            continue
        login, post = (_count(cells[1]), _count(cells[2])) if len(cells) == 3 else (None, None)
        if user is None or user not in known or login is None or post is None:
            out[line] = Expected(line, user, "failed")
        else:
            out[line] = Expected(line, user, "apply", login=login, post=post)
    return out


@dataclass
class RunOutcome:
    """One run: its execution, its start (``$$.Execution.StartTime``), what its file
    implies and what it reported (line -> result record, audit line -> status)."""

    name: str
    start: str
    expected: dict[int, Expected]
    results: list[dict[str, Any]]
    audit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def order(self) -> tuple[str, str]:
        return (self.start, self.name)


@dataclass
class Verdict:
    violations: Counter[str] = field(default_factory=Counter)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    not_applied_by_error: Counter[str] = field(default_factory=Counter)
    users_checked: int = 0

    def fail(self, kind: str, **detail: Any) -> None:
        self.violations[kind] += 1
        if len(self.evidence) < EVIDENCE_MAX:
            self.evidence.append({"violation": kind, **detail})

    @property
    def holds(self) -> bool:
        return not self.violations


def _check_rows(
    run: RunOutcome, verdict: Verdict, applied: dict[str, list[tuple[RunOutcome, Mapping[str, Any]]]]
) -> None:
    by_line: dict[int, Mapping[str, Any]] = {}
    for record in run.results:
        line = record.get("line")
        if not isinstance(line, int) or line in by_line:
            verdict.fail("result line missing or repeated", execution=run.name, record=dict(record))
            continue
        by_line[line] = record
    for line in by_line.keys() - run.expected.keys():
        verdict.fail("result for no row of the file", execution=run.name, line=line)
    for line, exp in run.expected.items():
        rec = by_line.get(line)
        if rec is None:
            verdict.fail("row without a result", execution=run.name, line=line)
            continue
        status = rec.get("status")
        verdict.statuses[str(status)] += 1
        _check_one(run, exp, rec, verdict, applied)


def _check_one(
    run: RunOutcome,
    exp: Expected,
    rec: Mapping[str, Any],
    verdict: Verdict,
    applied: dict[str, list[tuple[RunOutcome, Mapping[str, Any]]]],
) -> None:
    status = rec.get("status")
    where = {"execution": run.name, "line": exp.line, "user": exp.user, "expected": exp.kind, "record": dict(rec)}
    if status not in STATUSES:
        verdict.fail("unknown status", **where)
    elif exp.user is not None and rec.get("user_id") not in (exp.user, None):
        verdict.fail("result names another user", **where)
    elif exp.kind == "superseded":
        if status != "SUPERSEDED" or rec.get("superseded_by") != exp.by:
            verdict.fail("earlier row of a user not superseded by its last row", **where)
    elif exp.kind == "failed":
        if status != "FAILED":
            verdict.fail("bad row not failed", **where)
    elif status == "APPLIED":
        if (rec.get("new_login_count"), rec.get("new_post_count")) != (exp.login, exp.post):
            verdict.fail("applied values differ from the file", **where)
        assert exp.user is not None
        applied[exp.user].append((run, rec))
    elif status == "FAILED":
        # not applied with its reason (a batch error after every retry): allowed, counted as a finding
        verdict.not_applied_by_error[str(rec.get("error_type"))] += 1
    elif status != "SKIPPED":
        verdict.fail("good last row neither applied nor skipped", **where)


def _check_skips(
    runs: list[RunOutcome], verdict: Verdict, applied: dict[str, list[tuple[RunOutcome, Mapping[str, Any]]]]
) -> None:
    for run in runs:
        for rec in run.results:
            if rec.get("status") != "SKIPPED":
                continue
            user = rec.get("user_id")
            newer = [r.name for r, _ in applied.get(str(user), []) if r.order > run.order]
            if not newer:
                verdict.fail(
                    "skipped although no newer execution applied the user", execution=run.name, record=dict(rec)
                )


def _pair(a: Any, b: Any) -> tuple[int | None, int | None]:
    return (None if a is None else int(a), None if b is None else int(b))


def _writers(writes: list[tuple[RunOutcome, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "execution": r.name,
            "start": r.start,
            "line": w.get("line"),
            "old": _pair(w.get("old_login_count"), w.get("old_post_count")),
            "new": _pair(w.get("new_login_count"), w.get("new_post_count")),
        }
        for r, w in writes
    ]


def _check_user(
    user: str, writes: list[tuple[RunOutcome, Mapping[str, Any]]], stored: Mapping[str, Any] | None, verdict: Verdict
) -> None:
    if not writes:
        if stored is not None:
            verdict.fail("row in user_stats although no run applied the user", user=user, stored=dict(stored))
        return
    newest_run, newest = max(writes, key=lambda w: w[0].order)
    want = _pair(newest.get("new_login_count"), newest.get("new_post_count"))
    got = None if stored is None else _pair(stored["login_count"], stored["post_count"])
    if got != want or (stored is not None and stored["last_execution_name"] != newest_run.name):
        verdict.fail(
            "final value is not the newest execution's",
            user=user,
            want=want,
            newest=newest_run.name,
            stored=None if stored is None else {k: str(v) for k, v in stored.items()},
            writers=_writers(writes),
        )
    olds = Counter(_pair(w.get("old_login_count"), w.get("old_post_count")) for _, w in writes)
    news = Counter(_pair(w.get("new_login_count"), w.get("new_post_count")) for _, w in writes)
    olds[got if got is not None else (None, None)] += 1  # no row left at all: caught above
    news[(None, None)] += 1
    if olds != news:
        verdict.fail(
            "old values do not chain (two writers read the same old value, or a lost update)",
            user=user,
            writers=_writers(writes),
            stored=got,
        )


def _check_audit(run: RunOutcome, verdict: Verdict) -> None:
    lines = Counter(a.get("line") for a in run.audit)  # audit records as readers see them (camelCase)
    repeated = [line for line, n in lines.items() if n > 1]
    missing = run.expected.keys() - lines.keys()
    if repeated or missing or len(lines) != len(run.expected):
        verdict.fail(
            "audit records do not match the rows one to one",
            execution=run.name,
            repeated=sorted(map(str, repeated))[:20],
            missing=sorted(missing)[:20],
            audit=len(run.audit),
            rows=len(run.expected),
        )
    statuses = {r.get("line"): r.get("status") for r in run.results}
    for item in run.audit:
        if statuses.get(item.get("line")) != item.get("status"):
            verdict.fail(
                "audit status differs from the result",
                execution=run.name,
                audit=dict(item),
                result_status=statuses.get(item.get("line")),
            )


def check(runs: list[RunOutcome], stored: Mapping[str, Mapping[str, Any]], *, audit: bool = True) -> Verdict:
    """The invariant over every run and the final ``user_stats`` (user -> row)."""
    verdict = Verdict()
    applied: dict[str, list[tuple[RunOutcome, Mapping[str, Any]]]] = defaultdict(list)
    for run in runs:
        _check_rows(run, verdict, applied)
        if audit:
            _check_audit(run, verdict)
    _check_skips(runs, verdict, applied)
    users = set(applied) | set(stored)
    for user in sorted(users):
        _check_user(user, applied.get(user, []), stored.get(user), verdict)
    verdict.users_checked = len(users)
    return verdict


# --------------------------------------------------------------------------- one run (child process)


def child(csv_path: Path, url: str, data_dir: Path, parameters: Mapping[str, str]) -> dict[str, Any]:
    """One run of the state machine through the local runner's own parts (as ``make run``
    does), with the schema and users prepared by the parent; prints figures as JSON."""
    os.environ["CSV_DMAP_LOCAL_DATA"] = str(data_dir)
    from local_runner.environment import LocalEnvironment
    from local_runner.exec_cli import run_definition
    from local_runner.localdata import export_local
    from local_runner.pipeline import DEFINITION
    from local_runner.run import execution_name

    with LocalEnvironment(database_url=url, quiet=True, create_schema=False, parameters=dict(parameters)) as env:
        bucket = env.physical_name("InputBucket")
        key = f"incoming/{csv_path.name}"
        env.client("s3").upload_file(str(csv_path), bucket, key)
        name = execution_name()
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        t0 = time.perf_counter()
        result = run_definition(env, DEFINITION, input={"bucket": bucket, "key": key}, name=name)
        seconds = time.perf_counter() - t0
        # The rows dataset as make run keeps it; the audit table whole (raw items: decoded by the reader's
        # item_record in the parent; export_local's audit copy filters on an attribute items do not carry).
        exported = export_local(
            s3=env.client("s3"), bucket=env.physical_name("ResultsBucket"), execution_name=name, data_dir=data_dir
        )
        exported["audit"] = env.export_table("AuditTable", data_dir / "audit-raw" / f"{name}.jsonl")
    map_run = result.map_runs[0] if result.map_runs else {}
    return {
        "execution": name,
        "file": csv_path.name,
        "status": result.status,
        "error": result.error,
        "cause": (result.cause or "")[:500] or None,
        "startedAt": started_at,
        "mapSeconds": round(seconds, 2),
        "retries": len(result.retries),
        "retriesByError": dict(Counter(r["error"] for r in result.retries)),
        "maxConcurrency": map_run.get("maxConcurrency"),
        "peakInFlight": map_run.get("peakInFlight"),
        "exported": exported,
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# --------------------------------------------------------------------------- reading what the runs left


def read_rows(data_dir: Path, execution: str) -> tuple[str | None, list[dict[str, Any]]]:
    """A run's per-row dataset records and its start (the records' update_timestamp)."""
    from csv_dmap import keys

    records: list[dict[str, Any]] = []
    for part in sorted(data_dir.glob(keys.rows_files(execution))):
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            records.extend(json.loads(line) for line in fh if line.strip())
    starts = {r.get("update_timestamp") for r in records}
    return (starts.pop() if len(starts) == 1 else None), records


def read_audit(data_dir: Path, execution: str) -> list[dict[str, Any]]:
    """A run's audit items as readers see them (``csv_dmap.audit.item_record``)."""
    from csv_dmap.audit import item_record

    path = data_dir / "audit-raw" / f"{execution}.jsonl"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        records = (item_record(json.loads(line)) for line in fh if line.strip())
        return [r for r in records if r.get("executionName") == execution]


def read_stats(url: str) -> dict[str, dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT user_id, login_count, post_count, last_execution_name, last_execution_start FROM user_stats"
                )
            ).mappings()
            return {r["user_id"]: dict(r) for r in rows}
    finally:
        engine.dispose()


def lock_status(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SHOW GLOBAL STATUS LIKE 'Innodb_%'"))
            return {str(name): int(value) for name, value in rows if name in LOCK_STATUS}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the load


def prepare(url: str, users: int) -> None:
    from csv_dmap.db import build_engine, seed_users
    from csv_dmap.schema import upgrade

    engine = build_engine(url)
    try:
        upgrade(engine)
        seed_users(engine, (user_id(n) for n in range(1, users + 1)), chunk=1000)
    finally:
        engine.dispose()


def _launch(
    files: list[Path], url: str, data_dir: Path, logs: Path, parameters: list[str]
) -> list[tuple[Path, subprocess.Popen[str]]]:
    procs = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for path in files:
        log = open(logs / f"{path.stem}.stderr", "w")  # noqa: SIM115 - closed with the process
        cmd = [
            sys.executable,
            "-m",
            "bench.load",
            "--child",
            str(path),
            "--database-url",
            url,
            "--data-dir",
            str(data_dir),
            *(f"--parameter={p}" for p in parameters),
        ]
        procs.append((path, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)))
    return procs


def _collect(procs: list[tuple[Path, subprocess.Popen[str]]]) -> list[dict[str, Any]]:
    out = []
    for path, proc in procs:
        stdout, _ = proc.communicate()
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            out.append({"file": path.name, "status": "CRASHED", "returncode": proc.returncode})
            continue
        out.append(json.loads(lines[-1]))
    return out


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    data_dir = WORK / "data"
    if data_dir.exists():
        subprocess.run(["rm", "-rf", str(data_dir)], check=True)
    data_dir.mkdir(parents=True)
    rng = random.Random(args.seed)
    files = [WORK / f"load-{i:02d}.csv" for i in range(args.runs)]
    for path in files:
        generate_file(path, args.rows, args.users, rng)
    url = fresh_database(args.database)
    prepare(url, args.users)
    print(f"{args.runs} runs x {args.rows:,} rows over {args.users:,} users -> {make_safe(url)}", flush=True)
    before = lock_status(url)
    t0 = time.perf_counter()
    runs = _collect(_launch(files, url, data_dir, WORK, args.parameter))
    wall = time.perf_counter() - t0
    after = lock_status(url)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return evaluate(args, url, files, runs, data_dir, wall, before, after, children)


def make_safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def evaluate(
    args: argparse.Namespace,
    url: str,
    files: list[Path],
    runs: list[dict[str, Any]],
    data_dir: Path,
    wall: float,
    before: Mapping[str, int],
    after: Mapping[str, int],
    children_rss: float,
) -> dict[str, Any]:
    known = {user_id(n) for n in range(1, args.users + 1)}
    outcomes = []
    for path, run in zip(files, runs, strict=True):
        if run.get("status") == "CRASHED":
            continue
        start, records = read_rows(data_dir, run["execution"])
        run["start"] = start
        run["rows"] = len(records)
        run["rowsPerSecond"] = round(len(records) / run["mapSeconds"]) if run["mapSeconds"] else None
        outcomes.append(
            RunOutcome(
                run["execution"],
                start or run["startedAt"],
                expect_file(path, known),
                records,
                read_audit(data_dir, run["execution"]),
            )
        )
    verdict = check(outcomes, read_stats(url))
    if len(outcomes) != len(runs):
        verdict.fail("run crashed", runs=[r for r in runs if r.get("status") == "CRASHED"])
    total = args.runs * args.rows
    lock = {k: after.get(k, 0) - before.get(k, 0) for k in LOCK_STATUS if k in after}
    lock["Innodb_row_lock_time_max"] = after.get("Innodb_row_lock_time_max", 0)
    lock["Innodb_row_lock_current_waits"] = after.get("Innodb_row_lock_current_waits", 0)
    retries: Counter[str] = Counter()
    for run in runs:
        retries.update(run.get("retriesByError") or {})
    data = {
        "benchmark": "load",
        "command": " ".join(["python -m bench.load", *sys.argv[1:]]),
        "concurrentBatchesPeak": sum(r.get("peakInFlight") or 0 for r in runs),
        "revision": git_revision(),
        "server": mariadb_version(url),
        "runs": args.runs,
        "rowsPerRun": args.rows,
        "users": args.users,
        "seed": args.seed,
        "rowsTotal": total,
        "wallSeconds": round(wall, 1),
        "rowsPerSecondOverall": round(total / wall) if wall else None,
        "retries": sum(retries.values()),
        "retriesByError": dict(retries),
        "innodb": lock,
        "peakRssMiBLargestRun": round(children_rss, 1),
        "invariantHolds": verdict.holds,
        "violations": dict(verdict.violations),
        "statuses": dict(verdict.statuses),
        "goodRowsNotAppliedByError": dict(verdict.not_applied_by_error),
        "usersChecked": verdict.users_checked,
        "perRun": runs,
    }
    if not verdict.holds:
        evidence = RESULTS / "load-violations.json"
        RESULTS.mkdir(parents=True, exist_ok=True)
        evidence.write_text(
            json.dumps({"violations": dict(verdict.violations), "examples": verdict.evidence}, indent=2, default=str)
        )
        data["evidence"] = str(evidence.relative_to(ROOT))
    return data


# --------------------------------------------------------------------------- report


def markdown(data: Mapping[str, Any], title: str = "## Load: concurrent runs", target: str = "make load") -> str:
    lock = data["innodb"]
    lines = [
        title,
        "",
        (
            f"`{data['command']}` (`{target}`), {data['measuredAt']}, revision {data['revision']}, "
            f"{data['server']}. {data['runs']} runs started at once, each an OS process running the state machine "
            f"through the local runner (its own moto), all on one MariaDB database; {data['rowsPerRun']:,} rows a "
            f"file over a pool of {data['users']:,} users (files overlap; ~5% of rows repeat a user in the file, "
            f"~1% are bad)."
        ),
        "",
        f"- **Invariant: {'holds' if data['invariantHolds'] else 'BROKEN'}** over "
        f"{data['rowsTotal']:,} rows and {data['usersChecked']:,} users (oracle from the CSV files and the "
        f"runs' per-row results, audit items and the final `user_stats`; see `bench/load.py`)."
        + ("" if data["invariantHolds"] else f" Violations: {data['violations']}; evidence `{data['evidence']}`."),
        f"- statuses: {', '.join(f'{k} {v:,}' for k, v in sorted(data['statuses'].items()))}"
        + (
            f"; good rows reported not applied (batch error after every retry): {data['goodRowsNotAppliedByError']}"
            if data["goodRowsNotAppliedByError"]
            else ""
        ),
        (
            f"- overall: {data['rowsPerSecondOverall']:,} rows/s ({data['rowsTotal']:,} rows in {data['wallSeconds']} s "
            f"wall); peak RSS of the largest run {data['peakRssMiBLargestRun']} MiB"
        ),
        f"- retries (ASL Retry on a batch): {data['retries']} {data['retriesByError'] or ''}".rstrip(),
        (
            f"- InnoDB (server-wide deltas): row-lock waits {lock.get('Innodb_row_lock_waits', 0):,}, "
            f"lock time {lock.get('Innodb_row_lock_time', 0):,} ms (longest wait since server start "
            f"{lock.get('Innodb_row_lock_time_max', 0):,} ms), deadlocks {lock.get('Innodb_deadlocks', 'n/a')}"
        ),
        "",
        "| run | status | rows | execution seconds | rows/s | retries | peak RSS (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in data["perRun"]:
        lines.append(
            f"| {run.get('file')} | {run.get('status')} | {run.get('rows', 0):,} | {run.get('mapSeconds')} | "
            f"{run.get('rowsPerSecond')} | {run.get('retries')} | {run.get('peakRssMiB')} |"
        )
    if data.get("note"):
        lines += ["", str(data["note"])]
    return "\n".join(lines) + "\n"


def write_benchmarks(section: str) -> None:
    """Replace (or append) the load section of BENCHMARKS.md, keeping the rest of the file
    (``bench.report`` also renders it from ``bench/results/load.json``)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("## Load: concurrent runs")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start].rstrip("\n") + ("\n" + text[end:] if end >= 0 else "\n")
    path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of each run's file")
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="users seeded, the pool the files draw from (default 1.5 x --rows: heavy overlap)",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--database",
        default="csv_dmap_load",
        help="database created (and dropped) on the server "
        f"of BENCH_DATABASE_URL / TEST_DATABASE_URL (default {server_url()})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--note", default="", help="a line appended to the BENCHMARKS.md section")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter of every run, e.g. --parameter TargetDurationSeconds=5 (repeatable)",
    )
    parser.add_argument(
        "--name",
        default="load",
        help="results file bench/results/NAME.json; only the default name writes the BENCHMARKS.md section",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.users = args.users or args.rows * 3 // 2
    if args.child:
        parameters = dict(p.split("=", 1) for p in args.parameter)
        print(json.dumps(child(Path(args.child), args.database_url, Path(args.data_dir), parameters)))
        return 0
    data = run_load(args)
    data["note"] = args.note or None
    data["parameters"] = args.parameter
    path = save(args.name, data)
    data["measuredAt"] = json.loads(path.read_text())["measuredAt"]
    if args.name == "load":
        write_benchmarks(markdown(data))
    if not args.keep:
        _drop(args.database)
    print(json.dumps({k: v for k, v in data.items() if k != "perRun"}, indent=2, default=str))
    return 0 if data["invariantHolds"] else 1


def _drop(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url())
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
