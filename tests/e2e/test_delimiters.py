"""Semicolon and tab files end to end through the local pipeline (``make run``): the database
gets what the file says, the run reports the rows ``csv-dmap check`` predicted (the same failed
lines by type, unknown users included when it reads the database), and the reject file keeps
the original's delimiter."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.e2e.local_lab import Lab, cli_run

SEEDED = [f"U{i}" for i in range(1, 8)]
PARAMETERS = ["MaxItemsPerBatch=3"]

SEMICOLON = (
    "ユーザーID;ログイン回数;投稿回数;Quote\r\n"
    'U1;5;12;"2,75"\r\n'  # 2: applied; a decimal comma in an extra column is data
    'U2;"1,5";3;"0,1"\r\n'  # 3: InvalidLoginCount (a decimal comma in a count)
    ";;;\r\n"  # 4: blank
    "U3;7;8;x\r\n"  # 5: superseded by line 8
    "N1;1;1;unknown\r\n"  # 6: UserNotFound
    "U4;2\r\n"  # 7: FieldCountMismatch
    "U3;9;10;y\r\n"  # 8: applied
)
TAB = "\ufeff" + (
    "ユーザーID\tログイン回数\t投稿回数\tメモ\r\n"
    'U5\t3\t4\t"a\tb"\r\n'  # 2: applied; a quoted tab
    'U6\t5\t6\t"two\r\nlines"\r\n'  # 3-4: applied; a quoted line break
    "U7\t-1\t6\tneg\r\n"  # 5: InvalidLoginCount
    "N2\t1\t1\t\r\n"  # 6: UserNotFound
)
CASES = {
    "semicolon": (SEMICOLON, ";", {"U1": (5, 12), "U3": (9, 10)}),
    "tab": (TAB, "\t", {"U5": (3, 4), "U6": (5, 6)}),
}


@pytest.fixture
def lab(tmp_path, monkeypatch, capsys):
    return Lab(tmp_path, monkeypatch, capsys, SEEDED)


def failed_lines(lab: Lab, name: str) -> dict[str, list[int]]:
    code, rows = cli_run(
        lab.data,
        "query",
        "--sql",
        f"SELECT error_type, line FROM user_update_results WHERE execution_name = '{name}' AND status = 'FAILED' "
        "ORDER BY line",
    )
    assert code == 0
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row["error_type"], []).append(row["line"])
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_spreadsheet_export_runs_end_to_end_as_check_predicted(lab, tmp_path, case):
    text, delimiter, applied = CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text, encoding="utf-8", newline="")
    code, predicted = cli_run(lab.data, "check", str(path), "--database-url", lab.db, "--tolerance", "100")
    assert code == 0 and predicted["delimiter"] == delimiter

    code, summary = lab.run(text, [*PARAMETERS, "ToleratedFailurePercentage=100"])
    assert code == 0 and summary["status"] == "SUCCEEDED", summary
    assert lab.stats() == applied
    by_type = failed_lines(lab, summary["execution"])
    assert by_type == {kind: e["lines"] for kind, e in predicted["errors"].items()}
    assert sum(map(len, by_type.values())) == summary["failed"] == predicted["failed"]

    raw = Path(summary["rejects"]).read_bytes()
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter))
    assert records[0] == [*header, "line", "error_type", "error_message"]
    assert sorted((int(r[-3]), r[-2]) for r in records[1:]) == sorted(
        (line, kind) for kind, lines in by_type.items() for line in lines
    )
