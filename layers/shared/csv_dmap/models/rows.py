"""One CSV row as the map hands it to the worker (docs/contracts.md), and the rules
that make it a typed row or a named row error.

The ItemReader reads the normalised copy ValidateInput wrote (header
``user_id,login_count,post_count,line,note``); sample events and hand-made
input may still use the Japanese header names and leave ``line``/``note`` out.
"""

from __future__ import annotations

import json
import re
from enum import Enum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

USER_ID_MAX_LENGTH = 64
# What is kept of the id a row wrote, for reporting: longer than any valid id, so a cut id is
# never mistaken for a valid one (a 65-character id cut to 64 would name another user).
RAW_USER_ID_MAX_LENGTH = 2 * USER_ID_MAX_LENGTH
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]+$")
COUNT_MAX = 2_147_483_647  # signed INT in MySQL
ERROR_MESSAGE_MAX = 120  # characters of a row error's message, before the output budget caps it further
ECHO_MAX = 24  # how much of a bad value an error message repeats
LINE_MAX = 9_999_999_999  # line numbers and indexes have at most 10 digits (a 2 GiB file has fewer lines)

# Header names: the Japanese names of the export and their English aliases.
HEADER_ALIASES: dict[str, tuple[str, str]] = {
    "user_id": ("ユーザーID", "user_id"),
    "login_count": ("ログイン回数", "login_count"),
    "post_count": ("投稿回数", "post_count"),
}


class RowStatus(str, Enum):
    """What happened to one row: the four a worker answers (each with an audit item), and
    PENDING, which only the aggregator gives, to a row whose batch never answered (it failed as
    a whole, or never ran); a PENDING row is not applied and has no audit item."""

    APPLIED = "APPLIED"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"  # a later row of the same user in the file decides
    SKIPPED = "SKIPPED"  # a newer execution already wrote this user
    PENDING = "PENDING"  # its batch gave no answer: not applied, no audit item


# the statuses that have an audit item (as the strings results and items carry)
AUDITED_STATUSES = frozenset(s.value for s in RowStatus if s is not RowStatus.PENDING)


class RowErrorType(str, Enum):
    """Why a row was not applied. Each is a per-item failure, never a batch failure."""

    MISSING_COLUMN = "MissingColumn"
    INVALID_USER_ID = "InvalidUserId"
    INVALID_LOGIN_COUNT = "InvalidLoginCount"
    INVALID_POST_COUNT = "InvalidPostCount"
    USER_NOT_FOUND = "UserNotFound"
    INVALID_ITEM = "InvalidItem"
    FIELD_COUNT_MISMATCH = "FieldCountMismatch"
    FIELD_TOO_LONG = "FieldTooLong"
    ROW_TOO_LONG = "RowTooLong"
    NEWER_EXECUTION_APPLIED = "NewerExecutionApplied"  # with status SKIPPED


def echo(value: object, limit: int = ECHO_MAX) -> str:
    """A bad value as an error message may quote it: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escaped_len(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string as ``json.dumps`` writes it (ASCII escapes)."""
    return len(json.dumps(text)) - 2


def cap_escaped(text: str, budget: int) -> str:
    """``text`` cut so that its JSON-escaped form takes at most ``budget`` bytes
    (a cut text ends with ``…``, counted as its 6-byte escape; no room for that: empty)."""
    if len(text) * 12 <= budget or escaped_len(text) <= budget:  # 12: a surrogate pair's escape
        return text
    if budget < 6:
        return ""
    room = budget - 6
    used = 0
    for position, char in enumerate(text):
        used += escaped_len(char)
        if used > room:
            return text[:position] + "…"
    return text  # pragma: no cover - unreachable: the whole text did not fit


