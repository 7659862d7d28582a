"""Local redrive: ``csv-dmap --local redrive EXECUTION`` (``make redrive EXECUTION=...``).

On AWS, ``RedriveExecution`` continues a failed execution from its unsuccessful step, and a
redriven Distributed Map runs again only its failed and pending child executions. Locally moto
forgets everything when ``make run`` ends, so a run that did not succeed leaves a *redrive kit*
beside the analysable data, in ``.local/data/executions/<execution>/``:

    execution.json        the runner's checkpoint (``asl_runner.redrive``), the template
                          parameters and the (masked) database URL the run used, its row count
    s3/<bucket>/<key>     the objects the execution read and wrote: its input file, its staging
                          copy, its ResultWriter files (``layer.execution_objects``)
    audit.jsonl           its audit items, as DynamoDB stores them

A redrive starts moto afresh, puts the kit back, continues the execution with the same
definition, functions and database, and then does what ``make run`` does after a run: the
summary, ``.local/data`` (rows, summary, audit; overwritten for the execution, so they describe
every row once), and a new kit if it failed again. A redrive that succeeds removes the kit:
a SUCCEEDED execution cannot be redriven, as on AWS.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from asl_runner import ExecutionResult
from asl_runner.cli import CannotRun
from asl_runner.redrive import Checkpoint, NotRedrivable

from . import layer
from .environment import LocalEnvironment

KIT = "executions"
MANIFEST = "execution.json"
WHY_NOT = "not-redrivable.txt"  # instead of a kit: why a redrive could not help
REJECTED_STATE = "InputRejected"  # the Fail state of a rejected file (statemachine/definition.asl.json)


def redrive_command(execution: str) -> str:
    return f"csv-dmap --local redrive {execution}"


def kit_dir(execution: str, data_dir: Path | None = None) -> Path:
    from .localdata import local_data_dir

    return (data_dir or local_data_dir()) / KIT / execution


def redrive_blocker(checkpoint: Checkpoint) -> str | None:
    """Why a redrive could not change how this failed execution ends, or None when it could:
    the file was rejected (a redrive reads the same file), or it would restart at a Fail state
    (the run failed on its rows, after every batch ran)."""
    from .pipeline import DEFINITION

    try:
        _, visit = checkpoint.restart_point()
    except NotRedrivable as exc:
        return str(exc)
    states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    if any(v.state == REJECTED_STATE for v in checkpoint.visits):
        return (
            f"execution {checkpoint.name} rejected its file ({checkpoint.error}): a redrive would read the same "
            "file; fix the file and run it again"
        )
    if states.get(visit.state, {}).get("Type") == "Fail":
        return (
            f"execution {checkpoint.name} failed on its rows ({checkpoint.error}) after every batch ran: "
            "a redrive would run nothing again"
        )
    return None


def keep_kit(
    env: LocalEnvironment,
    result: ExecutionResult,
    *,
    parameters: dict[str, str],
    rows_in_file: int,
    data_dir: Path | None = None,
) -> str | None:
    """Save what a redrive of ``result``'s execution needs (while moto still runs), and return
    the command that redrives it; when a redrive could not help, keep only the reason, say so
    to ``csv-dmap redrive`` later, and return None."""
    from .pipeline import mask_url

    checkpoint = result.checkpoint
    assert checkpoint is not None
    target = kit_dir(checkpoint.name, data_dir)
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    blocker = redrive_blocker(checkpoint)
    if blocker is None:
        _save_kit(env, checkpoint, staging)
        manifest = KitManifest(
            checkpoint=checkpoint,
            parameters=parameters,
            database=database_identity(mask_url(env.database_url)),
            rowsInFile=rows_in_file,
        )
        (staging / MANIFEST).write_text(manifest.model_dump_json(by_alias=True, indent=1), encoding="utf-8")
    else:
        (staging / WHY_NOT).write_text(blocker + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return redrive_command(checkpoint.name) if blocker is None else None


def _save_kit(env: LocalEnvironment, checkpoint: Checkpoint, kit: Path) -> None:
    """The execution's objects (and its audit items, unless the audit table outlives the run),
    copied out of the run's S3 into ``kit``."""
    from .localdata import execution_items, object_keys

    s3 = env.client("s3")
    source = checkpoint.input if isinstance(checkpoint.input, dict) else {}
    for logical_id, prefix in layer.execution_objects(checkpoint.name, str(source.get("key", ""))):
        bucket = env.physical_name(logical_id)
        for key in object_keys(s3, bucket, prefix):
            path = kit / "s3" / logical_id / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
    if env.audit_persists:
        return
    with open(kit / "audit.jsonl", "w", encoding="utf-8") as fh:
        items = execution_items(
            s3,
            env.physical_name("ResultsBucket"),
            env.client("dynamodb"),
            env.physical_name("AuditTable"),
            checkpoint.name,
        )
        fh.writelines(json.dumps(raw, ensure_ascii=False) + "\n" for raw in items)


def database_identity(masked_url: str) -> str:
    """The database a URL names, for comparing two runs' databases: a relative SQLite path made
    absolute (the same text run from another directory is another file)."""
    prefix = "sqlite:///"
    if masked_url.startswith(prefix) and not masked_url.startswith(prefix + "/"):
        return prefix + str(Path(masked_url[len(prefix) :]).resolve())
    return masked_url


