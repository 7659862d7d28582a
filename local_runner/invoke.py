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


def main(args: Any) -> int:
    from . import layer
    from .s3util import put_local_file

    event = _read_event(args.event)
    with LocalEnvironment(template_path=args.template, database_url=args.database_url) as env:
        logical_id = resolve_function(env, args.function)
        if args.seed_users:
            ids = [line.strip() for line in Path(args.seed_users).read_text().splitlines() if line.strip()]
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
