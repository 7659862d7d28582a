"""The whole pipeline through the local runner (make run), at two sizes, on
SQLite and on MariaDB: rows/s and peak RSS of the runner. AWS is served by
moto in a process of its own, so the runner's RSS is its own; the stand-in's
is reported beside it (it keeps every audit item and object in memory, as a
service would on disk).

Usage: python -m bench.e2e [--sizes 100000,1000000] [--databases sqlite,mariadb]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, fresh_database, save

LOCAL = ROOT / ".local"


def database_url(kind: str, rows: int) -> str:
    if kind == "sqlite":
        path = LOCAL / f"bench-e2e-{rows}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            (path.parent / (path.name + suffix)).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return fresh_database(f"csv_dmap_e2e_{rows}")


def run_once(kind: str, rows: int) -> dict[str, Any]:
    url = database_url(kind, rows)
    cmd = [
        sys.executable,
        "-m",
        "local_runner",
        "run",
        "--rows",
        str(rows),
        "--moto-server",
        "--no-export",
        "--no-progress",
        "--json",
        "--database-url",
        url,
        "--out",
        str(LOCAL / f"bench-out-{kind}-{rows}"),
    ]
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, check=False, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "database": kind,
        "rows": rows,
        "status": summary["status"],
        "applied": summary["applied"],
        "failed": summary["failed"],
        "batches": summary["batches"],
        "maxConcurrency": summary["maxConcurrency"],
        "mapSeconds": summary["durationSeconds"],
        "rowsPerSecond": summary["rowsPerSecond"],
        "wallSeconds": round(wall, 1),
        "runnerPeakRssMiB": summary["peakRssMiB"],
        "awsStandInPeakRssMiB": summary["awsStandInRssMiB"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--databases", default="sqlite,mariadb")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for kind in args.databases.split(","):
        for rows in sizes:
            figures = run_once(kind, rows)
            results.append(figures)
            print(" ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    growth = {}
    for kind in args.databases.split(","):
        runs = sorted((r for r in results if r["database"] == kind), key=lambda r: r["rows"])
        if len(runs) >= 2:
            growth[kind] = round(runs[-1]["runnerPeakRssMiB"] / runs[0]["runnerPeakRssMiB"], 2)
    data = {"benchmark": "e2e", "results": results, "runnerRssRatioLargestToSmallest": growth}
    save("e2e", data)
    print("runner peak RSS, largest/smallest:", growth)
    return data


if __name__ == "__main__":
    main()
