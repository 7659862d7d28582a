"""The audit writer and the two seed access patterns, on moto's DynamoDB with
the table definition taken from template.yaml."""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from csv_dmap.audit import BATCH_WRITE_LIMIT, AuditLogReader, AuditLogWriter
from csv_dmap.errors import AuditWriteError
from csv_dmap.models import AuditRecord, item_key, ttl_epoch
from local_runner.template import load_template, table_definition

TABLE = "audit-test"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(**table_definition(load_template(), "AuditTable", TABLE))
        yield client


def record(i: int, status="APPLIED", user="U00001", when=NOW, execution="exec-1", **kw) -> AuditRecord:
    return AuditRecord(
        execution_name=execution,
        index=i,
        status=status,
        timestamp=when.isoformat(timespec="milliseconds"),
        ttl=ttl_epoch(when, 180),
        source_key="incoming/a.csv",
        user_id=user,
        **kw,
    )


def count_calls(client, operation: str) -> dict:
    calls = {"n": 0}

    def hook(**_):
        calls["n"] += 1

    client.meta.events.register(f"before-call.dynamodb.{operation}", hook)
    return calls


def test_records_are_written_in_chunks_of_25(ddb):
    calls = count_calls(ddb, "BatchWriteItem")
    records = [record(i, user=f"U{i:05d}") for i in range(60)]
    assert AuditLogWriter(ddb, TABLE).write(records) == 3
    assert calls["n"] == 3 == -(-60 // BATCH_WRITE_LIMIT)
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 60


def test_item_carries_keys_ttl_and_values(ddb):
    AuditLogWriter(ddb, TABLE).write(
        [record(7, old_login_count=3, new_login_count=5, old_post_count=8, new_post_count=10)]
    )
    item = ddb.get_item(TableName=TABLE, Key={"executionName": {"S": "exec-1"}, "itemKey": {"S": item_key(7)}})["Item"]
    assert item["itemKey"]["S"] == "0000000007"
    assert item["oldLoginCount"]["N"] == "3" and item["newLoginCount"]["N"] == "5"
    assert int(item["ttl"]["N"]) == int((NOW + timedelta(days=180)).timestamp())
    assert "failedExecution" not in item  # only failed rows enter the sparse index


def test_rewriting_the_same_records_does_not_duplicate(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    records = [record(i) for i in range(30)]
    writer.write(records)
    writer.write(records)
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 30


class Throttling:
    """The real moto client, except that the first ``n`` calls leave their last
    ``k`` put requests unprocessed, as DynamoDB does under throttling."""

    def __init__(self, client, n: int, k: int = 5):
        self.client, self.n, self.k, self.calls = client, n, k, 0

    def batch_write_item(self, RequestItems):
        self.calls += 1
        if self.calls > self.n:
            return self.client.batch_write_item(RequestItems=RequestItems)
        (table, requests), = RequestItems.items()
        if len(requests) > self.k:
            self.client.batch_write_item(RequestItems={table: requests[: -self.k]})
        return {"UnprocessedItems": {table: requests[-self.k :]}}


def test_unprocessed_items_are_retried_until_written(ddb):
    throttled = Throttling(ddb, n=2)
    calls = AuditLogWriter(throttled, TABLE, base_delay=0.001).write([record(i) for i in range(25)])
    assert calls == 3
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 25


def test_unprocessed_items_that_never_clear_raise_audit_write_error(ddb):
    throttled = Throttling(ddb, n=100)
    with pytest.raises(AuditWriteError, match="5 audit records still unprocessed after 3"):
        AuditLogWriter(throttled, TABLE, max_attempts=3, base_delay=0.001).write([record(i) for i in range(25)])


def test_history_of_a_user_in_the_last_7_days_is_one_query(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    writer.write([record(0, when=NOW - timedelta(days=10), execution="old-run")])
    writer.write([record(0, when=NOW - timedelta(days=3), execution="run-a"), record(1, user="U00002", execution="run-a")])
    writer.write([record(5, when=NOW - timedelta(hours=1), execution="run-b")])
    queries = count_calls(ddb, "Query")
    history = AuditLogReader(ddb, TABLE).user_history("U00001", since=NOW - timedelta(days=7))
    assert queries["n"] == 1
    assert [h["executionName"] for h in history] == ["run-b", "run-a"]  # newest first, old run excluded


def test_failed_items_of_an_execution_is_one_query_over_failed_items_only(ddb):
    writer = AuditLogWriter(ddb, TABLE)
    writer.write(
        [record(i) for i in range(40)]
        + [record(100 + i, status="FAILED", error_type="UserNotFound", error_message="x") for i in range(3)]
        + [record(200, status="FAILED", execution="other-run", error_type="InvalidLoginCount")]
    )
    queries = count_calls(ddb, "Query")
    failed = AuditLogReader(ddb, TABLE).failed_items("exec-1")
    assert queries["n"] == 1
    assert [f["itemKey"] for f in failed] == [item_key(100), item_key(101), item_key(102)]
    assert {f["errorType"] for f in failed} == {"UserNotFound"}


def test_chunks_are_written_concurrently_and_all_land(ddb):
    import threading

    seen = set()

    class Recording:
        def batch_write_item(self, RequestItems):
            seen.add(threading.get_ident())
            return ddb.batch_write_item(RequestItems=RequestItems)

    writer = AuditLogWriter(Recording(), TABLE, concurrency=4)
    records = [record(i, user=f"U{i:05d}") for i in range(200)]
    assert writer.write(records) == 8
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 200
    assert threading.get_ident() not in seen  # sent from the writer's pool, not the caller's thread
