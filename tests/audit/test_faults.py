"""DynamoDB throttling, 5xx and connection errors are retried inside
the writer (exponential backoff, full jitter, a time budget), UnprocessedItems
too; what never clears raises AuditWriteError (the ASL retries the batch);
what DynamoDB refuses raises AuditWriteRejected at once.

Failures are injected from AWS's documented error codes (moto does not
throttle); no test sleeps: the writer's sleep and clock are fakes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from csv_dmap.audit import AuditLogWriter, audit_items
from csv_dmap.errors import AuditWriteError, AuditWriteRejected
from tests.audit.conftest import TABLE

START = "2026-11-22T00:30:00Z"


def items(n: int) -> list[dict[str, Any]]:
    results = [
        {
            "index": i,
            "line": i + 2,
            "userId": f"U{i:05d}",
            "status": "APPLIED",
            "oldLoginCount": 0,
            "newLoginCount": i,
            "oldPostCount": 0,
            "newPostCount": i,
        }
        for i in range(n)
    ]
    return audit_items(results, execution_name="exec-1", execution_start=START, source_key="k.csv", ttl_days=180)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} injected"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchWriteItem",
    )


class Clock:
    """A fake monotonic clock that the fake sleep advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def writer(client: Any, clock: Clock, **kw: Any) -> AuditLogWriter:
    return AuditLogWriter(client, TABLE, sleep=clock.sleep, clock=clock, concurrency=1, **kw)


class Failing:
    """moto's client, except that the first ``n`` calls raise ``error``."""

    def __init__(self, client: Any, n: int, error: Exception) -> None:
        self.client, self.n, self.error, self.calls = client, n, error, 0

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
        self.calls += 1
        if self.calls <= self.n:
            raise self.error
        return self.client.batch_write_item(RequestItems=RequestItems)


class Unprocessing:
    """moto's client, except that the first ``n`` calls write only the first
    part of the request and hand back the last ``k`` puts as UnprocessedItems."""

    def __init__(self, client: Any, n: int, k: int = 5) -> None:
        self.client, self.n, self.k, self.calls = client, n, k, 0

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
        self.calls += 1
        if self.calls > self.n:
            return self.client.batch_write_item(RequestItems=RequestItems)
        ((table, requests),) = RequestItems.items()
        if len(requests) > self.k:
            self.client.batch_write_item(RequestItems={table: requests[: -self.k]})
        return {"UnprocessedItems": {table: requests[-self.k :]}}


def stored(client: Any) -> int:
    return int(client.scan(TableName=TABLE, Select="COUNT")["Count"])


RETRYABLE = [
    client_error("ProvisionedThroughputExceededException"),
    client_error("ThrottlingException"),
    client_error("RequestLimitExceeded"),
    client_error("InternalServerError", 500),
    client_error("ServiceUnavailable", 503),
    client_error("SomethingNew", 502),  # any 5xx
    EndpointConnectionError(endpoint_url="https://dynamodb.ap-northeast-1.amazonaws.com"),
    ConnectionClosedError(endpoint_url="https://dynamodb.ap-northeast-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://dynamodb.ap-northeast-1.amazonaws.com"),
]


def error_id(error: Exception) -> str:
    return error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__


@pytest.mark.parametrize("error", RETRYABLE, ids=error_id)
def test_transient_errors_that_clear_are_retried_until_written(ddb, error):
    clock = Clock()
    failing = Failing(ddb, n=3, error=error)
    assert writer(failing, clock).write_items(items(25)) == 4
    assert failing.calls == 4 and stored(ddb) == 25
    assert len(clock.sleeps) == 3


def test_backoff_is_exponential_with_full_jitter(ddb):
    clock = Clock()
    failing = Failing(ddb, n=7, error=client_error("ThrottlingException"))
    writer(failing, clock, base_delay=0.05, max_delay=1.0).write_items(items(3))
    ceilings = [min(1.0, 0.05 * 2**k) for k in range(7)]  # 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0
    assert len(clock.sleeps) == 7
    assert all(0 <= s <= c for s, c in zip(clock.sleeps, ceilings, strict=True))
    assert len(set(clock.sleeps)) == 7  # jittered, not a fixed schedule


