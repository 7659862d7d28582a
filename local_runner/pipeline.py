"""Running the project's pipeline once on this machine, for ``make run`` and a local redrive:
the execution with a progress bar (``run_map``), then its summary (``finish``), printed for
people (``print_summary``). Database passwords never reach the output (``mask_url``)."""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asl_runner import ExecutionResult, RunOptions
from asl_runner.cli import CannotRun
from asl_runner.redrive import Checkpoint

from . import layer, localdata
from .environment import LocalEnvironment
from .exec_cli import run_definition
from .template import ROOT

DEFINITION = ROOT / "statemachine" / "definition.asl.json"


def mask_url(url: str) -> str:
    """A database URL with its password hidden (SQLAlchemy's own rendering)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


@contextmanager
def entered(env: LocalEnvironment) -> Iterator[LocalEnvironment]:
    """``with env:``, where a database that cannot be reached (or migrated) is one line
    (``CannotRun``), not SQLAlchemy's traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        env.__enter__()
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CannotRun(
            f"cannot use the database {mask_url(env.database_url)}: {_masked(detail, env.database_url)}"
        ) from None
    try:
        yield env
    finally:
        env.__exit__(None, None, None)


def run_map(
    env: LocalEnvironment,
    name: str,
    total_rows: int,
    progress_bar: bool,
    *,
    input: Any = None,
    checkpoint: Checkpoint | None = None,
    data_dir: Path | None = None,
) -> tuple[ExecutionResult, float]:
    """Run (or, with ``checkpoint``, redrive) the pipeline's execution ``name``, with a progress
    bar and the running map's counts where ``csv-dmap --local status`` finds them."""
    bars: list[Any] = []  # the map's bar, opened when the map reads its first items (not during ValidateInput)
    progress = layer.MapProgress(name, total_rows, data_dir)

    def items_read(rows: int) -> None:
        if progress_bar and not bars:
            from tqdm import tqdm

            bars.append(tqdm(total=total_rows, unit="rows", desc="ProcessUserStats", file=sys.stderr, smoothing=0.1))

    def batch_done(rows: int, ok: bool) -> None:
        progress.batch_done(rows, ok)
        if bars:
            bars[0].update(rows)

    options = RunOptions(on_batch_done=batch_done, on_items_read=items_read)
    run_started = time.monotonic()
    try:
        result = run_definition(env, DEFINITION, input=input, name=name, options=options, checkpoint=checkpoint)
    finally:
        progress.close()
        for bar in bars:
            bar.close()
    seconds = time.monotonic() - run_started
    announce(env, result, checkpoint.input if checkpoint is not None else input)
    return result, seconds


def announce(env: LocalEnvironment, result: ExecutionResult, execution_input: Any) -> None:
    """What EventBridge does on AWS when the execution ends: the template's status-change rules
    invoke their functions (RunStatus summarises and alerts a run that did not succeed). A failure
    there is one line on stderr, as a failed delivery would be a message in the rule's DLQ."""
    from asl_runner.errors import StatesError

    from .status_events import emit_status_change

    try:
        emit_status_change(env, result, execution_input)
    except StatesError as exc:
        print(f"warning: the status-change rule's function failed: {exc.error}: {exc.cause[:300]}", file=sys.stderr)


def keep_for_analysis(env: LocalEnvironment, name: str, data_dir: Path | None = None, rows: int = 0) -> None:
    """The execution's rows, summary, reports and audit records into the local data directory
    (``localdata.keep_for_analysis``), while the run's S3 still holds them."""
    localdata.keep_for_analysis(env, name, data_dir, rows)


