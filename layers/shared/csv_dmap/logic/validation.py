"""One reading of an input CSV: what ValidateInput accepts is what the workers get.

The file is streamed (never held whole), twice:

Pass 1 (``scan``) decides the encoding, maps the header, enforces the file's
hard limits (a rejection names its line) and records each valid user id with
its line in a SQLite file on local disk (Lambda's ephemeral storage), so that
memory stays flat for tens of millions of rows.

Pass 2 (``normalise``) reads the file again the same way and writes the
normalised copy (docs/contracts.md, "ValidateInput"): UTF-8 without BOM, ``\\n`` line ends, header
``user_id,login_count,post_count,line,note``, backslashes doubled (Step Functions' CSV reader
takes a backslash as an escape), one record per data record of
the original, with its physical line in the original and a note saying why
the worker must not apply it (``""`` = apply). Which record of a user is the
last is answered by SQLite, streamed in line order beside the file.

Rules (docs/contracts.md's ValidateInput bullet says the same):

- Lines end at ``\\n``, ``\\r\\n`` or ``\\r``; a quoted field may span lines;
  a record's line is the physical line where it starts (blank lines and the
  header count).
- Encoding: a UTF-8 BOM means UTF-8; a UTF-16/32 BOM is rejected. Otherwise
  the first line holding a non-ASCII byte decides: valid UTF-8 there means
  UTF-8, else valid CP932 means CP932, else the file is rejected. Every later
  line must decode in the decided encoding, or the file is rejected
  (``UnsupportedEncoding`` with the line and byte offset): a UTF-8 file with
  CP932 bytes further down is a broken file, never re-decoded into mojibake.
- Delimiter: comma, semicolon, tab or pipe (the delimiters Step Functions' own
  CSV reader knows besides space). The header is read with each of them; the
  one delimiter whose header maps the three columns is the file's. None: the
  header names the problem (as read with the delimiter that found the most
  known columns, the comma on a tie). More than one: ``InvalidHeader`` naming
  the delimiters that fit. The copy is always comma-separated.
- Blank records (every cell empty or whitespace, e.g. Excel's ``,,``) are
  skipped wherever they are; those after the header are counted (``blank_rows``).
- The header is the first non-blank record (at most ``HEADER_MAX_BYTES``).
- Sizes are UTF-8 bytes of the decoded cells (a record: its cells joined by
  commas), so a limit means the same in every encoding. ``FieldTooLong`` looks
  at the three mapped columns (in the order user_id, login_count, post_count);
  other columns count in the record's size only.
- A header whose last three names are ``line,error_type,error_message`` is a
  reject file's (``csv_dmap.rejects``): those three columns are data like any
  other extra column, but they count in neither the header's nor a record's
  size, so that a row that fitted the limits in its original file fits them in
  the reject file too.
- A physical line over ``hard_max`` bytes, or a record over ``hard_max``
  characters, rejects the file (``RecordTooLarge``): that bounds the memory
  one record may take. Below it, a long field or record only fails its row.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO, Self, TextIO

from ..errors import EmptyFile, InputRejected, InvalidHeader, RecordTooLarge, UnsupportedEncoding
from ..models import HEADER_ALIASES, is_valid_user_id

FIELDS = ("user_id", "login_count", "post_count")
COPY_HEADER = [*FIELDS, "line", "note"]
# The delimiters a file may use, in the order they are tried (a tie on a header that fits none goes to the first).
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
REJECT_COLUMNS = ("line", "error_type", "error_message")  # what a reject file adds after the original columns
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp932": "CP932 (Shift_JIS)"}

FIELD_MAX_BYTES = 1024  # a mapped cell above this fails its row (FieldTooLong)
RECORD_MAX_BYTES = 4096  # a record above this fails its row (RowTooLong)
HEADER_MAX_BYTES = 4096  # a header above this rejects the file (InvalidHeader)
HARD_MAX = 16 * 1024 * 1024  # a line (bytes) or record (characters) above this rejects the file (RecordTooLarge)
CAP_CHARS = 32  # a cell over FIELD_MAX_BYTES is copied as its first 32 characters and "…"
CAUSE_MAX = 1000  # every rejection message (the execution's Cause) is at most this long
HEADER_ECHO_COLUMNS = 32  # ValidationResult.header: at most this many names ...
HEADER_ECHO_CHARS = 64  # ... each at most this long
_READ_CHUNK = 1024 * 1024
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True)
class Limits:
    field_max_bytes: int = FIELD_MAX_BYTES
    record_max_bytes: int = RECORD_MAX_BYTES
    header_max_bytes: int = HEADER_MAX_BYTES
    hard_max: int = HARD_MAX


LIMITS = Limits()

# The csv module refuses a field over 128 KiB by default, with a bare csv.Error. Records are
# bounded before the csv module sees them (hard_max), so its own limit only has to be above that.
csv.field_size_limit(max(csv.field_size_limit(), HARD_MAX + 1))


def printable(value: str, chars: int = 60) -> str:
    """At most ``chars`` characters of a value, control characters escaped, "…" when cut."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value[:chars])
    return text + ("…" if len(value) > chars else "")


