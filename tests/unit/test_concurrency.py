"""DetermineConcurrency, by table: the batch size, and every downstream bound binding in turn."""

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csv_dmap.config import PlanSettings
from csv_dmap.logic.concurrency import (
    BATCH_INPUT_LIMIT,
    DEFAULT_ROWS_PER_SECOND_PER_WORKER,
    Limits,
    batch_size_for,
    bounds,
    item_overhead_bytes,
    limits_from,
    plan,
)
from csv_dmap.models import MAX_ITEMS_PER_BATCH, RunSummary

# Nothing downstream binds: only the bound a case names does.
WIDE = Limits(
    max_concurrency=1_000_000,
    db_connections=1_000_000,
    audit_write_units_per_second=1e12,
    lambda_concurrency=1_000_000,
    map_max_children=1_000_000,
    child_starts_per_second=1e12,
)


def summary(rows, seconds, concurrency, failed_batches=0):
    return RunSummary.model_validate(
        {
            "executionName": "e",
            "date": "2026-11-22",
            "startTime": "2026-11-22T00:00:00+00:00",
            "finishedAt": "2026-11-22T00:10:00+00:00",
            "durationSeconds": seconds,
            "status": "SUCCEEDED",
            "sourceBucket": "b",
            "sourceKey": "k",
            "rows": rows,
            "applied": rows,
            "failed": 0,
            "errorRate": 0,
            "severity": "NONE",
            "maxConcurrency": concurrency,
            "failedBatches": failed_batches,
        }
    )


@pytest.mark.parametrize(
    ("rows", "size", "ceiling", "history", "expected"),
    [
        # rows,      bytes,        ceiling, history,                          (concurrency, batch)
        (1_000, 21_000, 10, [], (1, 500)),  # small file: one worker is enough
        (1_000_000, 21_000_000, 10, [], (3, 500)),  # 1M rows / (1500 rows/s * 300 s) -> 3
        (10_000_000, 210_000_000, 10, [], (10, 500)),  # capped by the operator's ceiling
        (10_000_000, 210_000_000, 40, [], (23, 500)),  # 10M / 450k -> 23
        (1_000_000, 21_000_000, 10, [summary(600_000, 100, 2)], (2, 500)),  # history: 3000 rows/s per worker -> 1.1
        (1_000_000, 21_000_000, 10, [summary(500, 100, 2)], (3, 500)),  # too small to count: default rate
        (1_000_000, 21_000_000, 10, [summary(600_000, 100, 2, failed_batches=3)], (3, 500)),  # failed runs ignored
        (1_200, 600_000_000, 10, [], (1, 1)),  # 500 KB rows: one per batch... and at most one per batch
        (2_000, 4_000_000, 10, [], (1, 93)),  # 2 KB rows: the byte limit, not the count, sets the batch
        (0, 0, 10, [], (1, 500)),
    ],
)
def test_plan_sizes_batches_and_aims_at_the_target(rows, size, ceiling, history, expected):
    config = plan(
        rows, size, limits=replace(WIDE, max_concurrency=ceiling), tolerated_failure_percentage=5, history=history
    )
    assert (config.max_concurrency, config.max_items_per_batch) == expected
    assert config.tolerated_failure_percentage == 5
    assert config.max_concurrency <= ceiling


