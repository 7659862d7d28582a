"""End to end on this machine: two local runs of files with known contents through the
project's state machine (local runner, SQLite and MariaDB), their data exported to a
local data directory the way ``make run`` accumulates it, then the monthly-increase query
and the CLI's failures / history checked against sums computed from the CSV text."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from csv_dmap_cli.cli import main
from csv_dmap_cli.engine import connect, named_queries, run_query
from local_runner.exec_cli import run_definition
from local_runner.localdata import export_local
from local_runner.pipeline import DEFINITION

SEEDED = [f"U{i:04d}" for i in range(1, 51)]
FILE_1 = (
    "user_id,login_count,post_count\n"
    + "".join(f"U{i:04d},{i},{2 * i}\n" for i in range(1, 51))
    + "U0051,abc,3\nN0001,5,5\n"
)
FILE_2 = "user_id,login_count,post_count\n" + "".join(f"U{i:04d},{i + 5},{2 * i + 1}\n" for i in range(1, 31))


def oracle(files: list[str]) -> dict[str, Any]:
    """What the files imply, from the CSV text alone: the rows that apply are seeded
    ids with whole-number counts; an increase is the new value minus the previous one
    the files gave that user (0 before the first)."""
    last: dict[str, tuple[int, int]] = {}
    login = post = applied = 0
    failed: list[list[tuple[str, str]]] = []
    for text in files:
        bad = []
        for row in csv.DictReader(io.StringIO(text)):
            uid, lc, pc = row["user_id"], row["login_count"], row["post_count"]
            if uid in SEEDED and lc.isdigit() and pc.isdigit():
                old = last.get(uid, (0, 0))
                login += int(lc) - old[0]
                post += int(pc) - old[1]
                applied += 1
                last[uid] = (int(lc), int(pc))
            else:
                # a row is checked before the database is asked: bad counts first, then unknown users
                bad.append(
                    (
                        uid,
                        "InvalidLoginCount"
                        if not lc.isdigit()
                        else "InvalidPostCount"
                        if not pc.isdigit()
                        else "UserNotFound",
                    )
                )
        failed.append(bad)
    return {"login": login, "post": post, "applied": applied, "failed": failed, "last": last}


def _run(env: Any, text: str, name: str, data_dir: Path) -> dict[str, Any]:
    bucket = env.physical_name("InputBucket")
    env.client("s3").put_object(Bucket=bucket, Key=f"incoming/{name}.csv", Body=text.encode())
    result = run_definition(env, DEFINITION, input={"bucket": bucket, "key": f"incoming/{name}.csv"}, name=name)
    assert result.status == "SUCCEEDED", result.cause
    _export(env, text, name, data_dir)
    return result.output


def _export(env: Any, text: str, name: str, data_dir: Path) -> None:
    counts = export_local(
        s3=env.client("s3"),
        bucket=env.physical_name("ResultsBucket"),
        execution_name=name,
        dynamodb=env.client("dynamodb"),
        audit_table=env.physical_name("AuditTable"),
        data_dir=data_dir,
    )
    assert counts["summaries"] == 1 and counts["rows"] >= 1 and counts["audit"] == text.count("\n") - 1


@pytest.fixture
def two_runs(local_env, tmp_path):
    from csv_dmap.db import get_engine, seed_users

    seed_users(get_engine(), SEEDED)
    data = tmp_path / "data"
    _run(local_env, FILE_1, "an-1", data)
    _run(local_env, FILE_2, "an-2", data)
    _export(local_env, FILE_2, "an-2", data)  # exporting a run again replaces its files: nothing doubles
    return data


def cli_json(data: Path, *argv: str) -> Any:
    out = io.StringIO()
    assert main(["--local", "--data-dir", str(data), "--json", *argv], out=out) == 0
    return json.loads(out.getvalue())


def test_the_seeds_monthly_query_matches_the_files(two_runs):
    expected = oracle([FILE_1, FILE_2])
    summaries = cli_json(two_runs, "query", "--sql", "SELECT execution_name, start_time FROM run_summaries")
    months = {datetime.fromisoformat(s["start_time"]).strftime("%Y-%m") for s in summaries}
    assert len(summaries) == 2
    monthly = cli_json(two_runs, "query", "--named", "monthly-increase")
    if len(months) == 1:  # both runs in one month (a test across midnight of a month's end is the exception)
        (row,) = monthly
        assert row["total_login_increase"] == expected["login"] == 1275 + 150
        assert row["total_post_increase"] == expected["post"] == 2550 + 30
        assert row["users_updated"] == expected["applied"] == 80
        assert row["avg_login_increase"] == pytest.approx(expected["login"] / expected["applied"])
    assert sum(r["total_login_increase"] for r in monthly) == expected["login"]


def test_the_database_holds_what_the_files_imply(two_runs):
    from sqlalchemy import text

    from csv_dmap.db import get_engine

    with get_engine().connect() as conn:
        stored = {
            uid: (login, post)
            for uid, login, post in conn.execute(text("SELECT user_id, login_count, post_count FROM user_stats"))
        }
    for uid, values in oracle([FILE_1, FILE_2])["last"].items():
        assert stored[uid] == values, uid


def test_failures_are_exactly_the_rows_the_file_implies(two_runs):
    expected = oracle([FILE_1, FILE_2])["failed"]
    got = cli_json(two_runs, "failures", "an-1")
    assert sorted((f.get("userId") or f.get("rawUserId"), f["errorType"]) for f in got) == sorted(expected[0])
    only = cli_json(two_runs, "failures", "an-1", "--type", "UserNotFound")
    assert [f["errorType"] for f in only] == ["UserNotFound"]
    assert cli_json(two_runs, "failures", "an-2") == []
    failed_rows = cli_json(two_runs, "query", "--named", "failed-rows", "--param", "an-1")
    assert sorted((r["user_id"], r["error_type"]) for r in failed_rows) == sorted(expected[0])


def test_history_shows_a_users_changes_across_runs_newest_first(two_runs):
    history = cli_json(two_runs, "history", "U0007", "--days", "7")
    assert [(h["executionName"], h.get("oldLoginCount"), h["newLoginCount"], h["newPostCount"]) for h in history] == [
        ("an-2", 7, 12, 15),
        ("an-1", None, 7, 14),
    ]
    assert [
        h["execution_name"] for h in cli_json(two_runs, "query", "--named", "user-history", "--param", "U0040")
    ] == ["an-1"]


def test_every_named_query_runs_on_the_local_data(two_runs):
    con = connect(two_runs)
    for query in named_queries():
        result = run_query(con, query.sql, ["an-1"] * query.parameters)
        assert result.columns, query.name
    patterns = {
        r[0]: r[1] for r in run_query(con, "SELECT error_type, row_count FROM (" + named_queries()[0].sql + ")").rows
    }
    assert patterns == {"UserNotFound": 1, "InvalidLoginCount": 1}
    runs = cli_json(two_runs, "runs")
    assert sorted((r["executionName"], r["rows"], r["applied"]) for r in runs) == [("an-1", 52, 50), ("an-2", 30, 30)]


def test_report_is_regenerated_on_demand_from_the_local_summaries(two_runs):
    day = cli_json(two_runs, "runs")[0]["date"]
    report = cli_json(two_runs, "report", day)
    assert (report["executions"], report["rows"], report["applied"], report["failed"]) == (2, 82, 80, 2)
    line = json.loads((two_runs / f"daily-reports/date={day}/report.json").read_text())
    assert (line["total_rows"], line["applied"]) == (82, 80)
    daily = cli_json(two_runs, "query", "--sql", "SELECT report_date, total_rows FROM daily_reports")
    assert daily == [{"report_date": day, "total_rows": 82}]
