"""Cost model of one run and of a month of daily runs, from the definition and
template settings, measured worker durations (bench/results/worker_path.json
when present), the assumptions of bench/assumptions.json and the list prices of
bench/prices.json.

Usage: python -m bench.cost [--rows N] [--batch N] [--children STANDARD|EXPRESS]
                            [--concurrency N] [--memory MB] [--failed-rate PCT]
                            [--superseded-rate PCT] [--audit-ttl-days N]
                            [--table-class STANDARD|STANDARD_INFREQUENT_ACCESS]
                            [--runs-per-month N] [--json]
Without options: the project's defaults beside the configuration the specification described
(batch 25, STANDARD children, concurrency 5, the audit keyed by execution),
and the default under both audit table classes.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.common import RESULTS, ROOT
from local_runner.template import load_template, parameter_defaults

PRICES: dict[str, Any] = json.loads((ROOT / "bench" / "prices.json").read_text())
ASSUMPTIONS: dict[str, Any] = json.loads((ROOT / "bench" / "assumptions.json").read_text())


def assumed(name: str) -> Any:
    """The value of one assumption of bench/assumptions.json (each has its source there)."""
    return ASSUMPTIONS["assumptions"][name]["value"]


ROW_CSV_BYTES = 21  # "U0000001,12,345\n"
RESULT_BYTES_PER_ROW = 230  # ResultWriter: the row in Input (JSON string) + its result in Output
WORKER_OVERHEAD_SECONDS = 0.015  # handler, parsing, connection reuse
PARENT_TRANSITIONS = 8  # ValidateInput, DetermineConcurrency, Map, AggregateErrors, RunOutcome, end...
STANDARD = "STANDARD"
STANDARD_IA = "STANDARD_INFREQUENT_ACCESS"


@dataclass(frozen=True)
class AuditDesign:
    """Entries (table item + index entries) one audit record costs, by row status."""

    name: str
    applied: int
    failed: int
    superseded: int
    # The partition key values a run's writes land on (see bench/capacity.py)
    execution_keyed: bool


AUDIT_DESIGNS = {
    # the shipped design (docs/decisions.md, "The audit table's keys"): one item per row keyed so that a run's writes spread; failed rows also enter a
    # sparse failed-rows index (1 + 1); nothing else is indexed
    "spread": AuditDesign("spread", applied=1, failed=2, superseded=1, execution_keyed=False),
    # the earlier design and the specification's: keyed by execution, every item also in UserIdIndex
    # (projection ALL), failed items also in FailedItemsIndex
    "execution-key": AuditDesign("execution-key", applied=2, failed=3, superseded=2, execution_keyed=True),
}


@dataclass(frozen=True)
class Config:
    name: str
    rows: int
    batch: int
    children: str
    concurrency: int
    memory_mb: int
    failed_rate: float  # percent of rows
    audit_ttl_days: int
    audit_write_concurrency: int
    runs_per_month: int
    data_path: str = "project"  # "per-row": per-row select/update/select and one PutItem per row
    audit_design: str = "spread"
    table_class: str = STANDARD
    superseded_rate: float = 0.0  # percent of rows


def db_rows_per_second(batch: int, path_name: str = "project") -> float:
    """Measured rows/s of a database path at the nearest measured batch size, or a default."""
    path = RESULTS / "worker_path.json"
    column = "project_db" if path_name == "project" else "baseline"
    if path.exists():
        results = [r for r in json.loads(path.read_text())["results"] if r.get(column)]
        if results:
            best = min(results, key=lambda r: abs(math.log(r["batch"]) - math.log(batch)))
            return float(best[column])
    return 8000.0 if path_name == "project" else 250.0


def worker_seconds(config: Config) -> float:
    call = float(assumed("auditBatchWriteSeconds"))
    if config.data_path == "per-row":  # one PutItem per row, one after the other
        audit = call * config.batch
    else:
        audit = call * math.ceil(math.ceil(config.batch / 25) / config.audit_write_concurrency)
    return WORKER_OVERHEAD_SECONDS + config.batch / db_rows_per_second(config.batch, config.data_path) + audit


def row_counts(config: Config) -> dict[str, float]:
    failed = config.rows * config.failed_rate / 100
    superseded = config.rows * config.superseded_rate / 100
    return {"applied": config.rows - failed - superseded, "failed": failed, "superseded": superseded}


def audit_item_bytes() -> dict[str, int]:
    return {
        "applied": int(assumed("auditItemBytesApplied")),
        "failed": int(assumed("auditItemBytesFailed")),
        "superseded": int(assumed("auditItemBytesApplied")),
    }


def audit_write_units(config: Config) -> float:
    """Write units of a run's audit records: entries x ceil(item size / 1 KB)."""
    design, sizes, unit = AUDIT_DESIGNS[config.audit_design], audit_item_bytes(), PRICES["dynamodb"]["writeUnitBytes"]
    return float(
        sum(n * getattr(design, status) * math.ceil(sizes[status] / unit) for status, n in row_counts(config).items())
    )