def echo(value: str, chars: int = 60) -> str:
    """A short quotation of a value for a message."""
    return f"'{printable(value, chars)}'"


def reject(kind: type[InputRejected], message: str) -> InputRejected:
    """The named rejection, its message (the Cause) bounded."""
    return kind(message if len(message) <= CAUSE_MAX else message[: CAUSE_MAX - 1] + "…")


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- lines


class _Decoding:
    """The encoding rule (see the module doc), and what the line reader has seen so far."""

    __slots__ = ("chars", "codec", "decided_at", "hard_max", "line", "mark", "offset")

    def __init__(self, hard_max: int):
        self.hard_max = hard_max
        self.codec: str | None = None  # a key of ENCODING_LABELS; None while every line so far is ASCII
        self.decided_at = 0  # the line that decided the encoding
        self.chars = 0  # characters handed out so far
        self.mark = 0  # ``chars`` when the current record started (set by the reader of records)
        self.line = 0  # physical lines read so far
        self.offset = 0  # byte offset of the next line

    @property
    def encoding(self) -> str:
        return self.codec or "utf-8"

    def first_chunk(self, chunk: bytes) -> int:
        """Bytes of a byte order mark to skip."""
        if chunk.startswith(codecs.BOM_UTF8):
            self.codec, self.decided_at = "utf-8-sig", 1
            return len(codecs.BOM_UTF8)
        if chunk.startswith(_UTF16_BOMS):
            raise reject(
                UnsupportedEncoding,
                "the file is UTF-16 (Excel's 'Unicode Text'); save it as 'CSV UTF-8' or 'CSV' instead",
            )
        return 0

    def decide(self, raw: bytes, line: int, offset: int) -> str:
        """Decode the first non-ASCII line: it decides the encoding."""
        try:
            text = raw.decode("utf-8")
            self.codec = "utf-8"
        except UnicodeDecodeError as exc:
            try:
                text = raw.decode("cp932")
                self.codec = "cp932"
            except UnicodeDecodeError:
                raise reject(
                    UnsupportedEncoding,
                    (
                        f"line {line:,} is neither UTF-8 nor CP932/Shift_JIS (byte offset {offset + exc.start:,}: "
                        f"{_bad_bytes(exc)}); save the file as 'CSV UTF-8'"
                    ),
                ) from None
        self.decided_at = line
        return text

    def mixed(self, exc: UnicodeDecodeError, line: int, offset: int) -> InputRejected:
        label = ENCODING_LABELS[self.encoding]
        how = (
            "its byte order mark"
            if self.codec == "utf-8-sig"
            else f"line {self.decided_at:,}, its first non-ASCII text"
        )
        return reject(
            UnsupportedEncoding,
            (
                f"line {line:,} is not {label} (byte offset {offset + exc.start:,}: {_bad_bytes(exc)}), "
                f"although the file is {label} by {how}: it mixes encodings; save it again as 'CSV UTF-8'"
            ),
        )

    def too_long(self, line: int) -> InputRejected:
        return reject(RecordTooLarge, f"line {line:,} is longer than {self.hard_max:,} bytes; the file cannot be read")

    def record_too_long(self, line: int) -> InputRejected:
        return reject(
            RecordTooLarge,
            f"the record that reaches line {line:,} is longer than {self.hard_max:,} "
            "characters (an unclosed quote?); the file cannot be read",
        )


