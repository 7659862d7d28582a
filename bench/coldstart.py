"""Cold start: import time of each handler module (python -X importtime),
median of several fresh interpreters, with the biggest imports named.

Usage: python -m bench.coldstart [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from typing import Any

from bench.common import ROOT, save
from local_runner.template import functions, load_template

THIRD_PARTY = {
    "boto3",
    "botocore",
    "sqlalchemy",
    "pydantic",
    "pydantic_core",
    "pymysql",
    "ijson",
    "aws_xray_sdk",
    "aws_lambda_powertools",
    "jmespath",
    "urllib3",
    "dateutil",
}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def measure(folder: str) -> tuple[float, list[tuple[str, float]], list[tuple[str, float]]]:
    code = f"import sys; sys.path[:0] = [{str(ROOT / 'layers' / 'shared')!r}, {str(ROOT / 'functions' / folder)!r}]; import app"
    env = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "POWERTOOLS_SERVICE_NAME": "csv-dmap",
    }
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], check=False, capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    entries = [
        (int(m.group(2)) / 1000, len(m.group(3)), m.group(4)) for m in map(LINE.match, proc.stderr.splitlines()) if m
    ]
    # importtime prints a module after its children: app's own imports are the
    # depth-3 lines between the previous top-level module and app itself.
    at = max(i for i, e in enumerate(entries) if e[2] == "app" and e[1] == 1)
    total, top = entries[at][0], []
    for cumulative, depth, name in reversed(entries[:at]):
        if depth == 1:
            break
        if depth == 3:
            top.append((name, cumulative))
    top.sort(key=lambda t: t[1], reverse=True)
    # Third-party packages wherever they were first imported (their cumulative time).
    packages: dict[str, float] = {}
    for cumulative, _depth, name in entries[:at]:
        root = name.split(".")[0]
        if root in THIRD_PARTY and (
            name == root
            or name.startswith(
                ("aws_lambda_powertools.tracing", "aws_lambda_powertools.logging", "aws_lambda_powertools.metrics")
            )
        ):
            packages[name] = max(packages.get(name, 0.0), cumulative)
    return total, top[:6], sorted(packages.items(), key=lambda t: t[1], reverse=True)[:6]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results = []
    for spec in functions(load_template()).values():
        folder = spec.code_uri.name
        runs = [measure(folder) for _ in range(args.repeat)]
        median_ms = statistics.median(r[0] for r in runs)
        _, top, packages = min(runs, key=lambda r: abs(r[0] - median_ms))
        figures = {
            "function": folder,
            "importMs": round(median_ms, 1),
            "biggestImports": [{"module": n, "ms": round(ms, 1)} for n, ms in top],
            "biggestPackages": [{"package": n, "ms": round(ms, 1)} for n, ms in packages],
        }
        results.append(figures)
        print(f"{folder}: {median_ms:.0f} ms; " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in packages), flush=True)
    data = {"benchmark": "coldstart", "repeat": args.repeat, "results": results}
    save("coldstart", data)
    return data


if __name__ == "__main__":
    main()