def audit_stored_gb(config: Config) -> tuple[float, float]:
    """(all entries, base table only) in GB, each with DynamoDB's 100 bytes of per-item overhead."""
    design, sizes = AUDIT_DESIGNS[config.audit_design], audit_item_bytes()
    overhead = PRICES["dynamodb"]["itemOverheadBytes"]
    counts = row_counts(config)
    every = sum(n * getattr(design, s) * (sizes[s] + overhead) for s, n in counts.items())
    table = sum(n * (sizes[s] + overhead) for s, n in counts.items())
    return every / 1024**3, table / 1024**3


def audit_lines(config: Config) -> dict[str, float]:
    d = PRICES["dynamodb"]
    ia = config.table_class == STANDARD_IA
    write_price = d["standardIaOnDemandPerWriteRequestUnit"] if ia else d["onDemandPerWriteRequestUnit"]
    storage_price = d["standardIaStoragePerGbMonth"] if ia else d["storagePerGbMonth"]
    stored, table = audit_stored_gb(config)
    months = config.audit_ttl_days / 30
    return {
        "DynamoDB audit writes": audit_write_units(config) * write_price,
        "DynamoDB audit storage over the TTL": stored * storage_price * months,
        "DynamoDB audit point-in-time recovery over the TTL": table * d["pitrPerGbMonth"] * months,
    }


def orchestration_lines(config: Config, batches: int, seconds: float) -> dict[str, float]:
    sf, gb_second = PRICES["stepFunctions"], PRICES["lambda"]["perGbSecondArm64"]
    lines: dict[str, float] = {
        "Step Functions parent (Standard)": PARENT_TRANSITIONS * sf["standardPerStateTransition"]
    }
    if config.children == "STANDARD":
        # one Task state per child: one transition each (retries add more)
        lines["Map children (STANDARD transitions)"] = batches * sf["standardPerStateTransition"]
    else:
        billed = math.ceil(seconds / sf["expressDurationRoundingSeconds"]) * sf["expressDurationRoundingSeconds"]
        gb = sf["expressMemoryChunkMb"] / 1024
        lines["Map children (EXPRESS requests + duration)"] = batches * (
            sf["expressPerRequest"] + billed * gb * sf["expressPerGbSecond"]
        )
    lines["Lambda worker (requests + arm64 duration)"] = batches * (
        PRICES["lambda"]["perRequest"] + seconds * config.memory_mb / 1024 * gb_second
    )
    scan_seconds = config.rows / 150_000  # ValidateInput streams ~150k rows/s; the aggregator reads results faster
    lines["Lambda other steps (validate, plan, aggregate)"] = (
        3 * PRICES["lambda"]["perRequest"] + (2 * scan_seconds * 2048 / 1024 + scan_seconds * 1024 / 1024) * gb_second
    )
    return lines


def storage_lines(config: Config, batches: int) -> dict[str, float]:
    s3 = PRICES["s3"]
    result_gb = config.rows * RESULT_BYTES_PER_ROW / 1024**3
    put_requests = 2 + math.ceil(result_gb * 1024 / 5) + 2  # manifest, summary, multipart parts of 5 MB, staging
    get_requests = 4 + math.ceil(config.rows * ROW_CSV_BYTES / (5 * 1024**2)) + math.ceil(result_gb * 1024 / 5)
    log_gb = batches * 1500 / 1024**3  # ~1.5 KB of logs and EMF per worker invocation
    return {
        "S3 requests": put_requests * s3["standardPerPutRequest"] + get_requests * s3["standardPerGetRequest"],
        "S3 results storage (first year: 3 months Standard, then IA)": result_gb
        * (3 * s3["standardStoragePerGbMonth"] + 9 * s3["standardIaStoragePerGbMonth"]),
        "CloudWatch Logs ingestion": log_gb * PRICES["cloudwatch"]["logsIngestionPerGb"],
    }


def estimate(config: Config) -> dict[str, Any]:
    batches = math.ceil(config.rows / config.batch)
    seconds = worker_seconds(config)
    audit = audit_lines(config)
    lines = {**orchestration_lines(config, batches, seconds), **audit, **storage_lines(config, batches)}
    total = sum(lines.values())
    audit_total = sum(audit.values())
    return {
        "config": asdict(config),
        "batches": batches,
        "workerSecondsPerBatch": round(seconds, 4),
        "mapMinutes": round(batches * seconds / config.concurrency / 60, 1),
        "auditWriteUnits": round(audit_write_units(config)),
        "lines": {k: round(v, 6) for k, v in lines.items()},
        "perRun": round(total, 4),
        "perMillionRows": round(total / config.rows * 1_000_000, 4),
        "perMillionRowsWithoutAudit": round((total - audit_total) / config.rows * 1_000_000, 4),
        "perMonth": round(total * config.runs_per_month, 2),
    }


def ia_break_even_days(config: Config) -> float:
    """Audit TTL above which Standard-IA costs less than Standard for this configuration."""
    d = PRICES["dynamodb"]
    extra_writes = audit_write_units(config) * (
        d["standardIaOnDemandPerWriteRequestUnit"] - d["onDemandPerWriteRequestUnit"]
    )
    stored, _ = audit_stored_gb(config)
    saved_per_day = stored * (d["storagePerGbMonth"] - d["standardIaStoragePerGbMonth"]) / 30
    return float(extra_writes / saved_per_day)


