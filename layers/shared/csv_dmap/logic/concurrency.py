"""DetermineConcurrency: the Distributed Map's settings for one file.

- batch size: as large as the worker allows (500: one transaction and one
  invocation amortised over many rows), shrunk so that a batch's JSON stays
  under 75% of the 256 KiB a child execution may receive;
- concurrency: enough workers to finish within the target duration at the
  per-worker rate seen in recent runs (an assumed default when there are
  none), and never more than any resource downstream can take
  (:class:`Limits`): the operator's ceiling, the database's connections and
  write rate, the audit table's write throughput, Lambda's concurrency for the
  worker, Step Functions' quotas for a Distributed Map, the number of batches;
- tolerance: the configured percentage of failed batches.

``RunConfig.bound_by`` names the bound that applied (``basis`` says it in words,
with every bound's value), so an operator sees what to raise for a faster run.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import PlanSettings
from ..models import HEADER_ALIASES, MAX_ITEMS_PER_BATCH, RunConfig, RunSummary

BATCH_INPUT_LIMIT = 256 * 1024
BATCH_SAFETY = 0.75
BATCH_INPUT_ALLOWANCE = 400  # BatchInput: execution name, start time, bucket, key
DEFAULT_ROWS_PER_SECOND_PER_WORKER = 1500.0  # assumed, not measured on Aurora (docs/contracts.md, DetermineConcurrency)
MIN_HISTORY_ROWS = 1000  # smaller runs are dominated by cold starts

# AWS's documented numbers (defaults; each is a setting where an account can differ).
# A new on-demand DynamoDB table "will be able to sustain up to 4,000 writes per second"
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/pre-warming-on-demand-capacity-mode.html,
#  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html).
NEW_ON_DEMAND_TABLE_WRITE_UNITS = 4000
# Lambda: concurrent executions per Region, default quota 1,000
# (https://docs.aws.amazon.com/lambda/latest/dg/limits.html).
LAMBDA_ACCOUNT_CONCURRENCY = 1000
# Step Functions, Distributed Map: at most 10,000 child workflow executions run in parallel
# (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).
MAP_MAX_CONCURRENT_CHILDREN = 10_000
# Step Functions API throttling: StartExecution for Express workflows, bucket 6,000, refill
# 6,000 per second (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html);
# the Map starts Express children with StartExecution (UpdateMapRun/RedriveExecution docs).
EXPRESS_START_EXECUTIONS_PER_SECOND = 6000.0
# Failed rows cost one more write unit (their entry in the sparse failed-rows index); a run
# with more failed rows than the tolerance fails, so the tolerance bounds the average.
AUDIT_WRITE_UNITS_PER_APPLIED_ROW = 1.0
AUDIT_EXTRA_WRITE_UNITS_PER_FAILED_ROW = 1.0


@dataclass(frozen=True)
class Limits:
    """What the resources downstream of the map can take (defaults: AWS's documented quotas)."""

    max_concurrency: int = 10  # the operator's ceiling (template MaxConcurrency)
    db_connections: int = 100  # database connections the workers may hold (the proxy's budget for this app)
    db_connections_per_worker: int = 1  # the worker's pool size
    db_write_rows_per_second: float | None = None  # the database's write ceiling in rows/s (None: not bounded)
    audit_write_units_per_second: float = NEW_ON_DEMAND_TABLE_WRITE_UNITS  # the audit table's warm throughput
    audit_write_units_per_row: float = AUDIT_WRITE_UNITS_PER_APPLIED_ROW
    lambda_concurrency: int = LAMBDA_ACCOUNT_CONCURRENCY  # the worker's reserved concurrency, or the account's
    lambda_reserved: bool = False
    map_max_children: int = MAP_MAX_CONCURRENT_CHILDREN
    child_starts_per_second: float = EXPRESS_START_EXECUTIONS_PER_SECOND

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("the concurrency ceiling must be at least 1")
        positive = {
            "db_connections": self.db_connections,
            "db_connections_per_worker": self.db_connections_per_worker,
            "audit_write_units_per_second": self.audit_write_units_per_second,
            "audit_write_units_per_row": self.audit_write_units_per_row,
            "lambda_concurrency": self.lambda_concurrency,
            "map_max_children": self.map_max_children,
            "child_starts_per_second": self.child_starts_per_second,
            "db_write_rows_per_second": 1 if self.db_write_rows_per_second is None else self.db_write_rows_per_second,
        }
        bad = [name for name, value in positive.items() if value <= 0]
        if bad:
            raise ValueError(f"limits must be positive: {', '.join(bad)}")


def audit_write_units_per_row(tolerated_failure_percentage: float) -> float:
    """Average audit write units per row when up to the tolerated share of rows fails."""
    return (
        AUDIT_WRITE_UNITS_PER_APPLIED_ROW + AUDIT_EXTRA_WRITE_UNITS_PER_FAILED_ROW * tolerated_failure_percentage / 100
    )


def limits_from(settings: PlanSettings) -> Limits:
    """The downstream bounds as this deployment configures them (0 = the AWS default)."""
    reserved = settings.worker_reserved_concurrency
    return Limits(
        max_concurrency=settings.db_max_concurrency,
        db_connections=settings.db_connection_budget,
        db_connections_per_worker=settings.db_pool_size,
        db_write_rows_per_second=settings.db_write_rows_per_second or None,
        audit_write_units_per_second=settings.audit_warm_write_units or NEW_ON_DEMAND_TABLE_WRITE_UNITS,
        audit_write_units_per_row=audit_write_units_per_row(settings.tolerated_failure_percentage),
        lambda_concurrency=reserved or settings.lambda_account_concurrency,
        lambda_reserved=bool(reserved),
    )


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


def _at_least_one(value: float) -> int:
    return max(1, math.floor(value))


def bounds(limits: Limits, *, rate: float, batch: int, batches: int) -> dict[str, int]:
    """Most workers each resource allows, by name, in the order ties are reported.

    ``rate`` is one worker's rows per second (database, audit write and all), so
    ``n`` workers write ``n * rate`` rows/s to the database and to the audit table
    and start ``n * rate / batch`` child executions per second."""
    found = {
        "MaxConcurrency": limits.max_concurrency,
        "number of batches": batches,
        "database connections": limits.db_connections // limits.db_connections_per_worker,
        "audit table write throughput": _at_least_one(
            limits.audit_write_units_per_second / (limits.audit_write_units_per_row * rate)
        ),
        "Lambda reserved concurrency"
        if limits.lambda_reserved
        else "Lambda account concurrency": limits.lambda_concurrency,
        "Step Functions child executions": limits.map_max_children,
        "Step Functions child start rate": _at_least_one(limits.child_starts_per_second * batch / rate),
    }
    if limits.db_write_rows_per_second is not None:
        found["database write rate"] = _at_least_one(limits.db_write_rows_per_second / rate)
    return {name: max(1, value) for name, value in found.items()}


def plan(
    row_count: int,
    byte_size: int,
    *,
    limits: Limits,
    tolerated_failure_percentage: float,
    history: Iterable[RunSummary] = (),
    target_seconds: float = 300.0,
    max_items: int = MAX_ITEMS_PER_BATCH,
    rate: float | None = None,
) -> RunConfig:
    """The map's settings for a file; ``rate`` (rows/s per worker), when known, overrides the history's."""
    batch = batch_size_for(row_count, byte_size, max_items)
    batches = max(1, math.ceil(row_count / batch))
    rate, runs = (rate, -1) if rate else worker_rate(history)
    needed = math.ceil(row_count / (rate * target_seconds)) if row_count else 1
    caps = bounds(limits, rate=rate, batch=batch, batches=batches)
    tightest = min(caps, key=lambda name: caps[name])  # the first of equals, in the order of bounds()
    concurrency = max(1, min(needed, caps[tightest]))
    bound_by = tightest if caps[tightest] < needed else "target duration"
    estimate = row_count / (rate * concurrency) if row_count else 0.0
    source = "given" if runs < 0 else f"median of {runs} recent runs" if runs else "default (no usable history)"
    listed = ", ".join(f"{name} {value:,}" for name, value in caps.items())
    return RunConfig(
        max_concurrency=concurrency,
        max_items_per_batch=batch,
        tolerated_failure_percentage=tolerated_failure_percentage,
        estimated_seconds=round(estimate, 1),
        bound_by=bound_by,
        basis=(
            f"{row_count} rows in {batches} batches of {batch}; {rate:.0f} rows/s per worker ({source}); "
            f"{concurrency} workers, bounded by the {bound_by}; target {target_seconds:.0f} s "
            f"({needed:,} workers); most workers each bound allows: {listed}"
        ),
    )
