"""``python -m asl_runner {lint,exec}``.

Exit codes: 0 the execution succeeded (lint: no problem), 1 it failed (lint:
problems found), 2 it cannot run (malformed definition, bad input, a handler that
cannot be loaded) with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import DefinitionError
from .interpreter import Execution, ExecutionResult, RunOptions, prepare
from .limits import name_problem
from .lint import lint_file, load_definition
from .model import Definition
from .paths import JSON
from .services import HandlerLoadError, LocalServices, load_handler


class CannotRun(Exception):
    """The command cannot run: exit code 2 with this one-line message."""


def read_input(value: str | None) -> JSON:
    """``--input``: JSON text, or ``@file.json``."""
    if not value:
        return {}
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        return json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CannotRun(f"cannot read the input {value[1:]}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CannotRun(f"--input is not JSON: {exc}") from None


def parse_function_spec(spec: str) -> tuple[str, Path, str]:
    """``NAME=path/to/file.py:handler`` -> (NAME, path, handler)."""
    name, _, target = spec.partition("=")
    path, _, handler = target.rpartition(":")
    if not path and target.endswith(".py"):
        path, handler = target, ""
    if not name or not path:
        raise CannotRun(f"--function expects NAME=path/to/file.py:handler, got {spec!r}")
    return name, Path(path), handler or "lambda_handler"


def load_function_spec(spec: str) -> tuple[str, Any]:
    name, path, handler = parse_function_spec(spec)
    try:
        return name, load_handler(path, handler)
    except HandlerLoadError as exc:
        raise CannotRun(str(exc)) from None


def substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text


def checked_definition(definition: JSON) -> Definition:
    try:
        return prepare(definition)
    except DefinitionError as err:
        raise CannotRun(f"the definition cannot run: {err.one_line()}") from err


def check_name(name: str | None) -> None:
    problem = name_problem(name) if name is not None else None
    if problem:
        raise CannotRun(problem)


def print_result(result: ExecutionResult, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, default=str))
    else:
        print(f"{result.status}  {result.execution_arn}")
        if result.error:
            print(f"  error: {result.error}\n  cause: {result.cause}")
        for run in result.map_runs:
            print(
                f"  map run {run['state']}: {run['itemsTotal']} items, {run['batches']} batches, "
                f"{run['failedBatches']} failed, peak {run['peakInFlight']}/{run['maxConcurrency']} in flight"
            )
        print(json.dumps(result.output, ensure_ascii=False, indent=2, default=str))
    return 0 if result.status == "SUCCEEDED" else 1


def cannot_run(message: str, as_json: bool) -> int:
    """Exit code 2: one line on stderr (and, with --json, the answer on stdout)."""
    line = " ".join(message.split())
    if as_json:
        print(
            json.dumps(
                {
                    "status": "INVALID",
                    "output": None,
                    "error": "InvalidDefinition" if "definition" in message else "CannotRun",
                    "cause": message,
                },
                ensure_ascii=False,
            )
        )
    print(f"error: {line}", file=sys.stderr)
    return 2


def _exec(args: argparse.Namespace) -> int:
    services = LocalServices(region=args.region, account=args.account)
    try:
        check_name(args.name)
        text = json.dumps(load_definition(args.definition))
        for spec in args.function or []:
            name, handler = load_function_spec(spec)
            arn = f"arn:aws:lambda:{args.region}:{args.account}:function:{name}"
            text = substitute(text, {name: arn})
            services.register(arn, handler)
            services.register(name, handler)
        definition = checked_definition(json.loads(text))
        data = read_input(args.input)
    except ValueError as exc:
        return cannot_run(str(exc), args.json)
    except CannotRun as exc:
        return cannot_run(str(exc), args.json)
    options = RunOptions(region=args.region, account=args.account)
    result = Execution(definition, services, name=args.name, options=options).run(data)
    return print_result(result, args.json)


def _lint(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        errors = lint_file(path)
        for error in errors:
            print(f"{path}: {error}")
        failed = failed or bool(errors)
        if not errors:
            print(f"{path}: ok")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asl_runner", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lint = sub.add_parser("lint", help="strict check of ASL definitions (fields, numbers, transitions, context)")
    lint.add_argument("files", nargs="+")
    ex = sub.add_parser("exec", help="run a definition; Lambda handlers in-process, AWS APIs through boto3")
    ex.add_argument("--definition", required=True, help="the ASL JSON file")
    ex.add_argument(
        "--function",
        action="append",
        help="NAME=path/to/file.py:handler (repeatable); NAME is a "
        "${NAME} placeholder of the definition, or the function name its ARNs use",
    )
    ex.add_argument("--input", default=None, help="execution input: JSON text or @file.json")
    ex.add_argument("--name", default=None, help="execution name (default: a UUID)")
    ex.add_argument("--region", default="us-east-1")
    ex.add_argument("--account", default="123456789012")
    ex.add_argument("--json", action="store_true", help="print one JSON object {status, output, error, cause}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "lint":
        return _lint(args)
    return _exec(args)
