"""Command line of the local runner: ``python -m local_runner {invoke,exec,run,redrive,lint} ...``.

Exit codes: 0 succeeded, 1 failed, 2 cannot run (one line on stderr)."""

from __future__ import annotations

import argparse
import sys

MAX_SAMPLE_ROWS = 100_000_000  # a generated sample is for trying the pipeline; bench sizes reach 1,000,000


def sample_rows(text: str) -> int:
    try:
        rows = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of rows: {text[:40]!r}") from None
    if not 1 <= rows <= MAX_SAMPLE_ROWS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_SAMPLE_ROWS:,}")
    return rows


def execution_name(text: str) -> str:
    """An execution name as Step Functions accepts it (``asl_runner.limits.name_problem``): checked
    before it reaches a file name or a pattern."""
    from asl_runner.limits import name_problem

    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def parameter(text: str) -> str:
    name, sep, _ = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a template parameter), got {text[:60]!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    # Options several commands share.
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: DATABASE_URL or .local SQLite)"
    )
    objects = argparse.ArgumentParser(add_help=False)
    objects.add_argument(
        "--s3-object",
        action="append",
        help="s3://bucket/key=LOCAL_FILE to upload first (repeatable); split at the last '=', so a key may "
        "hold '=' (as Hive partitions do: summaries/date=2026-01-01/x.json) and the file's path may not",
    )

    inv = sub.add_parser(
        "invoke", parents=[database, objects], help="run one function with an event file (Docker-free sam local invoke)"
    )
    inv.add_argument("--function", "-f", required=True, help="logical id (WorkerFunction) or folder (worker)")
    inv.add_argument("--event", "-e", required=True, help="event JSON file")
    inv.add_argument("--template", default=None, help="template.yaml (default: the project's)")
    inv.add_argument("--seed-users", default=None, help="file of user ids to insert into `users` first")

    ex = sub.add_parser(
        "exec", parents=[database, objects], help="run an ASL definition with in-process Lambda handlers and moto"
    )
    ex.add_argument("--definition", required=True, help="the ASL JSON file")
    ex.add_argument("--template", default=None, help="SAM template giving DefinitionSubstitutions and functions")
    ex.add_argument("--state-machine", default=None, help="logical id, when the template has several")
    ex.add_argument("--function", action="append", help="NAME=path/to/file.py:handler (repeatable)")
    ex.add_argument("--input", default=None, help="execution input: JSON text or @file.json")
    ex.add_argument("--name", default=None, help="execution name (default: a UUID)")
    ex.add_argument("--export-s3", default=None, help="after the run, write every S3 object to DIR/<bucket>/<key>")
    ex.add_argument("--json", action="store_true", help="print one JSON object {status, output, error, cause}")

    rn = sub.add_parser("run", parents=[database], help="the whole pipeline on a sample (or your) CSV: make run")
    rn.add_argument("--csv", default=None, help="your CSV (default: generate a sample)")
    rn.add_argument(
        "--rows", type=sample_rows, default=10_000, help=f"rows of the generated sample (1 to {MAX_SAMPLE_ROWS:,})"
    )
    rn.add_argument(
        "--seed",
        choices=["csv", "none"],
        default="csv",
        help="with --csv: seed the valid user ids of the file into `users` (csv) or not (none)",
    )
    rn.add_argument("--out", default=None, help="output folder (default: .local/out)")
    rn.add_argument("--json", action="store_true", help="print the summary as JSON")
    rn.add_argument("--no-progress", action="store_true", help="no progress bar")
    rn.add_argument("--verbose", action="store_true", help="show the functions' logs and metrics")
    rn.add_argument(
        "--moto-server",
        action="store_true",
        help="serve AWS from a separate moto process (the runner's memory is then its own)",
    )
    rn.add_argument(
        "--no-export", action="store_true", help="write no .local/out copy of the run's objects and audit records"
    )
    rn.add_argument(
        "--aws",
        choices=["disk", "moto"],
        default="disk",
        help="S3 and DynamoDB on disk (s3rver, dynalite: memory stays flat; default) or in moto's memory",
    )
    rn.add_argument(
        "--parameter",
        action="append",
        type=parameter,
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. --parameter MaxConcurrency=4 (repeatable)",
    )

    rd = sub.add_parser(
        "redrive", parents=[database], help="re-run the failed and pending batches of a local run that failed"
    )
    rd.add_argument("execution", type=execution_name, help="the execution name make run printed")
    rd.add_argument("--json", action="store_true", help="print the summary as JSON")
    rd.add_argument("--no-progress", action="store_true", help="no progress bar")

    lint = sub.add_parser("lint", help="strict check of ASL definitions (fields, numbers, transitions, context object)")
    lint.add_argument("files", nargs="+")
    return parser


def main(argv: list[str] | None = None) -> int:
    from asl_runner.cli import CannotRun, cannot_run

    args = build_parser().parse_args(argv)
    try:
        return _command(args)
    except CannotRun as exc:
        return cannot_run(str(exc), bool(getattr(args, "json", False)))
    except OSError as exc:  # a path given that cannot be read or written (--out under a file, a full disk)
        where = f"{exc.filename}: " if exc.filename else ""
        return cannot_run(f"{where}{exc.strerror or exc}", bool(getattr(args, "json", False)))


def _check_parameters(given: list[str]) -> None:
    """``--parameter NAME=VALUE``: NAME must be one of the template's parameters."""
    from asl_runner.cli import CannotRun

    from .template import load_template

    known = sorted(load_template().get("Parameters") or {})
    unknown = [p.partition("=")[0] for p in given if p.partition("=")[0] not in known]
    if unknown:
        raise CannotRun(f"--parameter {unknown[0]}: the template has no such parameter; it has {', '.join(known)}")


def _command(args: argparse.Namespace) -> int:
    if args.command == "invoke":
        from .invoke import main as invoke_main

        return invoke_main(args)
    if args.command == "exec":
        from .exec_cli import main as exec_main

        return exec_main(args)
    if args.command == "run":
        from .run import main as run_main

        _check_parameters(args.parameter)
        return run_main(args)
    if args.command == "redrive":
        from .redrive import main as redrive_main

        return redrive_main(args)
    if args.command == "lint":
        from asl_runner.cli import main as asl_main

        return asl_main(["lint", *args.files])
    return 2


if __name__ == "__main__":
    sys.exit(main())
