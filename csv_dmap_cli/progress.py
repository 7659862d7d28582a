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
    counts = described.get("itemCounts") or {}
    done = sum(int(counts.get(k) or 0) for k in FINISHED)
    total = int(counts.get("total") or 0)
    started = described.get("startDate")
    elapsed = max(0.0, (now - started).total_seconds()) if isinstance(started, datetime) else 0.0
    rate = done / elapsed if elapsed > 0 and done > 0 else None
    eta = (total - done) / rate if rate and total >= done else None
    return MapProgress(
        status=str(described.get("status") or "UNKNOWN"), total=total, done=done,
        succeeded=int(counts.get("succeeded") or 0), failed=int(counts.get("failed") or 0),
        running=int(counts.get("running") or 0), pending=int(counts.get("pending") or 0),
        results_written=int(counts.get("resultsWritten") or 0), elapsed_seconds=round(elapsed, 3),
        rows_per_second=round(rate, 3) if rate else None, eta_seconds=round(eta, 1) if eta is not None else None,
    )
