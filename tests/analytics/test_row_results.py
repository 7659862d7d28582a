"""The per-row results dataset: one record per CSV row whatever its outcome, streamed
(memory flat in the number of rows), idempotent on retry."""

from __future__ import annotations

import gzip
import importlib.util
import json
import tracemalloc
from pathlib import Path
from typing import Any

import boto3
import pytest

from csv_dmap.aggregation import tally_manifest
from csv_dmap.row_results import COLUMNS, RowResultsWriter, hive_timestamp

from .conftest import BUCKET, REGION, result, write_result_writer

ROOT = Path(__file__).parents[2]
START = "2026-11-22T15:30:00.250Z"  # 00:30 on the 23rd in Tokyo


def read_parts(s3: Any, prefix: str) -> tuple[list[str], list[dict[str, Any]]]:
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))
    records = []
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        records += [json.loads(line) for line in body.decode().splitlines()]
    return keys, records


MIXED: dict[str, Any] = {
    "succeeded": [
        [
            result(0, "APPLIED", userId="U1", oldLoginCount=3, newLoginCount=5, oldPostCount=10, newPostCount=12),
            result(1, "FAILED", rawUserId="U 2", errorType="InvalidUserId", errorMessage="bad id"),
            result(2, "SUPERSEDED", userId="U3", supersededBy=9),
            result(3, "SKIPPED", userId="U4", errorType="NewerExecutionApplied", errorMessage="local-B wrote it"),
        ]
    ],
    "failed": [
        (
            [
                {"index": 4, "row": {"user_id": "U5", "login_count": "1", "post_count": "2", "line": "6", "note": ""}},
                {"index": 5, "row": {"user_id": "??", "login_count": "1", "post_count": "2", "line": "7", "note": ""}},
            ],
            "TransientDatabaseError",
            "db down",
        )
    ],
    "pending": [[{"index": 6, "row": {"ユーザーID": "U7", "ログイン回数": "1", "投稿回数": "1"}}]],
}


def expected_records() -> list[dict[str, Any]]:
    """Written out by hand from MIXED (the oracle does not use the writer's mapping)."""
    base = {
        "execution_name": "run-A",
        "update_timestamp": "2026-11-22 15:30:00.250000",
        "source_key": "incoming/a.csv",
        "user_id": None,
        "raw_user_id": None,
        "old_login_count": None,
        "new_login_count": None,
        "old_post_count": None,
        "new_post_count": None,
        "error_type": None,
        "error_message": None,
        "superseded_by": None,
    }
    return [
        {
            **base,
            "line": 2,
            "row_index": 0,
            "user_id": "U1",
            "status": "APPLIED",
            "old_login_count": 3,
            "new_login_count": 5,
            "old_post_count": 10,
            "new_post_count": 12,
        },
        {
            **base,
            "line": 3,
            "row_index": 1,
            "raw_user_id": "U 2",
            "status": "FAILED",
            "error_type": "InvalidUserId",
            "error_message": "bad id",
        },
        {**base, "line": 4, "row_index": 2, "user_id": "U3", "status": "SUPERSEDED", "superseded_by": 9},
        {
            **base,
            "line": 5,
            "row_index": 3,
            "user_id": "U4",
            "status": "SKIPPED",
            "error_type": "NewerExecutionApplied",
            "error_message": "local-B wrote it",
        },
        {
            **base,
            "line": 6,
            "row_index": 4,
            "user_id": "U5",
            "status": "PENDING",
            "error_type": "TransientDatabaseError",
            "error_message": "db down",
        },
        {
            **base,
            "line": 7,
            "row_index": 5,
            "raw_user_id": "??",
            "status": "PENDING",
            "error_type": "TransientDatabaseError",
            "error_message": "db down",
        },
        {
            **base,
            "line": 8,
            "row_index": 6,
            "user_id": "U7",
            "status": "PENDING",
            "error_type": "NotRun",
            "error_message": "the batch never ran",
        },
    ]


def write(s3: Any, keys: list[str], part_rows: int = 100_000, execution: str = "run-A") -> RowResultsWriter:
    with RowResultsWriter(
        s3,
        BUCKET,
        execution_name=execution,
        execution_date="2026-11-23",
        execution_start=START,
        source_key="incoming/a.csv",
        part_rows=part_rows,
    ) as writer:
        for key in keys:
            tally_manifest(s3, BUCKET, key, on_row=writer.add)
    return writer


def test_one_record_per_row_whatever_its_outcome(s3):
    manifest = write_result_writer(s3, "run-A", **MIXED)
    writer = write(s3, [manifest])
    keys, records = read_parts(s3, "rows/")
    assert keys == ["rows/execution_date=2026-11-23/run-A/part-00000.json.gz"] == writer.keys
    assert records == expected_records()
    assert [c for c, _, _ in COLUMNS] == list(records[0])  # the files carry exactly the table's columns, in order


def test_update_timestamp_is_the_hive_form_in_utc():
    assert hive_timestamp("2026-11-23T09:30:00+09:00") == "2026-11-23 00:30:00.000000"
    assert hive_timestamp("2026-11-23T00:30:00.123Z") == "2026-11-23 00:30:00.123000"


