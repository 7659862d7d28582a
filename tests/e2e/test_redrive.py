"""Local redrive end to end: ``make run`` of a file whose run fails part-way (the database
loses its ``users`` table after three batches), then ``csv-dmap --local redrive`` once the
table is back. The oracle is the CSV text: afterwards the database holds what the file
implies, and the per-row dataset, the audit export and ``failures`` name every row once."""

from __future__ import annotations

import io
import json

import pytest

from csv_dmap_cli.cli import main as cli
from tests.e2e.local_lab import Lab, cli_run

SEEDED = [f"U{i:04d}" for i in range(1, 61)]
ROWS = [f"U{i:04d},{i},{3 * i}" for i in range(1, 61)] + ["U0061,abc,3", "N0001,5,5"]
TEXT = "user_id,login_count,post_count\n" + "\n".join(ROWS) + "\n"
BAD_LINES = {62: ("U0061", "InvalidLoginCount"), 63: ("N0001", "UserNotFound")}  # line 1 is the header
PARAMETERS = ["MaxConcurrency=1", "MaxItemsPerBatch=10"]  # 7 batches, one at a time


@pytest.fixture
def failed_run(tmp_path, monkeypatch, capsys):
    """A ``make run`` whose database loses ``users`` after three batches: (its summary, the lab)."""
    lab = Lab(tmp_path, monkeypatch, capsys, SEEDED)
    code, summary = lab.run(TEXT, PARAMETERS, fail_after=3)
    assert code == 1
    return summary, lab


def test_a_failed_local_run_is_redriven_and_then_accounts_for_every_row_once(failed_run, tmp_path):
    summary, lab = failed_run
    db, data = lab.db, lab.data
    name = summary["execution"]
    # a batch that fails as a whole is an infrastructure failure: the map fails at once, uncaught,
    # so that a redrive restarts at the map (no tolerance of failed batches)
    assert (summary["status"], summary["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert summary["failedBatches"] == 1 and summary["applied"] == 30  # three batches of ten went in
    assert (summary["rows"], summary["pending"], summary["failed"]) == (62, 32, 0)  # the run summary counts them all
    assert summary["failedByErrorType"] == {"PermanentDatabaseError": 10, "NotRun": 22}
    assert summary["redrive"] == f"csv-dmap --local redrive {name}"
    kit = json.loads((data / "executions" / name / "execution.json").read_text())
    visits = [(v["state"], v["exited"]) for v in kit["checkpoint"]["visits"]]
    assert visits[-1] == ("ProcessUserStats", False)  # AWS's restart point: entered, never exited
    assert len(lab.stats()) == 30
    # failures lists what the audit log holds, and says what it cannot list: the 32 rows not applied
    # (the failed batch's 10 and the 22 the map never read; the bad rows, lines 62 and 63, among them)
    out = io.StringIO()
    assert cli(["--local", "--data-dir", str(data), "failures", name], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["line  user  error  message", "(none)"]
    assert lines[2].startswith(
        "and 32 more row(s) not applied, with no audit record (NotRun 22, PermanentDatabaseError 10): "
    )

    # the database is mended; a redrive against another database is refused
    lab.mend_db()
    code, _ = cli_run(data, "redrive", name, "--database-url", f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert code == 2

    code, redriven = cli_run(data, "redrive", name, "--database-url", db)
    assert code == 0, redriven
    assert redriven["status"] == "SUCCEEDED" and redriven["redriveCount"] == 1
    assert redriven["carriedOverBatches"] == 3  # the batches that had succeeded did not run again
    assert (redriven["batches"], redriven["failedBatches"], redriven["pending"]) == (7, 0, 0)
    assert (redriven["rows"], redriven["applied"], redriven["failed"]) == (62, 60, 2)
    assert not (data / "executions" / name).exists()

    # the oracle: the CSV text
    expected = {f"U{i:04d}": (i, 3 * i) for i in range(1, 61)}
    assert lab.stats() == expected
    code, per_row = cli_run(
        data, "query", "--sql", f"SELECT line, status FROM user_update_results WHERE execution_name = '{name}'"
    )
    lines = [r["line"] for r in per_row]
    assert sorted(lines) == list(range(2, 64))  # every data line once, none twice
    assert {r["line"] for r in per_row if r["status"] == "FAILED"} == set(BAD_LINES)
    code, failures = cli_run(data, "failures", name)
    assert code == 0
    assert {(f["line"], f.get("userId"), f["errorType"]) for f in failures} == {
        (line, uid, kind) for line, (uid, kind) in BAD_LINES.items()
    }
    audit = [json.loads(x) for x in (data / "audit" / f"{name}.jsonl").read_text().splitlines()]
    assert sorted(a["line"] for a in audit) == list(range(2, 64))
    code, status = cli_run(data, "status", name)
    assert status["state"] == "SUCCEEDED"

    # a SUCCEEDED execution cannot be redriven, and an unknown one is named
    code, _ = cli_run(data, "redrive", name, "--database-url", db)
    assert code == 1
    code, _ = cli_run(data, "redrive", "local-nothing-here", "--database-url", db)
    assert code == 1


def test_a_redrive_that_fails_again_keeps_its_kit_and_counts_the_redrives(failed_run):
    summary, lab = failed_run
    db, data = lab.db, lab.data
    name = summary["execution"]
    code, again = cli_run(data, "redrive", name, "--database-url", db)  # the table is still away
    assert code == 1
    assert again["status"] == "FAILED" and again["redriveCount"] == 1
    assert again["carriedOverBatches"] == 3 and again["failedBatches"] == 1
    assert (again["applied"], again["pending"]) == (30, 32)
    assert again["redrive"] == f"csv-dmap --local redrive {name}"
    kit = json.loads((data / "executions" / name / "execution.json").read_text())
    assert kit["checkpoint"]["redrive_count"] == 1