def project_default(rows: int) -> Config:
    defaults = parameter_defaults(load_template())
    definition = json.loads((ROOT / "statemachine" / "definition.asl.json").read_text())
    children = definition["States"]["ProcessUserStats"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    table_class = defaults.get("AuditTableClass") or STANDARD  # the template's default, once it has one
    return Config(
        "project default",
        rows,
        int(defaults["MaxItemsPerBatch"]),
        children,
        int(defaults["MaxConcurrency"]),
        int(defaults["WorkerMemorySize"]),
        float(assumed("failedRatePercent")),
        int(defaults["AuditTtlDays"]),
        4,
        30,
        table_class=str(table_class),
        superseded_rate=float(assumed("supersededRatePercent")),
    )


def specified_config(rows: int) -> Config:
    return Config(
        "specification's design",
        rows,
        25,
        "STANDARD",
        5,
        512,
        float(assumed("failedRatePercent")),
        180,
        1,
        30,
        data_path="per-row",
        audit_design="execution-key",
        superseded_rate=float(assumed("supersededRatePercent")),
    )


def render(estimates: list[dict[str, Any]]) -> str:
    names = [e["config"]["name"] for e in estimates]
    out = [f"Cost model ({PRICES['region']} list prices of {PRICES['asOf']}, USD)", ""]
    out.append(f"{'':<56}" + "".join(f"{n:>22}" for n in names))
    keys = list(dict.fromkeys(k for e in estimates for k in e["lines"]))
    for key in keys:
        out.append(f"{key:<56}" + "".join(f"{e['lines'].get(key, 0):>22.4f}" for e in estimates))
    for label, field in (
        ("per run", "perRun"),
        ("per million rows", "perMillionRows"),
        ("per million rows without the audit log", "perMillionRowsWithoutAudit"),
        ("per month (runs per month as configured)", "perMonth"),
    ):
        out.append(f"{label:<56}" + "".join(f"{e[field]:>22.4f}" for e in estimates))
    out.append("")
    for e in estimates:
        c = e["config"]
        out.append(
            f"{c['name']}: {c['rows']:,} rows, batch {c['batch']}, {c['children']} children, concurrency "
            f"{c['concurrency']}, worker {c['memory_mb']} MB, {e['batches']:,} batches of "
            f"{e['workerSecondsPerBatch']} s; audit {c['audit_design']} ({e['auditWriteUnits']:,} write units), "
            f"table class {c['table_class']}, TTL {c['audit_ttl_days']} days"
        )
    return "\n".join(out)


def configurations(args: argparse.Namespace) -> list[Config]:
    default = project_default(args.rows)
    other_class = STANDARD_IA if default.table_class == STANDARD else STANDARD
    configs = [
        specified_config(args.rows),
        default,
        replace(
            default,
            name=f"default, {'Standard-IA' if other_class == STANDARD_IA else 'Standard'}",
            table_class=other_class,
        ),
    ]
    overrides = {
        k: v
        for k, v in {
            "batch": args.batch,
            "children": args.children,
            "concurrency": args.concurrency,
            "memory_mb": args.memory,
            "failed_rate": args.failed_rate,
            "superseded_rate": args.superseded_rate,
            "audit_ttl_days": args.audit_ttl_days,
            "table_class": args.table_class,
            "runs_per_month": args.runs_per_month,
        }.items()
        if v is not None
    }
    if overrides:
        configs.append(replace(default, name="your settings", **overrides))
    return configs


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Cost of one run and of a month of runs.")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch", type=int)
    p.add_argument("--children", choices=["STANDARD", "EXPRESS"])
    p.add_argument("--concurrency", type=int)
    p.add_argument("--memory", type=int)
    p.add_argument("--failed-rate", type=float)
    p.add_argument("--superseded-rate", type=float)
    p.add_argument("--audit-ttl-days", type=int)
    p.add_argument("--table-class", choices=[STANDARD, STANDARD_IA])
    p.add_argument("--runs-per-month", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true", help="also write bench/results/cost.json (make bench)")
    return p


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parser().parse_args(argv)
    configs = configurations(args)
    estimates = [estimate(c) for c in configs]
    break_even = ia_break_even_days(configs[1])
    print(
        json.dumps(estimates, indent=2)
        if args.json
        else render(estimates)
        + f"\n\nStandard-IA costs less than Standard for the audit table when its TTL exceeds {break_even:.0f} days."
    )
    if not args.record:  # make cost prints; only make bench updates the recorded figures
        return estimates
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cost.json").write_text(
        json.dumps(
            {
                "prices": {"region": PRICES["region"], "asOf": PRICES["asOf"]},
                "estimates": estimates,
                "standardIaBreakEvenDays": round(break_even, 1),
            },
            indent=2,
        )
    )
    return estimates


if __name__ == "__main__":
    main()