def test_throttling_that_never_clears_raises_audit_write_error_after_max_attempts(ddb):
    clock = Clock()
    failing = Failing(ddb, n=10**6, error=client_error("ProvisionedThroughputExceededException"))
    with pytest.raises(AuditWriteError, match=r"25 of 25 audit items not written after 6 .*ProvisionedThroughput"):
        writer(failing, clock, max_attempts=6).write_items(items(25))
    assert failing.calls == 6 and stored(ddb) == 0


def test_the_time_budget_bounds_the_retries(ddb):
    # every attempt "takes" 4 s on the fake clock: a 10 s budget allows 3 attempts, not 50
    clock = Clock()

    class Slow(Failing):
        def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
            clock.now += 4.0
            return super().batch_write_item(RequestItems)

    slow = Slow(ddb, n=10**6, error=client_error("ThrottlingException"))
    with pytest.raises(AuditWriteError, match="in at most 10 s"):
        writer(slow, clock, max_attempts=50, budget_seconds=10.0).write_items(items(5))
    assert slow.calls == 3
    assert clock.now - 3 * 4.0 <= 10.0  # the sleeps never ran past the budget


def test_unprocessed_items_are_retried_until_written(ddb):
    clock = Clock()
    partial = Unprocessing(ddb, n=2)
    assert writer(partial, clock).write_items(items(25)) == 3
    assert stored(ddb) == 25


def test_unprocessed_items_that_never_clear_raise_audit_write_error(ddb):
    clock = Clock()
    partial = Unprocessing(ddb, n=10**6)
    with pytest.raises(AuditWriteError, match=r"5 of 25 audit items not written after 3 .*UnprocessedItems"):
        writer(partial, clock, max_attempts=3).write_items(items(25))
    assert stored(ddb) == 20  # the processed part is written; the ASL's retry overwrites it


def test_a_retried_write_after_a_partial_failure_overwrites(ddb):
    clock = Clock()
    with pytest.raises(AuditWriteError):
        writer(Unprocessing(ddb, n=10**6), clock, max_attempts=2).write_items(items(60))
    writer(ddb, clock).write_items(items(60))  # the ASL retried the batch
    assert stored(ddb) == 60


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFoundException", "AccessDeniedException"])
def test_a_refused_request_is_not_retried_and_names_the_error(code):
    client = boto3.client("dynamodb", region_name="ap-northeast-1")
    clock = Clock()
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item",
            service_error_code=code,
            service_message="One or more parameter values were invalid: " + "x" * 5000,
            http_status_code=400,
        )
        with pytest.raises(AuditWriteRejected) as caught:
            writer(client, clock).write_items(items(3))
        stub.assert_no_pending_responses()
    message = str(caught.value)
    assert message.startswith(f"DynamoDB refused the audit write ({code}): One or more parameter values")
    assert len(message) < 400 and "Traceback" not in message
    assert clock.sleeps == []


def test_throttling_then_success_through_botocore_stubber():
    client = boto3.client("dynamodb", region_name="ap-northeast-1")
    clock = Clock()
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "batch_write_item",
                service_error_code="ThrottlingException",
                service_message="Rate of requests exceeds the allowed throughput.",
                http_status_code=400,
            )
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        assert writer(client, clock).write_items(items(10)) == 3
        stub.assert_no_pending_responses()


def test_a_chunk_that_fails_among_concurrent_chunks_fails_the_write(ddb):
    clock = Clock()

    class FailsOneChunk:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:
            ((_, requests),) = RequestItems.items()
            if any(r["PutRequest"]["Item"]["rowIndex"]["N"] == "30" for r in requests):
                raise client_error("ThrottlingException")
            return ddb.batch_write_item(RequestItems=RequestItems)

    w = AuditLogWriter(FailsOneChunk(), TABLE, sleep=clock.sleep, clock=clock, concurrency=4, max_attempts=3)
    with pytest.raises(AuditWriteError, match="25 of 100 audit items"):
        w.write_items(items(100))
    assert stored(ddb) == 75
