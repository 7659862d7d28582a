"""``csv-dmap check`` on a large file: wall and CPU seconds of the command as an operator runs it
(a fresh process: imports included), on ``make run``'s sample generator's file (about 1% bad rows,
1% unknown users), in its comma form and as a semicolon file.

Writes ``bench/results/check.json`` and its own section of BENCHMARKS.md (``## Preflight
check``), leaving the other sections as they are; ``bench.report`` renders it too.

Usage: python -m bench.check [--rows 1000000] [--repeat 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .common import RESULTS, ROOT, git_revision, machine

SECTION = "## Preflight check: csv-dmap check"
WORK = ROOT / ".local" / "bench-check"


def sample(rows: int, delimiter: str) -> Path:
    """``make run``'s sample of ``rows`` rows, with ``delimiter`` between its fields (made once)."""
    from local_runner.run import generate_sample

    comma = WORK / f"sample-{rows}.csv"
    if not comma.exists():
        generate_sample(comma, rows)
    if delimiter == ",":
        return comma
    path = WORK / f"sample-{rows}-{ord(delimiter)}.csv"
    if not path.exists():  # the sample has no quoted cell: its commas are its delimiters
        path.write_text(comma.read_text(encoding="utf-8").replace(",", delimiter), encoding="utf-8")
    return path


def timed(argv: list[str]) -> dict[str, Any]:
    """One run of the command in a fresh process: wall and CPU seconds, peak RSS, exit code, report."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return {
        "wallSeconds": round(wall, 2),
        "cpuSeconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "peakRssMiB": round(after.ru_maxrss / 1024, 1),
        "exitCode": done.returncode,
        "rows": report["rows"] if report else None,
        "failed": report["failed"] if report else None,
        "verdict": report["verdict"] if report else done.stderr.strip()[:200],
    }


def measure(rows: int, repeat: int, database_url: str | None) -> dict[str, Any]:
    cases: list[tuple[str, str, str | None]] = [("comma", ",", None), ("semicolon", ";", None)]
    if database_url:
        cases.append(("comma, unknown users read from the database", ",", database_url))
    out = []
    for label, delimiter, url in cases:
        path = sample(rows, delimiter)
        argv = [sys.executable, "-m", "csv_dmap_cli", "check", str(path), "--json"]
        argv += ["--database-url", url] if url else []
        runs = [timed(argv) for _ in range(repeat)]
        best = min(runs, key=lambda r: r["wallSeconds"])
        out.append({"case": label, "bytes": path.stat().st_size, "runs": runs, "best": best})
    return {
        "rows": rows,
        "repeat": repeat,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "machine": machine(),
        "loadAverage": os.getloadavg()[0],
        "command": f"python -m bench.check --rows {rows} --repeat {repeat}"
        + (" --database-url URL" if database_url else ""),
        "cases": out,
    }


def markdown(data: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        (
            f"`{data['command']}`, finished {data['when']}, revision {data['revision']} (load average "
            f"{data['loadAverage']:.1f} at the end, on 2 cores shared with other work). `csv-dmap check FILE --json` in a fresh process (imports included) on `make run`'s sample "
            f"of {data['rows']:,} rows (~1% bad rows, ~1% unknown users); the best of {data['repeat']} runs by wall time. "
            "CPU seconds are the process's own (user + system): on a shared machine they say more than wall time."
        ),
        "",
        "| file | bytes | rows | failed rows found | verdict | wall s | CPU s | rows/s (wall) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for case in data["cases"]:
        best = case["best"]
        rate = f"{best['rows'] / best['wallSeconds']:,.0f}" if best["rows"] and best["wallSeconds"] else "-"
        lines.append(
            f"| {case['case']} | {case['bytes']:,} | {best['rows'] or 0:,} | {best['failed'] or 0:,} | {best['verdict']} "
            f"| {best['wallSeconds']} | {best['cpuSeconds']} | {rate} | {best['peakRssMiB']} |"
        )
    return "\n".join(lines) + "\n"


def write_benchmarks(section: str) -> None:
    """Replace (or append) this section of BENCHMARKS.md, keeping the rest of the file."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start].rstrip("\n") + ("\n" + text[end:] if end >= 0 else "\n")
    path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="also check unknown users against this database (seeded by you)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    data = measure(args.rows, args.repeat, args.database_url)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "check.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    section = markdown(data)
    write_benchmarks(section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
