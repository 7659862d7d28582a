"""Every row accounted for, worker side, on SQLite and MariaDB: notes, newer executions,
retries (late ones too: a batch that committed answers as its first attempt did), audit
outages, and the reconcile mode of a batch whose attempts failed.

Expectations are written from the contracts (docs/contracts.md: worker input and output,
statuses, reconciliation), not from the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from csv_dmap.errors import BatchNotApplied
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


class Refusing:
    """moto's DynamoDB client, except that every call while ``refusing()`` says so is refused
    with ProvisionedThroughputExceededException (what DynamoDB answers a throttled write)."""

    def __init__(self, client, refusing):
        self.client, self.refusing, self.calls = client, refusing, 0

    def _maybe_refuse(self, operation):
        self.calls += 1
        if self.refusing():
            raise ClientError(
                {
                    "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "refused by the test"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )

    def batch_write_item(self, **kwargs):
        self._maybe_refuse("BatchWriteItem")
        return self.client.batch_write_item(**kwargs)

    def put_item(self, **kwargs):
        self._maybe_refuse("PutItem")
        return self.client.put_item(**kwargs)


def refuse_audit(monkeypatch, refusing=lambda: True):
    """Every audit writer the worker builds (one per cold container) talks to a DynamoDB that
    refuses while ``refusing()``, with one attempt per call (no backoff to wait for)."""
    from csv_dmap.audit import AuditLogWriter

    real = AuditLogWriter.__init__

    def init(self, client, table_name, **kwargs):
        real(self, Refusing(client, refusing), table_name, **{**kwargs, "max_attempts": 1})

    monkeypatch.setattr(AuditLogWriter, "__init__", init)


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


T_Z = "2026-11-21T00:30:00.000Z"  # an execution of the day before, older than A and B
TEN = [f"T{i:02d}" for i in range(10)]


@pytest.fixture
def ten(local_env, engine):
    """Ten users holding 10 (written by execution Z)."""
    from tests.integration.conftest import seed

    seed(engine, TEN)
    worker(local_env, event([row(u, 10, 10, 2 + i) for i, u in enumerate(TEN)], "Z", T_Z))
    return TEN


def test_a_late_retry_of_a_committed_batch_leaves_its_first_answer_and_audit_standing(local_env, engine, ten):
    """A's batch commits (10 -> 80); a newer execution B writes 90; A's batch is delivered
    again (a Lambda timeout after the commit). The retry writes nothing, answers APPLIED for
    every row with the values A replaced, and leaves A's audit items as they were."""
    a_batch = event([row(u, 80, 80, 2 + i) for i, u in enumerate(ten)], "A", T_A, first=100)
    first = worker(local_env, a_batch)
    a_items = [i for i in audit(local_env) if i["executionName"] == "A"]
    b_out = worker(local_env, event([row(u, 90, 90, 2 + i) for i, u in enumerate(ten)], "B", T_B))
    before = table_rows(engine, "user_stats")
    again = worker(local_env, a_batch)
    assert again == first
    assert again["counts"] == {"total": 10, "applied": 10, "failed": 0, "superseded": 0, "skipped": 0}
    assert {(r["status"], r["oldLoginCount"], r["newLoginCount"]) for r in again["results"]} == {("APPLIED", 10, 80)}
    assert [i for i in audit(local_env) if i["executionName"] == "A"] == a_items  # A's history stands
    assert {(i["status"], i["oldLoginCount"], i["newLoginCount"]) for i in a_items} == {("APPLIED", 10, 80)}
    # B's record says "old 80": the value A's surviving record says it wrote
    assert {(r["oldLoginCount"], r["newLoginCount"]) for r in b_out["results"]} == {(80, 90)}
    assert table_rows(engine, "user_stats") == before  # the retry wrote nothing: B's 90 stays
    assert {stats(engine, u)["login_count"] for u in ten} == {90}


