"""Storage records: what the database holds for a user and what a batch writes.
(Audit items are built from the worker's results in ``csv_dmap.audit.audit_items``.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    """The final values of one user after a batch. The repository adds its own
    bookkeeping (what they replace, which batch, when)."""

    user_id: str
    login_count: int
    post_count: int
