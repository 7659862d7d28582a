"""The worker's decisions, without I/O: rows + what the database holds → results and writes.

1. ``classify`` settles what the rows alone decide: a ValidateInput note
   (``superseded:<line>`` → SUPERSEDED; ``FieldCountMismatch``/``FieldTooLong``/
   ``RowTooLong`` → FAILED) or a row that does not validate (FAILED). Those rows
   never reach the database. The rest are ``Candidate``s.
2. ``decide`` takes the candidates and the stored state of their users (read
   with a lock) and says, per row: FAILED ``UserNotFound``; SKIPPED
   ``NewerExecutionApplied`` when a newer execution (later start time, ties by
   name) wrote the user; else APPLIED, with the old values it replaces — the
   remembered ``prev_*`` when this very batch wrote the user last (a retry).
   Several rows of one user in a batch (hand-made input without notes) apply in
   row order, each replacing the previous one's values.
   Each write carries the values it replaces (``prev_*``): the user's stored
   values, or, when this very batch wrote the user last (a batch committed before
   ``applied_batches`` existed, tried again), the ``prev_*`` it remembered then.
   This is the one place that rule lives.
3. ``outcome_codes`` is what ``applied_batches`` records of the batch's answer, one
   code per item; ``replay`` answers a batch that committed already (a retry, or
   ReconcileBatch) from those codes and what the database holds now: rows this batch
   wrote and still owns are APPLIED with the remembered old values; rows a newer
   execution has written since are APPLIED all the same (old values unknown,
   ``keep``: the first attempt's audit item stands where it exists, ``restore`` takes
   its answer back); SKIPPED and UserNotFound rows answer as they did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import (
    BatchItem,
    ItemResult,
    RowError,
    RowErrorType,
    RowStatus,
    StatsWrite,
    StoredStats,
    is_valid_user_id,
    note_error,
    parse_row,
    raw_user_id,
    row_line,
    superseded_by,
)


@dataclass(slots=True)  # not frozen: built once per row on the hot path (frozen __init__ costs ~2x)
class Candidate:
    """A valid row the database decides about."""

    index: int
    line: int
    user_id: str
    login_count: int
    post_count: int


@dataclass(frozen=True, slots=True)
class Execution:
    """Which batch of which execution is deciding: "newer" compares (start, name)."""

    name: str
    start: datetime  # naive UTC
    batch_index: int

    def is_older_than(self, stored: StoredStats) -> bool:
        if stored.last_execution_name is None or stored.last_execution_name == self.name:
            return False
        if stored.last_execution_start is None:  # written before "newer wins" existed
            return False
        return (stored.last_execution_start, stored.last_execution_name) > (self.start, self.name)

    def wrote(self, stored: StoredStats) -> bool:
        """This very batch wrote the user last (a retry finds its own work)."""
        return stored.last_execution_name == self.name and stored.last_batch_index == self.batch_index


@dataclass(frozen=True)
class Decision:
    results: dict[int, ItemResult]
    writes: list[StatsWrite]


def _who(raw: object) -> tuple[str | None, str | None]:
    """(``userId``, ``rawUserId``): the valid user id the row names, else what it said."""
    uid = raw_user_id(raw)
    return (uid, None) if is_valid_user_id(uid) else (None, uid)


def _failed(index: int, line: int, raw: object, error: RowError) -> ItemResult:
    user_id, raw_id = _who(raw)
    return ItemResult(
        index=index,
        line=line,
        status=RowStatus.FAILED,
        user_id=user_id,
        raw_user_id=raw_id,
        error_type=error.error_type.value,
        error_message=error.message,
    )


def _settle(item: BatchItem) -> ItemResult | Candidate:
    raw, index = item.row, item.index
    line = row_line(raw, index)
    note = raw.get("note") if isinstance(raw, dict) else None
    if note:
        note = str(note)
        later = superseded_by(note)
        if later is not None:
            user_id, raw_id = _who(raw)
            return ItemResult(
                index=index,
                line=line,
                status=RowStatus.SUPERSEDED,
                user_id=user_id,
                raw_user_id=raw_id,
                superseded_by=later,
            )
        error = note_error(note)
        if error is not None:
            return _failed(index, line, raw, error)
    try:
        row = parse_row(raw)
    except RowError as err:
        return _failed(index, line, raw, err)
    return Candidate(index, line, row.user_id, row.login_count, row.post_count)


def classify(items: Iterable[BatchItem]) -> tuple[dict[int, ItemResult], list[Candidate]]:
    """Results the rows alone decide, and the rows left for the database."""
    settled: dict[int, ItemResult] = {}
    candidates: list[Candidate] = []
    for item in items:
        outcome = _settle(item)
        if isinstance(outcome, Candidate):
            candidates.append(outcome)
        else:
            settled[item.index] = outcome
    return settled, candidates


def _not_found(row: Candidate) -> ItemResult:
    return ItemResult(
        index=row.index,
        line=row.line,
        status=RowStatus.FAILED,
        user_id=row.user_id,
        error_type=RowErrorType.USER_NOT_FOUND.value,
        error_message="user is not in the users table",
    )


def _skipped(row: Candidate, newer: str | None) -> ItemResult:
    return ItemResult(
        index=row.index,
        line=row.line,
        status=RowStatus.SKIPPED,
        user_id=row.user_id,
        error_type=RowErrorType.NEWER_EXECUTION_APPLIED.value,
        error_message=f"newer execution {newer}",
    )


def _applied(row: Candidate, old: tuple[int | None, int | None], note: str | None = None) -> ItemResult:
    return ItemResult(
        index=row.index,
        line=row.line,
        status=RowStatus.APPLIED,
        user_id=row.user_id,
        old_login_count=old[0],
        new_login_count=row.login_count,
        old_post_count=old[1],
        new_post_count=row.post_count,
        error_message=note,
    )


def decide(candidates: Sequence[Candidate], stored: Mapping[str, StoredStats], execution: Execution) -> Decision:
    """Per candidate: UserNotFound, SKIPPED (a newer execution wrote the user) or APPLIED."""
    results: dict[int, ItemResult] = {}
    replaced: dict[str, tuple[int | None, int | None]] = {}  # what the batch replaces, per user
    current: dict[str, tuple[int, int]] = {}  # the user's values after the batch's rows so far
    for row in candidates:
        before = stored.get(row.user_id)
        if before is None:
            results[row.index] = _not_found(row)
            continue
        if execution.is_older_than(before):
            results[row.index] = _skipped(row, before.last_execution_name)
            continue
        if row.user_id in current:
            old: tuple[int | None, int | None] = current[row.user_id]
        elif execution.wrote(before):  # the values this batch replaced the first time
            old = (before.prev_login_count, before.prev_post_count)
        else:
            old = (before.login_count, before.post_count)
        replaced.setdefault(row.user_id, old)
        results[row.index] = _applied(row, old)
        current[row.user_id] = (row.login_count, row.post_count)
    writes = [StatsWrite(uid, login, post, *replaced[uid]) for uid, (login, post) in current.items()]
    return Decision(results, writes)


# --------------------------------------------------------------------------- a batch that committed

APPLIED_CODE, SKIPPED_CODE, NOT_FOUND_CODE, SETTLED_CODE = "A", "S", "U", "-"
_CODE_OF_STATUS = {
    RowStatus.APPLIED: APPLIED_CODE,
    RowStatus.SKIPPED: SKIPPED_CODE,
    RowStatus.FAILED: NOT_FOUND_CODE,
}


def outcome_codes(item_indexes: Sequence[int], results: Mapping[int, ItemResult]) -> str:
    """What ``applied_batches`` records of a batch's answer: per item, in the batch's order,
    ``A`` applied, ``S`` skipped (a newer execution), ``U`` user not found, ``-`` settled by
    the row alone (``results`` holds the candidates' results only)."""
    return "".join(
        _CODE_OF_STATUS[results[index].status] if index in results else SETTLED_CODE for index in item_indexes
    )


def codes_by_index(item_indexes: Sequence[int], outcomes: str) -> dict[int, str] | None:
    """The recorded code of each item, or None when the record does not fit this batch."""
    if len(outcomes) != len(item_indexes):
        return None
    return dict(zip(item_indexes, outcomes, strict=True))


def inferred_codes(
    candidates: Sequence[Candidate], stored: Mapping[str, StoredStats], execution: Execution
) -> dict[int, str]:
    """The codes of a batch that committed without a fitting record (before ``applied_batches``
    existed), from what the database holds: a missing user was not found, a user a newer
    execution holds was skipped or overwritten since (SKIPPED is what the database can show),
    the rest were applied."""
    codes: dict[int, str] = {}
    for row in candidates:
        before = stored.get(row.user_id)
        if before is None:
            codes[row.index] = NOT_FOUND_CODE
        elif execution.is_older_than(before):
            codes[row.index] = SKIPPED_CODE
        else:
            codes[row.index] = APPLIED_CODE
    return codes


def committed_before(candidates: Sequence[Candidate], stored: Mapping[str, StoredStats], execution: Execution) -> bool:
    """The database shows this batch's own writes (its name and first index on a user)."""
    return any((before := stored.get(row.user_id)) is not None and execution.wrote(before) for row in candidates)


@dataclass(frozen=True)
class Replay:
    results: dict[int, ItemResult]
    # rows whose answer the database can no longer give in full: their audit item from the
    # first attempt, where it exists, stands (written only where missing)
    keep: frozenset[int] = field(default_factory=frozenset)


def _overwritten(row: Candidate, before: StoredStats | None) -> ItemResult:
    writer = f"execution {before.last_execution_name}" if before and before.last_execution_name else "another execution"
    note = (
        f"{writer} wrote the user after this batch committed, before this retry: "
        "the values the batch replaced are unknown"
    )
    return _applied(row, (None, None), note)


def replay(
    candidates: Sequence[Candidate], stored: Mapping[str, StoredStats], execution: Execution, codes: Mapping[int, str]
) -> Replay:
    """The answer of a batch that committed already (nothing is written again), from its
    recorded ``codes`` and what the database holds now."""
    results: dict[int, ItemResult] = {}
    keep: set[int] = set()
    current: dict[str, tuple[int, int]] = {}
    for row in candidates:
        before = stored.get(row.user_id)
        code = codes.get(row.index)
        if code == APPLIED_CODE:
            if row.user_id in current:
                results[row.index] = _applied(row, current[row.user_id])
            elif before is not None and execution.wrote(before):
                results[row.index] = _applied(row, (before.prev_login_count, before.prev_post_count))
            else:  # a newer execution wrote the user since: applied all the same
                results[row.index] = _overwritten(row, before)
                keep.add(row.index)
            current[row.user_id] = (row.login_count, row.post_count)
        elif code == SKIPPED_CODE:
            results[row.index] = _skipped(row, before.last_execution_name if before else None)
            keep.add(row.index)
        else:
            results[row.index] = _not_found(row)
    return Replay(results, frozenset(keep))


def restore(result: ItemResult, first: Mapping[str, Any]) -> ItemResult:
    """The first attempt's answer for a row, from the audit item it wrote for that row (an
    item a replay left standing): APPLIED with the values it replaced, or SKIPPED."""
    status = first.get("status")
    if status not in (RowStatus.APPLIED.value, RowStatus.SKIPPED.value):
        return result

    def number(name: str) -> int | None:
        value = first.get(name)
        return None if value is None else int(value)

    def words(name: str) -> str | None:
        value = first.get(name)
        return None if value is None else str(value)

    return ItemResult(
        index=result.index,
        line=result.line,
        status=RowStatus(status),
        user_id=result.user_id,
        old_login_count=number("oldLoginCount"),
        new_login_count=number("newLoginCount"),
        old_post_count=number("oldPostCount"),
        new_post_count=number("newPostCount"),
        error_type=words("errorType"),
        error_message=words("errorMessage"),
    )