def _regions(stream: BinaryIO, state: _Decoding) -> Iterator[bytes]:
    """The object in runs of complete lines (about one chunk each); the last piece of a chunk
    waits for the next one (it may be a "\\r" whose "\\n" comes next). A piece longer than the
    hard bound without a line end rejects the file."""
    chunk = stream.read(_READ_CHUNK)
    while 0 < len(chunk) < 4:  # a stream may answer short: the byte order mark needs its bytes together
        more = stream.read(_READ_CHUNK)
        if not more:
            break
        chunk += more
    if chunk:
        state.offset = state.first_chunk(chunk)
        chunk = chunk[state.offset :]
    pending = b""
    while chunk:
        buf = pending + chunk
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r", 0, len(buf) - 1)) + 1
        if cut:
            yield buf[:cut]
        pending = buf[cut:]
        if len(pending) > state.hard_max:
            raise state.too_long(state.line + 1)
        chunk = stream.read(_READ_CHUNK)
    if pending:
        yield pending


def _lines(stream: BinaryIO, state: _Decoding) -> Generator[str]:
    """The physical lines of the object (``\\n``, ``\\r\\n`` or ``\\r``), decoded by the rule,
    each a string with its line end, as the csv module wants them. Memory: one chunk and one line.

    Fast path, for a run of lines without any quote that starts a record and is within the hard
    bound: each line is a record shorter than the bound, so the run is decoded at once and its
    lines handed out by ``io.StringIO`` (C speed). Otherwise line by line, every rule checked."""
    for region in _regions(stream, state):
        text = _fast_text(region, state)
        if text is None:
            yield from _checked_lines(region, state)
            continue
        state.line += region.count(b"\n") + region.count(b"\r") - region.count(b"\r\n")
        state.offset += len(region)
        state.chars += len(text)  # the run holds whole records: the bound needs no check here
        yield from io.StringIO(text, newline="")


def _fast_text(region: bytes, state: _Decoding) -> str | None:
    if state.chars != state.mark or len(region) > state.hard_max or b'"' in region:
        return None  # inside a record, or long, or quoted: line by line
    if region.isascii():
        return region.decode("ascii")
    if state.codec is None:
        return None  # the first non-ASCII line decides, line by line
    try:
        return region.decode("cp932" if state.codec == "cp932" else "utf-8")
    except UnicodeDecodeError:
        return None  # line by line finds the line and offset


def _checked_lines(region: bytes, state: _Decoding) -> Iterator[str]:
    hard_max = state.hard_max
    for raw in region.splitlines(keepends=True):
        state.line += 1
        if len(raw) > hard_max:
            raise state.too_long(state.line)
        if raw.isascii():  # the same text in all three encodings
            text = raw.decode("ascii")
        elif state.codec is None:
            text = state.decide(raw, state.line, state.offset)
        else:
            try:
                text = raw.decode("cp932" if state.codec == "cp932" else "utf-8")
            except UnicodeDecodeError as exc:
                raise state.mixed(exc, state.line, state.offset) from None
        state.offset += len(raw)
        state.chars += len(text)
        if state.chars - state.mark > hard_max:
            raise state.record_too_long(state.line)
        yield text


def _bad_bytes(exc: UnicodeDecodeError) -> str:
    return exc.object[exc.start : exc.start + 4].hex(" ")


# --------------------------------------------------------------------------- records


_LOOKUP = {alias.lower(): name for name, aliases in HEADER_ALIASES.items() for alias in aliases}


def known_columns(header: list[str]) -> int:
    """How many of the three columns the header names (each counted once)."""
    return len({_LOOKUP[h.strip().lower()] for h in header if h.strip().lower() in _LOOKUP})


def map_header(header: list[str], line: int = 1, delimiter: str = ",") -> dict[str, int]:
    """Canonical field -> column position, or InvalidHeader naming the problem."""
    lookup = _LOOKUP
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = lookup.get(raw.strip().lower())
        if name is None:
            continue
        if name in columns:
            raise reject(
                InvalidHeader,
                f"column {echo(raw.strip())} appears twice in the header (line {line:,}, "
                f"columns {columns[name] + 1} and {position + 1}); keep one",
            )
        columns[name] = position
    missing = [name for name in HEADER_ALIASES if name not in columns]
    if missing:
        wanted = ", ".join(" or ".join(HEADER_ALIASES[m]) for m in missing)
        found = delimiter.join(h.strip() for h in header)
        raise reject(
            InvalidHeader,
            f"the header has no column for {wanted}; the first row (line {line:,}) was "
            f"{echo(found, 200)} (read with the {DELIMITERS.get(delimiter, repr(delimiter))}). Expected "
            f"user_id,login_count,post_count (or {','.join(HEADER_ALIASES[f][0] for f in FIELDS)}), in any order, "
            "separated by commas, semicolons, tabs or pipes",
        )
    return columns