def drop_kit(execution: str, data_dir: Path | None = None) -> None:
    shutil.rmtree(kit_dir(execution, data_dir), ignore_errors=True)


class KitManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: Checkpoint
    parameters: dict[str, str] = Field(default_factory=dict)
    database: str
    rows_in_file: int = Field(alias="rowsInFile", ge=0)


def load_kit(execution: str, data_dir: Path | None = None) -> KitManifest:
    """The kit's manifest; ``NotRedrivable`` (with the reason) when there is none or it is damaged."""
    from .localdata import local_data_dir

    kit = kit_dir(execution, data_dir)
    path = kit / MANIFEST
    if (kit / WHY_NOT).is_file():
        try:
            reason = (kit / WHY_NOT).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = f"execution {execution} cannot be redriven ({exc})"
        raise NotRedrivable(reason)
    if not path.is_file():
        root = data_dir or local_data_dir()
        summary = next(root.glob(f"summaries/date=*/{execution}.json"), None)
        if summary is None:
            raise NotRedrivable(f"no local execution {execution!r} to redrive in {root} (see `csv-dmap --local runs`)")
        status = json.loads(summary.read_text(encoding="utf-8")).get("status", "?")
        if status == "SUCCEEDED":
            raise NotRedrivable(f"execution {execution} ended SUCCEEDED and cannot be redriven")
        raise NotRedrivable(
            f"execution {execution} ended {status} but its redrive kit is missing from {kit.parent}: run the file again"
        )
    try:
        manifest = KitManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotRedrivable(f"the redrive kit {kit} is damaged ({reason}): run the file again") from None
    if manifest.checkpoint.name != execution:
        raise NotRedrivable(
            f"the redrive kit {kit} is damaged: it holds execution {manifest.checkpoint.name!r}, not {execution!r}"
        )
    return manifest


def _restore(env: LocalEnvironment, kit: Path) -> None:
    """Put the kit's objects and audit items back into (a fresh) moto; a damaged piece is
    ``NotRedrivable`` before anything reaches the database."""
    try:
        _put_back(env, kit)
    except (OSError, ValueError, LookupError) as exc:
        raise NotRedrivable(f"the redrive kit {kit} is damaged ({exc!r}): run the file again") from None
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, (BotoCoreError, ClientError)):
            raise NotRedrivable(f"the redrive kit {kit} is damaged ({exc}): run the file again") from None
        raise


def _put_back(env: LocalEnvironment, kit: Path) -> None:
    s3 = env.client("s3")
    objects = kit / "s3"
    if objects.is_dir():
        for logical in objects.iterdir():
            bucket = env.physical_name(logical.name)
            for path in sorted(p for p in logical.rglob("*") if p.is_file()):
                s3.upload_file(str(path), bucket, path.relative_to(logical).as_posix())
    audit = kit / "audit.jsonl"
    if audit.is_file():
        dynamodb, table = env.client("dynamodb"), env.physical_name("AuditTable")
        with open(audit, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    dynamodb.put_item(TableName=table, Item=json.loads(line))


def redrive(
    execution: str,
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Redrive a local execution; returns ``make run``'s summary of the redriven execution
    (plus ``redriveCount``), also written with the run's exports to ``out_dir`` when given.
    ``NotRedrivable`` or ``CannotRun`` say why it cannot be; ``localdata.Busy`` when another
    process runs or redrives it."""
    from .localdata import execution_lock

    with execution_lock(execution, data_dir):
        return _redrive(execution, database_url=database_url, data_dir=data_dir, out_dir=out_dir, progress=progress)


def _redrive(
    execution: str, *, database_url: str | None, data_dir: Path | None, out_dir: Path | None, progress: bool
) -> dict[str, Any]:
    from .pipeline import entered, finish, keep_for_analysis, mask_url, run_map

    kit = kit_dir(execution, data_dir)
    manifest = load_kit(execution, data_dir)
    checkpoint = manifest.checkpoint
    started = time.monotonic()
    env = LocalEnvironment(database_url=database_url, quiet=True, parameters=manifest.parameters, aws="disk")
    here = database_identity(mask_url(env.database_url))
    if here != database_identity(manifest.database):
        raise CannotRun(
            f"execution {execution} ran against {manifest.database}, not {here}: "
            "redrive it against the same database (DATABASE_URL or --database-url)"
        )
    with entered(env):
        _restore(env, kit)
        rows = manifest.rows_in_file
        result, seconds = run_map(env, execution, rows, progress, checkpoint=checkpoint, data_dir=data_dir)
        keep_for_analysis(env, execution, data_dir)
        hint = None
        if result.status == "SUCCEEDED":
            drop_kit(execution, data_dir)
        else:
            hint = keep_kit(env, result, parameters=manifest.parameters, rows_in_file=rows, data_dir=data_dir)
        summary = finish(env, out_dir, execution, result, seconds, rows, started, redrive=hint)
    summary["redriveCount"] = result.checkpoint.redrive_count if result.checkpoint else None
    return summary


def main(args: Any) -> int:
    """``python -m local_runner redrive EXECUTION``: prints the summary as ``make run`` does."""
    from .pipeline import LOCAL, print_summary

    try:
        summary = redrive(
            args.execution, database_url=args.database_url, out_dir=LOCAL / "out", progress=not args.no_progress
        )
    except NotRedrivable as exc:  # as csv-dmap: exit 1, one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0 if summary["status"] == "SUCCEEDED" else 1
