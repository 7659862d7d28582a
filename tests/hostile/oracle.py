"""An independent oracle for ValidateInput, from the plain rules of docs/contracts.md ("ValidateInput").

It does not import csv_dmap: its own line splitter (a regular expression), its own
encoding decision (on the whole file), the standard csv module over a list of lines,
its own user-id rule and header names. It predicts either the named rejection (with
the line it must name) or the normalised copy record by record.

Delimiters: the file is predicted once with each of comma, semicolon, tab and pipe. The
delimiter whose reading reaches its header (no problem on a line up to the header's end) and
finds there the three columns once each, within the header limit, is the file's; two such
delimiters are an ambiguous header (InvalidHeader); none: the prediction of the reading that
found the most of the three names in a header it reached, or the comma's when none found any.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field

FIELD_MAX = 1024
RECORD_MAX = 4096
HEADER_MAX = 4096
HARD_MAX = 16 * 1024 * 1024
CAP = 32
NAMES = {
    "user_id": {"user_id", "ユーザーid"},
    "login_count": {"login_count", "ログイン回数"},
    "post_count": {"post_count", "投稿回数"},
}
ORDER = ("user_id", "login_count", "post_count")
DELIMITERS = (",", ";", "\t", "|")
LABELS = {"utf-8": "UTF-8", "bom": "UTF-8 with BOM", "cp932": "CP932 (Shift_JIS)"}
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_USER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")


@dataclass
class Expected:
    rejection: str | None = None
    line: int | None = None  # the line a rejection must name (when it names one)
    offset: int | None = None  # the byte offset an encoding rejection must name
    encoding: str | None = None
    header: list[str] = field(default_factory=list)
    records: list[list[str]] = field(default_factory=list)  # user_id, login_count, post_count, line, note
    blank_rows: int = 0
    user_ids: list[str] = field(default_factory=list)
    delimiter: str = ","
    header_end: int | None = None  # the header record's last line, when the reading reached one
    known: int = -1  # how many of the three names that header holds (-1: no header reached)
    fits: bool = False  # the header maps the three columns within its limit

    @property
    def duplicate_rows(self) -> int:
        return sum(1 for r in self.records if r[4].startswith("superseded:"))


def size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def blank(cells: list[str]) -> bool:
    return all(c.strip() == "" for c in cells)


def valid_id(text: str) -> bool:
    return _USER_ID.fullmatch(text) is not None


def _codec(body: bytes, lines: list[bytes]) -> tuple[str | None, int | None, int | None]:
    """(codec, line, offset in the line) of the first non-ASCII line: codec None = neither."""
    for number, raw in enumerate(lines, 1):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            return "utf-8", None, None
        except UnicodeDecodeError as exc:
            try:
                raw.decode("cp932")
                return "cp932", None, None
            except UnicodeDecodeError:
                return None, number, exc.start
    return "utf-8", None, None


class _Problem(Exception):
    def __init__(self, name: str, line: int | None, offset: int | None = None, phase: int = 0):
        self.name, self.line, self.offset, self.phase = name, line, offset, phase


Record = tuple[int, int, list[str]]  # first line, last line, cells


def predict(data: bytes, hard_max: int = HARD_MAX) -> Expected:
    readings = [_predict(data, hard_max, d) for d in DELIMITERS]
    fits = [r for r in readings if r.fits]
    if len(fits) == 1:
        return fits[0]
    if fits:
        return Expected(rejection="InvalidHeader", line=fits[0].header_end)
    best = max(readings, key=lambda r: r.known)  # the first of equals
    return best if best.known > 0 else readings[0]


def _predict(data: bytes, hard_max: int, delimiter: str) -> Expected:
    bom = data.startswith(b"\xef\xbb\xbf")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Expected(rejection="UnsupportedEncoding")
    body = data[3:] if bom else data
    lines = _LINE.findall(body)
    codec, bad_line, bad_at = ("utf-8", None, None) if bom else _codec(body, lines)
    starts = [sum(len(raw) for raw in lines[:i]) + (3 if bom else 0) for i in range(len(lines))]
    problems: list[_Problem] = []
    if codec is None:
        assert bad_line is not None and bad_at is not None
        problems.append(_Problem("UnsupportedEncoding", bad_line, starts[bad_line - 1] + bad_at, 1))
    texts = _decode_lines(lines, codec, bad_line, starts, hard_max, problems)
    records = _records(texts, truncated=len(texts) < len(lines), delimiter=delimiter)
    _check_record_sizes(records, texts, hard_max, problems)
    expected = Expected(encoding=LABELS["bom" if bom else (codec or "utf-8")], delimiter=delimiter)
    try:
        _judge(records, expected)
    except _Problem as problem:
        problems.append(problem)
    end = expected.header_end
    if end is None or any(p.line is not None and p.line <= end and p.phase < 3 for p in problems):
        expected.known, expected.fits = -1, False  # the header was never reached
    if problems:
        first = min(problems, key=lambda p: (p.line if p.line is not None else 10**12, p.phase))
        return Expected(
            rejection=first.name,
            line=first.line,
            offset=first.offset,
            delimiter=delimiter,
            header_end=end,
            known=expected.known,
            fits=expected.fits,
        )
    return expected


def _decode_lines(
    lines: list[bytes],
    codec: str | None,
    bad_line: int | None,
    starts: list[int],
    hard_max: int,
    problems: list[_Problem],
) -> list[str]:
    """The lines before the first unreadable one, decoded."""
    texts: list[str] = []
    for number, raw in enumerate(lines, 1):
        if len(raw) > hard_max:
            problems.append(_Problem("RecordTooLarge", number, None, 0))
            break
        if number == bad_line:
            break
        try:
            texts.append(raw.decode(codec or "utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(_Problem("UnsupportedEncoding", number, starts[number - 1] + exc.start, 1))
            break
    return texts


def _check_record_sizes(records: list[Record], texts: list[str], hard_max: int, problems: list[_Problem]) -> None:
    spans = [(first, last) for first, last, _ in records]
    read_up_to = records[-1][1] if records else 0
    if read_up_to < len(texts):  # the record cut short by the unreadable line: its lines were read all the same
        spans.append((read_up_to + 1, len(texts)))
    for first, last in spans:
        total = 0
        for number in range(first, last + 1):
            total += len(texts[number - 1])
            if total > hard_max:
                problems.append(_Problem("RecordTooLarge", number, None, 2))
                break


def _records(texts: list[str], truncated: bool, delimiter: str = ",") -> list[Record]:
    """(first line, last line, cells) of each complete record of these lines."""
    sentinel = "\x00end-of-readable-lines\x00"
    feed = texts + ([sentinel + "\n"] if truncated else [])
    reader = csv.reader(iter(feed), delimiter=delimiter)
    out: list[Record] = []
    done = 0
    for cells in reader:
        first, done = done + 1, reader.line_num
        if truncated and done == len(feed):
            break  # the record reaching the unreadable line (or the sentinel itself) never completes
        out.append((first, done, cells))
    return out


def _judge(records: list[Record], expected: Expected) -> None:
    header_at = next((i for i, (_, _, cells) in enumerate(records) if not blank(cells)), None)
    if header_at is None:
        raise _Problem("EmptyFile", 10**11, phase=3)
    _, header_end, header = records[header_at]
    expected.header_end = header_end
    expected.known = len({c for c, names in NAMES.items() for h in header if h.strip().lower() in names})
    columns = _columns(header, header_end)
    expected.fits = True
    expected.header = [h.strip()[:64] for h in header[:32]] + (
        [f"… {len(header) - 32} more"] if len(header) > 32 else []
    )
    data = []
    for first, _, cells in records[header_at + 1 :]:
        if blank(cells):
            expected.blank_rows += 1
        else:
            data.append((first, cells))
    if not data:
        raise _Problem("EmptyFile", 10**11, phase=3)
    _expect_records(data, len(header), columns, expected)


def _expect_records(data: list[tuple[int, list[str]]], width: int, columns: dict[str, int], expected: Expected) -> None:
    ids = [(cells[columns["user_id"]].strip() if columns["user_id"] < len(cells) else "") for _, cells in data]
    last = {uid: line for (line, _), uid in zip(data, ids, strict=True) if valid_id(uid)}
    seen = Counter(uid for uid in ids if valid_id(uid))
    expected.user_ids = [uid for uid in ids if valid_id(uid)]
    for (line, cells), uid in zip(data, ids, strict=True):
        note = _note(line, cells, uid, last, seen, width, columns)
        values = [cells[columns[n]] if columns[n] < len(cells) else "" for n in ORDER]
        values = [v if size(v) <= FIELD_MAX else v[:CAP] + "…" for v in values]
        expected.records.append([*values, str(line), note])


def _columns(header: list[str], line: int) -> dict[str, int]:
    if sum(size(c) for c in header) + len(header) - 1 > HEADER_MAX:
        raise _Problem("InvalidHeader", line, phase=3)
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        for canonical, names in NAMES.items():
            if name.strip().lower() in names:
                if canonical in columns:
                    raise _Problem("InvalidHeader", line, phase=3)
                columns[canonical] = position
    if len(columns) < 3:
        raise _Problem("InvalidHeader", line, phase=3)
    return columns


def _note(
    line: int, cells: list[str], uid: str, last: dict[str, int], seen: Counter[str], width: int, columns: dict[str, int]
) -> str:
    if valid_id(uid) and seen[uid] > 1 and last[uid] != line:
        return f"superseded:{last[uid]}"
    if len(cells) != width:
        return f"FieldCountMismatch:{len(cells)}:{width}"
    for name in ORDER:
        if size(cells[columns[name]]) > FIELD_MAX:
            return f"FieldTooLong:{name}:{size(cells[columns[name]])}"
    total = sum(size(c) for c in cells) + len(cells) - 1
    if total > RECORD_MAX:
        return f"RowTooLong:{total}"
    return ""