def reject_columns(header: list[str]) -> slice | None:
    """The positions of the columns a reject file adds (its last three, named ``REJECT_COLUMNS``), or None."""
    if len(header) > len(REJECT_COLUMNS) and tuple(h.strip().lower() for h in header[-3:]) == REJECT_COLUMNS:
        return slice(len(header) - len(REJECT_COLUMNS), len(header))
    return None


def _blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


def record_size(cells: list[str], skip: slice | None = None) -> int:
    """UTF-8 bytes of a record: its cells joined by commas, without the cells at ``skip``
    (a reject file's own columns)."""
    size = sum(utf8_size(cell) for cell in cells) + max(len(cells) - 1, 0)
    if skip is not None:
        dropped = cells[skip]
        size -= sum(utf8_size(cell) for cell in dropped) + len(dropped)
    return size


class Source:
    """One reading of the file with one delimiter: its header, then its non-blank data records
    with their lines. ``map()`` checks the header (``detect`` tries every delimiter, ``open_source``
    reads a file the one way). A context manager: the stream is closed on leaving."""

    def __init__(self, open_stream: Opener, limits: Limits, delimiter: str = ","):
        self._stream = open_stream()
        self.limits = limits
        self.delimiter = delimiter
        self.decoding = _Decoding(limits.hard_max)
        self._lines = _lines(self._stream, self.decoding)
        self._reader = csv.reader(self._lines, delimiter=delimiter)
        self.blank_rows = 0
        self.columns: dict[str, int] = {}
        try:
            self.header_line, self.header = self._header()
        except BaseException:
            self.close()
            raise
        self.skip = reject_columns(self.header)

    def map(self) -> Self:
        """The header's size and columns checked, or InvalidHeader (the stream closed)."""
        try:
            size = record_size(self.header, self.skip)
            if size > self.limits.header_max_bytes:
                raise reject(
                    InvalidHeader,
                    (
                        f"the header (line {self.header_line:,}) is {size:,} bytes, above the limit of "
                        f"{self.limits.header_max_bytes:,}; it starts {echo(self.delimiter.join(self.header), 60)}. "
                        "The first non-blank row must be the column names user_id,login_count,post_count"
                    ),
                )
            self.columns = map_header(self.header, self.header_line, self.delimiter)
        except BaseException:
            self.close()
            raise
        return self

    def _header(self) -> tuple[int, list[str]]:
        for line, cells in self._all_records():
            if not _blank(cells):
                return line, cells
        raise reject(EmptyFile, "the file has no header and no rows (only blank lines)")

    def _all_records(self) -> Iterator[tuple[int, list[str]]]:
        reader, decoding = self._reader, self.decoding
        while True:
            line = reader.line_num + 1
            decoding.mark = decoding.chars
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # defensive: every record is bounded before the csv module sees it
                raise reject(RecordTooLarge, f"line {line:,} cannot be read as CSV ({printable(str(exc))})") from None
            yield line, cells

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """The non-blank records after the header (blank ones counted); the loop of
        ``_all_records`` inlined: this is the hot path."""
        reader, decoding = self._reader, self.decoding
        while True:
            line = reader.line_num + 1
            decoding.mark = decoding.chars
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # defensive: every record is bounded before the csv module sees it
                raise reject(RecordTooLarge, f"line {line:,} cannot be read as CSV ({printable(str(exc))})") from None
            if "".join(cells).strip():
                yield line, cells
            else:
                self.blank_rows += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS[self.decoding.encoding]

    def user_id(self, cells: list[str]) -> str:
        position = self.columns["user_id"]
        return cells[position].strip() if position < len(cells) else ""

    def close(self) -> None:
        self._lines.close()  # its buffers go now, not when the reader is collected
        self._stream.close()


def open_source(open_stream: Opener, limits: Limits = LIMITS, delimiter: str | None = None) -> Source:
    """The file as ValidateInput reads it, positioned after its header: with ``delimiter``
    (found by an earlier reading), else the one ``detect`` finds."""
    return Source(open_stream, limits, delimiter).map() if delimiter else detect(open_stream, limits)


