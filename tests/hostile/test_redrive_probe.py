"""Hostile probes of local redrive (``csv-dmap --local redrive``): a ``make run`` made to fail
part-way (the SQLite ``users`` table is renamed after N batches), then redriven.

The oracle is the CSV text: every data line appears exactly once in the per-row dataset and
in the audit export, and ``user_stats`` holds, for each seeded user, the values of the user's
*last* row in the file when that row is valid (ValidateInput supersedes the earlier ones)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from csv_dmap_cli.cli import main as cli
from tests.e2e.local_lab import HEADER, Lab, assert_every_line_once, cli_run, expected_stats

# A file with duplicates of the same user in different batches (10 rows a batch), and bad rows.
USERS = [f"U{i:04d}" for i in range(1, 41)]
DUP_ROWS = (
    [f"U{i:04d},{i},{i}" for i in range(1, 31)]  # batches 1-3
    + [f"U{i:04d},{100 + i},{100 + i}" for i in range(1, 6)]  # batch 4: U0001-U0005 again (supersede 1-5)
    + ["U0031,abc,1", "N0001,1,1", "U0032,7,7", "U0006,bad,1", "U0033,8,8"]  # batch 4 too; U0006's last row is bad
    + [f"U{i:04d},{200 + i},{200 + i}" for i in range(34, 41)]  # batch 5
    + ["U0034,999,999", "U0010,555,555", "U0035,1,2"]  # batch 5/6: supersede rows of batch 5 and batch 1
)
DUP_TEXT = HEADER + "\n" + "\n".join(DUP_ROWS) + "\n"


@pytest.mark.parametrize(
    ("concurrency", "fail_after"),
    [(1, 3), (1, 4), (3, 2)],
    ids=["serial-split-duplicates", "serial-after-dups", "concurrent"],
)
def test_redrive_accounts_for_every_row_once_with_duplicates_and_bad_rows(
    tmp_path, monkeypatch, capsys, concurrency, fail_after
):
    lab = Lab(tmp_path, monkeypatch, capsys, USERS)
    code, first = lab.run(
        DUP_TEXT, [f"MaxConcurrency={concurrency}", "MaxItemsPerBatch=10", "ToleratedFailurePercentage=10"], fail_after
    )
    assert code == 1 and first["status"] == "FAILED", first
    name = first["execution"]
    lab.mend_db()
    code, redriven = lab.redrive(name)
    assert code == 0, redriven
    assert redriven["status"] == "SUCCEEDED"
    assert redriven["rows"] == len(DUP_ROWS)
    assert lab.stats() == expected_stats(DUP_TEXT, set(USERS))
    assert_every_line_once(lab, name, len(DUP_ROWS))
    statuses = {r["line"]: r["status"] for r in lab.per_row(name)}
    assert statuses[2] == "SUPERSEDED" and statuses[32] == "APPLIED"  # U0001: line 32 supersedes line 2
    assert statuses[11] == "SUPERSEDED"  # U0010 line 11, superseded by the last row's predecessor
    assert statuses[40] == "FAILED"  # U0006,bad,1: the last row of U0006
    code, failures = cli_run(lab.data, "failures", name)
    assert code == 0
    assert {f["line"] for f in failures} == {l for l, s in statuses.items() if s == "FAILED"}


SMALL_USERS = [f"U{i:04d}" for i in range(1, 31)]
SMALL_TEXT = HEADER + "\n" + "\n".join(f"U{i:04d},{i},{2 * i}" for i in range(1, 31)) + "\n"


def test_redrive_that_fails_again_then_succeeds_counts_two_redrives(tmp_path, monkeypatch, capsys):
    lab = Lab(tmp_path, monkeypatch, capsys, SMALL_USERS)
    code, first = lab.run(SMALL_TEXT, ["MaxConcurrency=1", "MaxItemsPerBatch=5"], fail_after=2)
    assert code == 1
    name = first["execution"]
    code, again = lab.redrive(name)  # still broken
    assert code == 1 and again["status"] == "FAILED" and again["redriveCount"] == 1
    lab.mend_db()
    code, third = lab.redrive(name)
    assert code == 0, third
    assert third["status"] == "SUCCEEDED" and third["redriveCount"] == 2
    assert third["carriedOverBatches"] == 2
    assert lab.stats() == expected_stats(SMALL_TEXT, set(SMALL_USERS))
    assert_every_line_once(lab, name, 30)


def test_redrive_that_fails_again_part_way_keeps_the_new_successes(tmp_path, monkeypatch, capsys):
    """Second attempt gets two more batches in before the table goes away again."""
    from local_runner import layer

    lab = Lab(tmp_path, monkeypatch, capsys, SMALL_USERS)
    code, first = lab.run(SMALL_TEXT, ["MaxConcurrency=1", "MaxItemsPerBatch=5"], fail_after=2)
    name = first["execution"]
    lab.mend_db()
    original = layer.MapProgress.batch_done
    seen = {"n": 0}

    def batch_done(progress, rows, ok):
        original(progress, rows, ok)
        seen["n"] += 1
        if seen["n"] == 4:  # 2 carried + 2 new
            lab.break_db()

    monkeypatch.setattr(layer.MapProgress, "batch_done", batch_done)
    code, second = lab.redrive(name)
    monkeypatch.setattr(layer.MapProgress, "batch_done", original)
    assert code == 1 and second["carriedOverBatches"] == 2
    lab.mend_db()
    code, third = lab.redrive(name)
    assert code == 0 and third["carriedOverBatches"] == 4, third
    assert lab.stats() == expected_stats(SMALL_TEXT, set(SMALL_USERS))
    assert_every_line_once(lab, name, 30)


def test_a_newer_run_between_the_failure_and_the_redrive_wins(tmp_path, monkeypatch, capsys):
    lab = Lab(tmp_path, monkeypatch, capsys, SMALL_USERS)
    code, first = lab.run(SMALL_TEXT, ["MaxConcurrency=1", "MaxItemsPerBatch=5"], fail_after=2)
    old = first["execution"]
    lab.mend_db()
    newer_text = HEADER + "\n" + "\n".join(f"U{i:04d},{1000 + i},{1000 + i}" for i in range(1, 31)) + "\n"
    code, newer = lab.run(newer_text, ["MaxConcurrency=1", "MaxItemsPerBatch=5"])
    assert code == 0, newer
    code, redriven = lab.redrive(old)
    assert code == 0, redriven
    assert lab.stats() == expected_stats(newer_text, set(SMALL_USERS))  # the newer run's values everywhere
    statuses = {r["line"]: r["status"] for r in lab.per_row(old)}
    assert all(statuses[line] == "SKIPPED" for line in range(12, 32)), statuses  # batches 3-6 of the old run
    assert all(statuses[line] == "APPLIED" for line in range(2, 12))
    assert_every_line_once(lab, old, 30)
    assert_every_line_once(lab, newer["execution"], 30)


# ---------------------------------------------------------------- damaged kits


class _Capture:
    """capsys for a module-scoped run: make run's stdout, captured by redirect_stdout."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def readouterr(self) -> Any:
        out = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return argparse.Namespace(out=out, err="")


