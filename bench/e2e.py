"""``make run`` end to end as the README tells a user to run it (S3 on s3rver, the audit table on
dynalite, the export to ``.local/data`` and ``.local/out`` included), at several sizes, on SQLite
and on MariaDB: wall time, time per phase, rows/s, and the peak memory of every process (the
runner, dynalite, s3rver) and of all of them together (their resident memory summed, sampled
every 0.2 s over the process tree of ``make run``).

Each measurement has local state of its own (its audit table, data, S3 and SQLite file under
``.local/bench/<database>-<rows>``; on MariaDB a database of its own), so a measurement neither
reads nor writes the user's ``.local``. The machine's load average is recorded before and after.

Usage: python -m bench.e2e [--sizes 100000,1000000] [--databases sqlite,mariadb] [--name e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, fresh_database, save

BENCH = ROOT / ".local" / "bench"


def _children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += _children(pid)[1:]
    return pids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


class TreeMemory:
    """The largest sum of resident memory of a process tree, sampled every ``every`` seconds."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        self.root, self.every, self.peak_kib = root, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in _tree(self.root)))
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak_kib / 1024, 1)


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_once(kind: str, rows: int) -> dict[str, Any]:
    home = BENCH / f"{kind}-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"sqlite:///{home / 'csv_dmap.sqlite'}" if kind == "sqlite" else fresh_database(f"csv_dmap_e2e_{rows}")
    env = {
        **os.environ,
        "CSV_DMAP_LOCAL_DATA": str(home / "data"),
        "CSV_DMAP_LOCAL_DYNAMODB": str(home / "dynamodb"),
        "CSV_DMAP_LOCAL_S3": str(home / "s3"),
        "DATABASE_URL": url,
        "PYTHONUNBUFFERED": "1",
    }
    # make run as the README says, with the summary as JSON instead of the progress bar
    cmd = ["make", "--no-print-directory", "run", f"ROWS={rows}", f"RUN_ARGS=--json --no-progress --out {home / 'out'}"]
    load_before = _load_average()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(proc.pid)
    out, err = proc.communicate()
    together = memory.stop()
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"make run failed ({proc.returncode}): {err[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return {
        "database": kind,
        "rows": rows,
        "status": summary["status"],
        "applied": summary["applied"],
        "failed": summary["failed"],
        "auditRecords": summary["auditRecords"],
        "batches": summary["batches"],
        "maxConcurrency": summary["maxConcurrency"],
        "wallSeconds": round(wall, 1),
        "rowsPerSecond": round(rows / wall),
        "microsecondsPerRow": round(wall / rows * 1e6, 1),
        "phaseSeconds": summary["phaseSeconds"],
        "runnerPeakRssMiB": summary["peakRssMiB"],
        "standInPeakRssMiB": summary["awsStandInRssMiB"],
        "allProcessesPeakRssMiB": together,
        "cpuSeconds": summary.get("cpuSeconds"),
        "loadAverageBefore": load_before,
        "loadAverageAfter": _load_average(),
        "diskMiB": round(sum(f.stat().st_size for f in home.rglob("*") if f.is_file()) / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--databases", default="sqlite,mariadb")
    parser.add_argument("--name", default="e2e", help="result file: bench/results/<name>.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for kind in args.databases.split(","):
        for rows in sizes:
            figures = run_once(kind, rows)
            results.append(figures)
            print(json.dumps(figures), flush=True)
            shutil.rmtree(BENCH / f"{kind}-{rows}", ignore_errors=True)
    given = sys.argv[1:] if argv is None else argv
    data = {"benchmark": "e2e", "command": " ".join(["python -m bench.e2e", *given]), "results": results}
    save(args.name, data)
    return data


if __name__ == "__main__":
    main()