def detect(open_stream: Opener, limits: Limits = LIMITS) -> Source:
    """The file read with its delimiter, positioned after its header (see the module doc):
    each delimiter's reading of the header is tried; exactly one must map the three columns."""
    fits: list[Source] = []
    misses: list[tuple[int, InputRejected]] = []  # (known columns, the rejection), in DELIMITERS' order
    for delimiter in DELIMITERS:
        try:
            source = Source(open_stream, limits, delimiter)
        except InputRejected as exc:  # the same for every delimiter (encoding, a long line, no header)
            misses.append((-1, exc.with_traceback(None)))  # its traceback would keep the reader's buffer
            continue
        try:
            fits.append(source.map())
        except InvalidHeader as exc:
            misses.append((known_columns(source.header), exc.with_traceback(None)))
    if len(fits) == 1:
        return fits[0]
    if fits:
        for source in fits:
            source.close()
        raise _ambiguous(fits)
    known, rejection = max(misses, key=lambda miss: miss[0])  # max keeps the first of equals
    raise rejection if known > 0 else misses[0][1]  # a header that names no column: as the comma reads it


def _ambiguous(fits: list[Source]) -> InputRejected:
    names = [f"{DELIMITERS[s.delimiter]} ({s.delimiter!r})" for s in fits]
    return reject(
        InvalidHeader,
        (
            f"the header (line {fits[0].header_line:,}) names the columns user_id, login_count and post_count "
            f"whichever delimiter reads it: {' and '.join(names)}; the file's delimiter cannot be told. Keep one "
            "delimiter in the header (remove or rename the extra columns that hold the other one, or quote them)"
        ),
    )


# --------------------------------------------------------------------------- duplicates


class _Occurrences:
    """(user id, line) pairs in a throwaway SQLite file: for each record followed by a later
    record of the same user, the line of that user's last record."""

    CHUNK = 50_000

    def __init__(self, tmp_dir: str | None = None):
        fd, self.path = tempfile.mkstemp(suffix=".sqlite", dir=tmp_dir)
        os.close(fd)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-16384;"
            "CREATE TABLE occ (line INTEGER PRIMARY KEY, uid TEXT NOT NULL);"
        )
        self.pending: list[tuple[int, str]] = []
        self.indexed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.db.close()
        os.remove(self.path)

    def add(self, uid: str, line: int) -> None:
        self.pending.append((line, uid))
        if len(self.pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.db.executemany("INSERT INTO occ VALUES (?, ?)", self.pending)
            self.pending.clear()

    def _index(self) -> None:
        if not self.indexed:
            self._flush()
            self.db.executescript(
                "CREATE INDEX occ_uid ON occ (uid, line);"
                "CREATE TABLE last (uid TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;"
                "INSERT INTO last SELECT uid, MAX(line) FROM occ GROUP BY uid HAVING COUNT(*) > 1;"
            )
            self.indexed = True

    def superseded_count(self) -> int:
        self._index()
        row = self.db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) - 1 AS n FROM occ"
            " WHERE uid IN (SELECT uid FROM last) GROUP BY uid)"
        ).fetchone()
        return int(row[0])

    def superseded_by(self) -> Iterator[tuple[int, int]]:
        """(line, line of the same user's last record), in line order, streamed."""
        self._index()
        cursor = self.db.execute(
            "SELECT o.line, l.line FROM occ o JOIN last l ON l.uid = o.uid WHERE o.line < l.line ORDER BY o.line"
        )
        for line, last in cursor:
            yield int(line), int(last)


# --------------------------------------------------------------------------- the two passes


@dataclass
class Scan:
    encoding: str  # a key of ENCODING_LABELS
    columns: dict[str, int]  # canonical field -> column position
    header: list[str]  # as written, capped (HEADER_ECHO_COLUMNS x HEADER_ECHO_CHARS)
    header_line: int = 1
    header_width: int = 0
    delimiter: str = ","  # a key of DELIMITERS
    skip: slice | None = None  # a reject file's own columns (not counted in a record's size)
    data_rows: int = 0
    blank_rows: int = 0
    duplicate_rows: int = 0
    notes: Counter[str] = field(default_factory=Counter)  # rows written with a note, by kind

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS[self.encoding]


def _echo_header(header: list[str]) -> list[str]:
    names = [h.strip()[:HEADER_ECHO_CHARS] for h in header[:HEADER_ECHO_COLUMNS]]
    if len(header) > HEADER_ECHO_COLUMNS:
        names.append(f"… {len(header) - HEADER_ECHO_COLUMNS} more")
    return names


