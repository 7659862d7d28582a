"""DetermineConcurrency, by table."""

import json

import pytest

from csv_dmap.logic.concurrency import (
    BATCH_INPUT_LIMIT,
    DEFAULT_ROWS_PER_SECOND_PER_WORKER,
    batch_size_for,
    item_overhead_bytes,
    plan,
)
from csv_dmap.models import MAX_ITEMS_PER_BATCH, RunSummary


def summary(rows, seconds, concurrency, failed_batches=0):
    return RunSummary.model_validate({
        "executionName": "e", "date": "2026-11-22", "startTime": "2026-11-22T00:00:00+00:00",
        "finishedAt": "2026-11-22T00:10:00+00:00", "durationSeconds": seconds, "status": "SUCCEEDED",
        "sourceBucket": "b", "sourceKey": "k", "rows": rows, "applied": rows, "failed": 0, "errorRate": 0,
        "severity": "NONE", "maxConcurrency": concurrency, "failedBatches": failed_batches,
    })


@pytest.mark.parametrize(("rows", "size", "ceiling", "history", "expected"), [
    # rows,      bytes,        ceiling, history,                          (concurrency, batch)
    (1_000, 21_000, 10, [], (1, 500)),  # small file: one worker is enough
    (1_000_000, 21_000_000, 10, [], (3, 500)),  # 1M rows / (1500 rows/s * 300 s) -> 3
    (10_000_000, 210_000_000, 10, [], (10, 500)),  # capped by the database ceiling
    (10_000_000, 210_000_000, 40, [], (23, 500)),  # 10M / 450k -> 23
    (1_000_000, 21_000_000, 10, [summary(600_000, 100, 2)], (2, 500)),  # history: 3000 rows/s per worker -> 1.1
    (1_000_000, 21_000_000, 10, [summary(500, 100, 2)], (3, 500)),  # too small to count: default rate
    (1_000_000, 21_000_000, 10, [summary(600_000, 100, 2, failed_batches=3)], (3, 500)),  # failed runs ignored
    (1_200, 600_000_000, 10, [], (1, 1)),  # 500 KB rows: one per batch... and at most one per batch
    (2_000, 4_000_000, 10, [], (1, 93)),  # 2 KB rows: the byte limit, not the count, sets the batch
    (0, 0, 10, [], (1, 500)),
])
def test_plan(rows, size, ceiling, history, expected):
    config = plan(rows, size, ceiling=ceiling, tolerated_failure_percentage=5, history=history)
    assert (config.max_concurrency, config.max_items_per_batch) == expected
    assert config.tolerated_failure_percentage == 5
    assert config.max_concurrency <= ceiling


def test_concurrency_never_exceeds_the_number_of_batches():
    config = plan(1_500, 30_000, ceiling=10, tolerated_failure_percentage=5, target_seconds=0.01)
    assert config.max_concurrency == 3 and "number of batches" in config.basis


def test_a_chosen_batch_fits_in_the_byte_limit_with_margin():
    for row_bytes in (12, 25, 80, 400, 2_000):
        batch = batch_size_for(1000, 1000 * row_bytes)
        item = {"index": 9_999_999, "row": {"ユーザーID": "U" * (row_bytes - 8), "ログイン回数": "123", "投稿回数": "45"}}
        payload = {"Items": [item] * batch, "BatchInput": {"executionName": "x" * 80, "executionStartTime": "2026-11-22T00:00:00.000Z",
                                                           "sourceBucket": "b" * 63, "sourceKey": "incoming/" + "k" * 100}}
        assert len(json.dumps(payload, ensure_ascii=False).encode()) < BATCH_INPUT_LIMIT
        assert batch <= MAX_ITEMS_PER_BATCH


def test_default_rate_and_overhead_are_what_the_docs_say():
    assert DEFAULT_ROWS_PER_SECOND_PER_WORKER > 0
    assert 60 < item_overhead_bytes() < 100


def test_ceiling_must_be_positive():
    with pytest.raises(ValueError):
        plan(10, 10, ceiling=0, tolerated_failure_percentage=5)
