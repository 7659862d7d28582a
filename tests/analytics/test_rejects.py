"""The reject file (csv_dmap.rejects) written by the aggregation pass: exactly the rows not
applied, as the original file had them, then line, error_type, error_message; UTF-8 with a BOM
and CRLF; removed when a later attempt leaves no reject; flat in memory.

The run is built from a real ValidateInput (validate_object on moto S3); the result files are
written by hand from its copy, and every expected reject file is written out by hand."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from csv_dmap.aggregation import AggregateOptions, RunFacts, aggregate_run
from csv_dmap.input_files import staged_facts, validate_object
from csv_dmap.models import RunInput, ValidationResult

from .conftest import BUCKET, REGION, result, write_result_writer

INPUT = "in-bucket"
START = "2026-11-22T15:30:00.250Z"  # the 23rd in Tokyo
KEY = "rejects/execution_date=2026-11-23/run-R.csv"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
OPTIONS = AggregateOptions(
    report_timezone="Asia/Tokyo", tolerated_failure_percentage=5, medium_ratio=0.5, row_results_part_rows=1000
)
MEMO = "x" * 100
UNREAD = "the map stopped before reading this row; a redrive applies it"

ORIGINAL = (
    "ユーザーID,ログイン回数,投稿回数,メモ\n"
    "U1,5,6,ok\n"  # line 2, index 0: APPLIED
    'U2,abc,6,"bad, count"\n'  # 3, 1: FAILED InvalidLoginCount
    "U3,1,1,old\n"  # 4, 2: SUPERSEDED by line 8
    "\n"  # 5: blank, not a row
    "U4,2,2\n"  # 6, 3: FAILED FieldCountMismatch (a short row)
    "U5,3,3,x\n"  # 7, 4: SKIPPED
    "U3,7,7,new\n"  # 8, 5: its batch failed as a whole
    'U6,1,1,"multi\nline"\n'  # 9-10, 6: the same batch
    "U7,1,1,a\n"  # 11, 7: the same batch, but line 13 decides U7: left out
    "U8,1,1,b\n"  # 12, 8: its batch never ran (a PENDING record)
    "U7,2,2,c\n"  # 13, 9: never read (the map failed)
    "U9,1,1,d,extra\n"  # 14, 10: never read, one cell too many
    "U10,1,1,e\n"  # 15, 11: never read, line 16 decides U10: left out
    "U10,2,2,f\n"  # 16, 12: never read
)
EXPECTED = (
    "\ufeffユーザーID,ログイン回数,投稿回数,メモ,line,error_type,error_message\r\n"
    'U2,abc,6,"bad, count",3,InvalidLoginCount,login count must be a whole number\r\n'
    'U4,2,2,,6,FieldCountMismatch,"the row has 3 fields, the header 4"\r\n'
    "U3,7,7,new,8,PermanentDatabaseError,users table missing\r\n"
    'U6,1,1,"multi\nline",9,PermanentDatabaseError,users table missing\r\n'
    "U8,1,1,b,12,NotRun,the batch never ran\r\n"
    f"U7,2,2,c,13,NotRun,{UNREAD}\r\n"
    f"U9,1,1,d,14,NotRun,{UNREAD},extra\r\n"
    f"U10,2,2,f,16,NotRun,{UNREAD}\r\n"
)


@pytest.fixture
def buckets(s3):
    s3.create_bucket(Bucket=INPUT, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"})
    return s3


def validated(s3: Any, body: bytes, key: str = "incoming/a.csv", execution: str = "run-R") -> ValidationResult:
    s3.put_object(Bucket=INPUT, Key=key, Body=body)
    return validate_object(s3, RunInput(bucket=INPUT, key=key), execution, max_bytes=10**9)


def copy_items(s3: Any, validation: ValidationResult) -> list[dict[str, Any]]:
    """The map's items, from the copy as Step Functions reads it."""
    text = s3.get_object(Bucket=INPUT, Key=validation.key)["Body"].read().decode()
    records = list(csv.DictReader(io.StringIO(text, newline=""), escapechar="\\"))
    return [{"index": i, "row": row} for i, row in enumerate(records)]


def aggregate(s3: Any, validation: ValidationResult | None, manifest: str, *, map_failed: bool) -> Any:
    facts = RunFacts(
        execution_name="run-R",
        start_time=START,
        source_bucket=INPUT,
        source_key="incoming/a.csv",
        validation=validation,
        map_result={"Error": "States.ExceedToleratedFailureThreshold", "Cause": "a batch failed"}
        if map_failed
        else {"ResultWriterDetails": {"Bucket": BUCKET, "Key": manifest}},
    )
    return aggregate_run(s3, BUCKET, facts, OPTIONS, now=NOW, written_by="test").summary


