"""Local redrive: ``csv-dmap --local redrive EXECUTION`` (``make redrive EXECUTION=...``).

On AWS, ``RedriveExecution`` continues a failed execution from its unsuccessful step, and a
redriven Distributed Map runs again only its failed and pending child executions. Locally moto
forgets everything when ``make run`` ends, so a run that did not succeed leaves a *redrive kit*
beside the analysable data, in ``.local/data/executions/<execution>/``:

    execution.json        the runner's checkpoint (``asl_runner.redrive``), the template
                          parameters and the (masked) database URL the run used, its row count
    s3/<bucket>/<key>     the objects the execution read and wrote: its input file, its staging
                          copy, its ResultWriter files (``layer.execution_objects``)
    objects.json          every object's SHA-256 and S3 user metadata (ValidateInput's counts
                          ride on the staging copy's), checked before a redrive uses the kit
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
OBJECTS = "objects.json"  # {"<logical id>/<key>": {"sha256", "metadata"}} of the kit's objects


def redrive_command(execution: str) -> str:
    return f"csv-dmap --local redrive {execution}"


def kit_dir(execution: str, data_dir: Path | None = None) -> Path:
    from .localdata import local_data_dir

    return (data_dir or local_data_dir()) / KIT / execution


def redrive_blocker(checkpoint: Checkpoint) -> str | None:
    """Why a redrive could not change how this failed execution ends, or None when it could
    (``csv_dmap.logic.redrive``: the same rule as for an execution on AWS, from the checkpoint's
    restart point instead of the execution history)."""
    from csv_dmap.logic.redrive import RestartPoint
    from csv_dmap.logic.redrive import redrive_blocker as blocker

    from .pipeline import DEFINITION

    try:
        _, visit = checkpoint.restart_point()
    except NotRedrivable:
        point = None
    else:
        states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
        point = RestartPoint(visit.state, str(states.get(visit.state, {}).get("Type", "")))
    return blocker(checkpoint.name, checkpoint.status, checkpoint.error, point)


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
    from .localdata import temporary_name
    from .pipeline import mask_url

    checkpoint = result.checkpoint
    assert checkpoint is not None
    target = kit_dir(checkpoint.name, data_dir)
    staging = temporary_name(target)  # this writer's own (localdata)
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
    listed: dict[str, dict[str, Any]] = {}
    for logical_id, prefix in layer.execution_objects(checkpoint.name, str(source.get("key", ""))):
        bucket = env.physical_name(logical_id)
        for key in object_keys(s3, bucket, prefix):
            path = kit / "s3" / logical_id / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
            meta = s3.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
            listed[f"{logical_id}/{key}"] = {"sha256": _sha256(path), "metadata": meta}
    (kit / OBJECTS).write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
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


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_objects(kit: Path) -> dict[str, dict[str, Any]]:
    """The kit's objects as ``objects.json`` lists them, each present and unchanged; a missing,
    edited or unlisted file is ``NotRedrivable`` naming it, before anything is put back (a redrive
    must apply what the run read, never an edited copy)."""
    listed = json.loads((kit / OBJECTS).read_text(encoding="utf-8"))
    if not isinstance(listed, dict):
        raise NotRedrivable(f"the redrive kit {kit} is damaged ({OBJECTS} is not an object): run the file again")
    root = kit / "s3"
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
    for name in sorted(set(listed) | present):
        if name not in listed:
            raise NotRedrivable(f"the redrive kit {kit} holds {name}, which the run did not keep: run the file again")
        if name not in present:
            raise NotRedrivable(f"the redrive kit {kit} lacks {name}: run the file again")
        if _sha256(root / name) != listed[name].get("sha256"):
            raise NotRedrivable(f"the redrive kit {kit} holds an edited {name}: run the file again")
    return listed


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
    from csv_dmap import keys

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
        summary = next(root.glob(keys.summary_files(execution)), None)
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
    listed = _checked_objects(kit)
    for name, entry in sorted(listed.items()):
        logical, key = name.split("/", 1)
        meta = entry.get("metadata") or None
        s3.upload_file(
            str(kit / "s3" / name), env.physical_name(logical), key, ExtraArgs={"Metadata": meta} if meta else None
        )
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
        summary = finish(env, out_dir, execution, result, seconds, rows, started, redrive=hint, data_dir=data_dir)
    summary["redriveCount"] = result.checkpoint.redrive_count if result.checkpoint else None
    return summary


def main(args: Any) -> int:
    """``python -m local_runner redrive EXECUTION``: prints the summary as ``make run`` does."""
    from .pipeline import print_summary
    from .template import local_root

    try:
        summary = redrive(
            args.execution, database_url=args.database_url, out_dir=local_root() / "out", progress=not args.no_progress
        )
    except NotRedrivable as exc:  # as csv-dmap: exit 1, one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0 if summary["status"] == "SUCCEEDED" else 1
