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
3. ``reconcile`` answers for a batch whose attempts all failed: rows this batch
   committed are APPLIED with the remembered old values, the others FAILED with
   the batch's error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..models import (
    BatchItem,
    Failure,
    ItemResult,
    ItemStatus,
    RowError,
    RowErrorType,
    StatsWrite,
    StoredStats,
    cap_escaped,
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
        status=ItemStatus.FAILED,
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
                status=ItemStatus.SUPERSEDED,
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


def decide(candidates: Sequence[Candidate], stored: Mapping[str, StoredStats], execution: Execution) -> Decision:
    """Per candidate: UserNotFound, SKIPPED (a newer execution wrote the user) or APPLIED."""
    results: dict[int, ItemResult] = {}
    current: dict[str, tuple[int | None, int | None]] = {}
    for row in candidates:
        before = stored.get(row.user_id)
        if before is None:
            results[row.index] = ItemResult(
                index=row.index,
                line=row.line,
                status=ItemStatus.FAILED,
                user_id=row.user_id,
                error_type=RowErrorType.USER_NOT_FOUND.value,
                error_message="user is not in the users table",
            )
            continue
        if execution.is_older_than(before):
            results[row.index] = ItemResult(
                index=row.index,
                line=row.line,
                status=ItemStatus.SKIPPED,
                user_id=row.user_id,
                error_type=RowErrorType.NEWER_EXECUTION_APPLIED.value,
                error_message=f"newer execution {before.last_execution_name}",
            )
            continue
        if row.user_id in current:
            old = current[row.user_id]
        elif execution.wrote(before):
            old = (before.prev_login_count, before.prev_post_count)
        else:
            old = (before.login_count, before.post_count)
        results[row.index] = ItemResult(
            index=row.index,
            line=row.line,
            status=ItemStatus.APPLIED,
            user_id=row.user_id,
            old_login_count=old[0],
            new_login_count=row.login_count,
            old_post_count=old[1],
            new_post_count=row.post_count,
        )
        current[row.user_id] = (row.login_count, row.post_count)
    writes = [
        StatsWrite(uid, login, post) for uid, (login, post) in current.items() if login is not None and post is not None
    ]
    return Decision(results, writes)


def reconcile(
    candidates: Sequence[Candidate],
    stored: Mapping[str, StoredStats],
    execution: Execution,
    failure: Failure,
    *,
    users_created: bool = False,
) -> dict[int, ItemResult]:
    """The truth about a batch whose attempts all failed, from what the database holds:
    rows this batch committed are APPLIED (with the old values it remembered), the
    others FAILED with the batch's error (``users_created``: an unknown user would
    have been created, so its absence is the batch's failure too)."""
    decision = decide(candidates, stored, execution)
    message = failure.message()
    results: dict[int, ItemResult] = {}
    for row in candidates:
        result = decision.results[row.index]
        before = stored.get(row.user_id)
        committed = before is not None and execution.wrote(before)
        not_reached = result.status is ItemStatus.APPLIED and not committed
        unknown = before is None and users_created
        if not_reached or unknown:
            result = ItemResult(
                index=row.index,
                line=row.line,
                status=ItemStatus.FAILED,
                user_id=row.user_id,
                error_type=cap_escaped(failure.error, 48),
                error_message=message,
            )
        results[row.index] = result
    return results