def test_a_late_retry_whose_first_audit_write_failed_says_applied_with_old_values_unknown(
    local_env, engine, ten, monkeypatch
):
    a_batch = event([row(u, 80, 80, 2 + i) for i, u in enumerate(ten)], "A", T_A, first=100)
    with monkeypatch.context() as patch:
        refuse_audit(patch)
        with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
            worker(local_env, a_batch)  # committed; every audit write refused
    assert [i for i in audit(local_env) if i["executionName"] == "A"] == []
    worker(local_env, event([row(u, 90, 90, 2 + i) for i, u in enumerate(ten)], "B", T_B))
    again = worker(local_env, a_batch)
    assert again["counts"]["applied"] == 10 and again["counts"]["skipped"] == 0
    for result in again["results"]:
        assert (result["status"], result["newLoginCount"], result["newPostCount"]) == ("APPLIED", 80, 80)
        assert "oldLoginCount" not in result and "oldPostCount" not in result
        assert "execution B wrote the user after this batch committed" in result["errorMessage"]
    items = [i for i in audit(local_env) if i["executionName"] == "A"]
    assert len(items) == 10 and {(i["status"], i.get("oldLoginCount"), i["newLoginCount"]) for i in items} == {
        ("APPLIED", None, 80)
    }
    assert all("execution B wrote the user" in i["errorMessage"] for i in items)
    assert {stats(engine, u)["login_count"] for u in ten} == {90}


def test_a_row_skipped_by_the_first_attempt_stays_skipped_when_the_batch_is_retried(local_env, engine):
    worker(local_env, event([row("U1", 7, 8, 2)], "B", T_B))  # B (newer) first
    a_batch = event([row("U1", 1, 1, 2), row("U2", 5, 5, 3)], "A", T_A)
    first = worker(local_env, a_batch)
    items = audit(local_env)
    again = worker(local_env, a_batch)  # a retry after the commit
    assert again == first
    u1, u2 = again["results"]
    assert (u1["status"], u1["errorType"], u1["errorMessage"]) == (
        "SKIPPED",
        "NewerExecutionApplied",
        "newer execution B",
    )
    assert (u2["status"], u2.get("oldLoginCount"), u2["newLoginCount"]) == ("APPLIED", None, 5)
    assert audit(local_env) == items
    assert (stats(engine, "U1")["login_count"], stats(engine, "U2")["login_count"]) == (7, 5)


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
    from csv_dmap.errors import AuditWriteError

    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    ev = event([row("U1", 3, 4, 2), row("U2", 5, 6, 3), row("bad id", 1, 1, 4)], "B", T_B, first=1000)
    with monkeypatch.context() as patch:
        refuse_audit(patch)
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


def test_reconcile_without_a_commit_raises_batch_not_applied_and_audits_nothing(local_env, engine):
    worker(local_env, event([row("U1", 1, 2, 2)], "A", T_A))
    before, items = table_rows(engine, "user_stats"), audit(local_env)
    failure = {
        "Error": "TransientDatabaseError",
        "Cause": lambda_cause("TransientDatabaseError", "database unavailable: OperationalError 2013: Lost"),
    }
    ev = event(
        [row("U1", 3, 4, 2), row("U2", 5, 6, 3), row("U3", 1, 1, 4, "superseded:9")], "B", T_B, first=7, failure=failure
    )
    with pytest.raises(BatchNotApplied) as info:
        worker(local_env, ev)
    assert str(info.value) == (
        "TransientDatabaseError: database unavailable: OperationalError 2013: Lost"
        " — the batch did not commit; redrive the execution to apply it"
    )
    assert table_rows(engine, "user_stats") == before  # reconcile only reads
    assert audit(local_env) == items  # and writes no audit item: the redrive will


def test_reconcile_takes_the_first_line_of_a_plain_cause(local_env, engine):
    failure = {"Error": "States.Timeout", "Cause": "Task timed out after 120.00 seconds\nmore detail"}
    with pytest.raises(BatchNotApplied) as info:
        worker(local_env, event([row("U1", 3, 4, 2)], "B", T_B, failure=failure))
    assert str(info.value).startswith("States.Timeout: Task timed out after 120.00 seconds — the batch did not commit")
    assert "\n" not in str(info.value)


def test_reconcile_of_rows_that_never_reach_the_database_answers_them(local_env, engine):
    failure = {"Error": "Lambda.Unknown", "Cause": "the runtime exited"}
    rows = [row("U1", 1, 1, 2, "superseded:3"), row("bad id", 1, 1, 4), row("U2", 1, 1, 5, "RowTooLong:5000")]
    out = worker(local_env, event(rows, "B", T_B, failure=failure))
    assert [(r["status"], r.get("errorType")) for r in out["results"]] == [
        ("SUPERSEDED", None),
        ("FAILED", "InvalidUserId"),
        ("FAILED", "RowTooLong"),
    ]
    assert len([i for i in audit(local_env) if i["executionName"] == "B"]) == 3


