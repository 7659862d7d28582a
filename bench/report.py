"""Writes BENCHMARKS.md from bench/results/*.json (make bench runs it last) and bench/NOTES.md."""

from __future__ import annotations

import json
from typing import Any

from bench.common import RESULTS, ROOT, git_revision

OUT = ROOT / "BENCHMARKS.md"
PATH_LABELS = {
    "ceiling": "ceiling",
    "project_db": "project (db, shipped: FOR UPDATE)",
    "project_db_nolock": "project (db, without lock)",
    "project_full": "project (full, audit to moto)",
    "baseline": "per-row baseline",
}
RATIO_LABELS = {
    "project_db/ceiling": "db / ceiling",
    "project_db_nolock/ceiling": "db without lock / ceiling",
    "project_full/ceiling": "full / ceiling",
    "project_db/project_db_nolock": "lock / no lock",
    "project_db/baseline": "db / baseline",
}
TARGET = 0.5  # the database path at batch 500, with the lock, as a share of the ceiling


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    data: dict[str, Any] | None = json.loads(path.read_text()) if path.exists() else None
    return data


def _when(data: dict[str, Any]) -> str:
    return str(
        data.get("measuredAt", "measured before dates were recorded: the previous full `make bench`, 2026-11-22")
    )


def worker_section(data: dict[str, Any]) -> list[str]:
    paths = [p for p in PATH_LABELS if p in data["results"][0]]
    ratios = [r for r in RATIO_LABELS if r in data["results"][0]]
    command = data.get("command", "python -m bench.worker_path")
    lock = (
        "the repository as shipped reads the batch's users with FOR UPDATE"
        if data.get("shippedRepositoryLocks")
        else "the repository as shipped does NOT lock"
    )
    if "unlockedRepository" in data:
        lock += f"; without lock: `{data['unlockedRepository']}` (bench only)"
    lines = [
        "## 1. Worker data path on MariaDB",
        "",
        (
            f"{data['database']}, `user_stats` of {data['users']:,} users, random users per batch, one transaction per "
            f"batch. rows/s, every column measured in the same run (`{command}`, {_when(data)}); {lock}."
        ),
        "",
        "| batch | "
        + " | ".join(PATH_LABELS[p] for p in paths)
        + " | "
        + " | ".join(RATIO_LABELS[r] for r in ratios)
        + " |",
        "|---:|" + "---:|" * (len(paths) + len(ratios)),
    ]
    for r in data["results"]:
        cells = [f"{r[p]:,}" for p in paths] + [
            f"{r[k]:.0f}x" if k.endswith("/baseline") else f"{r[k]:.2f}" for k in ratios
        ]
        lines.append(f"| {r['batch']} | " + " | ".join(cells) + " |")
    at_500 = next((r for r in data["results"] if r["batch"] == 500 and "project_db/ceiling" in r), None)
    if at_500:
        share = at_500["project_db/ceiling"]
        verdict = "met" if share >= TARGET else "NOT met"
        lines += [
            "",
            (
                f"Target (the database path with the lock at batch 500 >= {TARGET} of the ceiling): "
                f"**{verdict}** in this run ({share:.2f})."
            ),
        ]
    return [*lines, ""]


