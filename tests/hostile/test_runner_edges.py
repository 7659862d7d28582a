"""The local runner's edges: ``--s3-object`` keys that hold ``=``, ``invoke`` naming an unknown
function before anything else, unreadable side files as one line, and a function that
publishes no metric (ValidateInput rejecting a file) printing no Powertools warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from local_runner.s3util import parse_s3_spec

ROOT = Path(__file__).parents[2]
RESULTS = "csv-dmap-local-results-bucket"
EXEC_TEMPLATE = ["exec", "--definition", "statemachine/definition.asl.json", "--template", "template.yaml"]


def local_runner(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-m", "local_runner", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_s3_object_spec_splits_at_the_last_equals_sign(tmp_path):
    local = tmp_path / "x.json"
    local.write_text("{}")
    key = "summaries/date=2026-01-01/x.json"
    assert parse_s3_spec(f"s3://b/{key}={local}") == ("b", key, str(local))
    assert parse_s3_spec(f"s3://b/k={local}") == ("b", "k", str(local))


def test_invoke_reads_a_summary_uploaded_under_a_hive_partition(tmp_path):
    """The daily report of 2026-01-01 over one summary given with --s3-object: the key holds '='."""
    summary = tmp_path / "run-1.json"
    summary.write_text(
        json.dumps(
            {
                "executionName": "run-1",
                "date": "2026-01-01",
                "startTime": "2026-01-01T01:00:00+00:00",
                "finishedAt": "2026-01-01T01:00:30+00:00",
                "durationSeconds": 30.0,
                "status": "SUCCEEDED",
                "sourceBucket": "in",
                "sourceKey": "incoming/a.csv",
                "rows": 5,
                "applied": 5,
                "failed": 0,
                "errorRate": 0.0,
                "severity": "NONE",
            }
        )
    )
    event = tmp_path / "event.json"
    event.write_text('{"date": "2026-01-01"}')
    spec = f"s3://{RESULTS}/summaries/date=2026-01-01/run-1.json={summary}"
    done = local_runner(tmp_path, "invoke", "--function", "daily_report", "--event", str(event), "--s3-object", spec)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["executions"] == 1


def test_make_invoke_names_an_unknown_function_and_lists_the_known_ones(tmp_path):
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "invoke", "FN=nope"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert said.startswith("error: no function 'nope' in the template; known: WorkerFunction (worker)")
    assert "daily_report" in said and "cannot read the event" not in done.stderr


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--seed-users", "BINARY"], "cannot read the user ids of --seed-users"),
        (["--seed-users", "MISSING"], "cannot read the user ids of --seed-users"),
        (["--template", "MISSING"], "--template: no file"),
        (["--s3-object", "s3://b/k=MISSING"], "--s3-object: no file"),
        (["--s3-object", "nonsense"], "expected s3://bucket/key=LOCAL_FILE"),
    ],
)
def test_invoke_side_files_that_cannot_be_read_are_one_line(tmp_path, extra, says):
    binary = tmp_path / "users.bin"
    binary.write_bytes(b"\x7fELF\xd0\xff\x00" * 10)
    paths = {"BINARY": str(binary), "MISSING": str(tmp_path / "missing")}
    args = [paths.get(a, a.replace("MISSING", str(tmp_path / "missing"))) for a in extra]
    event = ROOT / "events" / "worker.json"
    done = local_runner(tmp_path, "invoke", "--function", "worker", "--event", str(event), *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--rows", "0"], "must be 1 to 100,000,000"),
        (["run", "--rows", "-5"], "must be 1 to 100,000,000"),
        (["run", "--parameter", "junk"], "expected NAME=VALUE"),
        (["run", "--rows", "3", "--parameter", "NoSuchParameter=1"], "the template has no such parameter"),
        (["exec", "--definition", "statemachine/definition.asl.json", "--template", "MISSING"], "--template: no file"),
        (
            [*EXEC_TEMPLATE, "--state-machine", "Nope"],
            "--state-machine Nope: the template has",
        ),
    ],
)
def test_local_runner_arguments_that_cannot_work_are_one_line(tmp_path, args, says):
    args = [a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    done = local_runner(tmp_path, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr.strip().splitlines()[-1]


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("")
    done = local_runner(tmp_path, "run", "--rows", "3", "--no-progress", "--out", str(tmp_path / "a-file" / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'a-file'}")


def _validate(s3, key: str, capsys) -> tuple[list[str], str]:
    """ValidateInput on one object: the warnings it raised, and what it printed (EMF metrics)."""
    from csv_dmap.observability import metrics
    from csv_dmap.runtime import reset as reset_clients
    from tests.analytics.test_row_results import _Context, _load_handler

    handler = _load_handler("validate_input").lambda_handler
    reset_clients()
    # Metrics keep their set in class attributes: what an earlier test added (with publishing
    # disabled, nothing is cleared) is not this invocation's (Powertools' docs: "Clearing metrics")
    metrics.clear_metrics()
    capsys.readouterr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                handler({"input": {"bucket": "results", "key": key}, "executionName": "run-1"}, _Context())
            except Exception as exc:  # noqa: BLE001 - a rejected file is the function raising its named error
                assert type(exc).__name__ == "EmptyFile", exc
    finally:
        reset_clients()
    return [str(w.message) for w in caught], capsys.readouterr().out


def test_a_rejected_file_publishes_no_metric_and_says_nothing_about_it(capsys, monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="ap-northeast-1")
        s3.create_bucket(Bucket="results", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
        s3.put_object(Bucket="results", Key="incoming/empty.csv", Body=b"")
        s3.put_object(Bucket="results", Key="incoming/ok.csv", Body=b"user_id,login_count,post_count\nU1,1,2\n")
        said, printed = _validate(s3, "incoming/empty.csv", capsys)
        assert not [w for w in said if "metrics" in w], said
        assert '"InputRows"' not in printed
        said, printed = _validate(s3, "incoming/ok.csv", capsys)
        assert not [w for w in said if "metrics" in w], said
        (emf,) = [json.loads(line) for line in printed.splitlines() if '"_aws"' in line]
        assert emf["InputRows"] == [1.0] or emf["InputRows"] == 1.0
