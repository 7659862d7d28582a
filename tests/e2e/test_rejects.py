"""The reject file end to end, on SQLite and MariaDB: ``make run`` of a file with bad rows,
duplicates and unknown users whose database breaks after three batches. The reject file holds
exactly the rows not applied, as an oracle computes them from the CSV text alone; its values
fixed and uploaded as a new run, it leaves the database where the clean file would have. A
redrive that applies everything leaves no reject file behind."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.e2e.local_lab import Lab, cli_run, isolate_local_stores

HEADER = ["ユーザーID", "ログイン回数", "投稿回数", "メモ"]
SEEDED = [f"U{i:04d}" for i in range(1, 61)]
PARAMETERS = ["MaxConcurrency=1", "MaxItemsPerBatch=10"]  # batches of ten rows, one at a time
FAIL_AFTER = 3  # the database loses `users` once three batches are done: the fourth fails as a whole


def original_rows() -> list[list[str]]:
    """Data records in file order (line = position + 2): 30 rows in the batches that apply, the
    fourth batch's 10, 12 the map never reads."""
    rows = [[f"U{i:04d}", str(i), str(2 * i), f"m{i}"] for i in range(1, 53)]
    rows[2] = ["U0003", "abc", "6", "decimal, no"]  # InvalidLoginCount
    rows[5] = ["bad id", "1", "1", "x"]  # InvalidUserId
    rows[7] = ["N0001", "1", "1", "unknown"]  # UserNotFound
    rows[11] = ["U0012", "7"]  # FieldCountMismatch (too short)
    rows[14] = ["U0015", "1", "-2", "neg"]  # InvalidPostCount
    rows[9] = ["U0040", "9", "9", "early"]  # superseded by line 41 (index 39, in the failed batch)
    rows[33] = ["U0050", "1", "1", "early"]  # in the failed batch, superseded by line 51 (never read)
    rows[43] = ["U0052", "1", "1", "early"]  # never read, superseded by line 53 (never read)
    rows[45] = ["U0046", "x", "1", "bad"]  # never read, and bad
    return rows


def file_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *rows])
    return out.getvalue()


def expected_rejects(rows: list[list[str]], seeded: set[str]) -> list[tuple[int, list[str], str]]:
    """(line, cells, error type) of every row not applied, from the text: the last row of a user
    decides and the others are left out; in the three batches that ran, a row fails on its
    values or an unknown user; every row of the fourth batch failed with the database's error,
    and the rest were never read."""
    last = {r[0]: i for i, r in enumerate(rows)}
    out = []
    for i, cells in enumerate(rows):
        uid, line = cells[0], i + 2
        valid_id = uid.replace("_", "").isalnum() and " " not in uid
        if valid_id and last[uid] != i:
            continue  # superseded: an outcome, not a reject
        if i >= 10 * (FAIL_AFTER + 1):
            out.append((line, cells, "NotRun"))
        elif i >= 10 * FAIL_AFTER:
            out.append((line, cells, "PermanentDatabaseError"))
        elif len(cells) != len(HEADER):
            out.append((line, cells, "FieldCountMismatch"))
        elif not valid_id:
            out.append((line, cells, "InvalidUserId"))
        elif not cells[1].isdigit():
            out.append((line, cells, "InvalidLoginCount"))
        elif not cells[2].isdigit():
            out.append((line, cells, "InvalidPostCount"))
        elif uid not in seeded:
            out.append((line, cells, "UserNotFound"))
    return out


def clean_stats(rows: list[list[str]], seeded: set[str]) -> dict[str, tuple[int, int]]:
    """Where one run of a clean file leaves the database: the last row of each user decides."""
    last = {r[0]: r for r in rows}
    return {u: (int(r[1]), int(r[2])) for u, r in last.items() if u in seeded}


def fix(cells: list[str]) -> list[str] | None:
    """What a person does with a reject: digits where the counts were not, and rows whose user
    cannot be fixed are dropped. The same fix makes the clean file."""
    if cells[0] in ("bad id", "N0001"):
        return None
    cells = [*cells, *[""] * (4 - len(cells))]
    uid = int(cells[0][1:])
    login = cells[1] if cells[1].isdigit() else str(uid)
    post = cells[2] if cells[2].isdigit() else str(2 * uid)
    return [cells[0], login, post, cells[3]]


