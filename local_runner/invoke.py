"""``python -m local_runner invoke``: run one function of template.yaml with an
event file, Docker-free, against the local stand-ins (moto + SQLite/MariaDB).
The same event files work with ``sam local invoke`` where Docker is available."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asl_runner.cli import CannotRun

from .environment import LocalEnvironment
from .lambda_loader import LocalLambdaContext, load_handler


def resolve_function(env: LocalEnvironment, name: str) -> str:
    """Accept a logical id (WorkerFunction) or a folder name (worker)."""
    if name in env.functions:
        return name
    for logical_id, spec in env.functions.items():
        if spec.code_uri.name == name:
            return logical_id
    known = ", ".join(f"{k} ({s.code_uri.name})" for k, s in env.functions.items())
    raise CannotRun(f"no function {name!r} in the template; known: {known}")


def invoke(env: LocalEnvironment, logical_id: str, event: Any) -> Any:
    """One invocation in the function's own environment (see ``containers``); afterwards the
    process is the harness's again, so code after it sees the harness's configuration."""
    spec = env.functions[logical_id]
    context = LocalLambdaContext(
        function_name=env.physical_name(logical_id),
        timeout_seconds=spec.timeout,
        memory_limit_in_mb=int(env.resolve(spec.memory_size)),
    )
    assert env.containers is not None, "use the environment inside `with LocalEnvironment(...)`"
    try:
        with env.containers.invocation(logical_id):
            handler = load_handler(spec.module_path, spec.function_name)
            return handler(event, context)
    finally:
        env.containers.release()


def _read_event(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CannotRun(f"cannot read the event {path}: {exc}") from None


def _seed_ids(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CannotRun(f"cannot read the user ids of --seed-users {path}: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def main(args: Any) -> int:
    from . import layer
    from .s3util import parse_s3_spec, put_local_file

    if args.template and not Path(args.template).is_file():
        raise CannotRun(f"--template: no file {args.template}")
    environment = LocalEnvironment(template_path=args.template, database_url=args.database_url)
    # what was asked for first (make invoke FN=nope names the function, not its default event file)
    logical_id = resolve_function(environment, args.function)
    event = _read_event(args.event)
    ids = _seed_ids(args.seed_users) if args.seed_users else []
    for spec in args.s3_object or []:
        parse_s3_spec(spec)
    with environment as env:
        if ids:
            layer.seed_users(ids)
        for spec in args.s3_object or []:
            put_local_file(env, spec)
        try:
            result = invoke(env, logical_id, event)
        except Exception as exc:  # noqa: BLE001 - a function error is answered as Lambda answers it
            # Lambda's error payload, without the stack trace (`--verbose` logs carry the detail):
            # one JSON object on stdout, exit code 1, as `sam local invoke` reports a failed function.
            print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)[:1000]}, ensure_ascii=False))
            return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