def _scan(open_stream: Opener, occurrences: _Occurrences, limits: Limits) -> Scan:
    source = detect(open_stream, limits)
    try:
        data_rows = 0
        position = source.columns["user_id"]
        for line, cells in source.records():
            uid = cells[position].strip() if position < len(cells) else ""
            if is_valid_user_id(uid):  # invalid ids are never merged: the worker reports each of them
                occurrences.add(uid, line)
            data_rows += 1
        if data_rows == 0:
            raise reject(
                EmptyFile,
                f"the file has a header ({printable(source.delimiter.join(source.header), 100)}) but no data rows",
            )
        return Scan(
            encoding=source.decoding.encoding,
            columns=source.columns,
            header=_echo_header(source.header),
            header_line=source.header_line,
            header_width=len(source.header),
            delimiter=source.delimiter,
            skip=source.skip,
            data_rows=data_rows,
            blank_rows=source.blank_rows,
            duplicate_rows=occurrences.superseded_count(),
        )
    finally:
        source.close()


def scan(open_stream: Opener, tmp_dir: str | None = None, limits: Limits = LIMITS) -> Scan:
    """Pass 1 only: the facts, or the named rejection."""
    with _Occurrences(tmp_dir) as occurrences:
        return _scan(open_stream, occurrences, limits)


def note_for(
    cells: list[str],
    columns: dict[str, int],
    width: int,
    superseded_by: int | None,
    limits: Limits = LIMITS,
    skip: slice | None = None,
) -> str:
    """Why the worker must not apply a record ("" = apply): the first rule that applies
    (``skip``: a reject file's own columns, not counted in the record's size)."""
    if superseded_by is not None:
        return f"superseded:{superseded_by}"
    if len(cells) != width:
        return f"FieldCountMismatch:{len(cells)}:{width}"
    if _short(cells, limits):
        return ""
    for name in FIELDS:
        size = utf8_size(cells[columns[name]])
        if size > limits.field_max_bytes:
            return f"FieldTooLong:{name}:{size}"
    size = record_size(cells, skip)
    if size > limits.record_max_bytes:
        return f"RowTooLong:{size}"
    return ""


def _short(cells: list[str], limits: Limits) -> bool:
    """Too short to break any row limit, whatever its characters (at most 4 UTF-8 bytes each)."""
    return (sum(map(len, cells)) + len(cells)) * 4 <= limits.field_max_bytes <= limits.record_max_bytes


def capped(cell: str, limits: Limits = LIMITS) -> str:
    if len(cell) * 4 <= limits.field_max_bytes or utf8_size(cell) <= limits.field_max_bytes:
        return cell
    return cell[:CAP_CHARS] + "…"


def _write(open_stream: Opener, result: Scan, occurrences: _Occurrences, out: TextIO, limits: Limits) -> None:
    source = open_source(open_stream, limits, result.delimiter)
    # Step Functions' CSV reader takes a backslash as an escape (a lone one is dropped, "\\," joins two
    # fields): the escapechar makes the csv module double every backslash, which that reader reads back as one.
    writer = csv.writer(out, lineterminator="\n", escapechar="\\")
    writer.writerow(COPY_HEADER)
    positions = [result.columns[name] for name in FIELDS]
    width = result.header_width
    superseded = occurrences.superseded_by()
    nxt = next(superseded, None)
    try:
        for line, cells in source.records():
            deciding = None
            if nxt is not None and nxt[0] == line:
                deciding = nxt[1]
                nxt = next(superseded, None)
            note = note_for(cells, result.columns, width, deciding, limits, result.skip)
            if note:
                result.notes[note.split(":", 1)[0]] += 1
            if not note or (len(cells) == width and _short(cells, limits)):  # every column there, none to cap
                writer.writerow([cells[positions[0]], cells[positions[1]], cells[positions[2]], line, note])
            else:
                writer.writerow([*(capped(cells[p], limits) if p < len(cells) else "" for p in positions), line, note])
    finally:
        source.close()


def normalise(open_stream: Opener, out: TextIO, tmp_dir: str | None = None, limits: Limits = LIMITS) -> Scan:
    """Both passes: write the normalised copy to ``out`` and return the facts,
    or raise the named rejection (before anything is written)."""
    with _Occurrences(tmp_dir) as occurrences:
        result = _scan(open_stream, occurrences, limits)
        _write(open_stream, result, occurrences, out, limits)
    return result


def read_user_ids(open_stream: Opener, limits: Limits = LIMITS) -> Iterator[str]:
    """The valid user ids of the file's data records, in file order (repeats included),
    streamed, in any encoding and with any delimiter ValidateInput accepts; rejections as ValidateInput's."""
    source = detect(open_stream, limits)
    try:
        for _line, cells in source.records():
            uid = source.user_id(cells)
            if is_valid_user_id(uid):
                yield uid
    finally:
        source.close()
