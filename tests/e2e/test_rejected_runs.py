"""A rejected file stays visible: ``make run`` of a file ValidateInput rejects leaves a summary that
``csv-dmap runs`` lists with its error, ``status`` shows as REJECTED with its cause, and
``failures`` answers with the error, the cause and what to do, exit 1 (nothing was applied, so there
are no failed rows to list, and saying "(none)" with exit 0 would read as success). Whatever the run prints
holds no ``None``."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from csv_dmap_cli.cli import main as cli
from tests.e2e.local_lab import Lab


@pytest.fixture
def lab(tmp_path, monkeypatch, capsys):
    return Lab(tmp_path, monkeypatch, capsys, ["U1"])


def people(lab: Lab, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli(["--local", "--data-dir", str(lab.data), *argv], out=out)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "EmptyFile"),
        ("name,age\nU1,3\n", "InvalidHeader"),
    ],
)
def test_a_rejected_run_is_listed_shown_and_answered(lab, text, error):
    code, summary = lab.run(text, [])
    name = summary["execution"]
    assert code != 0 and summary["runStatus"] == "REJECTED" and summary["error"] == error and summary["cause"]

    code, out, _ = people(lab, "--json", "runs")
    listed = {r["executionName"]: r for r in json.loads(out)}
    assert code == 0 and listed[name]["status"] == "REJECTED" and listed[name]["error"] == error

    code, out, _ = people(lab, "runs")
    (line,) = [x for x in out.splitlines() if name in x]
    assert "REJECTED" in line and error in line and "None" not in out

    code, out, _ = people(lab, "status", name)
    assert code == 1 and "REJECTED" in out and summary["cause"][:40] in out and "None" not in out  # a run that failed

    code, out, err = people(lab, "failures", name)
    first = out.splitlines()[0]
    assert code == 1 and f"{name} was REJECTED" in first and error in first and summary["cause"][:40] in first
    assert "(none)" not in out + err and "csv-dmap check" in out  # what to do next


def test_the_summary_for_people_of_a_rejected_run_says_rejected_and_holds_no_none(lab, capsys):
    from local_runner.run import main as make_run
    from tests.e2e.local_lab import run_args

    path = lab.tmp / "empty.csv"
    path.write_bytes(b"")
    args = run_args(path, lab.db, lab.tmp / "out", [])
    args.json = False
    code = make_run(args)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert code != 0 and "REJECTED" in text and "EmptyFile" in text
    assert "None" not in text and "Traceback" not in text
    assert "failed 0" not in text and "applied 0" not in text  # no zero counts for a file never read
