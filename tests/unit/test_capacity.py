"""The capacity model's arithmetic (make capacity), pinned on hand-computed cases.

Each case fixes the worker's seconds per batch, so the figures do not depend on
the machine's measurements; the expected values are worked out in the comments."""

import json
from dataclasses import replace

import pytest

from bench import capacity
from bench.capacity import default_environment, hottest_key, main, model
from bench.cost import Config, project_default

ENV = replace(
    default_environment(),
    max_concurrency=10,
    target_seconds=300,
    tolerated_failure_percentage=5,
    warm_write_units=4000,
    partition_write_units=1000,
    db_connections=100,
    db_connections_per_worker=1,
    db_write_rows_per_second=15_000,
    lambda_concurrency=1000,
    lambda_reserved=False,
    map_max_children=10_000,
    express_starts_per_second=6000,
    standard_starts_per_second=300,
    execution_shards=64,
    failed_shards=16,
    user_key_writes_per_run=1,
    invalid_id_rate=0.5,
)
SPREAD = Config(
    "spread",
    1_000_000,
    500,
    "EXPRESS",
    10,
    512,
    failed_rate=2.0,
    audit_ttl_days=180,
    audit_write_concurrency=4,
    runs_per_month=30,
    superseded_rate=1.0,
)
SPECIFIED = Config(
    "specification",
    1_000_000,
    25,
    "STANDARD",
    5,
    512,
    failed_rate=2.0,
    audit_ttl_days=180,
    audit_write_concurrency=1,
    runs_per_month=30,
    data_path="per-row",
    audit_design="execution-key",
)


def test_the_default_on_a_new_table_is_capped_by_the_audit_tables_warm_throughput():
    # 500 rows in 0.16 s: 3,125 rows/s per worker; 300 s wanted -> ceil(1e6 / 937,500) = 2 workers;
    # the audit table: 4,000 WCU/s / (1.05 WCU a row x 3,125) = 1.22 -> 1 worker
    r = model(SPREAD, ENV, seconds=0.16)
    assert (r["concurrency"], r["concurrencyBoundBy"]) == (1, "audit table write throughput")
    # 970,000 applied x 1 + 20,000 failed x 2 + 10,000 superseded x 1 = 1,020,000 write units
    assert r["secondsNeededBy"] == {
        "workers": 320.0,  # 2,000 batches one after the other x 0.16 s
        "audit table warm throughput": 255.0,  # 1,020,000 / 4,000
        "hottest audit partition key": 1.2,  # 1,250 / 1,000 (rounded to 0.1)
        "database write rate": 66.7,  # 1e6 / 15,000
        "Step Functions child start rate": 0.3,  # 2,000 / 6,000
    }
    assert (r["mapSeconds"], r["bindingResource"]) == (320.0, "audit table write throughput (caps the workers)")
    # hottest key: a failed-rows index shard, 20,000 failed / 16 = 1,250 units, over 320 s = 3.90625 WCU/s;
    # (an execution shard gets (10,000 superseded + 5,000 invalid ids) / 64 = 234.4; a user key 1)
    assert r["hottestKey"] == "failed-rows index shard (1 of 16)"
    assert (r["hottestKeyWriteUnits"], r["hottestKeyWriteUnitsPerSecond"]) == (1250.0, 3.91)
    assert r["tableWriteUnitsPerSecond"] == 3187.5  # 1,020,000 / 320
    assert r["proxyConnections"] == 1


def test_the_seed_design_is_bound_by_its_workers_and_loads_one_key():
    # 40,000 batches of 25 at 5 at a time: 8,000 waves x 0.5 s = 4,000 s
    r = model(SPECIFIED, replace(ENV, planned=False), seconds=0.5)
    assert (r["concurrency"], r["concurrencyBoundBy"]) == (5, "fixed MaxConcurrency")
    assert r["secondsNeededBy"] == {
        "workers": 4000.0,
        "audit table warm throughput": 505.0,  # 980,000 x 2 + 20,000 x 3 = 2,020,000 / 4,000
        "hottest audit partition key": 1000.0,  # every item on its execution's key: 1,000,000 / 1,000
        "database write rate": 66.7,
        "Step Functions child start rate": 133.3,  # 40,000 Standard children / 300 per second
    }
    assert (r["mapSeconds"], r["bindingResource"]) == (4000.0, "workers")
    assert (r["hottestKey"], r["hottestKeyWriteUnitsPerSecond"]) == ("executionName (table)", 250.0)
    assert r["proxyConnections"] == 5


