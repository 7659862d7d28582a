"""The local run at scale, as a user runs it (S3 on s3rver, the audit table on dynalite kept across
runs): exporting a run reads only that run's audit items however many other runs the table holds;
several batches in flight share the progress file; two redrives of one execution cannot both
write it; the file's row count is its CSV records, whatever its line ends.

Oracles: the CSV texts, and what DynamoDB itself answered (counted by botocore's event hooks, not by
the code under test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local_lab import Lab

ROOT = Path(__file__).parents[2]
HEADER = "user_id,login_count,post_count"
USERS = [f"U{i:04d}" for i in range(1, 701)]


def text_of(users: list[str], login: int) -> str:
    return HEADER + "\n" + "".join(f"{u},{login},{i}\n" for i, u in enumerate(users)) + "N9999,1,1\n"


class DynamoDBReads:
    """Every item DynamoDB returned to any client of the runner, and every operation asked for."""

    def __init__(self) -> None:
        self.items = 0
        self.operations: list[str] = []

    def after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.operations.append(model.name)
        if "Items" in parsed:  # Query, Scan
            self.items += len(parsed["Items"])
        for items in (parsed.get("Responses") or {}).values():  # BatchGetItem
            self.items += len(items)


def test_exporting_a_run_reads_only_its_own_audit_items(tmp_path, monkeypatch, capsys):
    from local_runner import localdata
    from local_runner.environment import LocalEnvironment

    lab = Lab(tmp_path, monkeypatch, capsys, USERS)
    big_rows = len(USERS) + 1
    code, big = lab.run(text_of(USERS, 1), ["MaxItemsPerBatch=100"])
    assert code == 0 and big["auditRecords"] == big_rows

    reads = DynamoDBReads()
    original_keep = localdata.keep_for_analysis

    def counted_keep(env: LocalEnvironment, name: str, data_dir: Any = None, rows: int = 0) -> Any:
        original_client = env.client

        def client(service: str, config: Any = None) -> Any:
            made = original_client(service, config)
            if service == "dynamodb":
                made.meta.events.register("after-call.dynamodb.*", reads.after_call)
            return made

        monkeypatch.setattr(env, "client", client)
        try:
            return original_keep(env, name, data_dir, rows)
        finally:
            monkeypatch.setattr(env, "client", original_client)

    monkeypatch.setattr(localdata, "keep_for_analysis", counted_keep)
    small_users = USERS[:40]
    code, small = lab.run(text_of(small_users, 2), ["MaxItemsPerBatch=100"])
    assert code == 0
    small_rows = len(small_users) + 1
    # the table holds both runs (kept across runs); the export of the small one read its own items only
    assert small["auditRecords"] == small_rows
    assert reads.items == small_rows, reads.operations
    assert "Scan" not in reads.operations
    records = lab.audit(small["execution"])
    assert sorted(r["line"] for r in records) == list(range(2, small_rows + 2))
    assert {r["executionName"] for r in records} == {small["execution"]}
    assert len(lab.audit(big["execution"])) == big_rows  # the big run's export is still whole


@pytest.mark.parametrize(
    ("text", "records"),
    [
        (HEADER + "\r" + "U0001,1,1\rU0002,2,2\r", 2),  # classic Mac line ends
        (HEADER + "\r\n" + "U0001,1,1\r\nU0002,2,2\r\n", 2),
        (HEADER + "\n" + 'U0001,1,1\nU0002,2,2\n"U0003\nX",3,3\nU0004,4,4\n\nU0005,5,5\n', 5),  # a quoted newline
    ],
    ids=["cr", "crlf", "quoted-newline"],
)
def test_the_files_row_count_is_its_csv_records(tmp_path, monkeypatch, capsys, text, records):
    lab = Lab(tmp_path, monkeypatch, capsys, USERS[:5])
    path = tmp_path / "records.csv"
    path.write_bytes(text.encode())
    from local_runner.run import main as make_run
    from tests.e2e.local_lab import run_args

    make_run(run_args(path, lab.db, tmp_path / "out", []))  # a quoted newline in an id fails its row
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["rowsInFile"]) == (records, records), summary


def test_a_run_with_several_batches_in_flight_keeps_one_progress_file(tmp_path, monkeypatch, capsys):
    """Every map worker thread reports its batch (``on_batch_done``) at once; each write of the
    progress file has a temporary file of its own, so none of them fails and the run succeeds.
    (3,200 rows at DetermineConcurrency's assumed 1,500 rows/s a worker, in a target of 1 s: 3 workers.)"""
    users = [f"P{i:05d}" for i in range(3_200)]
    lab = Lab(tmp_path, monkeypatch, capsys, users)
    seen: list[int] = []

    def on_batch(progress: Any) -> None:
        body = json.loads((lab.data / "running" / f"{progress.name}.json").read_text())
        seen.append(body["itemCounts"]["succeeded"] + body["itemCounts"]["failed"])

    parameters = ["MaxConcurrency=6", "MaxItemsPerBatch=20", "TargetDurationSeconds=1"]
    code, summary = lab.run(text_of(users, 3), parameters, on_batch=on_batch)
    assert code == 0, summary
    assert summary["peakInFlight"] > 1 and summary["batches"] == 161
    assert summary["rows"] == summary["rowsInFile"] == len(users) + 1
    assert len(seen) == 161 and max(seen) == len(users) + 1
    assert not list((lab.data / "running").glob("*")), "no progress file or temporary file is left"


def test_two_redrives_of_one_execution_at_once_one_runs_and_the_other_says_why_not(tmp_path, monkeypatch, capsys):
    lab = Lab(tmp_path, monkeypatch, capsys, USERS[:60])
    rows = [f"{u},{i},{i}" for i, u in enumerate(USERS[:60])]
    code, failed = lab.run(HEADER + "\n" + "\n".join(rows) + "\n", ["MaxConcurrency=1", "MaxItemsPerBatch=10"], 3)
    assert code == 1 and failed["redrive"], failed
    lab.mend_db()
    name = failed["execution"]
    argv = [sys.executable, "-m", "local_runner", "redrive", name, "--json", "--no-progress", "--database-url", lab.db]
    env = {**os.environ}  # the lab's data, audit table and S3 directories
    procs = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    answers = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in answers)
    assert codes == [0, 2], answers
    (busy,) = [err for code, _, err in answers if code == 2]
    lines = busy.strip().splitlines()
    assert len(lines) == 1 and "is being run or redriven by another process" in lines[0], busy
    (done,) = [json.loads(out.strip().splitlines()[-1]) for code, out, _ in answers if code == 0]
    assert done["status"] == "SUCCEEDED" and done["rows"] == 60
    assert sorted(r["line"] for r in lab.audit(name)) == list(range(2, 62))
