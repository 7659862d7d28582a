"""``python -m local_runner invoke``: run one function of template.yaml with an
event file, Docker-free, against the local stand-ins (moto + SQLite/MariaDB).
The same event files work with ``sam local invoke`` where Docker is available."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    raise SystemExit(f"no function {name!r} in the template; known: {known}")


def invoke(env: LocalEnvironment, logical_id: str, event: Any) -> Any:
    spec = env.functions[logical_id]
    handler = load_handler(spec.module_path, spec.function_name)
    context = LocalLambdaContext(
        function_name=env.physical_name(logical_id),
        timeout_seconds=spec.timeout,
        memory_limit_in_mb=int(env.resolve(spec.memory_size)),
    )
    return handler(event, context)


def main(args) -> int:
    event = json.loads(Path(args.event).read_text(encoding="utf-8"))
    with LocalEnvironment(template_path=args.template, database_url=args.database_url) as env:
        if args.seed_users:
            from csv_dmap.db import get_repository

            ids = [line.strip() for line in Path(args.seed_users).read_text().splitlines() if line.strip()]
            get_repository().seed_users(ids)
        for spec in args.s3_object or []:
            from .s3util import put_local_file

            put_local_file(env, spec)
        result = invoke(env, resolve_function(env, args.function), event)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