def finish(
    env: LocalEnvironment,
    out_dir: Path | None,
    name: str,
    result: ExecutionResult,
    run_seconds: float,
    total_rows: int,
    started: float,
    *,
    export: bool = True,
    redrive: str | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """The run's summary, also written to ``out_dir/summary.json`` with ``out_dir`` rewritten
    (the S3 objects and the audit table exported there too, with ``export``); with no
    ``out_dir``, the summary only. ``redrive`` is the command that redrives the execution;
    ``data_dir`` the local data directory the run was kept in (its reject file is there)."""
    if out_dir is not None:
        shutil.rmtree(out_dir, ignore_errors=True)
    summary = _summary(env, out_dir, name, result, run_seconds, export and out_dir is not None)
    summary["phaseSeconds"] = dict(env.phases.seconds)
    summary["rowsInFile"] = total_rows
    summary["peakRssMiB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summary["redrive"] = redrive
    summary["rejects"] = _rejects_path(summary, data_dir)
    summary["totalSeconds"] = round(time.monotonic() - started, 1)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def _run_summary(s3: Any, bucket: str, name: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The run summary AggregateErrors or RunStatus wrote for ``name`` (the truth about its rows), and its keys."""
    from csv_dmap.keys import SUMMARIES

    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=SUMMARIES)
        for o in page.get("Contents", [])
        if o["Key"].endswith(f"/{name}.json")
    ]
    for key in keys:
        try:
            data = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ValueError:
            continue
        if isinstance(data, dict):
            return data, keys
    return None, keys


def _summary(
    env: LocalEnvironment, out_dir: Path | None, name: str, result: ExecutionResult, run_seconds: float, export: bool
) -> dict[str, Any]:
    s3 = env.client("s3")
    results_bucket = env.physical_name("ResultsBucket")
    run, summaries = _run_summary(s3, results_bucket, name)
    run = run or {}
    audit_count = None
    outputs: dict[str, Any] = {}
    if export and out_dir is not None:
        s3_dir, audit_jsonl, audit_count = localdata.export_out(env, out_dir, name)
        outputs = {
            "resultWriter": [str(s3_dir / results_bucket / run["manifestKey"])] if run.get("manifestKey") else [],
            "runSummary": [str(s3_dir / results_bucket / k) for k in summaries],
            "s3Export": str(s3_dir),
            "auditJsonl": str(audit_jsonl),
        }
    map_run = result.map_runs[0] if result.map_runs else {}
    rows = int(run.get("rows") or 0)
    return {
        "execution": name,
        "status": result.status,
        "error": result.error,
        # the run summary's cause says more (which state, how many rows not applied) than the execution's
        "cause": _masked(run.get("cause") or _readable(result.cause), env.database_url),
        "rows": rows,
        "rowsInFile": None,
        "applied": int(run.get("applied") or 0),
        "failed": int(run.get("failed") or 0),
        "superseded": int(run.get("superseded") or 0),
        "skipped": int(run.get("skipped") or 0),
        "pending": int(run.get("pending") or 0),
        "auditMissing": int(run.get("auditMissing") or 0),
        "failedByErrorType": dict(run.get("errorsByType") or {}),
        "errorRatePercent": round(float(run.get("errorRate") or 0.0), 2),
        "batches": int(run.get("batches") or 0),
        "failedBatches": int(run.get("failedBatches") or 0),
        "carriedOverBatches": map_run.get("carriedOverBatches"),
        "maxConcurrency": map_run.get("maxConcurrency"),
        "peakInFlight": map_run.get("peakInFlight"),
        "durationSeconds": round(run_seconds, 2),
        "rowsPerSecond": round(rows / run_seconds) if run_seconds else None,
        "peakRssMiB": None,
        "awsStandInRssMiB": env.stand_in_rss_mib(),
        "auditRecords": audit_count,
        "rejectsKey": run.get("rejectsKey"),
        "rejectsError": run.get("rejectsError"),
        "runSummaryWritten": bool(run),
        "runStatus": run.get("status"),
        "outputs": {**outputs, "database": mask_url(env.database_url)},
    }


def _rejects_path(summary: dict[str, Any], data_dir: Path | None) -> str | None:
    """Where ``keep_for_analysis`` put the run's reject file, if it has one."""
    from .localdata import local_data_dir

    key = summary.get("rejectsKey")
    return str((data_dir or local_data_dir()) / key) if key else None


def _readable(cause: str | None) -> str | None:
    """A Cause for people: a Lambda error's ``errorType: errorMessage`` rather than its JSON and trace."""
    from csv_dmap.logic.run_status import cause_text

    return cause_text(cause)


def _format_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "-"


def print_summary(s: dict[str, Any]) -> None:
    width = 22
    status = s.get("runStatus") or s["status"]
    lines = [f"{'execution':<{width}}{s['execution']}  {status}"]
    if s["error"]:
        lines.append(f"{'error':<{width}}{s['error']}: {s['cause']}")
    if status == "REJECTED":  # nothing was read: the counts would only be zeros
        lines.append(f"{'':<{width}}the file was not processed: fix it and run it again")
        print("\n".join([*lines, *_next_commands(s, status)]))
        return
    rows = s["rows"]
    failed_kinds, pending_kinds = _kinds(s["failedByErrorType"])
    kind_width = max([20, *(len(k) + 2 for k in s["failedByErrorType"])])
    lines += [
        f"{'rows':<{width}}{rows:,} (file: {s['rowsInFile']:,})",
        f"{'applied':<{width}}{s['applied']:,}",
        f"{'failed':<{width}}{s['failed']:,}  ({_percent(s['failed'], rows)})",
        *(f"{'':<{width}}  {kind:<{kind_width}}{count:,}" for kind, count in failed_kinds.items()),
    ]
    # the other outcomes, so that the lines add up to the rows (shown when there are any)
    lines += [f"{name:<{width}}{s[name]:,}" for name in ("superseded", "skipped") if s[name]]
    if s["pending"]:
        lines.append(
            f"{'pending':<{width}}{s['pending']:,}  (not applied: their batch failed or never ran; a redrive applies them)"
        )
        lines += [f"{'':<{width}}  {kind:<{kind_width}}{count:,}" for kind, count in pending_kinds.items()]
    if s.get("auditMissing"):
        lines.append(
            f"{'audit missing':<{width}}{s['auditMissing']:,}  (applied; their audit items could not be written)"
        )
    peak = (
        f", peak {s['peakInFlight']}/{s['maxConcurrency']} in flight"
        if s.get("peakInFlight") is not None and s.get("maxConcurrency") is not None
        else ""
    )
    lines += [
        f"{'batches':<{width}}{s['batches']:,} ({s['failedBatches']} failed){peak}",
        f"{'duration':<{width}}{s['durationSeconds']} s  ({_format_rate(s['rows'], s['durationSeconds'])}; {s['totalSeconds']} s in all)",
        f"{'peak memory':<{width}}{s['peakRssMiB']} MiB",
        f"{'audit records':<{width}}{s['auditRecords']:,}" if s["auditRecords"] is not None else "",
        f"{'redrive':<{width}}{s['redrive']}" if s.get("redrive") else "",
        f"{'reject file':<{width}}{_rejects_line(s)}",
        "outputs:",
    ]
    for label, value in s["outputs"].items():
        for v in value if isinstance(value, list) else [value]:
            lines.append(f"  {label:<{width - 2}}{_shown(str(v))}")
    lines += _next_commands(s, status)
    print("\n".join(line for line in lines if line))


def _next_commands(s: dict[str, Any], status: str) -> list[str]:
    """What to run next, with this run's names filled in (the CLI from this checkout: ./csv-dmap)."""
    name = s["execution"]
    steps: list[tuple[str, str]] = []
    if status == "REJECTED":
        steps.append(
            (f"./csv-dmap check {s.get('file') or 'FILE'}", "what the pipeline makes of the file, before a run")
        )
    else:
        if s.get("redrive"):
            steps.append((s["redrive"].replace("csv-dmap ", "./csv-dmap ", 1), "once the cause is mended"))
        steps.append((f"./csv-dmap failures {name}", "the rows not applied, and why"))
        if s.get("rejects"):
            steps.append((f"./csv-dmap rejects {name} -o rejects.csv", "those rows as a CSV to fix and upload again"))
        if s.get("sampleUserId"):
            steps.append((f"./csv-dmap history {s['sampleUserId']}", "one user's changes across runs"))
        steps.append(("make query NAMED=recent-runs", "SQL over the local data (./csv-dmap queries lists them)"))
    steps.append(("./csv-dmap runs", "today's runs"))
    width = max(len(command) for command, _ in steps) + 2
    return ["next:", *(f"  {command:<{width}}{why}" for command, why in steps)]


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "0%"


def _kinds(by_type: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Error types of failed rows (the row rules' and UserNotFound) and of pending rows (the
    batch's error, or NotRun), as the run summary counts them together."""
    from csv_dmap.models import RowErrorType

    row_errors = {kind.value for kind in RowErrorType}
    failed = {k: v for k, v in by_type.items() if k in row_errors or k == "Unknown" or k.startswith("UnknownStatus:")}
    return failed, {k: v for k, v in by_type.items() if k not in failed}


def _shown(text: str) -> str:
    """A path (or a sqlite URL) under the current directory, shown relative to it: what a person
    types next; the JSON summary keeps absolute paths."""
    import os

    here = os.getcwd() + os.sep
    for prefix in ("sqlite:///", ""):
        if text.startswith(prefix + here):
            return prefix + text[len(prefix + here) :]
    return text


def _rejects_line(s: dict[str, Any]) -> str:
    if s.get("rejects"):
        return f"{_shown(str(s['rejects']))}  (the rows not applied: fix them and upload the file as a new run)"
    if s.get("rejectsError"):
        return f"none: {s['rejectsError']}"
    return "none (no row left unapplied)" if s.get("runSummaryWritten") else "none"


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
