"""What every benchmark shares: the machine it ran on, result files, the database."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0"
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memoryGiB": round(int(mem) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def mariadb_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT VERSION()")).scalar()
    engine.dispose()
    return str(version)


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    measured = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps({"machine": machine(), "measuredAt": measured, **data}, indent=2, ensure_ascii=False))
    return path


DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def server_url() -> str:
    """The MariaDB/MySQL server the benchmarks use: BENCH_DATABASE_URL, else
    TEST_DATABASE_URL, else the local default. The benchmarks do not import the
    test suite (``tests``): they never start a throwaway server, they say where
    they looked."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER_URL


def fresh_database(name: str, *, drop: bool = True) -> str:
    """URL of database ``name`` on :func:`server_url` (re-created when ``drop``)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    server = server_url()
    engine = create_engine(server, connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            if drop:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except OperationalError as exc:
        raise SystemExit(
            f"no MariaDB/MySQL server answers at {make_url(server).render_as_string()} "
            f"(set BENCH_DATABASE_URL): {exc.orig}"
        ) from None
    finally:
        engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"
