"""The reject file of a run: the rows not applied, as the file had them, ready to be fixed and
uploaded again.

    rejects/execution_date=YYYY-MM-DD/<execution>.csv      in the results bucket
                                                            (.local/data/rejects/... locally)

What it holds: exactly the rows not applied — FAILED (a row rule, an unknown user, a batch
the database refused for good) and PENDING (their batch failed as a whole or never ran,
including the rows a failed map never read). SUPERSEDED and SKIPPED rows are outcomes, not
rejects; a not-applied row whose later row of the same user decides (ValidateInput's
``superseded`` note) is left out too: uploading it would undo that later row.

Its layout: the original header (names, extra columns and their order, as the file had them),
then ``line`` (the row's line in the original file), ``error_type``, ``error_message``; each
row's cells as ValidateInput decoded them, in the original's delimiter. A row shorter than the
header is padded with empty cells so that the three columns stay in place; a longer one keeps
its surplus cells after ``error_message``. A reject file of a reject file replaces the old
three columns. UTF-8 with a byte order mark and CRLF line ends: Excel opens it with its
Japanese text intact, and ValidateInput reads it back (the three trailing columns are ignored
and count in no size limit: ``csv_dmap.logic.validation``).

How it is made, in flat memory whatever the run's size: during the aggregation pass (rows
arrive in batch order, not line order) every row's index is marked in a bitmap and each
reject's (index, line, error type, message) is spilled to a SQLite file in the temp directory;
then one streamed reading of the original object (the exact version the run read, through
ValidateInput's own reader) writes the rows whose index has a reject, in file order. The rows
a failed map never read are the indexes no result named; their notes come from the run's
normalised copy, read alongside.
"""

from __future__ import annotations

import codecs
import csv
import os
import sqlite3
import tempfile
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing, nullcontext
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, Self, TextIO, cast

from .logic.validation import LIMITS, REJECT_COLUMNS, Limits, open_source
from .models import RowStatus, superseded_by
from .results import NOT_RUN_ERROR

UNREAD_MESSAGE = "the map stopped before reading this row; a redrive applies it"
BOM = "\ufeff"


class RejectsUnavailable(Exception):
    """The reject file cannot be written (the original is gone, or not the file the run read);
    the message says why, for the run summary."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class RejectSpill:
    """What the aggregation pass learns for the reject file: which row indexes the results named
    (a bitmap: one bit a row) and the rejects (a SQLite file on local disk, by index)."""

    CHUNK = 20_000

    def __init__(self, tmp_dir: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(suffix=".sqlite", dir=tmp_dir)
        os.close(fd)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-8192;"
            "CREATE TABLE rejects (idx INTEGER PRIMARY KEY, line INTEGER, error_type TEXT, error_message TEXT);"
        )
        self._pending: list[tuple[int, int | None, str, str]] = []
        self._bits = bytearray()
        self.seen = 0  # distinct indexes the results named
        self.count = 0  # rejects spilled
        self.unplaced = 0  # rows with no usable index (cannot be placed in the file)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        if os.path.exists(self.path):
            os.remove(self.path)

    def _mark(self, index: int) -> bool:
        byte, bit = divmod(index, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if self._bits[byte] >> bit & 1:
            return False
        self._bits[byte] |= 1 << bit
        self.seen += 1
        return True

    def was_read(self, index: int) -> bool:
        byte, bit = divmod(index, 8)
        return byte < len(self._bits) and bool(self._bits[byte] >> bit & 1)

    def add(self, row: Mapping[str, Any]) -> None:
        """One row of the aggregation pass (a worker result dict, or ``results.not_run_row``)."""
        index = _int(row.get("index"))
        if index is None:
            self.unplaced += 1
            return
        if not self._mark(index):
            return
        status = row.get("status")
        if status == RowStatus.FAILED or (status == RowStatus.PENDING and row.get("supersededBy") is None):
            message = row.get("errorMessage")
            self._pending.append(
                (index, _int(row.get("line")), str(row.get("errorType") or ""), "" if message is None else str(message))
            )
            self.count += 1
            if len(self._pending) >= self.CHUNK:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.db.executemany("INSERT OR REPLACE INTO rejects VALUES (?, ?, ?, ?)", self._pending)
            self._pending.clear()

    def rejects(self) -> Iterator[tuple[int, int | None, str, str]]:
        """(index, line, error type, message), by index, streamed."""
        self._flush()
        for index, line, kind, message in self.db.execute("SELECT * FROM rejects ORDER BY idx"):
            yield int(index), line, str(kind), str(message)


@dataclass(frozen=True)
class RunFiles:
    """The objects a run read: the original (this exact version) and ValidateInput's copy."""

    bucket: str
    source_key: str
    version_id: str | None
    copy_key: str | None
    rows: int  # ValidateInput's row count


