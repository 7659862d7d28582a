"""Storage records: what the database holds for a user and what a batch writes, the
record of a batch that committed, and what became of a batch's audit items.
(Audit items are built from the worker's results in ``csv_dmap.audit.audit_items``.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)  # not frozen: built once per row on the hot path (frozen __init__ costs ~2x)
class StoredStats:
    """What ``users``/``user_stats`` hold for one user when the batch reads it.

    ``login_count is None``: the user exists but has no stats yet. The
    bookkeeping columns say which batch wrote the row last (and what it
    replaced), so the logic can recognise a retry of that batch and a newer
    execution.
    """

    login_count: int | None = None
    post_count: int | None = None
    prev_login_count: int | None = None
    prev_post_count: int | None = None
    last_execution_name: str | None = None
    last_batch_index: int | None = None
    last_execution_start: datetime | None = None  # naive UTC

    @property
    def exists(self) -> bool:
        return self.login_count is not None


@dataclass(frozen=True, slots=True)
class StatsWrite:
    """The final values of one user after a batch, and the values they replace (the
    user's ``prev_*``, which a retry of the batch reports as old). The repository adds
    which batch wrote them and when."""

    user_id: str
    login_count: int
    post_count: int
    prev_login_count: int | None = None
    prev_post_count: int | None = None


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """The ``applied_batches`` record of a batch that committed, written in the batch's own
    transaction: ``outcomes`` has one code per item of the batch, in the order of its Items
    (``csv_dmap.logic.decide.outcome_codes``: applied, skipped, user not found, or settled
    by the row alone)."""

    outcomes: str
    rows_written: int
    committed_at: datetime  # naive UTC


@dataclass(frozen=True)
class AuditReport:
    """What became of a batch's audit items (``AuditSink.write_results_report``)."""

    missing: frozenset[int] = frozenset()  # row indexes whose item could not be written
    # row index -> the item found in place (as ``audit.item_record`` reads it), left standing:
    # the first attempt's, for rows written only where no item existed
    kept: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    error: Exception | None = None  # AuditWriteError / AuditWriteRejected: what failed, when something did
    calls: int = 0  # DynamoDB calls made