# 1e9 rows of 21 bytes: batches of 500, 2,000,000 batches, 1500 rows/s per worker (no history),
# target 300 s -> ceil(1e9 / 450,000) = 2,223 workers wanted. 1e10 rows -> 22,223 wanted.
@pytest.mark.parametrize(
    ("rows", "overrides", "expected", "bound_by"),
    [
        (10**9, {}, 2_223, "target duration"),
        (10**9, {"max_concurrency": 40}, 40, "MaxConcurrency"),
        (10**9, {"db_connections": 12}, 12, "database connections"),
        (10**9, {"db_connections": 12, "db_connections_per_worker": 2}, 6, "database connections"),  # pool of 2
        (10**9, {"db_write_rows_per_second": 15_000}, 10, "database write rate"),  # 15,000 / 1,500
        (10**9, {"db_write_rows_per_second": 16_400}, 10, "database write rate"),  # 10.93 -> 10 (never above)
        # a new on-demand table: 4,000 WCU/s; 1.05 WCU a row (5% failed rows cost 2) -> 4000 / 1575 = 2.54 -> 2
        (
            10**9,
            {"audit_write_units_per_second": 4_000, "audit_write_units_per_row": 1.05},
            2,
            "audit table write throughput",
        ),
        (10**9, {"audit_write_units_per_second": 40_000}, 26, "audit table write throughput"),  # 40,000 / 1,500
        (10**9, {"lambda_concurrency": 7, "lambda_reserved": True}, 7, "Lambda reserved concurrency"),
        (10**9, {"lambda_concurrency": 1_000}, 1_000, "Lambda account concurrency"),
        (10**10, {"map_max_children": 10_000}, 10_000, "Step Functions child executions"),
        # 6,000 Express starts/s; a child lives 500 / 1,500 s -> 6,000 * 500 / 1,500 = 2,000 children at once
        (10**9, {"child_starts_per_second": 6_000}, 2_000, "Step Functions child start rate"),
    ],
)
def test_each_downstream_bound_binds_in_turn(rows, overrides, expected, bound_by):
    config = plan(rows, rows * 21, limits=replace(WIDE, **overrides), tolerated_failure_percentage=5)
    assert config.max_items_per_batch == 500
    assert (config.max_concurrency, config.bound_by) == (expected, bound_by)
    assert f"bounded by the {bound_by}" in config.basis


def test_the_child_start_rate_binds_small_batches():
    # batches of 1 row: a child lives 1/1500 s, so 6,000 starts/s keep at most 6000 / 1500 = 4 busy
    config = plan(
        10**8,
        21 * 10**8,
        limits=replace(WIDE, child_starts_per_second=6_000),
        tolerated_failure_percentage=5,
        max_items=1,
    )
    assert (config.max_items_per_batch, config.max_concurrency) == (1, 4)
    assert config.bound_by == "Step Functions child start rate"


def test_the_documented_defaults_bound_a_million_rows_by_the_audit_tables_warm_throughput():
    # Limits() is AWS's documented defaults: 4,000 WCU/s on a new on-demand table, 1 WCU a row:
    # 4,000 / 1,500 rows/s per worker = 2.67 -> 2 workers (3 wanted for 300 s)
    config = plan(1_000_000, 21_000_000, limits=Limits(), tolerated_failure_percentage=5)
    assert (config.max_concurrency, config.bound_by) == (2, "audit table write throughput")
    assert config.estimated_seconds == round(1_000_000 / (1500 * 2), 1)


def test_concurrency_never_exceeds_the_number_of_batches():
    config = plan(1_500, 30_000, limits=WIDE, tolerated_failure_percentage=5, target_seconds=0.01)
    assert config.max_concurrency == 3 and config.bound_by == "number of batches"
    assert "number of batches" in config.basis


def test_the_basis_lists_every_bound_with_its_value():
    caps = bounds(Limits(db_write_rows_per_second=15_000), rate=1500, batch=500, batches=2000)
    assert caps == {
        "MaxConcurrency": 10,
        "number of batches": 2000,
        "database connections": 100,
        "audit table write throughput": 2,
        "Lambda account concurrency": 1000,
        "Step Functions child executions": 10_000,
        "Step Functions child start rate": 2000,
        "database write rate": 10,
    }
    basis = plan(
        1_000_000, 21_000_000, limits=Limits(db_write_rows_per_second=15_000), tolerated_failure_percentage=5
    ).basis
    assert all(f"{name} {value:,}" in basis for name, value in caps.items())