@pytest.fixture(scope="module")
def failed_template(tmp_path_factory):
    """One failed run (2 of 6 batches applied, table mended) for the damage probes to copy."""
    import contextlib

    base = tmp_path_factory.mktemp("failed-template")
    with pytest.MonkeyPatch.context() as mp:
        capture = _Capture()
        lab = Lab(base, mp, capture, SMALL_USERS)
        with contextlib.redirect_stdout(capture.buffer):
            code, first = lab.run(SMALL_TEXT, ["MaxConcurrency=1", "MaxItemsPerBatch=5"], fail_after=2)
        assert code == 1
        lab.mend_db()
    return base, first["execution"]


@pytest.fixture
def failed(failed_template, tmp_path, monkeypatch, capsys):
    import shutil

    base, name = failed_template
    work = tmp_path / "copy"
    shutil.copytree(base, work)
    lab = Lab.__new__(Lab)
    lab.tmp, lab.monkeypatch, lab.capsys, lab.runs = work, monkeypatch, capsys, 1
    lab.data, lab.db_path = work / "data", work / "db.sqlite"
    lab.db = f"sqlite:///{lab.db_path}"
    monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(lab.data))
    manifest_path = lab.data / "executions" / name / "execution.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["database"] = lab.db
    manifest_path.write_text(json.dumps(manifest))
    return lab, name


def _kit(lab: Lab, name: str) -> Path:
    return lab.data / "executions" / name


