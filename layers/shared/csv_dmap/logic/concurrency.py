"""DetermineConcurrency: the Distributed Map's settings for one file.

- batch size: as large as the worker allows (500: one transaction and one
  invocation amortised over many rows), shrunk so that a batch's JSON stays
  under 75% of the 256 KiB a child execution may receive;
- concurrency: enough workers to finish within the target duration at the
  per-worker rate seen in recent runs (a measured default when there are
  none), never above the database ceiling nor above the number of batches;
- tolerance: the configured percentage of failed batches.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable

from ..models import HEADER_ALIASES, MAX_ITEMS_PER_BATCH, RunConfig, RunSummary

BATCH_INPUT_LIMIT = 256 * 1024
BATCH_SAFETY = 0.75
BATCH_INPUT_ALLOWANCE = 400  # BatchInput: execution name, start time, bucket, key
DEFAULT_ROWS_PER_SECOND_PER_WORKER = 1500.0  # a worker on Aurora with the audit write; see BENCHMARKS.md
MIN_HISTORY_ROWS = 1000  # smaller runs are dominated by cold starts


def item_overhead_bytes() -> int:
    """JSON bytes an item costs beyond its values: ``{"index":n,"row":{<three headers>}}``."""
    empty = {"index": 10_000_000, "row": {aliases[0]: "" for aliases in HEADER_ALIASES.values()}}
    return len(json.dumps(empty, ensure_ascii=False, separators=(",", ":")).encode()) + 1  # + the comma


def batch_size_for(row_count: int, byte_size: int, max_items: int = MAX_ITEMS_PER_BATCH) -> int:
    average_row = byte_size / row_count if row_count else 0
    per_item = item_overhead_bytes() + average_row
    by_bytes = int((BATCH_INPUT_LIMIT * BATCH_SAFETY - BATCH_INPUT_ALLOWANCE) // per_item)
    return max(1, min(max_items, MAX_ITEMS_PER_BATCH, by_bytes))


def worker_rate(history: Iterable[RunSummary]) -> tuple[float, int]:
    """Median rows per second per worker over recent, sizeable, successful runs."""
    rates = [
        s.rows / (s.duration_seconds * s.max_concurrency)
        for s in history
        if s.rows >= MIN_HISTORY_ROWS and s.duration_seconds > 0 and s.max_concurrency and s.failed_batches == 0
    ]
    return (statistics.median(rates), len(rates)) if rates else (DEFAULT_ROWS_PER_SECOND_PER_WORKER, 0)


def plan(
    row_count: int,
    byte_size: int,
    *,
    ceiling: int,
    tolerated_failure_percentage: float,
    history: Iterable[RunSummary] = (),
    target_seconds: float = 300.0,
    max_items: int = MAX_ITEMS_PER_BATCH,
) -> RunConfig:
    if ceiling < 1:
        raise ValueError("the concurrency ceiling must be at least 1")
    batch = batch_size_for(row_count, byte_size, max_items)
    batches = max(1, math.ceil(row_count / batch))
    rate, runs = worker_rate(history)
    needed = math.ceil(row_count / (rate * target_seconds)) if row_count else 1
    concurrency = max(1, min(needed, ceiling, batches))
    estimate = row_count / (rate * concurrency) if row_count else 0.0
    source = f"median of {runs} recent runs" if runs else "default (no usable history)"
    limit = "database ceiling" if concurrency == ceiling and needed > ceiling else (
        "number of batches" if concurrency == batches and needed > batches else "target duration")
    return RunConfig(
        max_concurrency=concurrency,
        max_items_per_batch=batch,
        tolerated_failure_percentage=tolerated_failure_percentage,
        estimated_seconds=round(estimate, 1),
        basis=(f"{row_count} rows in {batches} batches of {batch}; {rate:.0f} rows/s per worker ({source}); "
               f"{concurrency} workers, bounded by the {limit}; target {target_seconds:.0f} s"),
    )
