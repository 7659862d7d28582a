"""``csv-dmap rejects EXECUTION [-o FILE]``: a run's reject file (``csv_dmap.rejects``): the rows
not applied, as the file had them, with ``line``, ``error_type`` and ``error_message`` added.
Fix them and upload the file as a new run; ValidateInput ignores the three columns.

Without ``-o`` the file goes to standard output byte for byte (``> rejects.csv`` keeps its byte
order mark and CRLF line ends). A run with no row left unapplied has no reject file: that is
said on standard error, and the exit code is 0. Locally the file is in the local data directory
(``make run`` copies it there); on a stack, in the results bucket."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import IO, TextIO

from csv_dmap.models import RunSummary

from .backends import USAGE, AwsBackend, Backend, CliError, LocalBackend

OK = 0
CHUNK = 1024 * 1024


HELP = "the rows of a run not applied, as a CSV to fix and upload again"


def arguments(p: argparse.ArgumentParser, execution: Callable[[str], str]) -> None:
    """The command's arguments (``execution``: the CLI's rule for an execution name)."""
    p.add_argument("execution", type=execution)
    p.add_argument("-o", "--output", type=Path, help="write the file here (default: standard output)")


def _summary(backend: Backend, execution: str) -> RunSummary:
    answer = backend.status(execution)  # an unknown execution is an error here (exit 1)
    if answer.get("state") == "RUNNING":
        raise CliError(f"{execution} is still running: its reject file is written when it ends")
    payload = answer.get("summary")
    if not payload:
        raise CliError(f"{execution} has no run summary yet ({answer.get('state')}): no reject file to show")
    return RunSummary.model_validate(payload)


def where(backend: Backend, summary: RunSummary) -> str | None:
    """The reject file's path or s3:// URI, when the run has one."""
    if not summary.rejects_key:
        return None
    if isinstance(backend, LocalBackend):
        return str(backend.data_dir / summary.rejects_key)
    if isinstance(backend, AwsBackend):
        return f"s3://{backend.resources.results_bucket}/{summary.rejects_key}"
    return summary.rejects_key


def note(backend: Backend, summary: RunSummary | None) -> str | None:
    """One line for ``failures``: where the reject file is."""
    if summary is None or not summary.rejects_key:
        return None
    return (
        f"reject file: {where(backend, summary)} (csv-dmap rejects {summary.execution_name} -o rejects.csv: "
        "fix the rows and upload the file as a new run)"
    )


def _open(backend: Backend, key: str) -> IO[bytes]:
    if isinstance(backend, LocalBackend):
        path = backend.data_dir / key
        if not path.is_file():
            raise CliError(f"the run's reject file is not in {backend.data_dir} ({key}); was it removed?")
        return open(path, "rb")
    if isinstance(backend, AwsBackend):
        from botocore.exceptions import ClientError

        try:
            body: IO[bytes] = backend.s3.get_object(Bucket=backend.resources.results_bucket, Key=key)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise CliError(f"cannot read s3://{backend.resources.results_bucket}/{key}: {code}") from None
        return body
    raise CliError("this backend has no reject files", USAGE)


def _none(summary: RunSummary) -> str:
    if summary.rejects_error:
        return f"{summary.execution_name} has rows not applied but no reject file: {summary.rejects_error}"
    if summary.status == "REJECTED":
        return (
            f"{summary.execution_name} was rejected as a whole ({summary.error}): no row was read, so there is no "
            "reject file; fix the file as its cause says and upload it again"
        )
    if summary.failed or summary.pending:
        return (
            f"{summary.execution_name} has {summary.failed + summary.pending:,} rows not applied but its summary "
            "names no reject file (written before reject files existed, or every such row was superseded): "
            f"see csv-dmap failures {summary.execution_name}"
        )
    return f"{summary.execution_name} has no rows left unapplied: no reject file"


def cmd_rejects(backend: Backend, args: argparse.Namespace, out: TextIO) -> int:
    summary = _summary(backend, args.execution)
    if not summary.rejects_key:
        message = _none(summary)
        if args.json:
            print(json.dumps({"execution": summary.execution_name, "rejectsKey": None, "message": message}), file=out)
        else:
            print(f"csv-dmap: {message}", file=_stderr())
        return OK if not (summary.rejects_error or summary.failed or summary.pending) else 1
    with closing(_open(backend, summary.rejects_key)) as body:
        if args.output is not None:
            _save(body, args.output)
            shown = {"execution": summary.execution_name, "rejectsKey": summary.rejects_key, "file": str(args.output)}
            print(json.dumps(shown) if args.json else f"wrote {args.output} ({where(backend, summary)})", file=out)
        else:
            _copy(body, out)
    return OK


def _save(body: IO[bytes], target: Path) -> None:
    tmp = target.with_name(f".{target.name}.part")
    try:
        with open(tmp, "wb") as fh:
            shutil.copyfileobj(body, fh, CHUNK)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", USAGE) from None


def _copy(body: IO[bytes], out: TextIO) -> None:
    """The bytes as they are to a real stream; decoded (BOM and CRLF kept) to a text-only one."""
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()
        shutil.copyfileobj(body, binary, CHUNK)
        binary.flush()
        return
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    out.writelines(decoder.decode(chunk) for chunk in iter(lambda: body.read(CHUNK), b""))
    out.write(decoder.decode(b"", final=True))


def _stderr() -> TextIO:
    import sys

    return sys.stderr
