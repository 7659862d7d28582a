"""``csv-dmap check FILE``: what the pipeline would make of a file, before it is uploaded.

The file goes through ValidateInput's own reading (``csv_dmap.logic.validation.normalise``:
encoding, delimiter, header, limits, duplicates; and ``input_files.check_size``), and each row of
the copy it writes through the worker's own row rules (``csv_dmap.logic.decide.classify``), in
batches as the map would hand them over. Nothing touches AWS or a database, unless
``--database-url`` asks for the unknown users too: then each batch's ids are read with the
worker's read (``csv_dmap.db.StatsRepository.read``: one SELECT per chunk of ids, every statement
under 16 KB) on a read-only connection, and ``decide`` names the users that are not there.

The verdict is the pipeline's: a rejection (the named error and its Cause, exit 1), or the rows'
failures against the tolerance (``ErrorRateExceeded``, exit 1), else accepted (exit 0).
Usage errors (no such file, a tolerance outside 0..100, a database that cannot be reached) exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from csv_dmap.config import ToleranceSettings, ValidateSettings
from csv_dmap.errors import InputRejected
from csv_dmap.input_files import check_size
from csv_dmap.logic.aggregate import error_rate_exceeded
from csv_dmap.logic.decide import Candidate, Execution, classify, decide
from csv_dmap.logic.tally import RunTally
from csv_dmap.logic.validation import DELIMITERS, LIMITS, Limits, Scan, normalise
from csv_dmap.models import MAX_ITEMS_PER_BATCH, BatchItem, ItemResult, RowStatus

from .backends import USAGE, CliError

ACCEPTED, REJECTED = 0, 1
FIRST_LINES = 5  # lines shown per error type (all of them are in --json)
DEFAULT_TOLERANCE = float(ToleranceSettings.model_fields["tolerated_failure_percentage"].default)
DEFAULT_MAX_BYTES = int(ValidateSettings.model_fields["max_input_bytes"].default)
UNKNOWN_USERS_UNCHECKED = (
    "unknown users are not checked: only the database knows them (add --database-url URL to check them, read-only)"
)


HELP = "what the pipeline would make of a file, before uploading it (no AWS; a database only if asked)"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path)
    p.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"tolerated failed rows, percent (default {DEFAULT_TOLERANCE:g}, the deployed default)",
    )
    p.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help=f"MaxInputBytes (default {DEFAULT_MAX_BYTES:,})"
    )
    p.add_argument("--database-url", help="also check that the users exist, read-only (SQLAlchemy URL)")


@dataclass
class ErrorRows:
    rows: int = 0
    lines: list[int] = field(default_factory=list)
    example: str | None = None  # the first row's message


@dataclass
class Report:
    file: str
    byte_size: int
    tolerance: float
    unknown_users_checked: bool
    scan: Scan | None = None
    error: str | None = None
    cause: str | None = None
    applicable: int = 0  # rows that pass every rule checked
    superseded: list[tuple[int, int]] = field(default_factory=list)  # (line, the line that decides)
    errors: dict[str, ErrorRows] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(e.rows for e in self.errors.values())

    @property
    def accepted(self) -> bool:
        return self.error is None

    def add(self, result: ItemResult) -> None:
        if result.status is RowStatus.SUPERSEDED and result.superseded_by is not None:
            self.superseded.append((result.line, result.superseded_by))
        elif result.status is RowStatus.FAILED:
            kind = self.errors.setdefault(result.error_type or "Unknown", ErrorRows())
            kind.rows += 1
            kind.lines.append(result.line)
            kind.example = kind.example or result.error_message
        else:
            self.applicable += 1

    def judge(self) -> None:
        rows = self.scan.data_rows if self.scan else 0
        tally = RunTally(rows=rows, failed=self.failed)
        exceeded = error_rate_exceeded(tally, self.tolerance)
        if exceeded:
            self.error, self.cause = "ErrorRateExceeded", exceeded

    def to_json(self) -> dict[str, Any]:
        scan = self.scan
        return {
            "file": self.file,
            "bytes": self.byte_size,
            "verdict": "accepted" if self.accepted else "rejected",
            "error": self.error,
            "cause": self.cause,
            "encoding": scan.encoding_label if scan else None,
            "delimiter": scan.delimiter if scan else None,
            "delimiterName": DELIMITERS[scan.delimiter] if scan else None,
            "headerLine": scan.header_line if scan else None,
            "header": scan.header if scan else None,
            "rows": scan.data_rows if scan else 0,
            "blankRows": scan.blank_rows if scan else 0,
            "duplicates": {
                "rows": len(self.superseded),
                "lines": [{"line": line, "decidedBy": later} for line, later in self.superseded],
            },
            "failed": self.failed,
            "errorRate": round(100.0 * self.failed / scan.data_rows, 3) if scan and scan.data_rows else 0.0,
            "tolerance": self.tolerance,
            "errors": {
                kind: {"rows": e.rows, "lines": e.lines, "example": e.example}
                for kind, e in sorted(self.errors.items(), key=lambda kv: (-kv[1].rows, kv[0]))
            },
            "applicable": self.applicable,
            "unknownUsersChecked": self.unknown_users_checked,
        }


# ------------------------------------------------------------------ the rows


def _items(copy: TextIO) -> Iterator[list[BatchItem]]:
    """The copy's records as the map hands them to the worker: items of at most one batch.
    A backslash escapes the next character, as Step Functions' CSV reader reads it."""
    reader = csv.reader(copy, escapechar="\\")
    names = next(reader)
    batch: list[BatchItem] = []
    for index, record in enumerate(reader):
        batch.append(BatchItem(index=index, row=dict(zip(names, record, strict=False))))
        if len(batch) == MAX_ITEMS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _Users:
    """The users a batch names, read with the worker's own read, on a read-only connection."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from csv_dmap.db import StatsRepository

        self.engine = create_engine(url, poolclass=NullPool)
        self.repository = StatsRepository(self.engine)
        self.conn = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.conn.exec_driver_sql("PRAGMA query_only = ON")
        else:
            self.conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
        self.execution = Execution("csv-dmap-check", datetime.now(UTC).replace(tzinfo=None), 0)

    def decide(self, candidates: list[Candidate]) -> dict[int, ItemResult]:
        stored = self.repository.read(self.conn, [c.user_id for c in candidates], lock=False)
        self.conn.rollback()  # nothing was written: end the read's transaction
        return decide(candidates, stored, self.execution).results

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


@contextmanager
def _users(url: str | None) -> Iterator[_Users | None]:
    if url is None:
        yield None
        return
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        users = _Users(url)
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        raise CliError(f"cannot read the database {_masked(url)}: {_first_line(exc)}", USAGE) from None
    try:
        yield users
    finally:
        users.close()


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rows(report: Report, copy: TextIO, users: _Users | None) -> None:
    for batch in _items(copy):
        settled, candidates = classify(batch)
        for result in settled.values():
            report.add(result)
        if users is not None and candidates:
            try:
                decided = users.decide(candidates)
            except Exception as exc:  # noqa: BLE001 - the driver's error, for the operator in one line
                raise CliError(f"reading the users failed: {_first_line(exc)}", USAGE) from None
            for result in decided.values():
                report.add(result)
        else:
            report.applicable += len(candidates)


def check_file(
    path: Path,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    database_url: str | None = None,
    tmp_dir: str | None = None,
    limits: Limits = LIMITS,
) -> Report:
    """The report on one file (see the module doc); ``limits`` are ValidateInput's."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", USAGE) from None
    report = Report(str(path), size, tolerance, unknown_users_checked=database_url is not None)

    def open_file() -> BinaryIO:
        return open(path, "rb")

    fd, copy_path = tempfile.mkstemp(suffix=".csv", dir=tmp_dir)
    try:
        with _users(database_url) as users, os.fdopen(fd, "w+", encoding="utf-8", newline="") as copy:
            try:
                check_size(str(path), size, max_bytes)
                report.scan = normalise(open_file, copy, tmp_dir, limits)
            except InputRejected as exc:
                report.error, report.cause = type(exc).__name__, str(exc)
                return report
            except OSError as exc:
                raise CliError(f"cannot read {path}: {exc.strerror or exc}", USAGE) from None
            copy.seek(0)
            _rows(report, copy, users)
    finally:
        os.remove(copy_path)
    report.judge()
    return report


