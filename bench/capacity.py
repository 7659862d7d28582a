"""Capacity model: what a run of N rows does on AWS, for the default and the specification's
configuration (and any settings you give): the concurrency DetermineConcurrency
would choose and the bound that set it, the map's duration and the resource that
binds it, write units per second on the hottest audit partition key and on the
table, proxy connections, and cost (bench/cost.py).

The duration is the largest of the times each resource needs for the run:
  workers         ceil(batches / concurrency) x seconds per batch (bench/cost.py)
  audit table     the run's write units / the table's warm throughput
  hottest key     the hottest partition key value's write units / 1,000 per second
  database        rows / the database's write rate
  child starts    batches / the Step Functions start rate of the child type
Every number it assumes is in bench/assumptions.json with its source, or in
template.yaml (defaults), or measured (bench/results/worker_path.json).

Usage: python -m bench.capacity [--rows N] [--warm-write-units N] [--reserved N]
                                [--db-connections N] [--db-write-rows N]
                                [--execution-shards N] [--failed-shards N]
                                [--failed-rate PCT] [--superseded-rate PCT] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.common import RESULTS
from bench.cost import (
    AUDIT_DESIGNS,
    Config,
    assumed,
    audit_item_bytes,
    estimate,
    project_default,
    row_counts,
    specified_config,
    worker_seconds,
)
from csv_dmap.logic.concurrency import Limits, audit_write_units_per_row, plan
from local_runner.template import load_template, parameter_defaults


@dataclass(frozen=True)
class Environment:
    """What the resources around the map can take (defaults: template and bench/assumptions.json)."""

    max_concurrency: int
    target_seconds: float
    tolerated_failure_percentage: float
    warm_write_units: float
    partition_write_units: float
    db_connections: int
    db_connections_per_worker: int
    db_write_rows_per_second: float
    lambda_concurrency: int
    lambda_reserved: bool
    map_max_children: int
    express_starts_per_second: float
    standard_starts_per_second: float
    execution_shards: int
    failed_shards: int
    user_key_writes_per_run: int
    invalid_id_rate: float  # percent of rows
    planned: bool = True  # False: the configuration's own fixed concurrency (the specification had no calculator)


def default_environment() -> Environment:
    defaults = parameter_defaults(load_template())
    warm = int(defaults.get("AuditWarmWriteUnits") or 0) or int(assumed("newTableWarmWriteUnitsPerSecond"))
    reserved = int(defaults.get("WorkerReservedConcurrency") or 0)
    return Environment(
        max_concurrency=int(defaults["MaxConcurrency"]),
        target_seconds=float(defaults["TargetDurationSeconds"]),
        tolerated_failure_percentage=float(defaults["ToleratedFailurePercentage"]),
        warm_write_units=warm,
        partition_write_units=float(assumed("partitionWriteUnitsPerSecond")),
        db_connections=int(defaults.get("DbConnectionBudget") or assumed("dbConnectionBudget")),
        db_connections_per_worker=int(assumed("dbConnectionsPerWorker")),
        db_write_rows_per_second=float(defaults.get("DbWriteRowsPerSecond") or assumed("dbWriteRowsPerSecond")),
        lambda_concurrency=reserved or int(assumed("lambdaAccountConcurrency")),
        lambda_reserved=bool(reserved),
        map_max_children=int(assumed("mapMaxConcurrentChildren")),
        express_starts_per_second=float(assumed("expressStartExecutionsPerSecond")),
        standard_starts_per_second=float(assumed("standardStartExecutionsPerSecond")),
        execution_shards=int(assumed("executionShards")),
        failed_shards=int(assumed("failedIndexShards")),
        user_key_writes_per_run=int(assumed("userKeyWritesPerRun")),
        invalid_id_rate=float(assumed("invalidIdRatePercent")),
    )


def _units(status: str) -> int:
    return math.ceil(audit_item_bytes()[status] / 1024)


def hottest_key(config: Config, env: Environment) -> tuple[str, float]:
    """The partition key value (of the table or an index) that receives the most write units in a run."""
    counts = row_counts(config)
    failed_units = counts["failed"] * _units("failed")
    if AUDIT_DESIGNS[config.audit_design].execution_keyed:
        every = sum(n * _units(status) for status, n in counts.items())
        keys = {
            "executionName (table)": every,
            "failedExecution (FailedItemsIndex)": failed_units,
            "userId (UserIdIndex)": env.user_key_writes_per_run * _units("applied"),
        }
    else:
        unkeyed = counts["superseded"] * _units("superseded") + config.rows * env.invalid_id_rate / 100 * _units(
            "failed"
        )
        keys = {
            "user key": env.user_key_writes_per_run * _units("applied"),
            f"execution shard (1 of {env.execution_shards})": unkeyed / env.execution_shards,
            f"failed-rows index shard (1 of {env.failed_shards})": failed_units / env.failed_shards,
        }
    name = max(keys, key=lambda k: keys[k])
    return name, keys[name]


def limits(env: Environment) -> Limits:
    return Limits(
        max_concurrency=env.max_concurrency,
        db_connections=env.db_connections,
        db_connections_per_worker=env.db_connections_per_worker,
        db_write_rows_per_second=env.db_write_rows_per_second or None,
        audit_write_units_per_second=env.warm_write_units,
        audit_write_units_per_row=audit_write_units_per_row(env.tolerated_failure_percentage),
        lambda_concurrency=env.lambda_concurrency,
        lambda_reserved=env.lambda_reserved,
        map_max_children=env.map_max_children,
        child_starts_per_second=env.express_starts_per_second,
    )


def concurrency(config: Config, env: Environment, seconds: float) -> tuple[int, str]:
    """What DetermineConcurrency chooses once its history holds this configuration's worker rate."""
    if not env.planned:
        return config.concurrency, "fixed MaxConcurrency"
    chosen = plan(
        config.rows,
        config.rows * 21,
        limits=limits(env),
        tolerated_failure_percentage=5,
        target_seconds=env.target_seconds,
        max_items=config.batch,
        rate=config.batch / seconds,
    )
    return chosen.max_concurrency, chosen.bound_by or "?"


