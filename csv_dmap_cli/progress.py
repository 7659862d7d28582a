"""Progress of a running Distributed Map from DescribeMapRun: done / total rows,
rows per second since the map run started, and the time left at that rate.

DescribeMapRun's ``itemCounts`` count items (CSV rows), whatever the batching:
``pending, running, succeeded, failed, timedOut, aborted, total, resultsWritten``
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

FINISHED = ("succeeded", "failed", "timedOut", "aborted")


@dataclass(frozen=True)
class MapProgress:
    status: str
    total: int
    done: int
    succeeded: int
    failed: int
    running: int
    pending: int
    results_written: int
    elapsed_seconds: float
    rows_per_second: float | None
    eta_seconds: float | None

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percent": round(self.percent, 2)}


def map_progress(described: dict[str, Any], now: datetime) -> MapProgress:
    """From a DescribeMapRun answer (``startDate`` a datetime, as boto3 gives it)."""
    raw = described.get("itemCounts") or {}
    counts = {k: int(raw.get(k) or 0) for k in (*FINISHED, "total", "running", "pending", "resultsWritten")}
    done, total = sum(counts[k] for k in FINISHED), counts["total"]
    started = described.get("startDate")
    elapsed = max(0.0, (now - started).total_seconds()) if isinstance(started, datetime) else 0.0
    rate = done / elapsed if elapsed > 0 and done > 0 else None
    eta = (total - done) / rate if rate and total >= done else None
    return MapProgress(
        status=str(described.get("status") or "UNKNOWN"),
        total=total,
        done=done,
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        running=counts["running"],
        pending=counts["pending"],
        results_written=counts["resultsWritten"],
        elapsed_seconds=round(elapsed, 3),
        rows_per_second=round(rate, 3) if rate else None,
        eta_seconds=None if eta is None else round(eta, 1),
    )
