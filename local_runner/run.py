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
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asl_runner import ExecutionResult, RunOptions
from asl_runner.cli import CannotRun
from asl_runner.limits import NAME_MAX_CHARS
from asl_runner.redrive import Checkpoint

from . import layer
from .environment import LocalEnvironment
from .exec_cli import run_definition
from .template import ROOT

LOCAL = ROOT / ".local"
DEFINITION = ROOT / "statemachine" / "definition.asl.json"
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


def ids_in_csv(path: Path) -> Iterator[str]:
    """Valid user ids of a user's own CSV (for seeding the local database), streamed,
    in any encoding the pipeline accepts."""
    return layer.read_user_ids(path)


def execution_name(now: datetime | None = None) -> str:
    """``local-<UTC time>-<random>``: unique even for two runs in the same second, and a
    valid Step Functions name (at most 80 characters of letters, digits, ``-``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    name = f"local-{stamp}-{uuid.uuid4().hex[:12]}"
    assert len(name) <= NAME_MAX_CHARS
    return name


def mask_url(url: str) -> str:
    """A database URL with its password hidden (SQLAlchemy's own rendering)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return max(0, sum(1 for line in fh if line.strip()) - 1)


def _format_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "-"


def main(args: Any) -> int:
    from .redrive import keep_kit

    started = time.monotonic()
    out_dir = Path(args.out or LOCAL / "out")
    csv_path = Path(args.csv).resolve() if args.csv else LOCAL / f"sample-{args.rows}.csv"
    if args.csv and not csv_path.is_file():
        raise CannotRun(f"--csv: no file {args.csv}")
    overrides = dict(p.split("=", 1) for p in args.parameter)
    with LocalEnvironment(
        database_url=args.database_url, quiet=not args.verbose, moto_server=args.moto_server, parameters=overrides
    ) as env:
        _seed(args, csv_path)
        total_rows = count_rows(csv_path)
        name = execution_name()
        bucket = env.physical_name("InputBucket")
        key = f"incoming/{csv_path.name}"
        env.client("s3").upload_file(str(csv_path), bucket, key)
        result, run_seconds = run_map(env, name, total_rows, not args.no_progress, input={"bucket": bucket, "key": key})
        layer.keep_for_analysis(
            env.client("s3"),
            env.physical_name("ResultsBucket"),
            env.client("dynamodb"),
            env.physical_name("AuditTable"),
            name,
        )
        if result.status != "SUCCEEDED":
            keep_kit(env, result, parameters=overrides, rows_in_file=total_rows)
        summary = finish(env, out_dir, name, result, run_seconds, total_rows, started, export=not args.no_export)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0 if result.status == "SUCCEEDED" else 1


def _seed(args: Any, csv_path: Path) -> None:
    if not args.csv:
        print(f"generating {args.rows:,} sample rows -> {csv_path.relative_to(ROOT)}", file=sys.stderr)
        layer.seed_users(_generate(csv_path, args.rows))
    elif args.seed == "csv":
        layer.seed_users(ids_in_csv(csv_path))


def run_map(
    env: LocalEnvironment,
    name: str,
    total_rows: int,
    progress_bar: bool,
    *,
    input: Any = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[ExecutionResult, float]:
    """Run (or, with ``checkpoint``, redrive) the pipeline's execution ``name``, with a progress
    bar and the running map's counts where ``csv-dmap --local status`` finds them."""
    bar = None
    if progress_bar:
        from tqdm import tqdm

        bar = tqdm(total=total_rows, unit="rows", desc="ProcessUserStats", file=sys.stderr, smoothing=0.1)
    progress = layer.MapProgress(name, total_rows)

    def batch_done(rows: int, ok: bool) -> None:
        progress.batch_done(rows, ok)
        if bar:
            bar.update(rows)

    options = RunOptions(on_batch_done=batch_done)
    run_started = time.monotonic()
    try:
        result = run_definition(env, DEFINITION, input=input, name=name, options=options, checkpoint=checkpoint)
    finally:
        progress.close()
        if bar:
            bar.close()
    return result, time.monotonic() - run_started


def finish(
    env: LocalEnvironment,
    out_dir: Path,
    name: str,
    result: ExecutionResult,
    run_seconds: float,
    total_rows: int,
    started: float,
    *,
    export: bool = True,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """The run's summary (also written to ``out_dir/summary.json``), with ``out_dir`` rewritten."""
    from .redrive import kit_dir

    if out_dir.exists():
        shutil.rmtree(out_dir)
    summary = _summary(env, out_dir, name, result, run_seconds, export)
    summary["rowsInFile"] = total_rows
    summary["peakRssMiB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summary["redrive"] = f"csv-dmap --local redrive {name}" if kit_dir(name, data_dir).is_dir() else None
    summary["totalSeconds"] = round(time.monotonic() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def _summary(
    env: LocalEnvironment, out_dir: Path, name: str, result: ExecutionResult, run_seconds: float, export: bool
) -> dict[str, Any]:
    from csv_dmap.results import manifest_keys, tally_run

    s3 = env.client("s3")
    results_bucket = env.physical_name("ResultsBucket")
    manifests = manifest_keys(s3, results_bucket, name)
    tally = tally_run(s3, results_bucket, manifests)
    summaries = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=results_bucket, Prefix="summaries/").get("Contents", [])
        if o["Key"].endswith(f"/{name}.json")
    ]
    audit_count = None
    if export:
        env.export_s3(out_dir / "s3")
        audit_count = env.export_table("AuditTable", out_dir / "audit.jsonl")
    map_run = result.map_runs[0] if result.map_runs else {}
    return {
        "execution": name,
        "status": result.status,
        "error": result.error,
        "cause": _masked(result.cause, env.database_url),
        "rows": tally.rows,
        "rowsInFile": None,
        "applied": tally.applied,
        "failed": tally.failed,
        "superseded": tally.superseded,
        "skipped": tally.skipped,
        "pending": tally.pending,
        "failedByErrorType": dict(tally.errors.most_common()),
        "errorRatePercent": round(tally.error_rate, 2),
        "batches": tally.batches,
        "failedBatches": tally.failed_batches,
        "carriedOverBatches": map_run.get("carriedOverBatches"),
        "maxConcurrency": map_run.get("maxConcurrency"),
        "peakInFlight": map_run.get("peakInFlight"),
        "durationSeconds": round(run_seconds, 2),
        "rowsPerSecond": round(tally.rows / run_seconds) if run_seconds else None,
        "peakRssMiB": None,
        "awsStandInRssMiB": _rss_mib(env.moto_server_pid) if env.moto_server_pid else None,
        "auditRecords": audit_count,
        "outputs": {
            "resultWriter": [str(out_dir / "s3" / results_bucket / k) for k in manifests],
            "runSummary": [str(out_dir / "s3" / results_bucket / k) for k in summaries],
            "s3Export": str(out_dir / "s3"),
            "auditJsonl": str(out_dir / "audit.jsonl"),
            "database": mask_url(env.database_url),
        },
    }


def _rss_mib(pid: int) -> float | None:
    """Peak RSS (VmHWM) of another process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def print_summary(s: dict[str, Any]) -> None:
    width = 22
    lines = [
        f"{'execution':<{width}}{s['execution']}  {s['status']}",
    ]
    if s["error"]:
        lines.append(f"{'error':<{width}}{s['error']}: {s['cause']}")
    lines += [
        f"{'rows':<{width}}{s['rows']:,} (file: {s['rowsInFile']:,})",
        f"{'applied':<{width}}{s['applied']:,}",
        f"{'failed':<{width}}{s['failed']:,}  ({s['errorRatePercent']}%)",
    ]
    for kind, count in s["failedByErrorType"].items():
        lines.append(f"{'':<{width}}  {kind:<20}{count:,}")
    # the other outcomes, so that the lines add up to the rows (shown when there are any)
    lines += [f"{name:<{width}}{s[name]:,}" for name in ("superseded", "skipped", "pending") if s[name]]
    lines += [
        f"{'batches':<{width}}{s['batches']:,} ({s['failedBatches']} failed), peak {s['peakInFlight']}/{s['maxConcurrency']} in flight",
        f"{'duration':<{width}}{s['durationSeconds']} s  ({_format_rate(s['rows'], s['durationSeconds'])}; {s['totalSeconds']} s in all)",
        f"{'peak memory':<{width}}{s['peakRssMiB']} MiB",
        f"{'audit records':<{width}}{s['auditRecords']:,}" if s["auditRecords"] is not None else "",
        f"{'redrive':<{width}}{s['redrive']}" if s.get("redrive") else "",
        "outputs:",
    ]
    for label, value in s["outputs"].items():
        for v in value if isinstance(value, list) else [value]:
            lines.append(f"  {label:<{width - 2}}{v}")
    print("\n".join(line for line in lines if line))


def _masked(text: str | None, url: str) -> str | None:
    """``text`` with the database password (if any) replaced, wherever it appears."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not text:
        return text
    try:
        password = make_url(url).password
    except ArgumentError:
        return text
    text = text.replace(url, mask_url(url))
    return text.replace(str(password), "***") if password else text