class AnyDatabaseLab(Lab):
    """The lab on any SQLAlchemy URL: the database breaks by renaming `users`."""

    def __init__(self, tmp_path: Path, monkeypatch: Any, capsys: Any, users: list[str], url: str):
        from csv_dmap.db import build_engine, create_schema, seed_users

        self.tmp, self.monkeypatch, self.capsys = tmp_path, monkeypatch, capsys
        self.data = tmp_path / "data"
        monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(self.data))
        isolate_local_stores(monkeypatch, tmp_path)
        self.db = url
        self.engine = build_engine(url)
        create_schema(self.engine)
        seed_users(self.engine, users)
        self.runs = 0

    def _rename(self, old: str, new: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    def break_db(self) -> None:
        self._rename("users", "users_away")

    def mend_db(self) -> None:
        self._rename("users_away", "users")

    def stats(self) -> dict[str, tuple[int, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT user_id, login_count, post_count FROM user_stats"))
            return {u: (int(lc), int(pc)) for u, lc, pc in rows}


@pytest.fixture
def lab(tmp_path, monkeypatch, capsys, database_url):
    lab = AnyDatabaseLab(tmp_path, monkeypatch, capsys, SEEDED, database_url)
    yield lab
    lab.engine.dispose()


def reject_file(lab: Lab, summary: dict[str, Any]) -> tuple[bytes, list[list[str]]]:
    path = Path(summary["rejects"])
    assert path == lab.data / summary["rejectsKey"]
    assert summary["rejectsKey"].startswith("rejects/execution_date=") and path.name == f"{summary['execution']}.csv"
    raw = path.read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_the_reject_file_fixed_and_uploaded_ends_where_the_clean_file_would(lab):
    rows = original_rows()
    code, first = lab.run(file_text(rows), PARAMETERS, fail_after=FAIL_AFTER)
    assert code == 1 and first["error"] == "States.ExceedToleratedFailureThreshold"
    raw, records = reject_file(lab, first)
    assert (
        raw.startswith(b"\xef\xbb\xbf")
        and raw.count(b"\r\n") == len(records)
        and b"\n" not in raw.replace(b"\r\n", b"")
    )
    assert records[0] == [*HEADER, "line", "error_type", "error_message"]
    expected = expected_rejects(rows, set(SEEDED))
    got = [(int(r[4]), r[:4], r[5]) for r in records[1:]]
    padded = [(line, [*cells, *[""] * (4 - len(cells))], kind) for line, cells, kind in expected]
    assert got == padded
    assert all(r[6] for r in records[1:]), "every reject says why"
    # the CLI gives the same bytes, and failures points to the file
    out = lab.tmp / "via-cli.csv"
    code, shown = cli_run(lab.data, "rejects", first["execution"], "-o", str(out))
    assert code == 0 and shown["rejectsKey"] == first["rejectsKey"] and out.read_bytes() == raw
    assert first["rejects"] in _failures_text(lab, first["execution"])

    # fix the values in the reject file, upload it as a new run (the database mended)
    lab.mend_db()
    fixed = [[*f, *r[4:7]] for r in records[1:] if (f := fix(r[:4])) is not None]
    upload = io.StringIO()
    upload.write("\ufeff")
    csv.writer(upload, lineterminator="\r\n").writerows([records[0], *fixed])
    path = lab.tmp / "fixed.csv"
    path.write_text(upload.getvalue(), encoding="utf-8", newline="")
    code, second = _run_file(lab, path)
    assert code == 0 and second["status"] == "SUCCEEDED", second
    assert (second["failed"], second["pending"], second["rejectsKey"]) == (0, 0, None)
    assert not list((lab.data / "rejects").glob(f"*/{second['execution']}.csv"))

    clean = [f for r in rows if (f := fix(r)) is not None]
    assert lab.stats() == clean_stats(clean, set(SEEDED))


def _run_file(lab: Lab, path: Path) -> tuple[int, dict[str, Any]]:
    import json

    from local_runner.run import main as make_run
    from tests.e2e.local_lab import run_args

    code = make_run(run_args(path, lab.db, lab.tmp / "out", PARAMETERS))
    return code, json.loads(lab.capsys.readouterr().out)


def _failures_text(lab: Lab, name: str) -> str:
    from csv_dmap_cli.cli import main as cli

    out = io.StringIO()
    assert cli(["--local", "--data-dir", str(lab.data), "failures", name], out=out) == 0
    return out.getvalue()


def test_a_redrive_that_applies_everything_leaves_no_reject_file(lab):
    rows = [[f"U{i:04d}", str(i), str(i), "m"] for i in range(1, 51)]
    code, first = lab.run(file_text(rows), PARAMETERS, fail_after=FAIL_AFTER)
    assert code == 1
    _, records = reject_file(lab, first)
    assert [int(r[4]) for r in records[1:]] == list(range(32, 52))  # the fourth batch on, lines 32..51
    lab.mend_db()
    code, redriven = lab.redrive(first["execution"])
    assert code == 0 and redriven["status"] == "SUCCEEDED", redriven
    assert not Path(first["rejects"]).exists()
    code, _ = cli_run(lab.data, "rejects", first["execution"])
    assert code == 0
    assert lab.stats() == {f"U{i:04d}": (i, i) for i in range(1, 51)}
