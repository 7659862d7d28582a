"""``python -m local_runner exec``: run any ASL definition on this machine, on moto.

Task resources come from the template's DefinitionSubstitutions (``--template``)
or from ``--function NAME=path/to/file.py:handler``, where NAME is either a
``${NAME}`` placeholder of the definition or the function name/ARN it uses.
Exit codes as ``python -m asl_runner exec``: 0 succeeded, 1 failed, 2 cannot run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from asl_runner import Execution, ExecutionResult, RunOptions
from asl_runner.cli import (
    CannotRun,
    cannot_run,
    check_name,
    checked_definition,
    load_function_spec,
    print_result,
    read_input,
    substitute,
)
from asl_runner.lint import load_definition
from asl_runner.model import Definition
from asl_runner.redrive import Checkpoint

from . import ACCOUNT, REGION
from .environment import LocalEnvironment
from .s3util import put_local_file
from .services import TemplateServices


def prepare(
    env: LocalEnvironment, definition_path: str | Path, function_specs: list[str], state_machine: str | None
) -> tuple[Definition, TemplateServices, str]:
    """The checked definition (substitutions applied), the services that serve it, the machine's name."""
    try:
        text = json.dumps(load_definition(definition_path))
    except ValueError as exc:
        raise CannotRun(str(exc)) from None
    text, name = _from_template(env, text, state_machine) if env.template_path else (text, "local")
    services = TemplateServices(env)
    for spec in function_specs or []:
        fn_name, handler = load_function_spec(spec)
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn_name}"
        text = substitute(text, {fn_name: arn})
        services.register(arn, handler)
        services.register(fn_name, handler)
    return checked_definition(json.loads(text)), services, name


def _from_template(env: LocalEnvironment, text: str, state_machine: str | None) -> tuple[str, str]:
    """The definition with the template's DefinitionSubstitutions, and the state machine's name."""
    ids = env.state_machine_ids()
    if state_machine is not None and state_machine not in ids:
        raise CannotRun(f"--state-machine {state_machine}: the template has {', '.join(ids) or 'no state machine'}")
    sm = state_machine or (ids[0] if len(ids) == 1 else None)
    if sm is None and ids:
        raise CannotRun(f"the template has several state machines; pick one with --state-machine ({', '.join(ids)})")
    missing = [str(s.module_path) for s in env.functions.values() if not s.module_path.is_file()]
    if missing:
        raise CannotRun(f"handler file {missing[0]} of the template does not exist")
    if not sm:
        return text, "local"
    return substitute(text, env.definition_substitutions(sm)), env.physical_name(sm).rsplit(":", 1)[-1]


def run_definition(
    env: LocalEnvironment,
    definition_path: str | Path,
    *,
    functions: Any = (),
    state_machine: str | None = None,
    input: Any = None,
    name: str | None = None,
    options: RunOptions | None = None,
    checkpoint: Checkpoint | None = None,
) -> ExecutionResult:
    """Run the definition; with a ``checkpoint``, redrive that execution instead (its name and input)."""
    definition, services, sm_name = prepare(env, definition_path, list(functions), state_machine)
    options = dataclasses.replace(options or RunOptions(), region=REGION, account=ACCOUNT)
    try:
        if checkpoint is not None:
            execution = Execution(
                definition, services, name=checkpoint.name, state_machine_name=sm_name, options=options
            )
            return execution.redrive(checkpoint)
        execution = Execution(definition, services, name=name, state_machine_name=sm_name, options=options)
        return execution.run(input if input is not None else {})
    finally:
        if env.containers is not None:
            env.containers.release()  # code after the run sees the harness, not the last function


def main(args: Any) -> int:
    try:
        if args.template and not Path(args.template).is_file():
            raise CannotRun(f"--template: no file {args.template}")
        check_name(args.name)
        data = read_input(args.input)
        with LocalEnvironment(template_path=args.template or "", database_url=args.database_url) as env:
            for spec in args.s3_object or []:
                put_local_file(env, spec)
            try:
                result = run_definition(
                    env,
                    args.definition,
                    functions=args.function or [],
                    state_machine=args.state_machine,
                    input=data,
                    name=args.name,
                )
            finally:
                if args.export_s3:
                    env.export_s3(args.export_s3)
    except CannotRun as exc:
        return cannot_run(str(exc), args.json)
    return print_result(result, args.json)
