"""The schema custom resource (functions/schema_migrator) against MariaDB, with
CloudFormation's pre-signed ResponseURL played by an HTTP server on 127.0.0.1
that records every PUT."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest
from sqlalchemy import create_engine, inspect, text

from csv_dmap import custom_resource, schema
from csv_dmap.db import metadata
from local_runner.lambda_loader import LocalLambdaContext, load_function

pytestmark = pytest.mark.mariadb


class ResponseServer:
    """Answers PUTs with the next status of ``statuses`` (then 200) and keeps what it got."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.puts: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.puts.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/cfn-response/{uuid.uuid4()}?X-Amz-Signature=abc"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def request(kind: str, response_url: str, physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/csv-dmap-dev/abc",
        "RequestId": str(uuid.uuid4()),
        "ResourceType": "Custom::DatabaseSchema",
        "LogicalResourceId": "DatabaseSchema",
        "ServiceToken": "arn:aws:lambda:ap-northeast-1:123456789012:function:migrator",
        "ResourceProperties": {"ServiceToken": "x", "SharedLayer": "arn:aws:lambda:...:layer:shared:7"},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


@pytest.fixture
def migrator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, dict[str, Any]], dict[str, Any]]]:
    """Invoke the handler as Lambda would, with DATABASE_URL pointing at ``url``."""
    from csv_dmap import runtime

    handler = load_function("schema_migrator")
    app = __import__(handler.__module__)
    monkeypatch.setattr(app, "CONNECT_PAUSE_SECONDS", 0.0)

    def invoke(url: str, event: dict[str, Any], timeout: int = 120) -> dict[str, Any]:
        monkeypatch.setenv("DATABASE_URL", url)
        runtime.reset()
        return handler(event, LocalLambdaContext(function_name="schema-migrator", timeout_seconds=timeout))

    yield invoke
    runtime.reset()


@pytest.fixture
def mariadb_empty(mariadb_server: str) -> Iterator[str]:
    from tests import mariadb

    name = f"csv_dmap_migrator_{uuid.uuid4().hex[:8]}"
    yield mariadb.database_url(mariadb_server, name)
    mariadb.drop_database(mariadb_server, name)


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_create_migrates_an_empty_database_and_answers_success(migrator, mariadb_empty: str) -> None:
    with ResponseServer() as server:
        url = server.url
        event = request("Create", url)
        out = migrator(mariadb_empty, event)
    assert out["Status"] == "SUCCESS"
    [put] = server.puts
    assert put["path"] == url.removeprefix(url.split("/cfn-response")[0])  # the pre-signed URL, query and all
    assert put["headers"].get("Content-Type", "") == ""  # pre-signed for an empty content type
    body = put["body"]
    assert body["Status"] == "SUCCESS"
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        event["StackId"],
        event["RequestId"],
        "DatabaseSchema",
    )
    assert body["PhysicalResourceId"] == "DatabaseSchema-schema"
    assert body["Data"] == {"Revision": schema.head(), "PreviousRevision": ""}
    assert len(json.dumps(body).encode()) <= 4096
    assert tables(mariadb_empty) == {"users", "user_stats", "applied_batches", "alembic_version"}
    assert schema.current(mariadb_empty) == schema.head()


def test_update_runs_again_as_a_no_op_and_keeps_the_physical_id(migrator, mariadb_empty: str) -> None:
    with ResponseServer() as server:
        migrator(mariadb_empty, request("Create", server.url))
        engine = create_engine(mariadb_empty)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (user_id) VALUES ('U00001')"))
        migrator(mariadb_empty, request("Update", server.url, physical_id="DatabaseSchema-schema"))
    update = server.puts[-1]["body"]
    assert update["Status"] == "SUCCESS"
    assert update["PhysicalResourceId"] == "DatabaseSchema-schema"
    assert update["Data"] == {"Revision": schema.head(), "PreviousRevision": schema.head()}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM users")).scalars().all() == ["U00001"]
    engine.dispose()


def test_create_adopts_a_database_made_by_create_all(migrator, mariadb_empty: str) -> None:
    engine = create_engine(mariadb_empty)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (user_id) VALUES ('U00009')"))
    with ResponseServer() as server:
        migrator(mariadb_empty, request("Create", server.url))
    assert server.puts[0]["body"]["Status"] == "SUCCESS"
    assert schema.current(mariadb_empty) == schema.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM users")).scalars().all() == ["U00009"]
    engine.dispose()


