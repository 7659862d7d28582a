"""Command line of the local runner: ``python -m local_runner {invoke,exec} ...``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    inv = sub.add_parser("invoke", help="run one function with an event file (Docker-free sam local invoke)")
    inv.add_argument("--function", "-f", required=True, help="logical id (WorkerFunction) or folder (worker)")
    inv.add_argument("--event", "-e", required=True, help="event JSON file")
    inv.add_argument("--template", default=None, help="template.yaml (default: the project's)")
    inv.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: DATABASE_URL or .local SQLite)")
    inv.add_argument("--seed-users", default=None, help="file of user ids to insert into `users` first")
    inv.add_argument("--s3-object", action="append", help="s3://bucket/key=LOCAL_FILE to upload first")

    lint = sub.add_parser("lint", help="strict check of ASL definitions (fields, numbers, transitions, context object)")
    lint.add_argument("files", nargs="+")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "invoke":
        from .invoke import main as invoke_main

        return invoke_main(args)
    if args.command == "lint":
        from .asl_lint import main as lint_main

        return lint_main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
