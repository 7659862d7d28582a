"""``csv-dmap`` against hostile arguments and damaged local data: an error is one line (argparse's
usage and one line for unusable arguments) with exit code 2, what does not exist is exit 1,
damaged history is skipped and named; no traceback, and user text is never a pattern."""

from __future__ import annotations

import gzip
import io
import json
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from csv_dmap_cli.cli import main

from .test_summary_reader import DAY, body, key, payload

RUN = "local-20261123T010000-aaaa"
OTHER = "local-20261123T020000-bbbb"
HOURS_AGO = {RUN: 2, OTHER: 1}  # within history's default 7 days


def audit_line(execution: str, line: int, user: str, error: str | None = None, raw: bool = False) -> str:
    when = datetime.now(UTC) - timedelta(hours=HOURS_AGO[execution]) + timedelta(seconds=line)
    item: dict[str, Any] = {
        "executionName": execution,
        "line": line,
        "rowIndex": line - 2,
        "status": "FAILED" if error else "APPLIED",
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "rawUserId" if raw else "userId": user,
    }
    if error:
        item |= {"errorType": error, "errorMessage": f"{error} at line {line}"}
    else:
        item |= {"oldLoginCount": 1, "newLoginCount": 2, "oldPostCount": 3, "newPostCount": 4}
    return json.dumps(item, ensure_ascii=False) + "\n"


