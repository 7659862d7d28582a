"""The project's own definition, end to end through the local runner, on
SQLite and MariaDB: every CSV row is accounted for in the database, the audit
table and the ResultWriter files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asl_runner import RunOptions
from local_runner.exec_cli import run_definition
from local_runner.pipeline import DEFINITION
from local_runner.run import generate_sample

ROOT = Path(__file__).parents[2]


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "users.csv"
    known = generate_sample(path, rows=1234, seed=7, bad_ratio=0.02, unknown_ratio=0.02)  # 4%: within 5%
    return path, known


def test_every_row_is_applied_or_failed_with_a_reason(local_env, sample):
    from csv_dmap.aggregation import tally_manifest
    from csv_dmap.audit import AuditLogReader
    from csv_dmap.db import get_engine, seed_users
    from csv_dmap.results import latest_manifest

    path, known = sample
    seed_users(get_engine(), known)
    bucket = local_env.physical_name("InputBucket")
    local_env.client("s3").upload_file(str(path), bucket, "incoming/users.csv")
    done = []
    result = run_definition(
        local_env,
        DEFINITION,
        input={"bucket": bucket, "key": "incoming/users.csv"},
        name="e2e-run",
        options=RunOptions(on_batch_done=lambda n, ok: done.append(n)),
    )
    assert result.status == "SUCCEEDED", result.cause
    assert sum(done) == 1234 and result.map_runs[0]["batches"] == 3  # 500 + 500 + 234

    s3 = local_env.client("s3")
    results_bucket = local_env.physical_name("ResultsBucket")
    key = latest_manifest(s3, results_bucket, "e2e-run")
    assert key is not None and key.startswith("results/e2e-run/") and key.endswith("/manifest.json")
    tally, reader = tally_manifest(s3, results_bucket, key)
    assert not reader.problems.any
    assert tally.rows == 1234
    assert tally.applied == len(known)
    assert tally.applied + tally.failed == 1234 and tally.pending == 0
    assert tally.errors["UserNotFound"] == sum(1 for line in path.read_text().splitlines() if line.startswith("N"))
    assert set(tally.errors) <= {"UserNotFound", "InvalidLoginCount", "InvalidPostCount", "InvalidUserId"}
    assert result.output["rows"] == 1234 and result.output["applied"] == tally.applied  # the aggregator agrees
    summary_uri = result.output["summaryUri"]
    summary = json.loads(s3.get_object(Bucket=results_bucket, Key=summary_uri.split("/", 3)[3])["Body"].read())
    assert (summary["rows"], summary["applied"], summary["failed"]) == (1234, tally.applied, tally.failed)
    assert summary["errorsByType"] == dict(tally.errors)

    from sqlalchemy import text

    with get_engine().connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM user_stats")).scalar() == len(known)
        assert conn.execute(
            text("SELECT COUNT(*) FROM user_stats WHERE last_execution_name = 'e2e-run'")
        ).scalar() == len(known)
    rows = {line.split(",")[0]: line.split(",") for line in path.read_text().splitlines()[1:]}
    with get_engine().connect() as conn:
        for uid in known[:25]:
            stats = conn.execute(
                text("SELECT login_count, post_count FROM user_stats WHERE user_id = :u"), {"u": uid}
            ).one()
            assert tuple(stats) == (int(rows[uid][1]), int(rows[uid][2]))

    reader = AuditLogReader(local_env.client("dynamodb"), local_env.physical_name("AuditTable"))
    failed = reader.failed_items("e2e-run")
    assert len(failed) == tally.failed
    assert sorted(f["rowIndex"] for f in failed) == sorted(
        i for i, line in enumerate(path.read_text().splitlines()[1:]) if line.split(",")[0] not in set(known)
    )
    audit_total = local_env.client("dynamodb").scan(TableName=local_env.physical_name("AuditTable"), Select="COUNT")
    assert audit_total["Count"] == 1234


def test_exec_cli_runs_the_definition_and_prints_json(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text("user_id,login_count,post_count\nU1,1,2\nU2,x,3\n", encoding="utf-8")
    out = tmp_path / "export"
    cmd = [
        sys.executable,
        "-m",
        "local_runner",
        "exec",
        "--definition",
        str(DEFINITION),
        "--template",
        str(ROOT / "template.yaml"),
        "--s3-object",
        f"s3://csv-dmap-local-input-bucket/incoming/in.csv={csv}",
        "--input",
        json.dumps({"bucket": "csv-dmap-local-input-bucket", "key": "incoming/in.csv"}),
        "--database-url",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--export-s3",
        str(out),
        "--json",
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "HOME": str(tmp_path),
        },
    )
    assert proc.returncode == 1, proc.stderr  # both rows failed: above the tolerance
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (answer["status"], answer["error"]) == ("FAILED", "ErrorRateExceeded")
    assert answer["cause"].startswith("2 of 2 rows failed (100.00%)")
    (key,) = [p for p in (out / "csv-dmap-local-results-bucket" / "results").rglob("manifest.json")]
    manifest = json.loads(key.read_text())
    succeeded = json.loads(
        (out / "csv-dmap-local-results-bucket" / manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]).read_text()
    )
    output = json.loads(succeeded[0]["Output"])
    # U1 unknown (not seeded), U2 bad count
    assert output["counts"] == {"total": 2, "applied": 0, "failed": 2, "superseded": 0, "skipped": 0}
    assert (out / "csv-dmap-local-input-bucket" / "incoming" / "in.csv").exists()


def test_exec_cli_rejects_an_unsupported_definition_before_running(tmp_path):
    definition = tmp_path / "d.json"
    definition.write_text(
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1}, "End": True}}})
    )
    proc = subprocess.run(
        [sys.executable, "-m", "local_runner", "exec", "--definition", str(definition), "--json"],
        capture_output=True,
        check=False,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    answer = json.loads(proc.stdout)
    assert answer["error"] == "InvalidDefinition" and "States/A: field Assign" in answer["cause"]


def test_make_run_with_aws_in_a_separate_moto_process(tmp_path, monkeypatch):
    """make run as a user runs it (S3 on s3rver, the audit table on dynalite), the other services
    in a moto process: the summary gives the peak memory of each of those processes."""
    monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(tmp_path / "data"))
    cmd = [
        sys.executable,
        "-m",
        "local_runner",
        "run",
        "--rows",
        "1500",
        "--moto-server",
        "--no-progress",
        "--json",
        "--database-url",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--out",
        str(tmp_path / "out"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "SUCCEEDED" and summary["rows"] == 1500
    assert summary["applied"] + summary["failed"] == 1500 and summary["auditRecords"] == 1500
    rss = summary["awsStandInRssMiB"]
    assert set(rss) == {"moto-server", "s3rver", "dynalite"} and all(v > 0 for v in rss.values()), rss
    assert (tmp_path / "out" / "audit.jsonl").read_text().count("\n") == 1500
