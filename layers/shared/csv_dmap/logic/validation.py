"""Checking and normalising an input CSV, streaming (never the whole file).

Pass 1 (``scan``): detect the encoding (UTF-8, UTF-8 with BOM, CP932 /
Shift_JIS as Excel saves it in Japan), map the header (Japanese names or
English aliases, any order, extra columns ignored), count the data rows and
the duplicate user ids. Which row is each user's last is worked out in a
SQLite file on local disk (Lambda's ephemeral storage), not in memory: a
file of tens of millions of users costs disk, and memory stays flat; only
the indexes of the rows to drop (the duplicates) are kept.

Pass 2 (``write_normalised``, only when needed): write a UTF-8 copy without
BOM, with the canonical header and columns, keeping only the last row of each
user, so the result does not depend on the order in which batches run.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import EmptyFile, InvalidHeader, UnsupportedEncoding
from ..models import HEADER_ALIASES, is_valid_user_id

CANONICAL_HEADER = [HEADER_ALIASES[name][0] for name in ("user_id", "login_count", "post_count")]
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp932": "CP932 (Shift_JIS)"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

Opener = Callable[[], BinaryIO]


@dataclass
class Scan:
    encoding: str
    columns: dict[str, int]  # canonical field -> column position
    header: list[str]
    data_rows: int = 0
    duplicate_rows: int = 0
    superseded: set[int] = field(default_factory=set, repr=False)  # rows followed by a later row of the same user

    @property
    def needs_normalising(self) -> bool:
        return self.encoding != "utf-8" or self.duplicate_rows > 0

    @property
    def rows_after_dedup(self) -> int:
        return self.data_rows - self.duplicate_rows


def map_header(header: list[str]) -> dict[str, int]:
    """Canonical field -> column position, or InvalidHeader naming the problem."""
    lookup = {alias.lower(): name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = lookup.get(raw.strip().lstrip("\ufeff").lower())
        if name is None:
            continue
        if name in columns:
            raise InvalidHeader(f"column {raw.strip()!r} appears twice in the header (columns {columns[name] + 1} "
                                f"and {position + 1}); keep one")
        columns[name] = position
    missing = [name for name in HEADER_ALIASES if name not in columns]
    if missing:
        wanted = ", ".join(" or ".join(HEADER_ALIASES[m]) for m in missing)
        found = ",".join(h.strip() for h in header)[:200]
        raise InvalidHeader(f"the header has no column for {wanted}; the first row was {found!r}. "
                            f"Expected {','.join(CANONICAL_HEADER)} (or user_id,login_count,post_count), in any order")
    return columns


def _text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def _blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def _header_and_rows(text: io.TextIOBase) -> tuple[list[str] | None, Iterator[list[str]]]:
    """The first non-blank row, and the non-blank rows after it."""
    reader = csv.reader(text)
    header = next((row for row in reader if not _blank(row)), None)
    return header, (row for row in reader if not _blank(row))


def _first_bytes(open_stream: Opener) -> bytes:
    stream = open_stream()
    try:
        return stream.read(4)
    finally:
        stream.close()


def scan(open_stream: Opener, tmp_dir: str | None = None) -> Scan:
    head = _first_bytes(open_stream)
    if not head:
        raise EmptyFile("the file is empty (0 bytes); export it again")
    if head.startswith(_UTF16_BOMS):
        raise UnsupportedEncoding("the file is UTF-16 (Excel's 'Unicode Text'); save it as 'CSV UTF-8' or 'CSV' instead")
    candidates = ["utf-8-sig"] if head.startswith(codecs.BOM_UTF8) else ["utf-8", "cp932"]
    failure = None
    for encoding in candidates:
        try:
            return _scan_as(open_stream, encoding, tmp_dir)
        except UnicodeDecodeError as exc:
            failure = failure or exc
    raise UnsupportedEncoding(
        f"the file is neither UTF-8 nor CP932/Shift_JIS (first undecodable byte at offset {failure.start}: "
        f"{failure.object[failure.start:failure.start + 1].hex()}); save it as 'CSV UTF-8'"
    )


class _Occurrences:
    """(user id, row) pairs in a throwaway SQLite file; answers which rows a
    later row of the same user supersedes."""

    CHUNK = 50_000

    def __init__(self, tmp_dir: str | None = None):
        fd, self.path = tempfile.mkstemp(suffix=".sqlite", dir=tmp_dir)
        os.close(fd)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-16384;"
            "CREATE TABLE occ (uid TEXT NOT NULL, idx INTEGER NOT NULL);"
        )
        self.pending: list[tuple[str, int]] = []

    def add(self, uid: str, index: int) -> None:
        self.pending.append((uid, index))
        if len(self.pending) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.db.executemany("INSERT INTO occ VALUES (?, ?)", self.pending)
            self.pending.clear()

    def superseded(self) -> set[int]:
        self.flush()
        self.db.execute("CREATE INDEX occ_uid ON occ (uid, idx)")
        return {idx for (idx,) in self.db.execute(
            "SELECT o.idx FROM occ o JOIN (SELECT uid, MAX(idx) AS last FROM occ GROUP BY uid HAVING COUNT(*) > 1) d"
            " ON o.uid = d.uid WHERE o.idx < d.last")}

    def close(self) -> None:
        self.db.close()
        os.remove(self.path)


def _scan_as(open_stream: Opener, encoding: str, tmp_dir: str | None = None) -> Scan:
    text = _text(open_stream(), encoding)
    occurrences = _Occurrences(tmp_dir)
    try:
        header, rows = _header_and_rows(text)
        if header is None:
            raise EmptyFile("the file has no header and no rows")
        columns = map_header(header)
        result = Scan(encoding=encoding, columns=columns, header=[h.strip().lstrip("\ufeff") for h in header])
        uid_col = columns["user_id"]
        for row in rows:
            uid = row[uid_col].strip() if uid_col < len(row) else ""
            if is_valid_user_id(uid):  # invalid ids are never merged: the worker reports each of them
                occurrences.add(uid, result.data_rows)
            result.data_rows += 1
        if result.data_rows == 0:
            raise EmptyFile(f"the file has a header ({','.join(result.header)[:100]}) but no data rows")
        result.superseded = occurrences.superseded()
        result.duplicate_rows = len(result.superseded)
        return result
    finally:
        occurrences.close()
        text.close()


def write_normalised(open_stream: Opener, scan_result: Scan, out: io.TextIOBase) -> int:
    """Write the canonical UTF-8 copy; return the number of data rows written."""
    text = _text(open_stream(), scan_result.encoding)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CANONICAL_HEADER)
    order = [scan_result.columns[name] for name in ("user_id", "login_count", "post_count")]
    superseded = scan_result.superseded
    written = 0
    try:
        _, rows = _header_and_rows(text)
        for index, row in enumerate(rows):
            if index not in superseded:
                writer.writerow([row[i] if i < len(row) else "" for i in order])
                written += 1
    finally:
        text.close()
    return written