def model(config: Config, env: Environment, seconds: float | None = None) -> dict[str, Any]:
    """One configuration on AWS; ``seconds`` per batch overrides the measured worker (bench/cost.py)."""
    seconds = seconds or worker_seconds(config)
    batches = math.ceil(config.rows / config.batch)
    workers, bound_by = concurrency(config, env, seconds)
    config = replace(config, concurrency=workers)
    cost = estimate(config)
    key, key_units = hottest_key(config, env)
    starts = env.express_starts_per_second if config.children == "EXPRESS" else env.standard_starts_per_second
    needs = {
        "workers": math.ceil(batches / workers) * seconds,
        "audit table warm throughput": cost["auditWriteUnits"] / env.warm_write_units,
        "hottest audit partition key": key_units / env.partition_write_units,
        "database write rate": config.rows / env.db_write_rows_per_second if env.db_write_rows_per_second else 0.0,
        "Step Functions child start rate": batches / starts,
    }
    binding = max(needs, key=lambda k: needs[k])
    duration = needs[binding]
    if binding == "workers" and bound_by not in ("target duration", "number of batches", "fixed MaxConcurrency"):
        binding = f"{bound_by} (caps the workers)"
    return {
        "config": asdict(config),
        "environment": asdict(env),
        "concurrency": workers,
        "concurrencyBoundBy": bound_by,
        "batches": batches,
        "workerSecondsPerBatch": round(seconds, 4),
        "rowsPerSecondPerWorker": round(config.batch / seconds),
        "secondsNeededBy": {k: round(v, 1) for k, v in needs.items()},
        "mapSeconds": round(duration, 1),
        "bindingResource": binding,
        "hottestKey": key,
        "hottestKeyWriteUnits": round(key_units, 1),
        "hottestKeyWriteUnitsPerSecond": round(key_units / duration, 2),
        "tableWriteUnitsPerSecond": round(cost["auditWriteUnits"] / duration, 1),
        "proxyConnections": workers * env.db_connections_per_worker,
        "costPerRun": cost["perRun"],
        "costPerMillionRows": cost["perMillionRows"],
        "costPerMonth": cost["perMonth"],
    }


