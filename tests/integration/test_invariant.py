"""Every row accounted for, worker side (issue 8), on SQLite and MariaDB: notes,
newer executions, retries, and the reconcile mode of a batch whose attempts failed.

Expectations are written from the contracts (README "Contracts": worker input and output,
statuses, reconciliation), not from the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csv_dmap.errors import AuditWriteError
from local_runner.invoke import invoke
from tests.conftest import table_rows
from tests.integration.conftest import seed, stats

USERS = ["U1", "U2", "U3"]
T_A = "2026-11-22T00:30:00.000Z"
T_B = "2026-11-22T01:00:00.000Z"  # B started after A: B is newer


def event(rows, execution, started, first=0, failure=None):
    ev = {
        "BatchInput": {"executionName": execution, "executionStartTime": started, "sourceKey": "in/f.csv"},
        "Items": [{"index": first + i, "row": r} for i, r in enumerate(rows)],
    }
    if failure is not None:
        ev["Failure"] = failure
    return ev


def row(uid, login, post, line, note=""):
    return {"user_id": uid, "login_count": str(login), "post_count": str(post), "line": str(line), "note": note}


def audit(env):
    """Every stored audit item as readers see it (execution name, line... spelled out from the keys),
    in (execution, line) order."""
    from boto3.dynamodb.types import TypeDeserializer

    from csv_dmap.audit import item_record

    client, raw = env.client("dynamodb"), TypeDeserializer()
    pages = client.get_paginator("scan").paginate(TableName=env.physical_name("AuditTable"))
    items = [item for page in pages for item in page["Items"]]
    records = [item_record({k: raw.deserialize(v) for k, v in item.items()}) for item in items]
    return sorted(records, key=lambda r: (r["executionName"], r["line"]))


@pytest.fixture
def engine(local_env):
    from csv_dmap.db import get_engine

    seed(get_engine(), USERS)
    return get_engine()


def worker(env, ev):
    return invoke(env, "WorkerFunction", ev)


def test_notes_never_touch_the_database_and_every_row_gets_a_result(local_env, engine):
    rows = [
        row("U1", 1, 1, 2, "superseded:7"),
        row("U2", 1, 1, 3, "FieldCountMismatch:4:3"),
        row("U3", 1, 1, 4, "FieldTooLong:post_count:2048"),
        row("U1", 9, 9, 5, "RowTooLong:5000"),
        row("U2", 2, 2, 6, "something:else"),
        row("U3", 5, 6, 8),
    ]
    out = worker(local_env, event(rows, "A", T_A))
    statuses = [(r["line"], r["status"], r.get("errorType"), r.get("supersededBy")) for r in out["results"]]
    assert statuses == [
        (2, "SUPERSEDED", None, 7),
        (3, "FAILED", "FieldCountMismatch", None),
        (4, "FAILED", "FieldTooLong", None),
        (5, "FAILED", "RowTooLong", None),
        (6, "FAILED", "InvalidItem", None),
        (8, "APPLIED", None, None),
    ]
    assert stats(engine, "U1") is None and stats(engine, "U2") is None
    assert (stats(engine, "U3")["login_count"], stats(engine, "U3")["post_count"]) == (5, 6)
    assert out["counts"] == {"total": 6, "applied": 1, "failed": 4, "superseded": 1, "skipped": 0}
    assert len(audit(local_env)) == 6


def test_old_values_chain_across_executions(local_env, engine):
    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    out = worker(local_env, event([row("U1", 3, 4, 2)], "B", T_B))
    r = out["results"][0]
    assert (r["oldLoginCount"], r["oldPostCount"], r["newLoginCount"], r["newPostCount"]) == (1, 2, 3, 4)


def test_a_late_retry_of_an_older_execution_is_skipped_and_writes_nothing(local_env, engine):
    a_batch = event([row("U1", 1, 1, 2), row("U2", 5, 5, 3)], "A", T_A)
    worker(local_env, a_batch)  # A applies ...
    worker(local_env, event([row("U1", 7, 8, 2)], "B", T_B))  # ... B (newer) updates U1 ...
    before = table_rows(engine, "user_stats")
    out = worker(local_env, a_batch)  # ... and A's batch is retried late
    u1, u2 = out["results"]
    assert (u1["status"], u1["errorType"]) == ("SKIPPED", "NewerExecutionApplied")
    assert "B" in u1["errorMessage"]
    assert u2["status"] == "APPLIED"  # U2 is still A's own: the retry reports it as before
    assert table_rows(engine, "user_stats") == before
    assert out["counts"]["skipped"] == 1


def test_an_older_execution_never_overwrites_a_newer_one_even_when_it_arrives_first_time_late(local_env, engine):
    worker(local_env, event([row("U1", 7, 8, 2)], "B", T_B))
    out = worker(local_env, event([row("U1", 1, 1, 2)], "A", T_A))  # A's batch was never applied before
    assert out["results"][0]["status"] == "SKIPPED"
    assert (stats(engine, "U1")["login_count"], stats(engine, "U1")["last_execution_name"]) == (7, "B")


def test_same_start_time_ties_are_broken_by_execution_name(local_env, engine):
    worker(local_env, event([row("U1", 7, 8, 2)], "run-b", T_A))
    out = worker(local_env, event([row("U1", 1, 1, 2)], "run-a", T_A))
    assert out["results"][0]["status"] == "SKIPPED"
    out = worker(local_env, event([row("U1", 2, 2, 2)], "run-c", T_A))
    assert out["results"][0]["status"] == "APPLIED"


def test_a_retry_of_the_same_batch_is_idempotent(local_env, engine):
    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    ev = event([row("U1", 3, 4, 2), row("U2", 5, 6, 3)], "B", T_B, first=500)
    first = worker(local_env, ev)
    db, items = table_rows(engine, "user_stats"), audit(local_env)
    second = worker(local_env, ev)
    assert second == first
    assert table_rows(engine, "user_stats") == db
    assert audit(local_env) == items
    assert (first["results"][0]["oldLoginCount"], first["results"][0]["oldPostCount"]) == (1, 2)


# --------------------------------------------------------------------------- reconcile


def lambda_cause(error: str, message: str) -> str:
    """A Catch's Cause for a Lambda function error: the runtime's JSON, stack trace included."""
    return json.dumps(
        {"errorMessage": message, "errorType": error, "stackTrace": ['  File "/var/task/app.py", line 1, in handler\n']}
    )


def test_reconcile_after_a_commit_reports_applied_with_the_remembered_old_values(local_env, engine, monkeypatch):
    from csv_dmap.audit import AuditLogWriter

    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    ev = event([row("U1", 3, 4, 2), row("U2", 5, 6, 3), row("bad id", 1, 1, 4)], "B", T_B, first=1000)

    def refuse(self, items):
        raise AuditWriteError("3 audit records still unprocessed after 8 BatchWriteItem attempts")

    with monkeypatch.context() as patch:
        patch.setattr(AuditLogWriter, "write_items", refuse)
        with pytest.raises(AuditWriteError):
            worker(local_env, ev)  # the database committed, the audit write failed
    assert [i for i in audit(local_env) if i["executionName"] == "B"] == []
    failure = {"Error": "AuditWriteError", "Cause": lambda_cause("AuditWriteError", "3 audit records ...")}
    out = worker(local_env, {**ev, "Failure": failure})
    u1, u2, bad = out["results"]
    assert (u1["status"], u1["oldLoginCount"], u1["oldPostCount"], u1["newLoginCount"]) == ("APPLIED", 1, 2, 3)
    assert (u2["status"], u2.get("oldLoginCount"), u2["newPostCount"]) == ("APPLIED", None, 6)
    assert (bad["status"], bad["errorType"], bad["rawUserId"]) == ("FAILED", "InvalidUserId", "bad id")
    written = [i for i in audit(local_env) if i["executionName"] == "B"]
    assert [(i["rowIndex"], i["status"]) for i in written] == [(1000, "APPLIED"), (1001, "APPLIED"), (1002, "FAILED")]
    assert written[0]["oldLoginCount"] == 1
    assert (stats(engine, "U1")["login_count"], stats(engine, "U1")["prev_login_count"]) == (3, 1)  # untouched


def test_reconcile_without_a_commit_reports_the_batch_error(local_env, engine):
    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    before = table_rows(engine, "user_stats")
    failure = {
        "Error": "TransientDatabaseError",
        "Cause": lambda_cause("TransientDatabaseError", "database unavailable: OperationalError 2013: Lost"),
    }
    ev = event(
        [row("U1", 3, 4, 2), row("U2", 5, 6, 3), row("U3", 1, 1, 4, "superseded:9")], "B", T_B, first=7, failure=failure
    )
    out = worker(local_env, ev)
    u1, u2, u3 = out["results"]
    for r in (u1, u2):
        assert (r["status"], r["errorType"]) == ("FAILED", "TransientDatabaseError")
        assert r["errorMessage"] == "database unavailable: OperationalError 2013: Lost"
    assert (u3["status"], u3["supersededBy"]) == ("SUPERSEDED", 9)
    assert out["counts"] == {"total": 3, "applied": 0, "failed": 2, "superseded": 1, "skipped": 0}
    assert table_rows(engine, "user_stats") == before  # reconcile only reads
    failed = [i for i in audit(local_env) if i["executionName"] == "B" and i["status"] == "FAILED"]
    assert [i["errorType"] for i in failed] == ["TransientDatabaseError"] * 2


def test_reconcile_takes_the_first_line_of_a_plain_cause(local_env, engine):
    failure = {"Error": "States.Timeout", "Cause": "Task timed out after 120.00 seconds\nmore detail"}
    out = worker(local_env, event([row("U1", 3, 4, 2)], "B", T_B, failure=failure))
    assert (out["results"][0]["errorType"], out["results"][0]["errorMessage"]) == (
        "States.Timeout",
        "Task timed out after 120.00 seconds",
    )


# --------------------------------------------------------------------------- through the ItemProcessor


def item_processor():
    text = (Path(__file__).parents[2] / "statemachine" / "definition.asl.json").read_text()
    definition = json.loads(text.replace("${WorkerFunctionArn}", "worker"))
    processor = definition["States"]["ProcessUserStats"]["ItemProcessor"]
    return {"StartAt": processor["StartAt"], "States": processor["States"]}


def child(env, ev):
    """One child execution of the map, as the local ASL interpreter runs it."""
    from asl_runner import Execution
    from local_runner.lambda_loader import load_handler
    from local_runner.services import TemplateServices

    spec = env.functions["WorkerFunction"]
    services = TemplateServices(env)
    services.register("worker", load_handler(spec.module_path, spec.function_name))
    return Execution(item_processor(), services).run(ev)


def test_a_batch_whose_audit_write_keeps_failing_after_commit_is_reported_applied(local_env, engine, monkeypatch):
    from csv_dmap.audit import AuditLogWriter

    real = AuditLogWriter.write_items
    calls = {"n": 0}
    rule = next(r for r in item_processor()["States"]["ApplyBatch"]["Retry"] if "AuditWriteError" in r["ErrorEquals"])
    apply_attempts = 1 + rule["MaxAttempts"]  # every attempt ApplyBatch makes fails; ReconcileBatch's first succeeds

    def flaky(self, items):
        calls["n"] += 1
        if calls["n"] <= apply_attempts:
            raise AuditWriteError("2 audit records still unprocessed after 8 BatchWriteItem attempts")
        return real(self, items)

    monkeypatch.setattr(AuditLogWriter, "write_items", flaky)
    result = child(local_env, event([row("U1", 3, 4, 2), row("U2", 5, 6, 3)], "B", T_B))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [r["status"] for r in result.output["results"]] == ["APPLIED", "APPLIED"]
    assert calls["n"] == apply_attempts + 1
    assert {i["status"] for i in audit(local_env)} == {"APPLIED"} and len(audit(local_env)) == 2


def test_a_batch_the_database_refuses_is_reported_failed_row_by_row(local_env, engine):
    from sqlalchemy import event as sa_event

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO USER_STATS"):
            raise conn.dialect.dbapi.IntegrityError("refused by the test")  # a non-retried database error

    sa_event.listen(engine, "before_cursor_execute", refuse)
    try:
        result = child(local_env, event([row("U1", 3, 4, 2), row("U9", 1, 1, 3)], "B", T_B))
    finally:
        sa_event.remove(engine, "before_cursor_execute", refuse)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    u1, u9 = result.output["results"]
    assert (u1["status"], u1["errorType"]) == ("FAILED", "PermanentDatabaseError")
    assert "refused by the test" in u1["errorMessage"]
    assert (u9["status"], u9["errorType"]) == ("FAILED", "UserNotFound")
    assert stats(engine, "U1") is None
