"""Counting a run's rows from its ResultWriter records: every row ends up
applied, failed with a reason, or (for a batch that never ran) pending.

- a SUCCEEDED record is a batch the worker answered: its Output lists each
  row as APPLIED or FAILED with an error type;
- a FAILED record is a batch that failed as a whole (after retries): all
  its rows count as failed, under the batch's Error;
- a PENDING record is a batch that had not run when the map stopped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunTally:
    rows: int = 0
    applied: int = 0
    failed: int = 0
    pending: int = 0
    batches: int = 0
    failed_batches: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    max_examples: int = 3

    @property
    def error_rate(self) -> float:
        """Failed (and pending) rows as a percentage of all rows."""
        return 100.0 * (self.failed + self.pending) / self.rows if self.rows else 0.0

    def _example(self, error_type: str, example: dict[str, Any]) -> None:
        bucket = self.examples.setdefault(error_type, [])
        if len(bucket) < self.max_examples:
            bucket.append(example)

    def add_succeeded(self, record: dict[str, Any]) -> None:
        output = json.loads(record["Output"]) if isinstance(record.get("Output"), str) else record.get("Output") or {}
        self.batches += 1
        for result in output.get("results") or []:
            self.rows += 1
            if result.get("status") == "APPLIED":
                self.applied += 1
            else:
                kind = result.get("errorType") or "Unknown"
                self.failed += 1
                self.errors[kind] += 1
                self._example(kind, {k: result.get(k) for k in ("index", "userId", "errorMessage") if result.get(k) is not None})

    def _items(self, record: dict[str, Any]) -> list[Any]:
        raw = record.get("Input")
        data = json.loads(raw) if isinstance(raw, str) else raw or {}
        return data.get("Items", [data]) if isinstance(data, dict) else [data]

    def add_failed(self, record: dict[str, Any]) -> None:
        items = self._items(record)
        kind = record.get("Error") or "Unknown"
        self.batches += 1
        self.failed_batches += 1
        self.rows += len(items)
        self.failed += len(items)
        self.errors[kind] += len(items)
        first = items[0] if items and isinstance(items[0], dict) else {}
        self._example(kind, {"index": first.get("index"), "rows": len(items), "errorMessage": (record.get("Cause") or "")[:300]})

    def add_pending(self, record: dict[str, Any]) -> None:
        items = self._items(record)
        self.batches += 1
        self.rows += len(items)
        self.pending += len(items)
        self.errors["Pending"] += len(items)

    def add(self, status: str, records: Iterable[dict[str, Any]]) -> "RunTally":
        handler = {"SUCCEEDED": self.add_succeeded, "FAILED": self.add_failed, "PENDING": self.add_pending}[status]
        for record in records:
            handler(record)
        return self