def test_settings_map_to_limits_with_aws_defaults_for_zero():
    limits = limits_from(PlanSettings.from_env({}))
    assert limits == Limits(
        max_concurrency=10,
        db_connections=100,
        db_connections_per_worker=1,
        db_write_rows_per_second=15_000,
        audit_write_units_per_second=4_000,
        audit_write_units_per_row=1.05,
        lambda_concurrency=1_000,
        lambda_reserved=False,
    )
    custom = limits_from(
        PlanSettings.from_env(
            {
                "DB_MAX_CONCURRENCY": "50",
                "DB_CONNECTION_BUDGET": "30",
                "DB_POOL_SIZE": "2",
                "DB_WRITE_ROWS_PER_SECOND": "0",
                "AUDIT_WARM_WRITE_UNITS": "20000",
                "WORKER_RESERVED_CONCURRENCY": "25",
                "TOLERATED_FAILURE_PERCENTAGE": "10",
            }
        )
    )
    assert custom == Limits(
        max_concurrency=50,
        db_connections=30,
        db_connections_per_worker=2,
        db_write_rows_per_second=None,
        audit_write_units_per_second=20_000,
        audit_write_units_per_row=1.1,
        lambda_concurrency=25,
        lambda_reserved=True,
    )


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(0, 10**10),
    row_bytes=st.integers(5, 5_000),
    max_concurrency=st.integers(1, 20_000),
    connections=st.integers(1, 5_000),
    audit=st.integers(1, 10**6),
    lambda_concurrency=st.integers(1, 20_000),
    db_rate=st.none() | st.integers(1, 10**6),
    starts=st.integers(1, 10_000),
)
def test_no_bound_is_ever_exceeded(
    rows, row_bytes, max_concurrency, connections, audit, lambda_concurrency, db_rate, starts
):
    limits = Limits(
        max_concurrency=max_concurrency,
        db_connections=connections,
        audit_write_units_per_second=audit,
        lambda_concurrency=lambda_concurrency,
        db_write_rows_per_second=db_rate,
        child_starts_per_second=starts,
    )
    config = plan(rows, rows * row_bytes, limits=limits, tolerated_failure_percentage=5)
    n, rate = config.max_concurrency, DEFAULT_ROWS_PER_SECOND_PER_WORKER
    assert 1 <= n <= max(1, min(max_concurrency, connections, lambda_concurrency, 10_000))
    # rows/s written stay within the audit table's and the database's rates (one worker is always allowed)
    assert n == 1 or n * rate <= audit
    assert n == 1 or db_rate is None or n * rate <= db_rate
    assert n == 1 or n * rate / config.max_items_per_batch <= starts
    assert n <= max(1, math.ceil(rows / config.max_items_per_batch))
    assert config.bound_by is not None and config.bound_by in config.basis


def test_a_chosen_batch_fits_in_the_byte_limit_with_margin():
    for row_bytes in (12, 25, 80, 400, 2_000):
        batch = batch_size_for(1000, 1000 * row_bytes)
        item = {
            "index": 9_999_999,
            "row": {"ユーザーID": "U" * (row_bytes - 8), "ログイン回数": "123", "投稿回数": "45"},
        }
        payload = {
            "Items": [item] * batch,
            "BatchInput": {
                "executionName": "x" * 80,
                "executionStartTime": "2026-11-22T00:00:00.000Z",
                "sourceBucket": "b" * 63,
                "sourceKey": "incoming/" + "k" * 100,
            },
        }
        assert len(json.dumps(payload, ensure_ascii=False).encode()) < BATCH_INPUT_LIMIT
        assert batch <= MAX_ITEMS_PER_BATCH


def test_default_rate_and_overhead_are_what_the_docs_say():
    assert DEFAULT_ROWS_PER_SECOND_PER_WORKER > 0
    assert 60 < item_overhead_bytes() < 100


@pytest.mark.parametrize(
    "bad",
    [
        {"max_concurrency": 0},
        {"db_connections": 0},
        {"audit_write_units_per_second": 0},
        {"db_write_rows_per_second": 0},
        {"child_starts_per_second": -1},
    ],
)
def test_limits_must_be_positive(bad):
    with pytest.raises(ValueError):
        Limits(**bad)


def test_a_known_rate_overrides_the_history():
    # 3,125 rows/s per worker: ceil(1e6 / (3,125 x 300)) = 2, whatever the history says
    config = plan(
        1_000_000,
        21_000_000,
        limits=WIDE,
        tolerated_failure_percentage=5,
        history=[summary(600_000, 100, 2)],
        rate=3125,
    )
    assert config.max_concurrency == 2 and "3125 rows/s per worker (given)" in config.basis