def test_reconcile_of_a_committed_batch_whose_audit_is_still_refused_answers_audit_missing(
    local_env, engine, monkeypatch
):
    ev = event([row("U1", 3, 4, 2), row("U2", 5, 6, 3), row("bad id", 1, 1, 4)], "B", T_B, first=40)
    refuse_audit(monkeypatch)
    failure = {"Error": "AuditWriteError", "Cause": lambda_cause("AuditWriteError", "3 of 3 audit items not written")}
    with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
        worker(local_env, ev)  # ApplyBatch: committed, audit refused
    out = worker(local_env, {**ev, "Failure": failure})  # ReconcileBatch, the last attempt: refused again
    assert [(r["status"], r.get("auditMissing")) for r in out["results"]] == [
        ("APPLIED", True),
        ("APPLIED", True),
        ("FAILED", True),
    ]
    assert out["counts"] == {"total": 3, "applied": 2, "failed": 1, "superseded": 0, "skipped": 0, "auditMissing": 3}
    assert audit(local_env) == []
    assert (stats(engine, "U1")["login_count"], stats(engine, "U2")["post_count"]) == (3, 6)


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


def apply_batch_attempts(error: str) -> int:
    """How many attempts ApplyBatch makes for ``error``: the first and its retrier's."""
    rule = next(r for r in item_processor()["States"]["ApplyBatch"]["Retry"] if error in r["ErrorEquals"])
    return 1 + rule["MaxAttempts"]


def test_a_batch_whose_audit_write_keeps_failing_after_commit_is_reported_applied(local_env, engine, monkeypatch):
    attempts = {"n": 0}
    failing = apply_batch_attempts("AuditWriteError")  # every ApplyBatch attempt's write is refused

    from csv_dmap.audit import AuditLogWriter

    real = AuditLogWriter.write_results_report

    def counting(self, *args, **kwargs):
        attempts["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(AuditLogWriter, "write_results_report", counting)
    refuse_audit(monkeypatch, refusing=lambda: attempts["n"] <= failing)
    result = child(local_env, event([row("U1", 3, 4, 2), row("U2", 5, 6, 3)], "B", T_B))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [r["status"] for r in result.output["results"]] == ["APPLIED", "APPLIED"]
    assert not any(r.get("auditMissing") for r in result.output["results"])
    assert attempts["n"] == failing + 1  # ReconcileBatch's write got through
    assert {i["status"] for i in audit(local_env)} == {"APPLIED"} and len(audit(local_env)) == 2


def test_an_audit_outage_through_every_attempt_leaves_the_rows_applied_and_flagged(local_env, engine, monkeypatch):
    """DynamoDB refuses every audit write of the batch, in ApplyBatch and its retries and in
    ReconcileBatch: the database holds the run's values, so no row is reported FAILED; each
    result says its audit item is missing (the aggregator rewrites them and alerts)."""
    from tests.integration.conftest import seed

    users = [f"O{i:03d}" for i in range(30)]
    seed(engine, users)
    refuse_audit(monkeypatch)
    result = child(local_env, event([row(u, i, i + 1, 2 + i) for i, u in enumerate(users)], "B", T_B, first=60))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output = result.output
    assert output["counts"] == {
        "total": 30,
        "applied": 30,
        "failed": 0,
        "superseded": 0,
        "skipped": 0,
        "auditMissing": 30,
    }
    assert all(r["status"] == "APPLIED" and r["auditMissing"] is True for r in output["results"])
    assert [r["newPostCount"] for r in output["results"]] == [i + 1 for i in range(30)]
    assert [stats(engine, u)["login_count"] for u in users] == list(range(30))
    assert audit(local_env) == []


def test_a_batch_the_database_refuses_fails_its_child_execution_for_a_redrive(local_env, engine):
    from sqlalchemy import event as sa_event

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO USER_STATS"):
            raise conn.dialect.dbapi.IntegrityError("refused by the test")  # a non-retried database error

    sa_event.listen(engine, "before_cursor_execute", refuse)
    try:
        result = child(local_env, event([row("U1", 3, 4, 2), row("U9", 1, 1, 3)], "B", T_B))
    finally:
        sa_event.remove(engine, "before_cursor_execute", refuse)
    assert result.status == "FAILED"
    assert result.error == "BatchNotApplied"
    assert "PermanentDatabaseError: database error:" in result.cause and "refused by the test" in result.cause
    assert "the batch did not commit; redrive the execution to apply it" in result.cause
    assert stats(engine, "U1") is None
    assert audit(local_env) == []
