"""Cost model of one run and of a month of daily runs, from the definition and
template settings, measured worker durations (bench/results/worker_path.json
when present) and the list prices of bench/prices.json.

Usage: python -m bench.cost [--rows N] [--batch N] [--children STANDARD|EXPRESS]
                            [--concurrency N] [--memory MB] [--failed-rate PCT]
                            [--audit-ttl-days N] [--runs-per-month N]
Without options: the project's defaults beside the seeds' configuration
(batch 25, STANDARD children, concurrency 5).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass

from bench.common import RESULTS, ROOT
from local_runner.template import load_template, parameter_defaults

PRICES = json.loads((ROOT / "bench" / "prices.json").read_text())
ROW_CSV_BYTES = 21  # "U0000001,12,345\n"
AUDIT_ITEM_BYTES = 330  # an APPLIED audit item with its attribute names (FAILED items are larger; see below)
AUDIT_FAILED_ITEM_BYTES = 480
RESULT_BYTES_PER_ROW = 230  # ResultWriter: the row in Input (JSON string) + its result in Output
AUDIT_CALL_SECONDS = 0.012  # one BatchWriteItem of 25 items, in-region (typical)
WORKER_OVERHEAD_SECONDS = 0.015  # handler, parsing, connection reuse
PARENT_TRANSITIONS = 8  # ValidateInput, DetermineConcurrency, Map, AggregateErrors, RunOutcome, end...


@dataclass
class Config:
    name: str
    rows: int
    batch: int
    children: str
    concurrency: int
    memory_mb: int
    failed_rate: float
    audit_ttl_days: int
    audit_write_concurrency: int
    runs_per_month: int
    data_path: str = "project"  # "seed": per-row select/update/select and one PutItem per row


def db_rows_per_second(batch: int, path_name: str = "project") -> float:
    """Measured rows/s of a database path at the nearest measured batch size, or a default."""
    path = RESULTS / "worker_path.json"
    column = "project_db" if path_name == "project" else "baseline"
    if path.exists():
        results = json.loads(path.read_text())["results"]
        best = min(results, key=lambda r: abs(math.log(r["batch"]) - math.log(batch)))
        return float(best[column])
    return 8000.0 if path_name == "project" else 250.0


def worker_seconds(config: Config) -> float:
    if config.data_path == "seed":  # one PutItem per row, one after the other
        audit = AUDIT_CALL_SECONDS * config.batch
    else:
        audit = AUDIT_CALL_SECONDS * math.ceil(math.ceil(config.batch / 25) / config.audit_write_concurrency)
    return WORKER_OVERHEAD_SECONDS + config.batch / db_rows_per_second(config.batch, config.data_path) + audit


def estimate(config: Config) -> dict:
    p = PRICES
    batches = math.ceil(config.rows / config.batch)
    seconds = worker_seconds(config)
    lines: dict[str, float] = {}
    lines["Step Functions parent (Standard)"] = PARENT_TRANSITIONS * p["stepFunctions"]["standardPerStateTransition"]
    if config.children == "STANDARD":
        # one Task state per child: one transition each (retries add more)
        lines["Map children (STANDARD transitions)"] = batches * p["stepFunctions"]["standardPerStateTransition"]
    else:
        billed = math.ceil(seconds / p["stepFunctions"]["expressDurationRoundingSeconds"]) * p["stepFunctions"]["expressDurationRoundingSeconds"]
        gb = p["stepFunctions"]["expressMemoryChunkMb"] / 1024
        lines["Map children (EXPRESS requests + duration)"] = batches * (
            p["stepFunctions"]["expressPerRequest"] + billed * gb * p["stepFunctions"]["expressPerGbSecond"])
    gb_second = p["lambda"]["perGbSecondArm64"]
    lines["Lambda worker (requests + arm64 duration)"] = batches * (
        p["lambda"]["perRequest"] + seconds * config.memory_mb / 1024 * gb_second)
    scan_seconds = config.rows / 150_000  # ValidateInput streams ~150k rows/s; the aggregator reads results faster
    lines["Lambda other steps (validate, plan, aggregate)"] = 3 * p["lambda"]["perRequest"] + (
        2 * scan_seconds * 2048 / 1024 + scan_seconds * 1024 / 1024) * gb_second
    failed = config.rows * config.failed_rate / 100
    applied = config.rows - failed
    unit = p["dynamodb"]["writeUnitBytes"]
    wru = applied * 2 * math.ceil(AUDIT_ITEM_BYTES / unit) + failed * 3 * math.ceil(AUDIT_FAILED_ITEM_BYTES / unit)
    lines["DynamoDB audit writes (item + UserIdIndex [+ FailedItemsIndex])"] = wru * p["dynamodb"]["onDemandPerWriteRequestUnit"]
    stored_gb = (applied * AUDIT_ITEM_BYTES * 2 + failed * AUDIT_FAILED_ITEM_BYTES * 3) / 1024**3
    lines["DynamoDB audit storage over the TTL"] = stored_gb * p["dynamodb"]["storagePerGbMonth"] * config.audit_ttl_days / 30
    result_gb = config.rows * RESULT_BYTES_PER_ROW / 1024**3
    put_requests = 2 + math.ceil(result_gb * 1024 / 5) + 2  # manifest, summary, multipart parts of 5 MB, staging
    get_requests = 4 + math.ceil(config.rows * ROW_CSV_BYTES / (5 * 1024**2)) + math.ceil(result_gb * 1024 / 5)
    lines["S3 requests"] = put_requests * p["s3"]["standardPerPutRequest"] + get_requests * p["s3"]["standardPerGetRequest"]
    lines["S3 results storage (first year: 3 months Standard, then IA)"] = result_gb * (
        3 * p["s3"]["standardStoragePerGbMonth"] + 9 * p["s3"]["standardIaStoragePerGbMonth"])
    log_gb = batches * 1500 / 1024**3  # ~1.5 KB of logs and EMF per worker invocation
    lines["CloudWatch Logs ingestion"] = log_gb * p["cloudwatch"]["logsIngestionPerGb"]
    total = sum(lines.values())
    audit = sum(v for k, v in lines.items() if k.startswith("DynamoDB"))
    return {
        "config": asdict(config),
        "batches": batches,
        "workerSecondsPerBatch": round(seconds, 4),
        "mapMinutes": round(batches * seconds / config.concurrency / 60, 1),
        "lines": {k: round(v, 6) for k, v in lines.items()},
        "perRun": round(total, 4),
        "perMillionRows": round(total / config.rows * 1_000_000, 4),
        "perMillionRowsWithoutAudit": round((total - audit) / config.rows * 1_000_000, 4),
        "perMonth": round(total * config.runs_per_month, 2),
    }


def project_default(rows: int) -> Config:
    defaults = parameter_defaults(load_template())
    definition = json.loads((ROOT / "statemachine" / "definition.asl.json").read_text())
    children = definition["States"]["ProcessUserStats"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    return Config("project default", rows, int(defaults["MaxItemsPerBatch"]), children, int(defaults["MaxConcurrency"]),
                  int(defaults["WorkerMemorySize"]), 1.0, int(defaults["AuditTtlDays"]), 4, 30)


def seed_config(rows: int) -> Config:
    return Config("seed design", rows, 25, "STANDARD", 5, 512, 1.0, 180, 1, 30, data_path="seed")


def render(estimates: list[dict]) -> str:
    names = [e["config"]["name"] for e in estimates]
    out = [f"Cost model ({PRICES['region']} list prices of {PRICES['asOf']}, USD)", ""]
    out.append(f"{'':<62}" + "".join(f"{n:>18}" for n in names))
    keys = list(dict.fromkeys(k for e in estimates for k in e["lines"]))
    for key in keys:
        out.append(f"{key:<62}" + "".join(f"{e['lines'].get(key, 0):>18.4f}" for e in estimates))
    for label, field in (("per run", "perRun"), ("per million rows", "perMillionRows"),
                         ("per million rows without the audit log", "perMillionRowsWithoutAudit"),
                         ("per month (runs per month as configured)", "perMonth")):
        out.append(f"{label:<62}" + "".join(f"{e[field]:>18.4f}" for e in estimates))
    out.append("")
    for e in estimates:
        c = e["config"]
        out.append(f"{c['name']}: {c['rows']:,} rows, batch {c['batch']}, {c['children']} children, concurrency "
                   f"{c['concurrency']}, worker {c['memory_mb']} MB, {e['batches']:,} batches of "
                   f"{e['workerSecondsPerBatch']} s, map ~{e['mapMinutes']} min")
    return "\n".join(out)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--children", choices=["STANDARD", "EXPRESS"])
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--memory", type=int)
    parser.add_argument("--failed-rate", type=float)
    parser.add_argument("--audit-ttl-days", type=int)
    parser.add_argument("--runs-per-month", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configs = [seed_config(args.rows), project_default(args.rows)]
    overrides = {k: v for k, v in {"batch": args.batch, "children": args.children, "concurrency": args.concurrency,
                                   "memory_mb": args.memory, "failed_rate": args.failed_rate,
                                   "audit_ttl_days": args.audit_ttl_days, "runs_per_month": args.runs_per_month}.items()
                 if v is not None}
    if overrides:
        configs.append(Config(**{**asdict(configs[1]), **overrides, "name": "your settings"}))
    estimates = [estimate(c) for c in configs]
    print(json.dumps(estimates, indent=2) if args.json else render(estimates))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cost.json").write_text(json.dumps({"prices": {"region": PRICES["region"], "asOf": PRICES["asOf"]},
                                                   "estimates": estimates}, indent=2))
    return estimates


if __name__ == "__main__":
    main()