def test_a_keyed_audit_at_scale_is_bound_by_its_hottest_partition_key():
    # 10,000,000 rows with no other bound: 11 workers (ceil(1e7 / 937,500)), 20,000 batches:
    # ceil(20,000 / 11) = 1,819 waves x 0.16 = 291.04 s; the execution key: 1e7 units / 1,000 = 10,000 s
    env = replace(ENV, warm_write_units=10**7, db_write_rows_per_second=10**9, max_concurrency=100)
    keyed = replace(SPREAD, rows=10_000_000, failed_rate=0.0, superseded_rate=0.0, audit_design="execution-key")
    r = model(keyed, env, seconds=0.16)
    assert (r["concurrency"], r["concurrencyBoundBy"]) == (11, "target duration")
    assert r["secondsNeededBy"]["workers"] == 291.0
    assert (r["mapSeconds"], r["bindingResource"]) == (10_000.0, "hottest audit partition key")
    assert r["hottestKeyWriteUnitsPerSecond"] == 1000.0  # the partition's limit, all run long
    spread = model(replace(keyed, audit_design="spread"), env, seconds=0.16)
    assert spread["bindingResource"] == "workers" and spread["mapSeconds"] == 291.0


def test_a_slow_database_binds_even_one_worker():
    # 2,000 rows/s: floor(2,000 / 3,125) = 0 -> at least 1 worker; 1e6 / 2,000 = 500 s > 320 s of work
    r = model(SPREAD, replace(ENV, warm_write_units=40_000, db_write_rows_per_second=2_000), seconds=0.16)
    assert (r["concurrency"], r["concurrencyBoundBy"]) == (1, "database write rate")
    assert (r["mapSeconds"], r["bindingResource"]) == (500.0, "database write rate")


@pytest.mark.parametrize(
    ("shards", "failed_shards", "expected"),
    [
        (64, 16, ("failed-rows index shard (1 of 16)", 1250.0)),
        (64, 1, ("failed-rows index shard (1 of 1)", 20_000.0)),  # one failed-rows key takes all 20,000
        (1, 64, ("execution shard (1 of 1)", 15_000.0)),  # 10,000 superseded + 5,000 invalid ids on one key
    ],
)
def test_the_key_design_parameters_move_the_hottest_key(shards, failed_shards, expected):
    name, units = hottest_key(SPREAD, replace(ENV, execution_shards=shards, failed_shards=failed_shards))
    assert name == expected[0] and units == pytest.approx(expected[1])


def test_the_command_prints_the_capacity_table(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(capacity, "RESULTS", tmp_path)  # not the repository's bench/results
    results = main(["--rows", "100000"])
    assert not (tmp_path / "capacity.json").exists()  # printed only: make bench records (--record)
    main(["--rows", "100000", "--record"])
    assert json.loads((tmp_path / "capacity.json").read_text())["rows"] == 100_000
    out = capsys.readouterr().out
    assert "| configuration |" in out and "specification's design" in out and "project default" in out
    assert [r["config"]["rows"] for r in results] == [100_000] * 3
    assert all(r["mapSeconds"] == max(r["secondsNeededBy"].values()) for r in results)
    assert project_default(100_000).audit_design == results[1]["config"]["audit_design"]


def test_the_benchmarks_do_not_import_the_test_suite():
    import ast
    from pathlib import Path

    for path in (Path(__file__).parents[2] / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not {m for m in imported if m == "tests" or m.startswith("tests.")}, path


def test_the_models_key_shards_are_the_audit_tables():
    """The capacity model's shard counts are assumptions of the model, read from
    bench/assumptions.json: they must be the audit table's own (csv_dmap.audit.SHARDS)."""
    from bench.cost import ASSUMPTIONS
    from csv_dmap.audit import SHARDS

    values = {name: entry["value"] for name, entry in ASSUMPTIONS["assumptions"].items()}
    assert values["executionShards"] == values["failedIndexShards"] == SHARDS