# ------------------------------------------------------------------ output


def _lines(lines: list[int], limit: int = FIRST_LINES) -> str:
    shown = ", ".join(f"{n:,}" for n in lines[:limit])
    return shown + (f", … ({len(lines) - limit:,} more)" if len(lines) > limit else "")


def render(report: Report, out: TextIO) -> None:
    width = 14

    def say(label: str, text: str) -> None:
        print(f"{label:<{width}}{text}", file=out)

    say("file", f"{report.file} ({report.byte_size:,} bytes)")
    scan = report.scan
    if scan is not None:
        say("encoding", scan.encoding_label)
        say("delimiter", f"{DELIMITERS[scan.delimiter]} ({scan.delimiter!r})")
        say("header", f"line {scan.header_line:,}: {scan.delimiter.join(scan.header)}")
        blank = f" ({scan.blank_rows:,} blank rows skipped)" if scan.blank_rows else ""
        say("rows", f"{scan.data_rows:,}{blank}")
        say("duplicates", f"{len(report.superseded):,} rows superseded by a later row of the same user")
        for line, later in report.superseded[:FIRST_LINES]:
            say("", f"line {line:,} -> line {later:,}")
        if len(report.superseded) > FIRST_LINES:
            say("", f"… ({len(report.superseded) - FIRST_LINES:,} more)")
        rate = 100.0 * report.failed / scan.data_rows if scan.data_rows else 0.0
        say("failed", f"{report.failed:,} rows ({rate:.2f}%)")
        if report.errors:
            kind_width = max(len(k) for k in report.errors) + 2
            for kind, e in sorted(report.errors.items(), key=lambda kv: (-kv[1].rows, kv[0])):
                say("", f"{kind:<{kind_width}}{e.rows:>9,}  lines {_lines(e.lines)}")
                if e.example:
                    say("", f"{'':<{kind_width}}{'':>9}  e.g. {e.example}")
        if not report.unknown_users_checked:
            say("users", UNKNOWN_USERS_UNCHECKED)
    if report.accepted:
        say("verdict", f"accepted (failed rows within the tolerated {report.tolerance:g}%)")
    else:
        say("verdict", f"rejected: {report.error}: {report.cause}")


def cmd_check(backend: Any, args: argparse.Namespace, out: TextIO) -> int:
    if not 0 <= args.tolerance <= 100:
        raise CliError(f"--tolerance must be between 0 and 100, got {args.tolerance:g}", USAGE)
    if args.max_bytes < 1:
        raise CliError("--max-bytes must be at least 1", USAGE)
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}", USAGE)
    report = check_file(args.file, tolerance=args.tolerance, max_bytes=args.max_bytes, database_url=args.database_url)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False), file=out)
    else:
        render(report, out)
    return ACCEPTED if report.accepted else REJECTED
