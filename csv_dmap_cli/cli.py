"""``csv-dmap`` (``python -m csv_dmap_cli``): the operator's view of runs.

    csv-dmap --local runs [--date 2026-11-23]
    csv-dmap --stack csv-dmap-prod status csv-dmap-20261123-abc
    csv-dmap --local failures local-20261123T101500 [--type UserNotFound]
    csv-dmap --local history U0000001 [--days 7]
    csv-dmap --local report 2026-11-23
    csv-dmap --stack csv-dmap-prod redrive csv-dmap-20261123-abc
    csv-dmap --local query --sql "SELECT count(*) FROM user_update_results"
    csv-dmap --local query --named monthly-increase
    csv-dmap --local rejects local-20261123T101500 -o rejects.csv
    csv-dmap check incoming.csv [--tolerance 5] [--database-url URL]

A table for people by default, ``--json`` for scripts. The global options may come before
or after the command. Exit codes (:data:`EPILOG`): 0 ok, 1 the thing asked about failed or
does not exist, 2 unusable arguments. Every error is one line on stderr; an object of the
history that cannot be used is skipped and named in a one-line note on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local_runner.localdata import local_data_dir, plain

from . import check, rejects
from .backends import (
    USAGE,
    AwsBackend,
    Backend,
    CliError,
    LocalBackend,
    StackResources,
    one_line,
    stack_outputs,
    stderr_note,
)

OK = 0
FAILED = 1
FAILED_STATES = {"FAILED", "REJECTED", "TIMED_OUT", "ABORTED"}
# The audit log keeps an item 180 days on AWS (its TTL); local exports keep everything. Ten years
# bounds what a date can be asked back to.
MAX_HISTORY_DAYS = 3650

EPILOG = """\
exit codes:
  0  ok
  1  the thing asked about failed or does not exist (an unknown execution, a failed run,
     a redrive that failed again)
  2  unusable arguments: a malformed execution name or date, an unknown time zone or
     named query, SQL that cannot run, no local data, a stack that cannot be read