def damage_truncate(kit: Path) -> None:
    body = (kit / "execution.json").read_text()
    (kit / "execution.json").write_text(body[: len(body) // 2])


def damage_not_an_object(kit: Path) -> None:
    (kit / "execution.json").write_text("[1, 2]")


def damage_checkpoint_null(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    manifest["checkpoint"] = None
    (kit / "execution.json").write_text(json.dumps(manifest))


def damage_parameters(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    manifest["parameters"] = ["oops"]
    (kit / "execution.json").write_text(json.dumps(manifest))


def damage_s3(kit: Path) -> None:
    import shutil

    shutil.rmtree(kit / "s3")


def damage_results(kit: Path) -> None:
    import shutil

    shutil.rmtree(kit / "s3" / "ResultsBucket")


def damage_staging(kit: Path) -> None:
    import shutil

    shutil.rmtree(kit / "s3" / "InputBucket" / "staging")


def damage_audit_line(kit: Path) -> None:
    with open(kit / "audit.jsonl", "a") as fh:
        fh.write("{not json\n")


def damage_succeeded_units(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    for run in manifest["checkpoint"]["map_runs"].values():
        run["succeeded"] = [{"first": 0, "count": 7}]
    (kit / "execution.json").write_text(json.dumps(manifest))


def damage_status(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    manifest["checkpoint"]["status"] = "SUCCEEDED"
    (kit / "execution.json").write_text(json.dumps(manifest))


def damage_visit_state(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    for visit in manifest["checkpoint"]["visits"]:
        if not visit["exited"]:
            visit["state"] = "NoSuchState"
            break
    (kit / "execution.json").write_text(json.dumps(manifest))


def damage_name(kit: Path) -> None:
    manifest = json.loads((kit / "execution.json").read_text())
    manifest["checkpoint"]["name"] = "local-someone-else"
    (kit / "execution.json").write_text(json.dumps(manifest))


# Damage that must be refused before anything runs: one ``csv-dmap:`` line, exit != 0.
REFUSED = [
    damage_truncate,
    damage_not_an_object,
    damage_checkpoint_null,
    damage_parameters,  # was a TypeError traceback
    damage_audit_line,  # was a JSONDecodeError traceback
    damage_status,
    damage_visit_state,  # was a KeyError traceback
    damage_name,  # was redriven as another execution, and the kit dropped
]
# Damage the redrive runs into: a FAILED summary (exit 1), no traceback, database untouched.
FAILS_CLEANLY = [damage_s3, damage_results, damage_staging, damage_succeeded_units]


def _redrive_raw(lab: Lab, name: str, capsys: Any) -> tuple[int, str, str]:
    capsys.readouterr()
    out = io.StringIO()
    try:
        code = cli(["--local", "--data-dir", str(lab.data), "redrive", name, "--database-url", lab.db], out=out)
    except Exception as exc:  # noqa: BLE001 - what the user would see as a traceback
        return -1, out.getvalue(), f"Traceback: {type(exc).__name__}: {exc}"
    return code, out.getvalue(), capsys.readouterr().err


@pytest.mark.parametrize("damage", REFUSED, ids=[d.__name__ for d in REFUSED])
def test_a_damaged_kit_is_refused_in_one_clear_line(failed, capsys, damage):
    lab, name = failed
    before = lab.stats()
    damage(_kit(lab, name))
    code, out, err = _redrive_raw(lab, name, capsys)
    assert "Traceback" not in err, err
    assert code not in (0, -1), out
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("csv-dmap: "), err
    assert lab.stats() == before, "a refused redrive changed the database"
    assert _kit(lab, name).is_dir(), "a refused redrive dropped the kit"


@pytest.mark.parametrize("damage", FAILS_CLEANLY, ids=[d.__name__ for d in FAILS_CLEANLY])
def test_a_kit_missing_its_objects_fails_cleanly(failed, capsys, damage):
    lab, name = failed
    before = lab.stats()
    damage(_kit(lab, name))
    code, _out, err = _redrive_raw(lab, name, capsys)
    assert code == 1 and "Traceback" not in err, err
    assert lab.stats() == before
    assert _kit(lab, name).is_dir()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _user_stats(lab: Lab) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(lab.db_path) as con:
        return con.execute("SELECT * FROM user_stats ORDER BY user_id").fetchall()


@pytest.mark.parametrize(
    ("old", "new"),
    [(b"\nU0020,20,40,", b"\nU0020,99,40,"), (b"\nU0020,20,40,", b"\nU0020,99999,40,")],
    ids=["same-size", "longer"],
)
def test_a_kit_whose_staging_copy_was_edited_is_refused_naming_it(failed, capsys, old, new):
    """The staging copy is what the map reads: an edit (here a row of a batch not yet applied,
    same size or not) would apply values the user's file never had. objects.json's SHA-256 must
    catch it before the kit is put back: one line naming the copy, exit 1, the database and the
    kit byte for byte as they were."""
    lab, name = failed
    kit = _kit(lab, name)
    [copy] = (kit / "s3" / "InputBucket" / "staging").rglob("*.csv")
    body = copy.read_bytes()
    assert body.count(old) == 1, body[:200]
    copy.write_bytes(body.replace(old, new))
    assert (len(copy.read_bytes()) == len(body)) == (len(old) == len(new))
    stats, files = _user_stats(lab), _files(kit)
    code, out, err = _redrive_raw(lab, name, capsys)
    assert "Traceback" not in err, err
    assert code == 1, (out, err)
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("csv-dmap: "), err
    named = copy.relative_to(kit / "s3").as_posix()  # InputBucket/staging/<execution>/<file>
    assert f"edited {named}" in lines[0], lines[0]
    assert _user_stats(lab) == stats, "a refused redrive changed the database"
    assert _files(kit) == files, "a refused redrive rewrote the kit"


# ---------------------------------------------------------------- failures a redrive cannot mend


@pytest.mark.parametrize(
    "text",
    [
        "",  # EmptyFile
        "user,login,post\nU0001,1,1\n",  # InvalidHeader
        HEADER + "\n" + "\n".join([f"U{i:04d},{i},{i}" for i in range(1, 6)] + [f"U{i:04d},x,1" for i in range(6, 11)]),
    ],
    ids=["empty", "bad-header", "error-rate-exceeded"],
)
def test_a_failure_of_the_file_itself_is_not_offered_a_redrive(tmp_path, monkeypatch, capsys, text):
    """Nothing failed or is pending: a redrive would restart at ValidateInput on the same file, or
    at the RunFailed Fail state, and fail identically. So no kit and no hint, and ``redrive``
    refuses, saying why (it once kept a kit, advertised it, and failed again on every redrive)."""
    lab = Lab(tmp_path, monkeypatch, capsys, SMALL_USERS)
    code, first = lab.run(text, ["MaxConcurrency=1", "MaxItemsPerBatch=5"])
    assert code == 1 and first["status"] == "FAILED"
    assert first.get("failedBatches", 0) == 0 and first.get("pending", 0) == 0
    name = first["execution"]
    code, again = lab.redrive(name)
    assert code == 1 and again is None, again  # refused with a reason, not run again
    assert first["redrive"] is None
    reason = capsys.readouterr().err
    assert "rejected its file" in reason or "re-enters and fails again" in reason, reason


def test_a_run_that_failed_at_aggregate_errors_is_redriven_from_there(tmp_path, monkeypatch, capsys):
    from csv_dmap import row_results

    lab = Lab(tmp_path, monkeypatch, capsys, SMALL_USERS)
    original = row_results.RowResultsWriter.close

    def broken(self):
        self._discard()  # what a failed upload leaves: the part's temporary file closed, nothing sent
        raise RuntimeError("the results bucket is away")

    monkeypatch.setattr(row_results.RowResultsWriter, "close", broken)
    code, first = lab.run(SMALL_TEXT, ["MaxConcurrency=1", "MaxItemsPerBatch=5"])
    monkeypatch.setattr(row_results.RowResultsWriter, "close", original)
    assert code == 1, first
    name = first["execution"]
    kit = json.loads((_kit(lab, name) / "execution.json").read_text())
    restart = next(v["state"] for v in kit["checkpoint"]["visits"] if not v["exited"])
    assert restart == "AggregateErrors"
    assert lab.stats() == expected_stats(SMALL_TEXT, set(SMALL_USERS))  # the map had applied everything
    code, redriven = lab.redrive(name)
    assert code == 0, redriven
    assert redriven["status"] == "SUCCEEDED" and redriven["applied"] == 30
    assert lab.stats() == expected_stats(SMALL_TEXT, set(SMALL_USERS))
    assert_every_line_once(lab, name, 30)


# ---------------------------------------------------------------- asl_runner: carried units


def test_a_carried_unit_that_no_longer_lines_up_is_refused_not_doubled(s3_runner):
    """A carried unit whose start falls inside a new unit once went unchecked: the new unit ran
    again and the old records were still carried over, so items appeared twice."""
    from tests.runner.test_redrive import Child, definition, execution, put_items

    s3 = s3_runner
    inp = put_items(s3, 9)  # batches of 3: i0-2, i3-5, i6-8
    child = Child(bad={"i8"})
    first = execution(definition(), child).run(inp)
    assert first.status == "FAILED"
    cp = first.checkpoint.to_json()
    # the kit says the succeeded children began at items 1 and 4 (a shifted batching)
    cp["map_runs"]["Map"]["succeeded"] = [{"first": 1, "count": 3}, {"first": 4, "count": 3}]
    from asl_runner.redrive import Checkpoint

    child.broken, child.seen = False, []
    again = execution(definition(), child).redrive(Checkpoint.from_json(cp))
    assert again.status == "FAILED" and again.error == "States.Runtime"
    assert "changed since the earlier attempt" in again.cause
    assert child.seen == []  # refused before any child ran


@pytest.fixture
def s3_runner():
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="ap-northeast-1")
        for bucket in ("in-bucket", "out-bucket"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
        yield client