def failed_run(s3: Any) -> tuple[ValidationResult, str]:
    validation = validated(s3, ORIGINAL.encode())
    items = copy_items(s3, validation)
    assert [i["row"]["line"] for i in items] == ["2", "3", "4", "6", "7", "8", "9", "11", "12", "13", "14", "15", "16"]
    succeeded = [
        result(0, "APPLIED", userId="U1"),
        {
            **result(1, "FAILED", userId="U2"),
            "line": 3,
            "errorType": "InvalidLoginCount",
            "errorMessage": "login count must be a whole number",
        },
        {**result(2, "SUPERSEDED", userId="U3"), "line": 4, "supersededBy": 8},
        {
            **result(3, "FAILED", userId="U4"),
            "line": 6,
            "errorType": "FieldCountMismatch",
            "errorMessage": "the row has 3 fields, the header 4",
        },
        {**result(4, "SKIPPED", userId="U5"), "line": 7, "errorType": "NewerExecutionApplied"},
    ]
    manifest = write_result_writer(
        s3,
        "run-R",
        succeeded=[succeeded],
        failed=[(items[5:8], "PermanentDatabaseError", "users table missing")],
        pending=[items[8:9]],
    )
    return validation, manifest


def read_key(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_the_reject_file_holds_exactly_the_rows_not_applied_as_the_file_had_them(buckets):
    validation, manifest = failed_run(buckets)
    summary = aggregate(buckets, validation, manifest, map_failed=True)
    assert (summary.rejects_key, summary.rejects_error) == (KEY, None)
    assert read_key(buckets, KEY) == EXPECTED.encode()
    # the summary counts the left-out rows too (line 11 pending, line 15 never read): 2 + 8 = 10
    assert (summary.failed, summary.pending) == (2, 8)


def test_the_reject_file_uploaded_as_it_is_is_read_by_validate_input_with_its_columns_ignored(buckets):
    validation, manifest = failed_run(buckets)
    aggregate(buckets, validation, manifest, map_failed=True)
    again = validated(buckets, read_key(buckets, KEY), key="incoming/rejects.csv", execution="run-S")
    assert (again.encoding, again.row_count, again.duplicate_rows) == ("UTF-8 with BOM", 8, 0)
    rows = [item["row"] for item in copy_items(buckets, again)]
    assert [(r["user_id"], r["login_count"], r["post_count"], r["note"]) for r in rows] == [
        ("U2", "abc", "6", ""),
        ("U4", "2", "2", ""),  # padded: every column is there now
        ("U3", "7", "7", ""),
        ("U6", "1", "1", ""),
        ("U8", "1", "1", ""),
        ("U7", "2", "2", ""),
        ("U9", "1", "1", "FieldCountMismatch:8:7"),  # still one cell too many
        ("U10", "2", "2", ""),
    ]


def test_a_later_attempt_that_applied_everything_removes_the_reject_file(buckets):
    validation, manifest = failed_run(buckets)
    aggregate(buckets, validation, manifest, map_failed=True)
    assert read_key(buckets, KEY)
    applied = [[result(i, "APPLIED", userId=f"U{i}") for i in range(13)]]
    redriven = write_result_writer(buckets, "run-R", succeeded=applied, map_run="run-2")
    summary = aggregate(buckets, validation, redriven, map_failed=False)
    assert (summary.rejects_key, summary.rejects_error) == (None, None)
    assert "Contents" not in buckets.list_objects_v2(Bucket=BUCKET, Prefix="rejects/")


def test_the_version_the_run_read_is_the_one_rejected_from(buckets):
    validation, manifest = failed_run(buckets)
    buckets.put_object(Bucket=INPUT, Key="incoming/a.csv", Body=b"user_id,login_count,post_count\nZ1,1,1\n")
    summary = aggregate(buckets, validation, manifest, map_failed=True)
    assert summary.rejects_key == KEY and read_key(buckets, KEY) == EXPECTED.encode()


def test_a_replaced_original_without_its_version_is_named_not_used(buckets):
    validation, manifest = failed_run(buckets)
    buckets.put_object(Bucket=INPUT, Key="incoming/a.csv", Body=b"user_id,login_count,post_count\nZ1,1,1\n")
    summary = aggregate(buckets, validation.model_copy(update={"version_id": None}), manifest, map_failed=True)
    assert summary.rejects_key is None
    assert "is not the file the run read" in (summary.rejects_error or ""), summary.rejects_error
    assert "Contents" not in buckets.list_objects_v2(Bucket=BUCKET, Prefix="rejects/")


def test_staged_facts_name_the_original_for_run_status(buckets):
    validation, _ = failed_run(buckets)
    facts = staged_facts(buckets, INPUT, "run-R")
    assert facts is not None
    assert (facts.source_key, facts.version_id, facts.row_count) == ("incoming/a.csv", validation.version_id, 13)


def test_semicolon_cp932_original_keeps_its_delimiter_and_names(buckets):
    body = "ユーザーID;ログイン回数;投稿回数\r\nU1;1;1\r\nU2;x;2\r\n".encode("cp932")
    validation = validated(buckets, body)
    failures = [
        result(0, "APPLIED", userId="U1"),
        {**result(1, "FAILED", userId="U2"), "errorType": "InvalidLoginCount", "errorMessage": "bad; really"},
    ]
    manifest = write_result_writer(buckets, "run-R", succeeded=[failures])
    summary = aggregate(buckets, validation, manifest, map_failed=False)
    assert (
        read_key(buckets, summary.rejects_key)
        == (
            '\ufeffユーザーID;ログイン回数;投稿回数;line;error_type;error_message\r\nU2;x;2;3;InvalidLoginCount;"bad; really"\r\n'
        ).encode()
    )


def test_a_run_with_no_rejects_writes_none(buckets):
    validation = validated(buckets, b"user_id,login_count,post_count\nU1,1,1\nU1,2,2\n")
    rows = [{**result(0, "SUPERSEDED", userId="U1"), "supersededBy": 3}, result(1, "APPLIED", userId="U1")]
    summary = aggregate(buckets, validation, write_result_writer(buckets, "run-R", succeeded=[rows]), map_failed=False)
    assert (summary.rejects_key, summary.rejects_error) == (None, None)
    assert "Contents" not in buckets.list_objects_v2(Bucket=BUCKET, Prefix="rejects/")


def _whole_run_failed(s3: Any, n: int) -> tuple[ValidationResult, str]:
    """A file of ``n`` rows whose every batch failed as a whole: every row is a reject."""
    # rows of ~130 bytes: both files are larger than one read of the original (1 MiB), a constant
    body = "user_id,login_count,post_count,memo\n" + "".join(
        f"U{i:07d},{i % 7},{i % 11},m{i}{MEMO}\n" for i in range(n)
    )
    validation = validated(s3, body.encode(), key=f"incoming/{n}.csv", execution=f"run-{n}")
    batches = [
        (
            [
                {"index": i, "row": {"user_id": f"U{i:07d}", "line": str(i + 2), "note": ""}}
                for i in range(s, min(n, s + 500))
            ],
            "TransientDatabaseError",
            "down",
        )
        for s in range(0, n, 500)
    ]
    return validation, write_result_writer(s3, f"run-{n}", failed=batches, records_per_file=50)


def test_memory_does_not_grow_with_the_rejects(moto_server):
    """tracemalloc peak of the aggregation pass with its reject file, for 10,000 and 100,000
    rejected rows (every batch failed): bounded by one batch and one chunk, not by the run."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}  # the server is shared by the session's tests
    for bucket in {BUCKET, INPUT} - existing:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"})
    peaks = {}
    for n in (10_000, 100_000):
        validation, _ = _whole_run_failed(s3, n)
        facts = RunFacts(
            execution_name=f"run-{n}",
            start_time=START,
            source_bucket=INPUT,
            source_key=validation.source_key,
            validation=validation,
            map_result={"Error": "States.ExceedToleratedFailureThreshold", "Cause": "x"},
        )
        tracemalloc.start()
        summary = aggregate_run(s3, BUCKET, facts, OPTIONS, now=NOW, written_by="test").summary
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        body = read_key(s3, f"rejects/execution_date=2026-11-23/run-{n}.csv").decode("utf-8-sig")
        lines = body.split("\r\n")
        assert lines[0] == "user_id,login_count,post_count,memo,line,error_type,error_message"
        assert len(lines) == n + 2 and lines[-1] == ""  # every row, then the final CRLF
        assert (
            lines[n] == f"U{n - 1:07d},{(n - 1) % 7},{(n - 1) % 11},m{n - 1}{MEMO},{n + 1},TransientDatabaseError,down"
        )
        assert summary.pending == n
    print(f"tracemalloc peak: {peaks}")
    assert peaks[100_000] < 2 * peaks[10_000], peaks
