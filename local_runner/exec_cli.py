"""``python -m local_runner exec``: run any ASL definition on this machine.

Task resources come from the template's DefinitionSubstitutions (``--template``)
or from ``--function NAME=path/to/file.py:handler``, where NAME is either a
``${NAME}`` placeholder of the definition or the function name/ARN it uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import ACCOUNT, REGION
from .environment import LocalEnvironment
from .interpreter import DefinitionError, Execution, Resources, RunOptions
from .lambda_loader import load_handler
from .s3util import put_local_file


def _parse_function(spec: str) -> tuple[str, Path, str]:
    name, _, target = spec.partition("=")
    path, _, handler = target.rpartition(":")
    if not name or not path:
        raise SystemExit(f"--function expects NAME=path/to/file.py:handler, got {spec!r}")
    return name, Path(path), handler or "lambda_handler"


def _input(value: str | None) -> Any:
    if not value:
        return {}
    if value.startswith("@"):
        return json.loads(Path(value[1:]).read_text(encoding="utf-8"))
    return json.loads(value)


def substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text


def prepare(env: LocalEnvironment, definition_path: str, function_specs: list[str], state_machine: str | None):
    """Definition text with substitutions applied, and the Resources that serve it."""
    text = Path(definition_path).read_text(encoding="utf-8")
    name = "local"
    if env.template_path:
        ids = env.state_machine_ids()
        sm = state_machine or (ids[0] if len(ids) == 1 else None)
        if sm is None and ids:
            raise SystemExit(f"the template has several state machines; pick one with --state-machine ({', '.join(ids)})")
        if sm:
            text = substitute(text, env.definition_substitutions(sm))
            name = env.physical_name(sm).rsplit(":", 1)[-1]
    resources = Resources(env=env)
    for spec in function_specs or []:
        fn_name, path, handler = _parse_function(spec)
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn_name}"
        text = substitute(text, {fn_name: arn})
        loaded = load_handler(path, handler)
        resources.register(arn, loaded)
        resources.register(fn_name, loaded)
    return json.loads(text), resources, name


def run_definition(env, definition_path, *, functions=(), state_machine=None, input=None, name=None,
                   options: RunOptions | None = None):
    definition, resources, sm_name = prepare(env, definition_path, list(functions), state_machine)
    execution = Execution(definition, resources, name=name, state_machine_name=sm_name, options=options)
    return execution.run(input if input is not None else {})


def main(args) -> int:
    try:
        with LocalEnvironment(
            template_path=args.template or "", database_url=args.database_url
        ) as env:
            for spec in args.s3_object or []:
                put_local_file(env, spec)
            try:
                result = run_definition(env, args.definition, functions=args.function or [],
                                        state_machine=args.state_machine, input=_input(args.input), name=args.name)
            finally:
                if args.export_s3:
                    env.export_s3(args.export_s3)
    except DefinitionError as err:
        if args.json:
            print(json.dumps({"status": "INVALID", "output": None, "error": "InvalidDefinition",
                              "cause": "\n".join(err.problems)}, ensure_ascii=False))
        else:
            print("the definition cannot run here:\n  " + "\n  ".join(err.problems), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, default=str))
    else:
        print(f"{result.status}  {result.execution_arn}")
        if result.error:
            print(f"  error: {result.error}\n  cause: {result.cause}")
        for run in result.map_runs:
            print(f"  map run {run['state']}: {run['itemsTotal']} items, {run['batches']} batches, "
                  f"{run['failedBatches']} failed, peak {run['peakInFlight']}/{run['maxConcurrency']} in flight")
        print(json.dumps(result.output, ensure_ascii=False, indent=2, default=str))
    return 0 if result.status == "SUCCEEDED" else 1
