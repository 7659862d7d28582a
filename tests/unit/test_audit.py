"""The audit writer and the table's two access patterns, on moto's DynamoDB with
the table created from template.yaml by the local runner's table_definition."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from csv_dmap.audit import BATCH_WRITE_LIMIT, SHARDS, AuditLogReader, AuditLogWriter, audit_items
from csv_dmap.errors import AuditWriteError, AuditWriteRejected
from local_runner.template import load_template, table_definition

TABLE = "audit-test"

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(**table_definition(load_template(), "AuditTable", TABLE))
        yield client


def build(results: list[dict[str, Any]], execution: str = "exec-1", start: datetime = NOW) -> list[dict[str, Any]]:
    return audit_items(
        results, execution_name=execution, execution_start=start, source_key="incoming/a.csv", ttl_days=180
    )


def applied(index: int, user: str, login: int = 5, post: int = 10) -> dict[str, Any]:
    return {
        "index": index,
        "line": index + 2,
        "userId": user,
        "status": "APPLIED",
        "oldLoginCount": 3,
        "newLoginCount": login,
        "oldPostCount": 8,
        "newPostCount": post,
    }


def failed(
    index: int, error: str = "UserNotFound", user: str | None = "U00009", raw: str | None = None
) -> dict[str, Any]:
    who = {"userId": user} if user else {"rawUserId": raw}
    return {
        "index": index,
        "line": index + 2,
        **who,
        "status": "FAILED",
        "errorType": error,
        "errorMessage": f"{error} here",
    }


def calls(client: Any, operation: str) -> dict[str, int]:
    seen = {"n": 0, "scanned": 0}

    def before(**_: Any) -> None:
        seen["n"] += 1

    def after(parsed: dict[str, Any], **_: Any) -> None:
        seen["scanned"] += int(parsed.get("ScannedCount", 0))

    client.meta.events.register(f"before-call.dynamodb.{operation}", before)
    client.meta.events.register(f"after-call.dynamodb.{operation}", after)
    return seen


def count(client: Any) -> int:
    return int(client.scan(TableName=TABLE, Select="COUNT")["Count"])


def test_items_are_written_in_chunks_of_25(ddb):
    made = calls(ddb, "BatchWriteItem")
    assert AuditLogWriter(ddb, TABLE).write_items(build([applied(i, f"U{i:05d}") for i in range(60)])) == 3
    assert made["n"] == 3 == -(-60 // BATCH_WRITE_LIMIT)
    assert count(ddb) == 60


def test_an_applied_item_carries_ttl_values_and_no_index_key(ddb):
    AuditLogWriter(ddb, TABLE).write_items(build([applied(7, "U00001")]))
    (item,) = ddb.scan(TableName=TABLE)["Items"]
    assert item["pk"]["S"] == "U#U00001"
    assert item["oldLoginCount"]["N"] == "3" and item["newLoginCount"]["N"] == "5"
    assert int(item["ttl"]["N"]) == int((NOW + timedelta(days=180)).timestamp())
    assert "failedPk" not in item


def test_rewriting_the_same_items_does_not_duplicate_and_a_changed_outcome_replaces_the_old(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    results = [failed(i) if i % 3 == 0 else applied(i, f"U{i:05d}") for i in range(30)]
    writer.write_items(build(results))
    writer.write_items(build(results))  # Step Functions retried the batch
    assert count(ddb) == 30
    # reconciliation found row 0 committed after all: APPLIED now, and no longer in the failed index
    writer.write_items(build([applied(0, "U00009")]))
    assert count(ddb) == 30
    assert [f["line"] for f in AuditLogReader(ddb, TABLE).failed_items("exec-1")] == [i + 2 for i in range(3, 30, 3)]


def test_history_of_a_user_in_the_last_7_days_is_one_query_newest_first(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    since = NOW - timedelta(days=7)
    writer.write_items(build([applied(0, "U00001")], "old-run", NOW - timedelta(days=10)))
    writer.write_items(build([applied(0, "U00001")], "edge-run", since - timedelta(microseconds=1)))
    writer.write_items(build([applied(0, "U00001"), applied(1, "U00002")], "boundary-run", since))
    writer.write_items(
        build(
            [
                {"index": 4, "line": 6, "userId": "U00001", "status": "SUPERSEDED", "supersededBy": 9},
                applied(7, "U00001"),
            ],
            "run-a",
            NOW - timedelta(days=3),
        )
    )
    writer.write_items(build([failed(5, "InvalidLoginCount", user="U00001")], "run-b", NOW - timedelta(hours=1)))
    queries = calls(ddb, "Query")
    history = AuditLogReader(ddb, TABLE).user_history("U00001", since=since)
    assert queries["n"] == 1
    assert [(h["executionName"], h["line"], h["status"]) for h in history] == [
        ("run-b", 7, "FAILED"),
        ("run-a", 9, "APPLIED"),
        ("boundary-run", 2, "APPLIED"),
    ]
    assert history[1] == {
        "executionName": "run-a",
        "timestamp": "2026-11-19T00:30:00.000000Z",
        "line": 9,
        "rowIndex": 7,
        "userId": "U00001",
        "status": "APPLIED",
        "oldLoginCount": 3,
        "newLoginCount": 5,
        "oldPostCount": 8,
        "newPostCount": 10,
        "sourceKey": "incoming/a.csv",
    }


def test_failed_items_of_an_execution_are_a_fixed_fan_out_reading_failed_rows_only(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    rows = [applied(i, f"U{i:05d}") for i in range(200)]
    for i in (3, 64, 67, 150):
        rows[i] = failed(i, "UserNotFound", user=f"U{i:05d}")
    rows[99] = failed(99, "InvalidUserId", user=None, raw="bad id")
    writer.write_items(build(rows))
    writer.write_items(build([failed(5, "InvalidLoginCount")], "other-run"))
    queries = calls(ddb, "Query")
    result = AuditLogReader(ddb, TABLE).failed_items("exec-1")
    assert queries["n"] == SHARDS == 64  # the documented fan-out: one Query per shard
    assert queries["scanned"] == 5  # every item read is a failed row of this execution
    assert [(f["line"], f["errorType"]) for f in result] == [
        (5, "UserNotFound"),
        (66, "UserNotFound"),
        (69, "UserNotFound"),
        (101, "InvalidUserId"),
        (152, "UserNotFound"),
    ]
    assert result[3]["rawUserId"] == "bad id" and "userId" not in result[3]
    assert result[0]["userId"] == "U00003" and result[0]["errorMessage"] == "UserNotFound here"
    assert {f["executionName"] for f in result} == {"exec-1"}


def test_a_failed_row_reads_the_same_from_the_index_as_from_the_table(ddb):
    # the GSI projection (INCLUDE) must carry every attribute readers show
    writer = AuditLogWriter(ddb, TABLE)
    row = failed(3, "InvalidPostCount", user="U00003") | {"oldLoginCount": 1, "oldPostCount": 2}
    writer.write_items(build([row]))
    (from_index,) = AuditLogReader(ddb, TABLE).failed_items("exec-1")
    (from_history,) = AuditLogReader(ddb, TABLE).user_history("U00003", NOW - timedelta(days=1))
    assert from_index == from_history


def test_chunks_are_written_concurrently_and_all_land(ddb):
    seen = set()

    class Recording:
        def batch_write_item(self, RequestItems):
            seen.add(threading.get_ident())
            return ddb.batch_write_item(RequestItems=RequestItems)

    writer = AuditLogWriter(Recording(), TABLE, concurrency=4)
    assert writer.write_items(build([applied(i, f"U{i:05d}") for i in range(200)])) == 8
    assert count(ddb) == 200
    assert threading.get_ident() not in seen  # sent from the writer's pool, not the caller's thread


def test_the_workers_call_writes_through_the_same_builder(ddb):
    results = [applied(i, f"U{i:05d}", 2, 4) | {"oldLoginCount": 1, "oldPostCount": 3} for i in range(3)]
    AuditLogWriter(ddb, TABLE).write_results(
        results, execution_name="exec-1", execution_start=NOW, source_key="incoming/a.csv", ttl_days=180
    )
    expected = build(results)
    stored = sorted(ddb.scan(TableName=TABLE)["Items"], key=lambda i: i["pk"]["S"])
    assert [i["pk"]["S"] for i in stored] == [e["pk"] for e in expected]
    assert [int(i["ttl"]["N"]) for i in stored] == [e["ttl"] for e in expected]
    assert int(expected[0]["ttl"]) == int(NOW.timestamp()) + 180 * 86_400


@pytest.mark.parametrize("status", ["DONE", ""])
def test_an_unknown_status_is_a_clear_error(status):
    with pytest.raises(ValueError, match="unknown status"):
        build([{"index": 0, "line": 2, "userId": "U1", "status": status}])


def test_the_per_container_writer_leaves_retries_to_itself_and_bounds_each_call(monkeypatch):
    from csv_dmap import audit, runtime

    monkeypatch.setenv("AUDIT_TABLE_NAME", "the-audit-table")
    runtime.reset()
    try:
        writer = audit.get_audit_writer()
        config = writer.client.meta.config
        assert writer.table_name == "the-audit-table"
        assert config.retries["total_max_attempts"] == 1  # one retry policy: the writer's, within its budget
        assert (config.connect_timeout, config.read_timeout) == (1, 2)
        worker_timeout = int(load_template()["Resources"]["WorkerFunction"]["Properties"]["Timeout"])
        # the audit write's worst case (budget + one stuck call) leaves most of the worker's time to the database
        assert writer.budget_seconds + config.connect_timeout + config.read_timeout <= worker_timeout / 3
    finally:
        runtime.reset()


# --------------------------------------------------------------------------- the worker's call: a report


def write(writer: AuditLogWriter, results: list[dict[str, Any]], keep: frozenset[int] = frozenset()) -> Any:
    return writer.write_results_report(
        results,
        execution_name="exec-1",
        execution_start=NOW,
        source_key="incoming/a.csv",
        ttl_days=180,
        keep_existing=keep,
    )


def test_rows_to_keep_are_written_only_where_no_item_exists_and_the_item_in_place_is_reported(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    first = applied(0, "U00001", 7, 8)  # the first attempt's item: old 3 -> new 7
    assert write(writer, [first]).missing == frozenset()
    retry = {**applied(0, "U00001", 7, 8), "errorMessage": "old values unknown"}
    retry.pop("oldLoginCount"), retry.pop("oldPostCount")
    report = write(writer, [retry, applied(1, "U00002")], keep=frozenset({0, 1}))
    assert report.error is None and report.missing == frozenset()
    assert set(report.kept) == {0}  # row 1 had no item: written
    assert (report.kept[0]["status"], report.kept[0]["oldLoginCount"], report.kept[0]["newLoginCount"]) == (
        "APPLIED",
        3,
        7,
    )
    stored = {i["rowIndex"]["N"]: i for i in ddb.scan(TableName=TABLE)["Items"]}
    assert stored["0"]["oldLoginCount"]["N"] == "3" and "errorMessage" not in stored["0"]  # left standing
    assert stored["1"]["newLoginCount"]["N"] == "5"


def test_items_that_cannot_be_written_are_reported_not_raised(ddb):
    class Throttled:
        def batch_write_item(self, RequestItems):
            ((_, requests),) = RequestItems.items()
            if any(r["PutRequest"]["Item"]["rowIndex"]["N"] == "30" for r in requests):
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "x"
                )
            return ddb.batch_write_item(RequestItems=RequestItems)

        def put_item(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "x"
            )

    writer = AuditLogWriter(Throttled(), TABLE, max_attempts=2, sleep=lambda s: None)
    report = write(writer, [applied(i, f"U{i:05d}") for i in range(60)], keep=frozenset({59}))
    assert report.missing == frozenset(range(25, 50)) | {59}  # the chunk of row 30, and the kept row
    assert isinstance(report.error, AuditWriteError) and "26 of 60 audit items not written" in str(report.error)
    assert count(ddb) == 34


def test_the_aggregators_call_raises_what_it_could_not_write(ddb):
    # the aggregator rewrites the items a worker could not write: a refusal must reach it as an error
    class Throttled:
        def batch_write_item(self, RequestItems):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "x"
            )

    writer = AuditLogWriter(Throttled(), TABLE, max_attempts=2, sleep=lambda s: None)
    with pytest.raises(AuditWriteError, match="1 of 1 audit items not written"):
        writer.write_results(
            [applied(0, "U00001")], execution_name="exec-1", execution_start=NOW, source_key="k", ttl_days=180
        )
    assert (
        AuditLogWriter(ddb, TABLE).write_results(
            [applied(0, "U00001")], execution_name="exec-1", execution_start=NOW, source_key="k", ttl_days=180
        )
        == 1
    )


def test_a_refused_write_is_reported_as_the_refusal(ddb):
    class Refused:
        def batch_write_item(self, RequestItems):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "x"
            )

    report = write(AuditLogWriter(Refused(), TABLE), [applied(0, "U00001")])
    assert report.missing == frozenset({0}) and isinstance(report.error, AuditWriteRejected)
