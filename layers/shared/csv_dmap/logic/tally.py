"""Counting a run's rows: every row ends up applied, failed with a reason (a row error),
superseded by a later row of its user, skipped because a newer execution already wrote its
user, or pending (not applied because its batch failed as a whole or never ran; a redrive
applies it). ``rows == applied + failed + superseded + skipped + pending``. A row whose audit
item could not be written (``auditMissing``: any status, since every row that ran has an audit
item) is counted by its status, and also in ``audit_missing``.

Which rows a record stands for is ``csv_dmap.results.rows_of`` (one place); this module only
counts rows, and knows nothing of files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..models import RowStatus

EXAMPLE_FIELDS = ("line", "userId", "rawUserId", "errorMessage")


@dataclass
class RunTally:
    rows: int = 0
    applied: int = 0
    failed: int = 0
    superseded: int = 0
    skipped: int = 0
    pending: int = 0
    audit_missing: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    max_examples: int = 3

    @property
    def row_error_rate(self) -> float:
        """Failed rows as a percentage of all rows: what the run's tolerance judges. Pending rows
        are not bad data: their batch failed, which fails the map (and the run) on its own."""
        return 100.0 * self.failed / self.rows if self.rows else 0.0

    @property
    def not_applied_in_error(self) -> int:
        """Rows that are not applied because something went wrong (failed or never run)."""
        return self.failed + self.pending

    @property
    def error_rate(self) -> float:
        """Failed and pending rows as a percentage of all rows. Superseded and
        skipped rows are outcomes the file or a newer run asked for, not errors."""
        return 100.0 * self.not_applied_in_error / self.rows if self.rows else 0.0

    def _example(self, error_type: str, row: Mapping[str, Any]) -> None:
        bucket = self.examples.setdefault(error_type, [])
        if len(bucket) < self.max_examples:
            bucket.append({k: row[k] for k in EXAMPLE_FIELDS if row.get(k) is not None})

    def add_row(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        status = row.get("status")
        # whatever its status: the aggregator's repair rewrites every flagged row and subtracts them all
        self.audit_missing += row.get("auditMissing") is True
        if status == RowStatus.APPLIED:
            self.applied += 1
        elif status == RowStatus.SUPERSEDED:
            self.superseded += 1
        elif status == RowStatus.SKIPPED:
            self.skipped += 1
        elif status == RowStatus.PENDING:
            kind = str(row.get("errorType") or "NotRun")
            self.pending += 1
            self.errors[kind] += 1
            self._example(kind, row)
        else:  # FAILED, or anything the worker should not have said: never lost, never applied
            kind = str(row.get("errorType") or ("Unknown" if status == RowStatus.FAILED else f"UnknownStatus:{status}"))
            self.failed += 1
            self.errors[kind] += 1
            self._example(kind, row)