Global options (--local, --stack, --data-dir, --region, --timezone, --json) may come before
or after the command. An object of the history that cannot be used (a damaged summary or
audit export) is skipped, and named in a one-line note on stderr.
"""


# ------------------------------------------------------------------ arguments


def execution_name(text: str) -> str:
    """An execution name as Step Functions accepts it (StartExecution's ``name``: 1-80
    characters, no whitespace, brackets, wildcards, special or control characters;
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
    The rule is ``asl_runner.limits.name_problem``; a name that breaks it names no execution,
    so it is refused here, before it reaches a key, a query or a file name."""
    from asl_runner.limits import name_problem

    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}: {one_line(text[:40])}{'...' if len(text) > 40 else ''}")
    return text


def user_id(text: str) -> str:
    from csv_dmap.models.rows import USER_ID_MAX_LENGTH, is_valid_user_id

    if not is_valid_user_id(text):
        raise argparse.ArgumentTypeError(
            f"not a user id (1 to {USER_ID_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : @ -): {one_line(text[:40])}"
        )
    return text


def days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {one_line(text[:40])}") from None
    if not 1 <= value <= MAX_HISTORY_DAYS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_HISTORY_DAYS} (the audit log on AWS keeps 180 days)")
    return value


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {one_line(text[:40])}") from None


def timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path, not a key
        raise argparse.ArgumentTypeError(f"no such time zone: {one_line(text[:60])} (e.g. Asia/Tokyo, UTC)") from None
    return text


def _global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The options every command takes, before or after it. On the commands' parsers they
    default to SUPPRESS, so that one given before the command is not reset after it."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local", action="store_true", default=default(False), help="the local runs' data (.local/data); the default"
    )
    where.add_argument("--stack", metavar="NAME", default=default(None), help="a deployed stack (its outputs)")
    parser.add_argument(
        "--data-dir", type=Path, default=default(None), help="local data directory (default .local/data)"
    )
    parser.add_argument("--region", default=default(None), help="AWS region of the stack (default: the SDK's)")
    parser.add_argument(
        "--timezone", type=timezone, default=default("Asia/Tokyo"), help="the report time zone (default Asia/Tokyo)"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="JSON for scripts instead of a table"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csv-dmap",
        description="Operate and analyse csv-dmap runs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, epilog=EPILOG, formatter_class=parser.formatter_class)
        _global_options(p, defaults=False)
        return p

    command("status", "progress of a running map, or the run summary").add_argument("execution", type=execution_name)
    p = command("failures", "failed rows of an execution (audit log)")
    p.add_argument("execution", type=execution_name)
    p.add_argument("--type", dest="error_type", help="only this error type")
    p = command("history", "a user's changes across runs (audit log)")
    p.add_argument("user", type=user_id)
    p.add_argument("--days", type=days, default=7, help=f"how far back, 1 to {MAX_HISTORY_DAYS} (default 7)")
    command("runs", "the runs of a day").add_argument("--date", type=day)
    command("report", "regenerate a day's report").add_argument("date", type=day)
    p = command("redrive", "redrive a failed execution: its failed and pending batches run again (AWS and local)")
    p.add_argument("execution", type=execution_name)
    p.add_argument("--database-url", help="--local: the database the run used (default: DATABASE_URL or .local SQLite)")
    p = command(
        "query",
        "SQL over the local data (the Glue tables' names): one SELECT that reads the local data "
        "directory and nothing else (docs/architecture.md)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sql")
    src.add_argument("--file", type=Path, help="a file of SQL (UTF-8)")
    src.add_argument("--named", help="a named query: " + ", ".join(_query_names()))
    p.add_argument("--param", action="append", default=[], help="a value for each ? of the query, in order")
    command("queries", "list the named queries")
    rejects.arguments(command("rejects", rejects.HELP), execution_name)
    check.arguments(command("check", check.HELP))
    return parser


def _query_names() -> list[str]:
    from .engine import named_queries

    return [q.name for q in named_queries()]


# ------------------------------------------------------------------ output


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return one_line(str(value))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and fullwidth characters take two
    (Unicode's East_Asian_Width W and F), combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text
    )


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """Plain-text columns aligned by display width, numbers right-aligned."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([display_width(c)] + [display_width(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(plain(r.get(c)), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    print("  ".join(_pad(c, w, False) for c, w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(_pad(v, w, num) for v, w, num in zip(row, widths, numeric, strict=True)).rstrip(), file=out)
    if not rows:
        print("(none)", file=out)


def _pairs(data: dict[str, Any], out: TextIO) -> None:
    width = max((len(k) for k in data), default=0) + 2
    for key, value in data.items():
        shown = one_line(json.dumps(value, ensure_ascii=False)) if isinstance(value, (dict, list)) else _cell(value)
        print(f"{key:<{width}}{shown}", file=out)


def _emit(args: argparse.Namespace, out: TextIO, data: Any, show: Callable[[], None]) -> None:
    if args.json:
        print(json.dumps(plain(data), ensure_ascii=False, default=str), file=out)
    else:
        show()


# ------------------------------------------------------------------ commands


SUMMARY_FIELDS = (
    "executionName",
    "status",
    "error",
    "cause",
    "startTime",
    "durationSeconds",
    "sourceKey",
    "rows",
    "applied",
    "failed",
    "superseded",
    "skipped",
    "pending",
    "blankRows",
    "errorRate",
    "severity",
    "errorsByType",
    "rowsPrefix",
)


def cmd_status(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    answer = backend.status(args.execution)
    progress, summary = answer.get("progress"), answer.get("summary")

    def show() -> None:
        print(f"{answer['execution']}  {one_line(str(answer['state']))}", file=out)
        if progress:
            eta = progress["eta_seconds"]
            print(
                f"progress  {progress['done']:,} of {progress['total']:,} rows ({progress['percent']:.1f}%), "
                f"{progress['failed']:,} failed, {progress['running']:,} running",
                file=out,
            )
            rate = progress["rows_per_second"]
            print(f"rate      {rate:,.1f} rows/s" if rate else "rate      -", file=out)
            print(f"eta       {timedelta(seconds=round(eta))}" if eta is not None else "eta       -", file=out)
        elif summary:
            _pairs({k: summary.get(k) for k in SUMMARY_FIELDS if k in summary}, out)
        elif answer.get("error"):
            print(f"error     {one_line(str(answer['error']))}: {one_line(str(answer.get('cause') or ''))}", file=out)

    _emit(args, out, answer, show)
    return FAILED if answer["state"] in FAILED_STATES else OK


def cmd_failures(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    rejected = _rejected(backend, args.execution)
    if rejected is not None:  # no row was read: the file itself was refused
        _emit(args, out, [rejected], lambda: print(_rejected_line(rejected), file=out))
        return FAILED
    audited = backend.failures(args.execution)
    items = [i for i in audited if i.get("errorType") == args.error_type] if args.error_type else audited
    rows = [
        {
            "line": i.get("line"),
            "user": i.get("userId") or i.get("rawUserId"),
            "error": i.get("errorType"),
            "message": i.get("errorMessage"),
        }
        for i in items
    ]

    def show() -> None:
        table(rows, ["line", "user", "error", "message"], out)
        summary = backend.summary(args.execution)
        for note in (_unaudited(summary, audited, args.error_type), rejects.note(backend, summary)):
            if note:
                print(note, file=out)

    _emit(args, out, items, show)
    return OK


def _rejected(backend: Backend, execution: str) -> dict[str, Any] | None:
    """The error and cause of a run whose file was rejected (no row read), or None."""
    summary = backend.summary(execution)
    if summary is None or summary.status != "REJECTED":
        return None
    return {"execution": execution, "status": summary.status, "error": summary.error, "cause": summary.cause}


def _rejected_line(rejected: dict[str, Any]) -> str:
    return (
        f"{rejected['execution']} was REJECTED, no row was read: {rejected['error']}: {rejected['cause']}\n"
        "fix the file and upload it again (csv-dmap check FILE says what the pipeline will make of it)"
    )


def _unaudited(summary: Any, audited: list[dict[str, Any]], error_type: str | None) -> str | None:
    """The failed rows the run counted but the audit log cannot list: the rows of batches that
    failed as a whole (the worker wrote no record for them) and pending rows."""
    if summary is None:
        return None
    from collections import Counter

    listed = Counter(str(i.get("errorType")) for i in audited)
    missing = {
        kind: count - listed[kind]
        for kind, count in summary.errors_by_type.items()
        if count > listed[kind] and (error_type is None or kind == error_type)
    }
    if not missing:
        return None
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(missing.items(), key=lambda kv: -kv[1]))
    return (
        f"and {sum(missing.values()):,} more row(s) not applied, with no audit record ({kinds}): their batches "
        f"failed as a whole or never ran, and a redrive applies them; the per-row dataset lists them (query: "
        f"status = 'PENDING' AND execution_name = '{summary.execution_name}')"
    )


def cmd_history(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    since = datetime.now(UTC) - timedelta(days=args.days)
    items = backend.history(args.user, since)
    rows = [
        {
            "time": i.get("timestamp"),
            "execution": i.get("executionName"),
            "line": i.get("line"),
            "status": i.get("status"),
            "login": _change(i.get("oldLoginCount"), i.get("newLoginCount")),
            "posts": _change(i.get("oldPostCount"), i.get("newPostCount")),
            "error": i.get("errorType"),
        }
        for i in items
    ]
    _emit(
        args, out, items, lambda: table(rows, ["time", "execution", "line", "status", "login", "posts", "error"], out)
    )
    return OK


def _change(old: Any, new: Any) -> str:
    if new is None:
        return ""
    return f"{'-' if old is None else old} -> {new}"


def cmd_runs(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    day = args.date or datetime.now(ZoneInfo(args.timezone)).date()
    runs = [s.to_payload() for s in backend.runs(day)]
    columns = [
        "executionName",
        "status",
        "rows",
        "applied",
        "failed",
        "superseded",
        "skipped",
        "pending",
        "errorRate",
        "severity",
        "durationSeconds",
        "error",
    ]
    _emit(args, out, runs, lambda: table([_for_people(r) for r in runs], columns, out))
    return OK


_COUNTS = ("rows", "applied", "failed", "superseded", "skipped", "pending", "errorRate")


def _for_people(run: dict[str, Any]) -> dict[str, Any]:
    """A row of the runs table: a rejected file was never read, so its counts are blank, not 0."""
    if run.get("status") != "REJECTED":
        return run
    return {**run, **dict.fromkeys(_COUNTS)}


def cmd_report(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    from csv_dmap.logic.daily_report import render_text

    report = backend.report(args.date, args.timezone)
    _emit(args, out, report, lambda: print(render_text(report, {"keys": ", ".join(report["reportKeys"])}), file=out))
    return OK


REDRIVE_FIELDS = (
    "execution",
    "status",
    "redriveCount",
    "rows",
    "applied",
    "failed",
    "superseded",
    "skipped",
    "pending",
    "batches",
    "carriedOverBatches",
    "error",
    "cause",
    "redrive",
)


def cmd_redrive(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    answer = backend.redrive(args.execution)
    if "status" not in answer:  # AWS: the redrive has started
        _emit(args, out, answer, lambda: print(f"redriven {answer['execution']} at {answer['redriveDate']}", file=out))
        return OK
    shown = {k: answer.get(k) for k in REDRIVE_FIELDS if answer.get(k) not in (None, 0) or k in ("status", "rows")}
    _emit(args, out, answer, lambda: _pairs(shown, out))
    return OK if answer["status"] == "SUCCEEDED" else FAILED


def _query_text(backend: LocalBackend, args: argparse.Namespace) -> str:
    from .engine import named_queries

    if args.named:
        found = {q.name: q for q in named_queries()} | {q.file: q for q in named_queries()}
        if args.named not in found:
            raise CliError(f"no named query {one_line(args.named)!r}; there are: {', '.join(_query_names())}", USAGE)
        query = found[args.named]
        if len(args.param) != query.parameters:
            raise CliError(
                f"the named query {query.name} takes {query.parameters} parameter(s), got {len(args.param)}: "
                f"{query.description} Usage: {query.usage} (make query NAMED={query.name} PARAMS=...)",
                USAGE,
            )
        return query.sql
    if args.file:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise CliError(f"--file {one_line(str(args.file))} is not UTF-8 text (byte {exc.start})", USAGE) from None
        except OSError as exc:
            raise CliError(f"--file {one_line(str(args.file))}: {exc.strerror or exc}", USAGE) from None
    return str(args.sql)


def cmd_query(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    import duckdb

    from .engine import QueryRefused

    if not isinstance(backend, LocalBackend):
        raise CliError("query runs over the local data; on a stack use the Athena workgroup's named queries", USAGE)
    sql = _query_text(backend, args)
    if not sql.strip():
        raise CliError('no SQL given: make query SQL="SELECT ..." or FILE=path.sql', USAGE)
    try:
        result = backend.con.analyse(sql, args.param)
    except QueryRefused as exc:
        raise CliError(f"query refused: {exc}", USAGE) from None
    except duckdb.Error as exc:  # DuckDB raises many kinds; the operator needs its first line
        raise CliError(f"query failed: {one_line(str(exc).splitlines()[0])}", USAGE) from None
    records = result.records()
    _emit(args, out, records, lambda: table(records, result.columns, out))
    return OK


def cmd_queries(backend: Backend | None, args: argparse.Namespace, out: TextIO) -> int:
    from .engine import named_queries

    rows = [{"name": q.name, "parameters": q.parameters, "description": q.description} for q in named_queries()]
    _emit(args, out, rows, lambda: table(rows, ["name", "parameters", "description"], out))
    return OK


COMMANDS: dict[str, Callable[[Any, argparse.Namespace, TextIO], int]] = {
    "status": cmd_status,
    "failures": cmd_failures,
    "history": cmd_history,
    "runs": cmd_runs,
    "report": cmd_report,
    "redrive": cmd_redrive,
    "query": cmd_query,
    "queries": cmd_queries,
    "rejects": rejects.cmd_rejects,
    "check": check.cmd_check,
}
NO_BACKEND = ("queries", "check")  # they read neither the local data nor a stack


def aws_backend(stack: str, region: str | None, note: Callable[[str], None]) -> AwsBackend:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(region_name=region)
        outputs = stack_outputs(session.client("cloudformation"), stack)
        resources = StackResources.from_outputs(outputs, stack)
        return AwsBackend(
            resources,
            s3=session.client("s3"),
            dynamodb=session.client("dynamodb"),
            states=session.client("stepfunctions"),
            note=note,
        )
    except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
        raise CliError(f"cannot reach AWS for stack {stack}: {exc}", USAGE) from None


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, backend: Backend | None = None) -> int:
    try:
        return _main(argv, out, backend)
    except BrokenPipeError:
        # the reader went away (`csv-dmap failures X | head`): stop quietly, as other tools do
        # (the Python docs' recipe: stdout to devnull, so the interpreter's final flush is silent)
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILED


class Notes:
    """One-line notes on stderr, each said once (a damaged summary that two reads meet)."""

    def __init__(self) -> None:
        self.said: set[str] = set()

    def __call__(self, line: str) -> None:
        if line not in self.said:
            self.said.add(line)
            stderr_note(line)


def _main(argv: Sequence[str] | None, out: TextIO | None, backend: Backend | None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if args.local and args.stack:  # one before the command and one after it: argparse's group sees neither
        parser.error("argument --stack: not allowed with argument --local")
    note = Notes()
    try:
        if args.command in NO_BACKEND:
            return COMMANDS[args.command](None, args, out)
        if backend is None:
            backend = (
                aws_backend(args.stack, args.region, note)
                if args.stack
                else LocalBackend(
                    args.data_dir or local_data_dir(), database_url=getattr(args, "database_url", None), note=note
                )
            )
        return COMMANDS[args.command](backend, args, out)
    except CliError as exc:
        print(f"csv-dmap: {one_line(exc.message)}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, (ClientError, BotoCoreError)):
            print(f"csv-dmap: AWS said: {one_line(str(exc))}", file=sys.stderr)
            return USAGE
        raise