def rows_part(execution: str, lines: list[int], failed: tuple[int, ...] = ()) -> bytes:
    rows = [
        {
            "execution_name": execution,
            "line": n,
            "user_id": f"U{n}",
            "status": "FAILED" if n in failed else "APPLIED",
            "source_key": "k",
        }
        for n in lines
    ]
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Two local runs: RUN (2 failed rows of 4), OTHER (clean), as the local runner exports them."""
    root = tmp_path / "data"

    def put(k: str, b: bytes) -> None:
        (root / k).parent.mkdir(parents=True, exist_ok=True)
        (root / k).write_bytes(b)

    run = payload(RUN, applied=2, failed=2) | {"errorsByType": {"InvalidUserId": 1, "UserNotFound": 1}}
    put(key(f"{RUN}.json"), body(run))
    put(key(f"{OTHER}.json"), body(payload(OTHER, applied=3)))
    put(
        f"audit/{RUN}.jsonl",
        (
            audit_line(RUN, 2, "U0000001")
            + audit_line(RUN, 3, "U0000002")
            + audit_line(RUN, 4, "ユーザー1", "InvalidUserId", raw=True)
            + audit_line(RUN, 5, "N0000001", "UserNotFound")
        ).encode(),
    )
    put(f"audit/{OTHER}.jsonl", "".join(audit_line(OTHER, n, f"U000000{n}") for n in (2, 3, 4)).encode())
    put(f"rows/execution_date={DAY}/{RUN}/part-00000.json.gz", rows_part(RUN, [2, 3, 4, 5], failed=(4, 5)))
    put(f"rows/execution_date={DAY}/{OTHER}/part-00000.json.gz", rows_part(OTHER, [2, 3, 4]))
    return root


def cli(data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        try:
            code = main(["--data-dir", str(data), *argv], out=out)
        except SystemExit as usage:  # argparse: exit 2 after its usage and one line
            code = int(usage.code or 0)
    return code, out.getvalue(), err.getvalue()


def last_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err.splitlines()[-1]


# ------------------------------------------------------------------ names are names, not patterns


@pytest.mark.parametrize("name", ["*", "local-2026*", "?", "local-20261123T010000-aaa?", "[l]ocal", "../x", "a/b"])
def test_an_execution_name_aws_would_refuse_names_no_execution(data, name):
    for command in ("status", "failures", "redrive"):
        code, out, err = cli(data, command, name)
        assert (code, out) == (2, ""), (command, name)
        assert "Step Functions does not allow" in last_line(err)
        assert RUN not in out + err and "no audit record" not in out + err


@pytest.mark.parametrize("name", ["", "x" * 81, "x" * 10_000, "a b", "tab\there", "nul\x00", "bad\udcff"])
def test_names_of_the_wrong_length_or_characters_are_one_line(data, name):
    code, out, err = cli(data, "status", name)
    assert (code, out) == (2, "")
    assert "execution name" in last_line(err) and len(last_line(err)) < 300


def test_a_valid_name_still_finds_its_run_and_its_unaudited_rows(data):
    code, out, err = cli(data, "status", RUN)
    assert code == 0 and out.startswith(f"{RUN}  SUCCEEDED"), err
    code, out, _ = cli(data, "failures", RUN)
    assert code == 0 and "no audit record" not in out  # both failed rows have their audit record


# ------------------------------------------------------------------ arguments: one line, exit 2


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["history", "U0000001", "--days", "100000000"], "must be 1 to 3650"),
        (["history", "U0000001", "--days", "0"], "must be 1 to 3650"),
        (["history", "U0000001", "--days", "soon"], "not a whole number of days"),
        (["history", "U 1; DROP"], "not a user id"),
        (["history", "U" * 65], "not a user id"),
        (["--timezone", "Mars/Olympus", "runs"], "no such time zone: Mars/Olympus"),
        (["runs", "--timezone", "../../etc/passwd"], "no such time zone"),
        (["report", "2026-13-45"], "not a date (YYYY-MM-DD): 2026-13-45"),
        (["runs", "--date", "yesterday"], "not a date"),
        (["--local", "runs", "--stack", "prod"], "not allowed with argument --local"),
    ],
)
def test_unusable_arguments_are_one_line_and_exit_2(data, argv, says):
    code, out, err = cli(data, *argv)
    assert (code, out) == (2, "")
    assert says in last_line(err)


def test_query_file_that_is_not_text_is_one_line(data, tmp_path):
    binary = tmp_path / "q.sql"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 20)
    code, out, err = cli(data, "query", "--file", str(binary))
    assert (code, out) == (2, "")
    assert last_line(err) == f"csv-dmap: --file {binary} is not UTF-8 text (byte 8)"
    code, _, err = cli(data, "query", "--file", str(tmp_path))
    assert code == 2 and "Is a directory" in last_line(err)


def test_a_named_query_without_its_parameter_names_it_and_shows_the_usage(data):
    code, out, err = cli(data, "query", "--named", "failed-rows")
    assert (code, out) == (2, "")
    line = last_line(err)
    assert "failed-rows takes 1 parameter(s), got 0" in line and "Parameter 1 = execution name" in line
    assert "csv-dmap --local query --named failed-rows --param VALUE1" in line
    code, out, _ = cli(data, "--json", "query", "--named", "failed-rows", "--param", RUN)
    assert code == 0 and sorted(r["line"] for r in json.loads(out)) == [4, 5]


def test_the_help_says_what_the_exit_codes_mean():
    for argv in (["--help"], ["failures", "--help"]):
        out = io.StringIO()
        with pytest.raises(SystemExit) as done, redirect_stderr(io.StringIO()):
            import contextlib

            with contextlib.redirect_stdout(out):
                main(argv)
        assert done.value.code == 0
        text = out.getvalue()
        assert "exit codes:" in text
        assert "0  ok" in text and "1  the thing asked about failed or does not exist" in text
        assert "2  unusable arguments" in text


# ------------------------------------------------------------------ global options anywhere


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "history", "U0000002"],
        ["history", "U0000002", "--json"],
        ["history", "--json", "U0000002", "--local", "--days", "3650"],
        ["history", "U0000002", "--timezone", "UTC", "--json"],
    ],
)
def test_global_options_come_before_or_after_the_command(data, argv):
    code, out, err = cli(data, *argv)
    assert code == 0, err
    assert [(h["executionName"], h["line"]) for h in json.loads(out)] == [(OTHER, 2), (RUN, 3)]


def test_options_given_before_the_command_are_kept_after_it(data):
    code, out, _ = cli(data, "--json", "--timezone", "UTC", "runs", "--date", DAY)
    assert code == 0 and sorted(r["executionName"] for r in json.loads(out)) == [RUN, OTHER]


# ------------------------------------------------------------------ damaged local data


def test_a_corrupt_audit_export_loses_only_its_damaged_lines_and_is_named(data):
    export = data / f"audit/{RUN}.jsonl"
    lines = export.read_text(encoding="utf-8").splitlines(keepends=True)
    export.write_bytes(
        "".join(lines[:3]).encode() + b'{"executionName": "tor\n\xff\xfe\x00garbage\n' + lines[3].encode()
    )
    code, out, err = cli(data, "--json", "failures", RUN)
    assert code == 0, err
    assert sorted(i["line"] for i in json.loads(out)) == [4, 5]
    assert f"audit/{RUN}.jsonl is damaged" in last_line(err) and "unreadable lines are left out" in err
    code, out, err = cli(data, "--json", "history", "U0000002")
    assert code == 0 and [h["line"] for h in json.loads(out)] == [2, 3]
    assert f"audit/{RUN}.jsonl is damaged" in err


def test_an_audit_export_with_wrong_types_is_read_past(data):
    (data / f"audit/{OTHER}.jsonl").write_text('{"executionName": 7, "line": "two", "status": []}\n')
    code, out, err = cli(data, "--json", "history", "U0000002")
    assert code == 0 and [h["executionName"] for h in json.loads(out)] == [RUN]
    assert "Traceback" not in err


def test_a_corrupt_part_of_the_row_dataset_is_skipped_and_named(data):
    part = data / f"rows/execution_date={DAY}/{OTHER}/part-00000.json.gz"
    part.write_bytes(part.read_bytes()[:15])
    code, out, err = cli(data, "--json", "query", "--sql", "SELECT count(*) AS n FROM user_update_results")
    assert code == 0, err
    assert json.loads(out) == [{"n": 4}]
    assert f"skipped rows/execution_date={DAY}/{OTHER}/part-00000.json.gz" in last_line(err)


@pytest.mark.parametrize(
    "progress", [b'{"status": "RUNN', b"\xff\xfe", b"[]", b'{"startDate": "soon", "itemCounts": {"total": "many"}}']
)
def test_a_corrupt_progress_file_is_named_and_the_run_is_unknown(data, progress):
    (data / "running").mkdir()
    (data / "running" / "local-x.json").write_bytes(progress)
    code, out, err = cli(data, "status", "local-x")
    assert (code, out) == (1, "")
    notes = err.splitlines()
    assert notes[0].startswith("csv-dmap: skipped running/local-x.json: not a progress file")
    assert "no run summary for 'local-x'" in notes[-1] and "Traceback" not in err


# ------------------------------------------------------------------ what is printed


def test_failures_align_wide_characters_by_display_width(data):
    code, out, _ = cli(data, "failures", RUN)
    assert code == 0
    # ユーザー1 is 4 wide characters and a digit: 9 columns, as a terminal shows it
    assert out.splitlines() == [
        "line  user       error          message",
        "   4  ユーザー1  InvalidUserId  InvalidUserId at line 4",
        "   5  N0000001   UserNotFound   UserNotFound at line 5",
    ]


def test_control_characters_of_a_damaged_record_are_shown_not_sent_to_the_terminal(data):
    with (data / f"audit/{RUN}.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(audit_line(RUN, 6, "x\x1b[2Jy\nz", "InvalidUserId", raw=True))
    code, out, _ = cli(data, "failures", RUN)
    assert code == 0 and "\x1b" not in out
    assert "   6  x\\x1b[2Jy\\nz" in out


# ------------------------------------------------------------------ what a query may touch


def attacks(data: Path, outside: Path) -> list[tuple[str, Path | None]]:
    """(SQL, a file it would create): reading elsewhere, writing anywhere, attaching, undoing."""
    return [
        ("SELECT * FROM read_csv('/etc/passwd', sep = ':')", None),
        ("SELECT * FROM read_text('/etc/hostname')", None),
        ("SELECT * FROM glob('/etc/*')", None),
        (f"SELECT * FROM read_json('{data}/../outside.json')", None),
        (f"COPY (SELECT 1 AS x) TO '{outside / 'copied.csv'}'", outside / "copied.csv"),
        (f"COPY (SELECT 1 AS x) TO '{data / 'copied.csv'}'", data / "copied.csv"),
        (f"COPY user_update_results TO '{data / 'rows' / 'evil.json'}'", data / "rows" / "evil.json"),
        (f"ATTACH '{outside / 'attached.db'}' AS evil", outside / "attached.db"),
        (f"ATTACH '{data / 'attached.db'}' AS evil", data / "attached.db"),
        (f"EXPORT DATABASE '{outside / 'export'}'", outside / "export"),
        ("SET enable_external_access = true", None),
        ("SET lock_configuration = false", None),
        ("INSTALL httpfs", None),
        ("LOAD httpfs", None),
        ("CREATE TABLE t AS SELECT 1", None),
        (f"SELECT 1; COPY (SELECT 1) TO '{outside / 'second.csv'}'", outside / "second.csv"),
    ]


def test_a_query_reads_the_local_data_and_nothing_else_and_writes_nothing(data, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "outside.json").write_text('{"secret": 1}\n')
    for sql, creates in attacks(data, outside):
        code, out, err = cli(data, "query", "--sql", sql)
        assert (code, out) == (2, ""), sql
        line = last_line(err)
        assert len(err.splitlines()) == 1 and line.startswith(("csv-dmap: query refused:", "csv-dmap: query failed:"))
        assert creates is None or not creates.exists(), sql
    code, out, err = cli(data, "--json", "query", "--sql", "SELECT count(*) AS n FROM user_update_results")
    assert (code, json.loads(out)) == (0, [{"n": 7}]), err


def test_files_under_the_data_directory_may_be_read_directly(data):
    sql = f"SELECT count(*) AS n FROM read_json('{data}/audit/*.jsonl', format = 'newline_delimited')"
    code, out, err = cli(data, "--json", "query", "--sql", sql)
    assert (code, json.loads(out)) == (0, [{"n": 7}]), err


def test_every_named_query_and_the_readmes_queries_still_run(data):
    import re

    from csv_dmap_cli.engine import named_queries

    for query in named_queries():
        params = [p for _ in range(query.parameters) for p in ("--param", RUN)]
        code, out, err = cli(data, "--json", "query", "--named", query.name, *params)
        assert code == 0 and isinstance(json.loads(out), list), (query.name, err)
    root = Path(__file__).parents[2]
    readme = "".join((root / doc).read_text(encoding="utf-8") for doc in ("README.md", "docs/analytics.md"))
    sqls = re.findall(r'make query SQL="([^"]+)"', readme)
    named = re.findall(r"make query NAMED=([\w-]+)(?: PARAMS=([\w.:@-]+))?", readme)
    assert sqls and ("user-history", "U0000005") in named
    for sql in sqls:
        code, out, err = cli(data, "--json", "query", "--sql", sql)
        assert code == 0, (sql, err)
    assert {"status": "APPLIED", "row_count": 5} in json.loads(cli(data, "--json", "query", "--sql", sqls[0])[1])
    for name, param in named:
        code, _, err = cli(data, "query", "--named", name, *(["--param", param] if param else []))
        assert code == 0, (name, err)
