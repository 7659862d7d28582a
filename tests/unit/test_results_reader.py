"""Reading a run's result files without trusting them (``csv_dmap.results.RecordReader`` and
``csv_dmap.aggregation``): a file or record listed twice is read once, two Map Runs' manifests do
not double the rows, a record whose output is not the worker's answer, a truncated or missing file
and a broken manifest are named, and the run fails ``ResultsIncomplete`` when the files do not
account for the file's rows. The oracle is the rows the test writes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from csv_dmap.aggregation import AggregateOptions, RunFacts, aggregate_run, tally_manifest
from csv_dmap.models import ValidationResult
from csv_dmap.results import latest_manifest

BUCKET = "results"
START = "2026-11-22T15:30:00.250Z"
OPTIONS = AggregateOptions(
    report_timezone="Asia/Tokyo", tolerated_failure_percentage=5, medium_ratio=0.5, row_results_part_rows=1000
)


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="ap-northeast-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
        yield client


def batch(first: int, n: int) -> dict[str, Any]:
    """A SUCCEEDED child record of ``n`` applied rows from index ``first``, as ResultWriter writes it."""
    items = [{"index": i, "row": {"user_id": f"U{i:05d}", "line": str(i + 2)}} for i in range(first, first + n)]
    results = [{"index": i, "line": i + 2, "userId": f"U{i:05d}", "status": "APPLIED"} for i in range(first, first + n)]
    return {
        "Status": "SUCCEEDED",
        "Input": json.dumps({"Items": items}),
        "Output": json.dumps({"firstIndex": first, "results": results}),
    }


def write(s3: Any, execution: str, files: dict[str, list[Any] | bytes], listing: dict[str, list[str]], run: str = "m1"):
    """Result files (records, or raw bytes) and a manifest listing them as ``listing`` says."""
    prefix = f"results/{execution}/{run}/"
    for name, body in files.items():
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=data)
    manifest = {
        "DestinationBucket": BUCKET,
        "MapRunArn": f"arn:aws:states:ap-northeast-1:1:mapRun:sm/ProcessUserStats:{run}",
        "ResultFiles": {s: [{"Key": prefix + n, "Size": 1} for n in names] for s, names in listing.items()},
    }
    s3.put_object(Bucket=BUCKET, Key=prefix + "manifest.json", Body=json.dumps(manifest).encode())
    return prefix + "manifest.json"


def validation(rows: int) -> ValidationResult:
    return ValidationResult(
        bucket="in",
        key="staging/x/a.csv",
        source_key="incoming/a.csv",
        byte_size=1,
        encoding="UTF-8",
        header=[],
        source_rows=rows,
        duplicate_rows=0,
        row_count=rows,
    )


def aggregate(s3: Any, execution: str, rows: int, manifest: str | None = None):
    facts = RunFacts(
        execution_name=execution,
        start_time=START,
        source_bucket="in",
        source_key="incoming/a.csv",
        validation=validation(rows),
        map_result={"ResultWriterDetails": {"Bucket": BUCKET, "Key": manifest}} if manifest else {},
    )
    return aggregate_run(s3, BUCKET, facts, OPTIONS, now=datetime(2026, 11, 22, 16, tzinfo=UTC), written_by="test")


def test_a_file_listed_twice_and_a_record_listed_twice_are_counted_once(s3):
    manifest = write(
        s3,
        "run-1",
        {"SUCCEEDED_0.json": [batch(0, 3), batch(3, 3)], "SUCCEEDED_1.json": [batch(3, 3), batch(6, 2)]},
        {"SUCCEEDED": ["SUCCEEDED_0.json", "SUCCEEDED_0.json", "SUCCEEDED_1.json"]},
    )
    tally, reader = tally_manifest(s3, BUCKET, manifest)
    assert (tally.rows, tally.applied) == (8, 8)
    assert (reader.problems.duplicate_files, reader.problems.duplicate_records) == (1, 1)
    done = aggregate(s3, "run-1", 8, manifest)
    assert (done.summary.status, done.summary.rows) == ("SUCCEEDED", 8)


def test_a_batch_that_failed_and_then_succeeded_in_a_redrive_counts_once_as_succeeded(s3):
    failed = {"Status": "FAILED", "Input": batch(3, 3)["Input"], "Error": "BatchNotApplied", "Cause": "db down"}
    manifest = write(
        s3,
        "run-2",
        {"SUCCEEDED_0.json": [batch(0, 3), batch(3, 3)], "FAILED_0.json": [failed]},
        {"SUCCEEDED": ["SUCCEEDED_0.json"], "FAILED": ["FAILED_0.json"]},
    )
    tally, _ = tally_manifest(s3, BUCKET, manifest)
    assert (tally.rows, tally.applied, tally.pending) == (6, 6, 0)


def test_only_the_latest_map_runs_manifest_is_read(s3):
    old = write(s3, "run-3", {"SUCCEEDED_0.json": [batch(0, 2)]}, {"SUCCEEDED": ["SUCCEEDED_0.json"]}, run="zz-old")
    time.sleep(1.1)  # S3's LastModified has one-second resolution: a later Map Run is a later second
    new = write(
        s3, "run-3", {"SUCCEEDED_0.json": [batch(0, 2), batch(2, 2)]}, {"SUCCEEDED": ["SUCCEEDED_0.json"]}, run="new"
    )
    assert old != new and latest_manifest(s3, BUCKET, "run-3") == new
    done = aggregate(s3, "run-3", 4)  # no manifest named (a failed map): the newest is found
    assert (done.summary.rows, done.summary.status, done.manifest_key) == (4, "SUCCEEDED", new)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ([{**batch(3, 3), "Output": "not json"}], "not the worker's answer"),
        ([{**batch(3, 3), "Output": json.dumps({"counts": {}})}], "not the worker's answer"),
        ([{**batch(3, 3), "Output": json.dumps({"results": []})}], "0 results for 3 items"),
        (b'[{"Status": "SUCCEEDED", "Input": ', "not a JSON array"),
    ],
)
def test_a_record_or_file_that_cannot_be_read_fails_the_run_naming_it(s3, body, what):
    manifest = write(
        s3,
        "run-4",
        {"SUCCEEDED_0.json": [batch(0, 3)], "SUCCEEDED_1.json": body},
        {"SUCCEEDED": ["SUCCEEDED_0.json", "SUCCEEDED_1.json"]},
    )
    done = aggregate(s3, "run-4", 6, manifest)
    assert (done.summary.status, done.summary.error) == ("FAILED", "ResultsIncomplete")
    assert "results/run-4/m1/SUCCEEDED_1.json" in done.summary.cause and what in done.summary.cause
    assert "account for 3 rows, the file has 6" in done.summary.cause


def test_a_missing_result_file_and_a_broken_manifest_are_named(s3):
    manifest = write(s3, "run-5", {"SUCCEEDED_0.json": [batch(0, 3)]}, {"SUCCEEDED": ["SUCCEEDED_0.json", "GONE.json"]})
    done = aggregate(s3, "run-5", 3, manifest)
    assert (
        done.summary.error == "ResultsIncomplete" and "results/run-5/m1/GONE.json: cannot be read" in done.summary.cause
    )
    s3.put_object(Bucket=BUCKET, Key="results/run-6/m1/manifest.json", Body=b"{not json")
    broken = aggregate(s3, "run-6", 3, "results/run-6/m1/manifest.json")
    assert broken.summary.error == "ResultsIncomplete" and "is not a ResultWriter manifest" in broken.summary.cause


def test_a_count_that_differs_from_the_files_rows_fails_the_run(s3):
    manifest = write(s3, "run-7", {"SUCCEEDED_0.json": [batch(0, 4)]}, {"SUCCEEDED": ["SUCCEEDED_0.json"]})
    done = aggregate(s3, "run-7", 5, manifest)
    assert (done.summary.status, done.summary.error) == ("FAILED", "ResultsIncomplete")
    assert "account for 4 rows, the file has 5" in done.summary.cause
    assert aggregate(s3, "run-7", 4, manifest).summary.status == "SUCCEEDED"


class Sink:
    """An audit sink that refuses the first ``refuse`` calls, then records what it is given."""

    def __init__(self, refuse: int = 0):
        self.refuse, self.written = refuse, []

    def write_results(self, results, *, execution_name, execution_start, source_key, ttl_days):
        if self.refuse:
            self.refuse -= 1
            raise RuntimeError("ProvisionedThroughputExceededException")
        self.written += [dict(r) for r in results]
        return len(results)


def test_applied_rows_without_audit_items_are_repaired_and_never_counted_failed(s3):
    record = batch(0, 30)
    output = json.loads(record["Output"])
    for result in output["results"][:27]:
        result["auditMissing"] = True
    record["Output"] = json.dumps(output)
    manifest = write(s3, "run-8", {"SUCCEEDED_0.json": [record]}, {"SUCCEEDED": ["SUCCEEDED_0.json"]})
    facts = RunFacts("run-8", START, "in", "incoming/a.csv", validation(30), map_result={})
    sink = Sink()
    done = aggregate_run(s3, BUCKET, facts, OPTIONS, now=datetime.now(UTC), audit=sink, written_by="test")
    assert (done.summary.applied, done.summary.failed, done.summary.audit_missing) == (30, 0, 0)
    assert sorted(r["index"] for r in sink.written) == list(range(27))
    assert all("auditMissing" not in r and r["status"] == "APPLIED" for r in sink.written)
    assert done.summary.status == "SUCCEEDED" and done.manifest_key == manifest

    down = aggregate_run(s3, BUCKET, facts, OPTIONS, now=datetime.now(UTC), audit=Sink(refuse=9), written_by="t")
    assert (down.summary.status, down.summary.applied, down.summary.audit_missing) == ("SUCCEEDED", 30, 27)
    assert down.summary.severity.value == "MEDIUM" and "repair failed" in down.summary.cause


def test_flagged_rows_of_every_status_are_repaired_and_counted_alike(s3):
    """A batch's audit write carries all its rows, so an outage flags superseded and failed rows
    too. The repair rewrites them all, and the count of missing items goes to 0, not below it
    (it once counted applied rows only and subtracted every repaired row: auditMissing -7)."""
    record = batch(0, 6)
    output = json.loads(record["Output"])
    for result, status in zip(output["results"], ["SUPERSEDED", "FAILED", "APPLIED"] * 2, strict=True):
        result.update({"status": status, "auditMissing": True})
        if status == "SUPERSEDED":
            result["supersededBy"] = 99
        if status == "FAILED":
            result["errorType"] = "InvalidLoginCount"
    record["Output"] = json.dumps(output)
    manifest = write(s3, "run-9", {"SUCCEEDED_0.json": [record]}, {"SUCCEEDED": ["SUCCEEDED_0.json"]})
    facts = RunFacts("run-9", START, "in", "incoming/a.csv", validation(6), map_result={})
    sink = Sink()
    done = aggregate_run(s3, BUCKET, facts, OPTIONS, now=datetime.now(UTC), audit=sink, written_by="test")
    assert (done.summary.applied, done.summary.failed, done.summary.superseded) == (2, 2, 2)
    assert done.summary.audit_missing == 0 and done.manifest_key == manifest
    assert sorted(r["index"] for r in sink.written) == list(range(6))

    down = aggregate_run(s3, BUCKET, facts, OPTIONS, now=datetime.now(UTC), audit=Sink(refuse=9), written_by="t")
    assert down.summary.audit_missing == 6  # every row without its item, whatever its status
    assert "6 rows have no audit item (repair failed" in down.summary.cause