def test_a_retry_overwrites_the_same_parts_and_never_duplicates(s3):
    rows = [
        [
            result(i, "APPLIED", userId=f"U{i}", oldLoginCount=0, newLoginCount=i, oldPostCount=0, newPostCount=i)
            for i in range(start, start + 5)
        ]
        for start in range(0, 25, 5)
    ]
    manifest = write_result_writer(s3, "run-A", succeeded=rows)
    first = write(s3, [manifest], part_rows=10)
    keys1, records1 = read_parts(s3, "rows/")
    bodies1 = [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys1]
    assert len(keys1) == 3 and len(records1) == 25 and first.keys == keys1
    write(s3, [manifest], part_rows=10)  # the Lambda retried
    keys2, records2 = read_parts(s3, "rows/")
    assert keys2 == keys1 and records2 == records1
    assert [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys2] == bodies1  # byte for byte
    write(s3, [manifest], part_rows=1000)  # a retry with other settings: stale parts go
    keys3, records3 = read_parts(s3, "rows/")
    assert keys3 == ["rows/execution_date=2026-11-23/run-A/part-00000.json.gz"] and records3 == records1


def test_a_failure_midway_uploads_nothing_more_and_keeps_earlier_parts(s3):
    rows = [[result(i, "APPLIED", userId=f"U{i}") for i in range(10)]]
    manifest = write_result_writer(s3, "run-A", succeeded=rows)
    write(s3, [manifest], part_rows=4)
    before = read_parts(s3, "rows/")

    def boom(row: dict[str, Any]) -> None:
        raise RuntimeError("lambda died")

    with (
        pytest.raises(RuntimeError),
        RowResultsWriter(
            s3,
            BUCKET,
            execution_name="run-A",
            execution_date="2026-11-23",
            execution_start=START,
            source_key="incoming/a.csv",
            part_rows=4,
        ) as writer,
    ):
        writer.add({"index": 0, "status": "APPLIED"})
        boom({})
    assert read_parts(s3, "rows/") == before


def _run_rows(n: int) -> list[list[dict[str, Any]]]:
    return [
        [
            result(
                i,
                "APPLIED",
                userId=f"U{i:07d}",
                oldLoginCount=i % 7,
                newLoginCount=i % 11,
                oldPostCount=i % 13,
                newPostCount=i % 17,
            )
            for i in range(start, min(n, start + 500))
        ]
        for start in range(0, n, 500)
    ]


def test_memory_does_not_grow_with_the_rows(moto_server):
    """tracemalloc peak of tally + dataset for 10,000 and 100,000 rows: bounded by one
    batch and one part (5,000 rows here), not by the run. Linear growth would be ~10x."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:  # the server is shared by the session's tests
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    peaks = {}
    for n in (10_000, 100_000):
        manifest = write_result_writer(s3, f"mem-{n}", succeeded=_run_rows(n), records_per_file=50)
        tracemalloc.start()
        with RowResultsWriter(
            s3,
            BUCKET,
            execution_name=f"mem-{n}",
            execution_date="2026-11-23",
            execution_start=START,
            source_key="k",
            part_rows=5_000,
        ) as writer:
            tally, _ = tally_manifest(s3, BUCKET, manifest, on_row=writer.add)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert tally.rows == tally.applied == n and len(writer.keys) == n // 5_000
    print(f"tracemalloc peak: {peaks}")
    assert peaks[100_000] < 2 * peaks[10_000], peaks


def _load_handler(function: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{function}_app", ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "error-aggregator"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:error-aggregator"
    aws_request_id = "req-1"


def test_aggregate_errors_writes_the_dataset_and_a_summary_that_agree(s3, monkeypatch):
    from csv_dmap.runtime import reset as reset_clients

    monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
    monkeypatch.setenv("REPORT_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("ROW_RESULTS_PART_ROWS", "3")
    reset_clients()
    try:
        manifest = write_result_writer(s3, "run-A", **MIXED)
        app = _load_handler("error_aggregator")
        event = {
            "executionName": "run-A",
            "executionStartTime": START,
            "source": {"bucket": "in", "key": "incoming/a.csv"},
            "map": {"MapRunArn": "arn", "ResultWriterDetails": {"Bucket": BUCKET, "Key": manifest}},
        }
        answer = app.lambda_handler(event, _Context())
    finally:
        reset_clients()
    keys, records = read_parts(s3, "rows/")
    assert records == expected_records() and len(keys) == 3
    assert (
        answer["rows"],
        answer["applied"],
        answer["failed"],
        answer["superseded"],
        answer["skipped"],
        answer["pending"],
    ) == (7, 1, 1, 1, 1, 3)  # the rows of the failed batch and of the batch that never ran are pending
    assert answer["status"] == "FAILED" and answer["severity"] == "HIGH"  # 1 failed row of 7 is above 5%
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key="summaries/date=2026-11-23/run-A.json")["Body"].read())
    assert summary["rowsPrefix"] == "s3://results/rows/execution_date=2026-11-23/run-A/"
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    assert by_status == {
        "APPLIED": summary["applied"],
        "FAILED": summary["failed"],
        "SUPERSEDED": summary["superseded"],
        "SKIPPED": summary["skipped"],
        "PENDING": summary["pending"],
    }