def _opener(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Any:
    def open_stream() -> BinaryIO:
        extra = {"VersionId": version_id} if version_id else {}
        return cast(BinaryIO, s3.get_object(Bucket=bucket, Key=key, **extra)["Body"])

    return open_stream


def _copy_notes(s3: Any, files: RunFiles) -> Generator[tuple[str, str]]:
    """(line, note) of each record of the normalised copy, in order (the map's own reading of it:
    a backslash escapes the next character)."""
    if not files.copy_key:
        raise RejectsUnavailable(
            "the run's normalised copy is not known, so the rows its map never read cannot be told"
        )
    body = _opener(s3, files.bucket, files.copy_key)()
    try:
        reader = csv.reader(_text_lines(body), escapechar="\\")
        next(reader, None)
        for record in reader:
            yield (record[3], record[4]) if len(record) >= 5 else ("", "")
    finally:
        body.close()


def _text_lines(body: BinaryIO) -> Iterator[str]:
    """UTF-8 text split at ``\\n`` only (the copy's line end; a quoted cell may hold other breaks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in iter(lambda: body.read(1 << 20), b""):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


class _Writer:
    """Rows of the reject file: the original header's width, then the three columns."""

    def __init__(self, out: TextIO, header: list[str], delimiter: str, own_columns: slice | None) -> None:
        self.width = own_columns.start if own_columns is not None else len(header)
        self.drop = len(REJECT_COLUMNS) if own_columns is not None else 0
        self.writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        self.writer.writerow([*header[: self.width], *REJECT_COLUMNS])
        self.rows = 0

    def row(self, cells: list[str], line: int, error_type: str, message: str) -> None:
        width = self.width
        head = cells[:width] + [""] * (width - len(cells)) if len(cells) < width else cells[:width]
        self.writer.writerow([*head, line, error_type, message, *cells[width + self.drop :]])
        self.rows += 1


def write_reject_file(
    s3: Any,
    files: RunFiles,
    spill: RejectSpill,
    out: TextIO,
    *,
    map_failed: bool,
    limits: Limits = LIMITS,
) -> int:
    """Write the reject file to ``out`` (a text file opened with ``newline=""``); the rows written.
    ``map_failed``: the rows no result named were never read, and are rejects too."""
    unread = map_failed and spill.seen < files.rows
    rejects = spill.rejects()
    nxt = next(rejects, None)
    notes = _copy_notes(s3, files) if unread else None
    with (
        closing(notes) if notes is not None else nullcontext(),
        open_source(_opener(s3, files.bucket, files.source_key, files.version_id), limits) as source,
    ):
        out.write(BOM)
        writer = _Writer(out, source.header, source.delimiter, source.skip)
        index = -1
        for index, (line, cells) in enumerate(source.records()):
            note = next(notes, None) if notes is not None else None
            if nxt is not None and nxt[0] == index:
                if nxt[1] is not None and nxt[1] != line:
                    raise _not_the_file(
                        files, f"row {index + 1:,} is on line {line:,}, the run's results say {nxt[1]:,}"
                    )
                writer.row(cells, line, nxt[2], nxt[3])
                nxt = next(rejects, None)
            elif unread and not spill.was_read(index):
                if note is None or note[0] != str(line):
                    raise _not_the_file(files, f"line {line:,} is not the run's copy's row {index + 1:,}")
                if superseded_by(note[1]) is None:
                    writer.row(cells, line, NOT_RUN_ERROR, UNREAD_MESSAGE)
    if index + 1 != files.rows or nxt is not None:
        raise _not_the_file(files, f"it has {index + 1:,} rows, the run read {files.rows:,}")
    return writer.rows


def _not_the_file(files: RunFiles, detail: str) -> RejectsUnavailable:
    version = f" (version {files.version_id})" if files.version_id else ""
    return RejectsUnavailable(f"s3://{files.bucket}/{files.source_key}{version} is not the file the run read: {detail}")


PUT_MAX = 5 * 1024**3  # PutObject's limit; a larger file goes up in parts
PART_BYTES = 64 * 1024**2


def _upload(s3: Any, path: str, bucket: str, key: str) -> None:
    """The file, streamed from disk: one PutObject (the SDK reads the file in blocks), or a
    multipart upload of bounded parts above PutObject's limit."""
    content = "text/csv; charset=utf-8"
    if os.path.getsize(path) <= PUT_MAX:
        with open(path, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content)
        return
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=2)
    s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": content}, Config=config)


def publish_rejects(
    s3: Any,
    results_bucket: str,
    key: str,
    files: RunFiles,
    spill: RejectSpill,
    *,
    map_failed: bool,
    tmp_dir: str | None = None,
    limits: Limits = LIMITS,
) -> int:
    """Write the reject file to ``key`` in the results bucket, or remove it when the run has no
    reject (a redrive that applied the rest leaves none behind); the rows written."""
    if spill.count == 0 and not (map_failed and spill.seen < files.rows):
        s3.delete_object(Bucket=results_bucket, Key=key)
        return 0
    fd, path = tempfile.mkstemp(suffix=".csv", dir=tmp_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            rows = write_reject_file(s3, files, spill, out, map_failed=map_failed, limits=limits)
        if rows == 0:  # the never-read rows were all superseded by rows that are not rejects
            s3.delete_object(Bucket=results_bucket, Key=key)
            return 0
        _upload(s3, path, results_bucket, key)
    finally:
        os.remove(path)
    return rows