def profile_section(data: dict[str, Any]) -> list[str]:
    names = list(data["results"])
    parts = list(next(iter(data["results"].values()))["shares"])
    lines = [
        f"### Where the time of the database path goes (batch {data['batch']})",
        "",
        (
            f"`{data['command']}` ({_when(data)}): {data['rows']:,} rows per variant in interleaved rounds; statements "
            "timed by SQLAlchemy's cursor events (driver and server), parsing timed around `WorkerEvent.model_validate`."
        ),
        "",
        "| share of the time | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for part in parts:
        lines.append(
            f"| {part} | "
            + " | ".join(
                f"{data['results'][n]['shares'][part]:.0%} ({data['results'][n]['microsecondsPerRow'][part]:.1f} µs/row)"
                for n in names
            )
            + " |"
        )
    lines.append("| rows/s | " + " | ".join(f"{data['results'][n]['rowsPerSecond']:,}" for n in names) + " |")
    return [*lines, ""]


PHASES = (
    ("seed", "seed"),
    ("ValidateInput", "validate"),
    ("ProcessUserStats", "map"),
    ("AggregateErrors", "aggregate"),
    ("keep", "keep (audit by key)"),
    ("out", "out"),
)


def _phases(r: dict[str, Any]) -> str:
    seconds = r.get("phaseSeconds") or {}
    named = sum(float(seconds.get(key) or 0) for key, _ in PHASES)
    rest = max(0.0, float(r["wallSeconds"]) - named)
    return " / ".join(f"{float(seconds.get(key) or 0):.1f}" for key, _ in PHASES) + f" / {rest:.1f}"


def _targets(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for kind in sorted({r["database"] for r in results}):
        runs = {r["rows"]: r for r in results if r["database"] == kind}
        million, hundred = runs.get(1_000_000), runs.get(100_000)
        if million:
            lines.append(
                f"- {kind}: 1,000,000 rows in {million['wallSeconds']:,} s (target 300 s: "
                f"{'met' if million['wallSeconds'] <= 300 else 'NOT met'})"
            )
        if million and hundred:
            ratio = million["microsecondsPerRow"] / hundred["microsecondsPerRow"]
            lines.append(
                f"- {kind}: time per row at 1,000,000 over 100,000: {ratio:.2f} (target at most 1.2: "
                f"{'met' if ratio <= 1.2 else 'NOT met'})"
            )
        ten = runs.get(10_000_000)
        if ten:
            done = ten["status"] == "SUCCEEDED"
            lines.append(
                f"- {kind}: 10,000,000 rows {ten['status']} in {ten['wallSeconds']:,} s (target: complete: "
                f"{'met' if done else 'NOT met'})"
                + (
                    f"; time per row over 1,000,000's: {ten['microsecondsPerRow'] / million['microsecondsPerRow']:.2f}"
                    if million
                    else ""
                )
            )
        peak = max(r["allProcessesPeakRssMiB"] for r in runs.values())
        lines.append(
            f"- {kind}: peak memory of all processes together, largest of these runs: {peak:,} MiB (target 1,024 MiB: "
            f"{'met' if peak <= 1024 else 'NOT met'})"
        )
    return lines


def e2e_section(data: dict[str, Any], extra: dict[str, Any] | None = None) -> list[str]:
    results = list(data["results"]) + list((extra or {}).get("results", []))
    lines = [
        "## 2. make run end to end, as a user runs it",
        "",
        (
            f"`{data.get('command', 'python -m bench.e2e')}` ({_when(data)}): `make run ROWS=n` with "
            '`RUN_ARGS="--json --no-progress"`, S3 on s3rver and the audit table on dynalite (both on disk), the export '
            "to `.local/data` and `.local/out` included; each measurement with local state of its own. Phases in "
            "seconds: seed (write the sample, seed its users) / ValidateInput / the map / AggregateErrors / keep (the "
            "run's results and audit records into `.local/data`, read by key) / out (`.local/out`) / the rest (start "
            "and stop the stand-ins, make, imports). Peak memory in MiB: each process's own peak, and all processes "
            "of `make run` together (resident memory summed, sampled every 0.2 s). Load: the machine's 1-minute load "
            "average before and after (2 cores: above 2, other work shared them)."
        ),
        "",
        "| database | rows | status | wall s | rows/s | µs/row | phases s | workers | runner | dynalite | s3rver | all together | load before/after |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        stand_ins = r.get("standInPeakRssMiB") or {}
        lines.append(
            f"| {r['database']} | {r['rows']:,} | {r['status']} | {r['wallSeconds']:,} | {r['rowsPerSecond']:,} | "
            f"{r['microsecondsPerRow']:,} | {_phases(r)} | {r['maxConcurrency']} | {r['runnerPeakRssMiB']} | "
            f"{stand_ins.get('dynalite')} | {stand_ins.get('s3rver')} | {r['allProcessesPeakRssMiB']} | "
            f"{r['loadAverageBefore']} / {r['loadAverageAfter']} |"
        )
    if extra:
        lines += ["", f"10,000,000 rows: `{extra.get('command')}` ({_when(extra)})."]
    return [*lines, "", "Targets, from these figures:", "", *_targets(results), ""]


def coldstart_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Cold start: import time of each handler",
        "",
        (
            f"`python -X importtime`, median of {data['repeat']} fresh interpreters (`python -m bench.coldstart`, "
            f"{_when(data)}); the packages are timed where they were first imported."
        ),
        "",
        "| function | import ms | biggest packages (ms) | handler's own imports (ms, cumulative) |",
        "|---|---:|---|---|",
    ]
    for r in data["results"]:
        packages = ", ".join(f"{p['package']} {p['ms']:.0f}" for p in r["biggestPackages"][:4])
        own = ", ".join(f"{m['module']} {m['ms']:.0f}" for m in r["biggestImports"][:4])
        lines.append(f"| {r['function']} | {r['importMs']:.0f} | {packages} | {own} |")
    return [*lines, ""]


def cost_section(data: dict[str, Any]) -> list[str]:
    estimates = data["estimates"]
    names = [e["config"]["name"] for e in estimates]
    first = estimates[0]["config"]
    lines = [
        "## 4. Cost model",
        "",
        (
            f"`make cost ROWS={first['rows']}` ({data['prices']['region']} list prices of {data['prices']['asOf']}, "
            f"`bench/prices.json`; assumptions in `bench/assumptions.json`): one run of {first['rows']:,} rows with "
            f"{first['failed_rate']:g}% failed rows, the audit kept {first['audit_ttl_days']} days."
        ),
        "",
        "| item | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key in dict.fromkeys(k for e in estimates for k in e["lines"]):
        lines.append(f"| {key} | " + " | ".join(f"${e['lines'].get(key, 0):.4f}" for e in estimates) + " |")
    for label, field in (
        ("**per million rows, with the audit log**", "perMillionRows"),
        ("per million rows without the audit log", "perMillionRowsWithoutAudit"),
        ("**per month, 30 daily runs**", "perMonth"),
    ):
        lines.append(f"| {label} | " + " | ".join(f"${e[field]:.4f}" for e in estimates) + " |")
    lines.append("| audit write units per run | " + " | ".join(f"{e['auditWriteUnits']:,}" for e in estimates) + " |")
    if "standardIaBreakEvenDays" in data:
        lines += [
            "",
            (
                f"Standard-IA costs less than Standard for the audit table once its TTL exceeds "
                f"{data['standardIaBreakEvenDays']:.0f} days (writes 25% dearer, storage 60% cheaper)."
            ),
        ]
    return [*lines, ""]


def capacity_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Capacity model",
        "",
        (
            f"`make capacity ROWS={data['rows']}`: one run of {data['rows']:,} rows on AWS. Duration = the largest of "
            "the times each resource needs (workers, the audit table's warm throughput, the hottest partition key at "
            "1,000 WCU/s, the database's write rate, the child start rate); every assumption with its source in "
            "`bench/assumptions.json`."
        ),
        "",
        (
            "| configuration | workers (bound) | map duration | binding resource | hottest key: WCU/s on it (units per run) "
            "| table WCU/s | proxy connections | cost per run |"
        ),
        "|---|---|---:|---|---|---:|---:|---:|",
    ]
    for r in data["results"]:
        c = r["config"]
        lines.append(
            f"| {c['name']} (batch {c['batch']}, {c['children']}, audit {c['audit_design']}) | {r['concurrency']} "
            f"({r['concurrencyBoundBy']}) | {r['mapSeconds'] / 60:.1f} min | {r['bindingResource']} | "
            f"{r['hottestKeyWriteUnitsPerSecond']:,} on {r['hottestKey']} ({r['hottestKeyWriteUnits']:,.0f}) | "
            f"{r['tableWriteUnitsPerSecond']:,} | {r['proxyConnections']} | ${r['costPerRun']:.4f} |"
        )
    lines.append("")
    for r in data["results"]:
        needs = ", ".join(f"{k} {v:,.0f} s" for k, v in r["secondsNeededBy"].items())
        lines.append(
            f"- {r['config']['name']}: {r['workerSecondsPerBatch']} s per batch "
            f"({r['rowsPerSecondPerWorker']:,} rows/s per worker); seconds needed by {needs}."
        )
    return [*lines, ""]


def main() -> None:
    worker, e2e, cold, cost, capacity, profile = (
        _load(n) for n in ("worker_path", "e2e", "coldstart", "cost", "capacity", "profile_path")
    )
    machine: dict[str, Any] = next((d["machine"] for d in (worker, e2e, cold) if d), {})
    lines = [
        "# Benchmarks",
        "",
        (
            f"Written by `python -m bench.report` at revision {git_revision()} from `bench/results/*.json`; measured on: "
            f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {machine.get('memoryGiB', '?')} GiB, Linux "
            f"{machine.get('kernel', '?')}, Python {machine.get('python', '?')}. Each section names the command and date "
            "that produced it. Shared, noisy machines: compare the ratios measured in one run, not absolute figures "
            "across runs."
        ),
        "",
    ]
    sections = (
        (worker, worker_section),
        (profile, profile_section),
        (e2e, lambda data: e2e_section(data, _load("e2e-10m"))),
        (cold, coldstart_section),
        (cost, cost_section),
        (capacity, capacity_section),
    )
    for data, section in sections:
        if data:
            lines += section(data)
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    check = _load("check")
    if check:  # python -m bench.check's section, kept when make bench rewrites the file
        from bench.check import markdown as check_section

        lines += [check_section(check)]
    load = _load("load")
    if load:  # make load's section (bench/load.py), kept when make bench rewrites the file
        from bench.load import markdown as load_section

        lines += [load_section(load)]
    big = _load("load-1m")
    if big:  # make load-1m: one 1,000,000-row run with several batches in flight
        from bench.load import markdown as load_section

        lines += [load_section(big, "## Load: one 1,000,000-row run, batches in flight", "make load-1m")]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
