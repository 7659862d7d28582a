"""A lab for end-to-end tests of local runs: one SQLite database and one local data directory,
``make run`` of a CSV text that can be made to fail part-way (the ``users`` table is renamed
after N batches), ``csv-dmap --local`` against the data, and the oracles read from the CSV text."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from csv_dmap_cli.cli import main as cli

HEADER = "user_id,login_count,post_count"


def isolate_local_stores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The local run's audit table (dynalite) and S3 directories under ``tmp_path``, not the checkout's."""
    from local_runner.local_aws import DYNAMODB_ENV, S3_ENV

    monkeypatch.setenv(DYNAMODB_ENV, str(tmp_path / "dynamodb"))
    monkeypatch.setenv(S3_ENV, str(tmp_path / "s3"))


def run_args(csv_path: Path, db: str, out: Path, parameters: list[str]) -> argparse.Namespace:
    return argparse.Namespace(
        csv=str(csv_path),
        rows=0,
        seed="none",
        out=str(out),
        json=True,
        no_progress=True,
        verbose=False,
        moto_server=False,
        no_export=False,
        aws="disk",
        parameter=parameters,
        database_url=db,
    )


def cli_run(data: Path, *argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    code = cli(["--local", "--data-dir", str(data), "--json", *argv], out=out)
    return code, json.loads(out.getvalue()) if out.getvalue() else None


class Lab:
    """One database, one data dir; runs that can be made to fail after N batches."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, users: list[str]):
        from csv_dmap.db import build_engine, create_schema, seed_users

        self.tmp, self.monkeypatch, self.capsys = tmp_path, monkeypatch, capsys
        self.data = tmp_path / "data"
        monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(self.data))
        isolate_local_stores(monkeypatch, tmp_path)
        self.db_path = tmp_path / "db.sqlite"
        self.db = f"sqlite:///{self.db_path}"
        engine = build_engine(self.db)
        create_schema(engine)
        seed_users(engine, users)
        engine.dispose()
        self.runs = 0

    def run(
        self,
        text: str,
        parameters: list[str],
        fail_after: int | None = None,
        on_batch: Callable[[Any], None] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """``make run`` of ``text``: the database breaks after ``fail_after`` batches, and
        ``on_batch`` sees the run's progress after every batch."""
        from local_runner import layer
        from local_runner.run import main as make_run

        self.runs += 1
        path = self.tmp / f"file{self.runs}.csv"
        path.write_text(text, encoding="utf-8")
        original = layer.MapProgress.batch_done
        done = {"n": 0}
        lock = threading.Lock()

        def batch_done(progress, rows, ok):
            original(progress, rows, ok)
            with lock:
                done["n"] += 1
                if done["n"] == fail_after:
                    self.break_db()
            if on_batch is not None:
                on_batch(progress)

        if fail_after is not None or on_batch is not None:
            self.monkeypatch.setattr(layer.MapProgress, "batch_done", batch_done)
        try:
            code = make_run(run_args(path, self.db, self.tmp / "out", parameters))
        finally:
            self.monkeypatch.setattr(layer.MapProgress, "batch_done", original)
        return code, json.loads(self.capsys.readouterr().out)

    def break_db(self) -> None:
        with sqlite3.connect(self.db_path, timeout=30) as con:
            con.execute("ALTER TABLE users RENAME TO users_away")

    def mend_db(self) -> None:
        with sqlite3.connect(self.db_path, timeout=30) as con:
            con.execute("ALTER TABLE users_away RENAME TO users")

    def redrive(self, name: str) -> tuple[int, Any]:
        return cli_run(self.data, "redrive", name, "--database-url", self.db)

    def stats(self) -> dict[str, tuple[int, int]]:
        with sqlite3.connect(self.db_path) as con:
            return {u: (lc, pc) for u, lc, pc in con.execute("SELECT user_id, login_count, post_count FROM user_stats")}

    def per_row(self, name: str) -> list[dict[str, Any]]:
        code, rows = cli_run(
            self.data,
            "query",
            "--sql",
            f"SELECT line, status, user_id FROM user_update_results WHERE execution_name = '{name}'",
        )
        assert code == 0
        return rows

    def audit(self, name: str) -> list[dict[str, Any]]:
        path = self.data / "audit" / f"{name}.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def expected_stats(text: str, seeded: set[str]) -> dict[str, tuple[int, int]]:
    """The last row of each user decides (ValidateInput supersedes earlier ones); it applies
    when it is valid and the user exists."""
    last: dict[str, list[str]] = {}
    for cells in list(csv.reader(io.StringIO(text)))[1:]:
        if cells:
            last[cells[0]] = cells
    out = {}
    for uid, cells in last.items():
        if uid in seeded and len(cells) == 3 and cells[1].isdigit() and cells[2].isdigit():
            out[uid] = (int(cells[1]), int(cells[2]))
    return out


def assert_every_line_once(lab: Lab, name: str, data_lines: int) -> None:
    lines = sorted(r["line"] for r in lab.per_row(name))
    assert lines == list(range(2, data_lines + 2)), "per-row dataset"
    audit = sorted(a["line"] for a in lab.audit(name))
    assert audit == list(range(2, data_lines + 2)), "audit export"