def _parse_count(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {echo(value)!r}")  # noqa: TRY004 (pydantic)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"{name} must be a whole number 0..{COUNT_MAX}, got {echo(value)!r}")
        number = int(text)
    if not 0 <= number <= COUNT_MAX:
        raise ValueError(f"{name} must be between 0 and {COUNT_MAX}, got {echo(value)!r}")
    return number


def is_valid_user_id(value: str | None) -> bool:
    return bool(value) and len(value or "") <= USER_ID_MAX_LENGTH and bool(USER_ID_PATTERN.match(value or ""))


class CsvRow(BaseModel):
    """A validated CSV row. Strings in, typed values out."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: str = Field(validation_alias=AliasChoices(*HEADER_ALIASES["user_id"]))
    login_count: int = Field(validation_alias=AliasChoices(*HEADER_ALIASES["login_count"]))
    post_count: int = Field(validation_alias=AliasChoices(*HEADER_ALIASES["post_count"]))

    @field_validator("user_id", mode="before")
    @classmethod
    def _user_id(cls, value: object) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise ValueError("user id is empty")
        if len(text) > USER_ID_MAX_LENGTH:
            raise ValueError(f"user id is longer than {USER_ID_MAX_LENGTH} characters")
        if not USER_ID_PATTERN.match(text):
            raise ValueError(f"user id {echo(text)!r} has characters outside A-Z a-z 0-9 _ . : @ -")
        return text

    @field_validator("login_count", mode="before")
    @classmethod
    def _login(cls, value: object) -> int:
        return _parse_count(value, "login count")

    @field_validator("post_count", mode="before")
    @classmethod
    def _post(cls, value: object) -> int:
        return _parse_count(value, "post count")


_FIELD_OF_ALIAS = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

_FIELD_ERROR = {
    "user_id": RowErrorType.INVALID_USER_ID,
    "login_count": RowErrorType.INVALID_LOGIN_COUNT,
    "post_count": RowErrorType.INVALID_POST_COUNT,
}


class RowError(Exception):
    """A row that cannot be applied, with the named reason."""

    def __init__(self, error_type: RowErrorType, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message[:ERROR_MESSAGE_MAX]


def parse_row(raw: object) -> CsvRow:
    """Validate one raw row; raise ``RowError`` naming the first problem."""
    if not isinstance(raw, dict):
        raise RowError(RowErrorType.INVALID_ITEM, f"row is not an object: {echo(raw)!r}")
    try:
        return CsvRow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        field = _FIELD_OF_ALIAS.get(loc, loc)
        if first["type"] == "missing":
            names = " or ".join(HEADER_ALIASES.get(field, (field,)))
            raise RowError(RowErrorType.MISSING_COLUMN, f"column {names} is missing") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise RowError(_FIELD_ERROR.get(field, RowErrorType.INVALID_ITEM), message) from None


def raw_user_id(raw: object) -> str | None:
    """The user id of a raw row, as written (for reporting a row that failed), at most
    ``RAW_USER_ID_MAX_LENGTH`` characters: an id that is too long stays too long."""
    if not isinstance(raw, dict):
        return None
    for name in HEADER_ALIASES["user_id"]:
        value = raw.get(name)
        if value not in (None, ""):
            return str(value).strip()[:RAW_USER_ID_MAX_LENGTH]
    return None


# --------------------------------------------------------------------------- a row's line and note

_NOTE_ERRORS = {
    "FieldCountMismatch": RowErrorType.FIELD_COUNT_MISMATCH,
    "FieldTooLong": RowErrorType.FIELD_TOO_LONG,
    "RowTooLong": RowErrorType.ROW_TOO_LONG,
}


def row_line(raw: object, index: int) -> int:
    """The row's line in the original file; ``index + 2`` (header on line 1) when
    the row does not say (sample events, hand-made input)."""
    value = raw.get("line") if isinstance(raw, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= LINE_MAX:
        return value
    text = str(value).strip() if value is not None else ""
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= LINE_MAX:
        return int(text)
    return index + 2


def superseded_by(note: str) -> int | None:
    """The line of the later row that decides, when the note is ``superseded:<line>``."""
    kind, _, rest = note.partition(":")
    if kind == "superseded" and rest.isascii() and rest.isdigit() and len(rest) <= 10:
        return min(int(rest), LINE_MAX)
    return None


def note_error(note: str) -> RowError | None:
    """The row error a ValidateInput note stands for (``FieldCountMismatch:<found>:<expected>``,
    ``FieldTooLong:<column>:<bytes>``, ``RowTooLong:<bytes>``); an unknown note is ``InvalidItem``."""
    kind, _, rest = note.partition(":")
    error_type = _NOTE_ERRORS.get(kind)
    parts = rest.split(":")
    if error_type is RowErrorType.FIELD_COUNT_MISMATCH and len(parts) == 2:
        return RowError(error_type, f"the row has {echo(parts[0], 12)} fields, the header {echo(parts[1], 12)}")
    if error_type is RowErrorType.FIELD_TOO_LONG and len(parts) == 2:
        return RowError(error_type, f"{echo(parts[0])} is {echo(parts[1], 12)} bytes, over the field limit")
    if error_type is RowErrorType.ROW_TOO_LONG and len(parts) == 1:
        return RowError(error_type, f"the row is {echo(parts[0], 12)} bytes, over the row limit")
    return RowError(RowErrorType.INVALID_ITEM, f"unknown note {echo(note)!r}")
