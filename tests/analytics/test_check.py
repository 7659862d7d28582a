"""``csv-dmap check FILE``: the report, the verdict and the exit codes, on files whose expected
report is written out by hand; unknown users against SQLite and MariaDB, read-only."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from csv_dmap_cli.cli import main as cli

TEXT = (
    "\n"
    "user_id,login_count,post_count,memo\n"
    "U1,1,1,a\n"  # 3: superseded by line 6
    "U2,x,1,b\n"  # 4: InvalidLoginCount
    ",,,\n"  # 5: blank
    "U1,2,2,c\n"  # 6
    "bad id,1,1,d\n"  # 7: InvalidUserId
    "U3,1\n"  # 8: FieldCountMismatch
    "U4,1,-1,e\n"  # 9: InvalidPostCount
    "N9,1,1,f\n"  # 10: unknown to the database
)


def check(*argv: str) -> tuple[int, Any, str]:
    out = io.StringIO()
    code = cli(["check", *argv], out=out)
    text = out.getvalue()
    return code, json.loads(text) if "--json" in argv and text else None, text


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.csv"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_the_report_names_every_failed_line_and_the_verdict(sample):
    code, report, _ = check(str(sample), "--json")
    assert code == 1
    assert {k: report[k] for k in ("encoding", "delimiter", "headerLine", "rows", "blankRows", "failed")} == {
        "encoding": "UTF-8",
        "delimiter": ",",
        "headerLine": 2,
        "rows": 7,
        "blankRows": 1,
        "failed": 4,
    }
    assert report["duplicates"] == {"rows": 1, "lines": [{"line": 3, "decidedBy": 6}]}
    assert {k: v["lines"] for k, v in report["errors"].items()} == {
        "InvalidLoginCount": [4],
        "InvalidUserId": [7],
        "FieldCountMismatch": [8],
        "InvalidPostCount": [9],
    }
    assert (report["verdict"], report["error"], report["unknownUsersChecked"]) == (
        "rejected",
        "ErrorRateExceeded",
        False,
    )
    assert report["cause"] == "4 of 7 rows failed (57.14%), above the tolerated 5%"
    code, report, _ = check(str(sample), "--json", "--tolerance", "60")
    assert (code, report["verdict"], report["error"]) == (0, "accepted", None)


def test_the_report_for_people(sample):
    code, _, text = check(str(sample), "--tolerance", "60")
    assert code == 0
    lines = text.splitlines()
    assert "delimiter     comma (',')" in lines
    assert "duplicates    1 rows superseded by a later row of the same user" in lines
    assert "              line 3 -> line 6" in lines
    assert any(line.split()[:3] == ["InvalidLoginCount", "1", "lines"] for line in lines), text
    assert any("unknown users are not checked" in line and "--database-url" in line for line in lines)
    assert lines[-1] == "verdict       accepted (failed rows within the tolerated 60%)"


def test_unknown_users_with_the_database_read_only(sample, database_url):
    from csv_dmap.db import build_engine, create_schema, seed_users, user_stats, users

    engine = build_engine(database_url)
    create_schema(engine)
    seed_users(engine, ["U1", "U2", "U3", "U4"])
    code, report, _ = check(str(sample), "--json", "--database-url", database_url, "--tolerance", "90")
    assert code == 0 and report["unknownUsersChecked"] is True
    assert report["errors"]["UserNotFound"]["lines"] == [10]
    assert (report["failed"], report["applicable"]) == (5, 1)  # only U1's last row would apply
    with engine.connect() as conn:  # nothing was written
        assert conn.execute(select(func.count()).select_from(user_stats)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(users)).scalar() == 4
    engine.dispose()


@pytest.mark.parametrize(
    ("body", "extra", "error", "fragment"),
    [
        (b"id,logins,posts\nU1,1,1\n", [], "InvalidHeader", "no column for"),
        (b"", [], "EmptyFile", "is empty (0 bytes)"),
        (b"user_id,login_count,post_count\nU1,1,1\n", ["--max-bytes", "10"], "FileTooLarge", "above the limit of 10"),
        (b"user_id,login_count,post_count\nU1,\x85\x40,1\n", [], "UnsupportedEncoding", "line 2"),
        (
            b"user_id,login_count,post_count,x;user_id;login_count;post_count\nU1,1,1,x\n",
            [],
            "InvalidHeader",
            "comma (',') and semicolon (';')",
        ),
    ],
)
def test_a_rejected_file_is_named_with_its_cause(tmp_path, body, extra, error, fragment):
    path = tmp_path / "f.csv"
    path.write_bytes(body)
    code, report, _ = check(str(path), "--json", *extra)
    assert (code, report["verdict"], report["error"]) == (1, "rejected", error)
    assert fragment in report["cause"], report["cause"]
    code, _, text = check(str(path), *extra)
    assert code == 1 and text.splitlines()[-1].startswith(f"verdict       rejected: {error}: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["{missing}"],
        ["{file}", "--tolerance", "101"],
        ["{file}", "--database-url", "sqlite:///{tmp}/no/such/dir/db.sqlite"],
        ["{file}", "--database-url", "nonsense://"],
    ],
)
def test_unusable_arguments_exit_2(sample, tmp_path, capsys, argv):
    args = [a.format(missing=tmp_path / "nope.csv", file=sample, tmp=tmp_path) for a in argv]
    out = io.StringIO()
    assert cli(["check", *args], out=out) == 2
    err = capsys.readouterr().err
    assert err.startswith("csv-dmap: ") and "Traceback" not in err
