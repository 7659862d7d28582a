"""An independent oracle of what the pipeline must do with a file.

Written from the contracts (docs/contracts.md, docs/architecture.md), with the
standard library only: it imports nothing from ``csv_dmap``, so a bug in the
layer's reading of a file cannot hide in the expectation too.

Given the file's bytes, the users that exist and the stats the database holds
before the run, it predicts, for every data record of the file (by its line
number in the original file): the status, the error type, the values the
database must end with, and the old values the audit log must show.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

HEADERS = {
    "user_id": ("user_id", "ユーザーid"),
    "login_count": ("login_count", "ログイン回数"),
    "post_count": ("post_count", "投稿回数"),
}
ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
COUNT_MAX = 2_147_483_647
FIELD_MAX_BYTES = 1024
ROW_MAX_BYTES = 4096
HEADER_MAX_BYTES = 4096


@dataclass(frozen=True)
class Expected:
    line: int
    status: str  # APPLIED, FAILED, SUPERSEDED
    error_type: str | None = None
    user_id: str | None = None
    new: tuple[int, int] | None = None
    old: tuple[int, int] | None = None  # None: the user had no stats
    superseded_by: int | None = None


@dataclass
class Prediction:
    rejected: str | None = None  # the Error of a rejected file
    rows: list[Expected] = field(default_factory=list)
    blank_rows: int = 0
    final_stats: dict[str, tuple[int, int]] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def decode(data: bytes) -> str | None:
    """The file's text, or None when it is neither UTF-8 nor CP932."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError:
            return None
    for encoding in ("utf-8", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def records(text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every CSV record, physical lines counted from 1."""
    out = []
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    for cells in reader:
        out.append((previous_end + 1, cells))
        previous_end = reader.line_num
    return out


def _blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def _header_columns(header: list[str]) -> dict[str, int] | None:
    wanted = {alias.lower(): name for name, aliases in HEADERS.items() for alias in aliases}
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        canonical = wanted.get(name.strip().lower())
        if canonical is None:
            continue
        if canonical in columns:
            return None
        columns[canonical] = position
    return columns if len(columns) == 3 else None


def _count(text: str) -> int | None:
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= COUNT_MAX else None


def _structural_error(cells: list[str], width: int, raw_bytes: int) -> str | None:
    if len(cells) != width:
        return "FieldCountMismatch"
    if any(len(c.encode("utf-8")) > FIELD_MAX_BYTES for c in cells):
        return "FieldTooLong"
    if raw_bytes > ROW_MAX_BYTES:
        return "RowTooLong"
    return None


def predict(data: bytes, users: set[str], stats: dict[str, tuple[int, int]]) -> Prediction:
    """What the pipeline must do with ``data`` (FAIL policy for unknown users)."""
    prediction = Prediction(final_stats=dict(stats))
    if not data:
        prediction.rejected = "EmptyFile"
        return prediction
    text = decode(data)
    if text is None:
        prediction.rejected = "UnsupportedEncoding"
        return prediction
    found = records(text)
    rest = iter(found)
    header = next((cells for _, cells in rest if not _blank(cells)), None)
    if header is None:
        prediction.rejected = "EmptyFile"
        return prediction
    columns = _header_columns(header)
    if columns is None or len(",".join(header).encode("utf-8")) > HEADER_MAX_BYTES:
        prediction.rejected = "InvalidHeader"
        return prediction
    data_records = []
    for line, cells in rest:
        if _blank(cells):
            prediction.blank_rows += 1
        else:
            data_records.append((line, cells))
    if not data_records:
        prediction.rejected = "EmptyFile"
        return prediction

    def cell(cells: list[str], name: str) -> str:
        position = columns[name]
        return cells[position] if position < len(cells) else ""

    last_line: dict[str, int] = {}
    for line, cells in data_records:
        uid = cell(cells, "user_id").strip()
        if ID_RE.fullmatch(uid):
            last_line[uid] = line
    for line, cells in data_records:
        prediction.rows.append(_one(line, cells, len(header), cell, last_line, users, prediction.final_stats))
    return prediction


def _one(line, cells, width, cell, last_line, users, final) -> Expected:
    uid = cell(cells, "user_id").strip()
    valid_id = bool(ID_RE.fullmatch(uid))
    if valid_id and last_line[uid] != line:
        return Expected(line, "SUPERSEDED", user_id=uid, superseded_by=last_line[uid])
    raw_bytes = len(",".join(cells).encode("utf-8"))
    structural = _structural_error(cells, width, raw_bytes)
    if structural:
        return Expected(line, "FAILED", structural, user_id=uid if valid_id else None)
    if not valid_id:
        return Expected(line, "FAILED", "InvalidUserId")
    login, post = _count(cell(cells, "login_count")), _count(cell(cells, "post_count"))
    if login is None:
        return Expected(line, "FAILED", "InvalidLoginCount", user_id=uid)
    if post is None:
        return Expected(line, "FAILED", "InvalidPostCount", user_id=uid)
    if uid not in users:
        return Expected(line, "FAILED", "UserNotFound", user_id=uid)
    old = final.get(uid)
    final[uid] = (login, post)
    return Expected(line, "APPLIED", user_id=uid, new=(login, post), old=old)