def scenarios(rows: int, env: Environment, config: Config | None = None) -> list[dict[str, Any]]:
    default = config or project_default(rows)
    prewarmed = 40_000
    return [
        model(specified_config(rows), replace(env, planned=False)),
        model(default, env),
        model(replace(default, name=f"default, warm {prewarmed:,} WCU"), replace(env, warm_write_units=prewarmed)),
    ]


def render(results: list[dict[str, Any]]) -> str:
    head = (
        "| configuration | workers (bound) | map duration | binding resource | hottest key: write units/s "
        "(units per run) | table WCU/s | proxy connections | cost per run |"
    )
    out = [head, "|---|---|---:|---|---|---:|---:|---:|"]
    for r in results:
        c = r["config"]
        out.append(
            f"| {c['name']} (batch {c['batch']}, {c['children']}, audit {c['audit_design']}) | {r['concurrency']} "
            f"({r['concurrencyBoundBy']}) | {r['mapSeconds'] / 60:.1f} min | {r['bindingResource']} | "
            f"{r['hottestKeyWriteUnitsPerSecond']:,} on {r['hottestKey']} ({r['hottestKeyWriteUnits']:,.0f}) | "
            f"{r['tableWriteUnitsPerSecond']:,} | {r['proxyConnections']} | ${r['costPerRun']:.4f} |"
        )
    out.append("")
    for r in results:
        needs = ", ".join(f"{k} {v:,.0f} s" for k, v in r["secondsNeededBy"].items())
        out.append(
            f"{r['config']['name']}: {r['rowsPerSecondPerWorker']:,} rows/s per worker; seconds needed by {needs}"
        )
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Capacity model of one run on AWS.")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--warm-write-units", type=int, help="the audit table's warm write throughput")
    p.add_argument("--reserved", type=int, help="the worker's reserved concurrency")
    p.add_argument("--db-connections", type=int)
    p.add_argument("--db-write-rows", type=float)
    p.add_argument("--max-concurrency", type=int)
    p.add_argument("--execution-shards", type=int)
    p.add_argument("--failed-shards", type=int)
    p.add_argument("--failed-rate", type=float)
    p.add_argument("--superseded-rate", type=float)
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true", help="also write bench/results/capacity.json (make bench)")
    return p


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parser().parse_args(argv)
    env = default_environment()
    env = replace(
        env,
        **{
            k: v
            for k, v in {
                "warm_write_units": args.warm_write_units,
                "db_connections": args.db_connections,
                "db_write_rows_per_second": args.db_write_rows,
                "max_concurrency": args.max_concurrency,
                "execution_shards": args.execution_shards,
                "failed_shards": args.failed_shards,
            }.items()
            if v is not None
        },
    )
    if args.reserved:
        env = replace(env, lambda_concurrency=args.reserved, lambda_reserved=True)
    default = project_default(args.rows)
    default = replace(
        default,
        **{
            k: v
            for k, v in {"failed_rate": args.failed_rate, "superseded_rate": args.superseded_rate}.items()
            if v is not None
        },
    )
    results = scenarios(args.rows, env, default)
    print(
        json.dumps(results, indent=2)
        if args.json
        else f"Capacity model, {args.rows:,} rows (assumptions: bench/assumptions.json; prices: bench/prices.json)\n\n"
        + render(results)
    )
    if args.record:  # make capacity prints; only make bench updates the recorded figures
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "capacity.json").write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