def test_the_rollback_of_an_update_answers_success_and_changes_nothing(
    migrator, mariadb_empty: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """An update migrates forward with this release; a later resource fails; CloudFormation's
    update rollback sends the custom resource an Update handled by the previous release's code
    (simulated by its script directory: this one without the newest revision)."""
    from tests.database.test_schema import previous_release

    previous = previous_release(tmp_path)
    with ResponseServer() as server:
        migrator(mariadb_empty, request("Update", server.url, physical_id="DatabaseSchema-schema"))
        assert server.puts[-1]["body"]["Data"]["Revision"] == schema.head()
        before = tables(mariadb_empty)
        monkeypatch.setattr(schema, "MIGRATIONS", previous)  # the previous release's layer
        out = migrator(mariadb_empty, request("Update", server.url, physical_id="DatabaseSchema-schema"))
    monkeypatch.undo()
    body = server.puts[-1]["body"]
    assert out["Status"] == body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"] == {"Revision": schema.head(), "PreviousRevision": schema.head()}
    assert body["PhysicalResourceId"] == "DatabaseSchema-schema"
    assert tables(mariadb_empty) == before and schema.current(mariadb_empty) == schema.head()


def test_delete_answers_success_and_drops_nothing(migrator, mariadb_empty: str) -> None:
    with ResponseServer() as server:
        migrator(mariadb_empty, request("Create", server.url))
        migrator(mariadb_empty, request("Delete", server.url, physical_id="DatabaseSchema-schema"))
    body = server.puts[-1]["body"]
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "DatabaseSchema-schema"
    assert tables(mariadb_empty) == {"users", "user_stats", "applied_batches", "alembic_version"}


def test_an_unreachable_database_answers_failed_with_a_readable_reason(migrator, mariadb_server: str) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ResponseServer() as server:
        out = migrator(f"mysql+pymysql://root@127.0.0.1:{port}/nothing", request("Create", server.url))
    body = server.puts[0]["body"]
    assert out["Status"] == body["Status"] == "FAILED"
    assert body["Reason"].startswith("ConnectionError: database unreachable after 8 attempts")
    assert "Can't connect" in body["Reason"] and "log stream local" in body["Reason"]
    assert "Traceback" not in body["Reason"] and 'File "' not in body["Reason"]
    assert body["PhysicalResourceId"] == "DatabaseSchema-schema"  # CloudFormation needs one even on failure


def test_no_database_configured_answers_failed_naming_the_settings(migrator, monkeypatch) -> None:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    with ResponseServer() as server:
        out = migrator("", request("Create", server.url))
    assert out["Status"] == "FAILED"
    assert server.puts[0]["body"]["Reason"].startswith("ConfigurationError: no database configured")


# ------------------------------------------------------------------ the protocol itself


class SlowContext:
    log_stream_name = "stream-1"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_an_action_that_outlives_the_lambda_is_answered_failed_in_time() -> None:
    release = threading.Event()
    with ResponseServer() as server:
        outcome = custom_resource.handle(
            request("Create", server.url),
            SlowContext(int((custom_resource.SAFETY_SECONDS + 0.2) * 1000)),
            on_create_or_update=lambda req: release.wait(60) and {},  # blocks until released
            physical_id=lambda req: "pid",
        )
        release.set()
    assert outcome.status == "FAILED"
    assert server.puts[0]["body"]["Reason"].startswith("Create did not finish within 0 s")


def test_the_response_put_is_retried_until_delivered() -> None:
    with ResponseServer(statuses=[503, 500]) as server:
        status = custom_resource.send(server.url, b"{}", pause=0.0)
    assert status == 200 and len(server.puts) == 3


def test_an_undeliverable_response_raises_after_the_retries() -> None:
    with ResponseServer(statuses=[500, 500, 500]) as server, pytest.raises(ConnectionError, match="after 3 attempts"):
        custom_resource.send(server.url, b"{}", pause=0.0)
    assert len(server.puts) == 3


def test_a_long_reason_is_cut_so_the_response_stays_under_4096_bytes() -> None:
    req = custom_resource.Request.model_validate(request("Create", "http://127.0.0.1/x"))
    for text_ in ("é" * 50_000, "x" * 50_000, '\u2028"' * 3_000, "\x01" * 3_000, "ok"):
        body = custom_resource.response_body(req, custom_resource.Outcome("FAILED", text_), "pid")
        reason = json.loads(body)["Reason"]
        assert len(body) <= 4096
        assert text_.startswith(reason.removesuffix("…"))  # a prefix of the reason, marked when cut
        # cut only when needed: to REASON_MAX characters, or further only as far as 4,096 bytes require
        assert reason == text_ or (
            reason.endswith("…") and (len(reason) == custom_resource.REASON_MAX or len(body) > 4000)
        )


def test_an_event_without_a_response_url_cannot_be_answered_and_says_so() -> None:
    from pydantic import ValidationError

    event = request("Create", "http://127.0.0.1/x")
    del event["ResponseURL"]
    with pytest.raises(ValidationError, match="ResponseURL"):
        custom_resource.handle(event, SlowContext(60_000), on_create_or_update=lambda r: {}, physical_id=lambda r: "p")
