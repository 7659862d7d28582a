"""The worker handler, end to end against moto's DynamoDB (table from
template.yaml) and a real database: SQLite and MariaDB."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeDeserializer

from csv_dmap.audit import AuditLogReader, item_record
from csv_dmap.errors import TransientDatabaseError
from local_runner.invoke import invoke
from tests.conftest import table_rows
from tests.integration.conftest import seed, stats

EVENT = json.loads((Path(__file__).parents[2] / "events" / "worker.json").read_text())
SEEDED = ["U00001", "U00002", "U00003", "U00004", "U00005"]


def run(env, event):
    return invoke(env, "WorkerFunction", event)


def audit_items(env):
    """Every stored audit item (DynamoDB JSON), in key order (pk, sk: docs/audit-table.md)."""
    client = env.client("dynamodb")
    pages = client.get_paginator("scan").paginate(TableName=env.physical_name("AuditTable"))
    items = [item for page in pages for item in page["Items"]]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def batch(rows, execution="exec-1", start=0, started="2026-11-22T00:30:00Z"):
    return {
        "BatchInput": {"executionName": execution, "executionStartTime": started, "sourceKey": "k.csv"},
        "Items": [{"index": start + i, "row": r} for i, r in enumerate(rows)],
    }


def row(uid, login, post):
    return {"ユーザーID": uid, "ログイン回数": str(login), "投稿回数": str(post)}


class Repo:
    """The database as the worker left it."""

    def __init__(self, engine):
        self.engine = engine

    def get_stats(self, user_id):
        return stats(self.engine, user_id)


@pytest.fixture
def repo(local_env):
    from csv_dmap.db import get_engine

    seed(get_engine(), SEEDED)
    return Repo(get_engine())


def test_clean_batch_applies_every_row_and_audits_it(local_env, repo):
    out = run(local_env, batch([row(u, i, i * 10) for i, u in enumerate(SEEDED)]))
    assert out["counts"] == {"total": 5, "applied": 5, "failed": 0, "superseded": 0, "skipped": 0}
    assert [repo.get_stats(u)["post_count"] for u in SEEDED] == [0, 10, 20, 30, 40]
    items = audit_items(local_env)
    assert len(items) == 5 and {i["status"]["S"] for i in items} == {"APPLIED"}


def test_seeds_old_and_new_values_are_reported(local_env, repo):
    run(local_env, batch([row("U00001", 3, 8)], execution="yesterday", started="2026-11-21T00:30:00Z"))
    out = run(local_env, batch([row("U00001", 5, 10)], execution="today"))
    assert out["results"][0] == {
        "index": 0,
        "line": 2,
        "userId": "U00001",
        "status": "APPLIED",
        "oldLoginCount": 3,
        "newLoginCount": 5,
        "oldPostCount": 8,
        "newPostCount": 10,
    }


def test_bad_rows_and_unknown_users_fail_alone(local_env, repo):
    out = run(local_env, EVENT)
    assert out["counts"] == {"total": 9, "applied": 2, "failed": 6, "superseded": 1, "skipped": 0}
    failed = {r["index"]: r["errorType"] for r in out["results"] if r["status"] == "FAILED"}
    assert failed == {
        2: "InvalidLoginCount",
        3: "UserNotFound",
        4: "InvalidUserId",
        5: "InvalidLoginCount",
        6: "InvalidPostCount",
        8: "FieldCountMismatch",
    }
    assert all(r.get("errorMessage") for r in out["results"] if r["status"] == "FAILED")
    assert [r["line"] for r in out["results"]] == [2, 3, 4, 5, 6, 7, 8, 9, 11]  # the original file's lines
    assert repo.get_stats("U00003") is None  # its row was bad: nothing written
    assert repo.get_stats("U00006") is None  # a row with a note never reaches the database
    assert repo.get_stats("U00002")["login_count"] == 3
    reader = AuditLogReader(local_env.client("dynamodb"), local_env.physical_name("AuditTable"))
    assert [f["rowIndex"] for f in reader.failed_items(EVENT["BatchInput"]["executionName"])] == [2, 3, 4, 5, 6, 8]


def test_superseded_row_names_the_line_that_decides_and_is_audited(local_env, repo):
    out = run(local_env, EVENT)  # U00001 at line 2 (5, 12) is superseded by line 9 (6, 13)
    first, last = out["results"][0], out["results"][7]
    assert first == {"index": 0, "line": 2, "userId": "U00001", "status": "SUPERSEDED", "supersededBy": 9}
    assert (last["status"], last.get("oldLoginCount"), last["newLoginCount"]) == ("APPLIED", None, 6)  # no stats yet
    stats = repo.get_stats("U00001")
    assert (stats["login_count"], stats["post_count"]) == (6, 13)
    reader = AuditLogReader(local_env.client("dynamodb"), local_env.physical_name("AuditTable"))
    history = reader.user_history("U00001", since=datetime(2026, 11, 15, tzinfo=UTC))
    assert [(h["rowIndex"], h["line"], h["status"]) for h in history] == [(7, 9, "APPLIED")]  # the deciding row
    # the superseded row is audited too, under the execution's keys, with its user id and the deciding line
    raw = TypeDeserializer()
    records = [item_record({k: raw.deserialize(v) for k, v in i.items()}) for i in audit_items(local_env)]
    superseded = [r for r in records if r["status"] == "SUPERSEDED"]
    assert [(r["userId"], r["line"], r["supersededBy"], r["executionName"]) for r in superseded] == [
        ("U00001", 2, 9, EVENT["BatchInput"]["executionName"])
    ]


def test_duplicates_without_notes_apply_in_row_order(local_env, repo):
    out = run(local_env, batch([row("U00001", 5, 12), row("U00001", 6, 13)]))  # hand-made input: no notes
    first, last = out["results"]
    assert (first["newLoginCount"], last["oldLoginCount"], last["newLoginCount"]) == (5, 5, 6)
    stats = repo.get_stats("U00001")
    assert (stats["login_count"], stats["post_count"]) == (6, 13)


def test_retried_batch_leaves_the_same_state_and_the_same_audit_records(local_env, repo):
    run(local_env, batch([row("U00001", 3, 8)], execution="yesterday", started="2026-11-21T00:30:00Z"))
    first = run(local_env, EVENT)
    db_after_first = table_rows(repo.engine, "user_stats")
    audit_after_first = audit_items(local_env)
    second = run(local_env, EVENT)  # Step Functions retries the batch
    assert second == first
    assert table_rows(repo.engine, "user_stats") == db_after_first
    assert audit_items(local_env) == audit_after_first
    assert len(audit_after_first) == 9 + 1


def test_create_policy_applies_unknown_users(database_url):
    from local_runner.environment import LocalEnvironment

    with LocalEnvironment(database_url=database_url, parameters={"UnknownUserPolicy": "CREATE"}) as env:
        out = run(env, batch([row("NEWUSER1", 1, 2)]))
        assert out["counts"]["applied"] == 1
        from csv_dmap.db import get_engine

        assert [r["user_id"] for r in table_rows(get_engine(), "users")] == ["NEWUSER1"]
        get_engine().dispose()


def test_database_outage_raises_the_error_the_asl_retries(local_env, repo, monkeypatch):

    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root@127.0.0.1:1/none")
    from csv_dmap import runtime

    runtime.reset()
    with pytest.raises(TransientDatabaseError):
        run(local_env, EVENT)
    assert audit_items(local_env) == []  # nothing audited for a batch that was not applied
    definition = json.loads((Path(__file__).parents[2] / "statemachine" / "definition.asl.json").read_text())
    retry = definition["States"]["ProcessUserStats"]["ItemProcessor"]["States"]["ApplyBatch"]["Retry"]
    assert any(TransientDatabaseError.__name__ in r["ErrorEquals"] for r in retry)


def test_invalid_event_is_rejected_not_half_applied(local_env, repo):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        run(local_env, {"Items": [row("U00001", 1, 1)], "BatchInput": {}})
    assert repo.get_stats("U00001") is None


@pytest.mark.parametrize("kind", ["unknown", "invalid"])
def test_output_of_the_largest_batch_stays_well_under_256_kib(local_env, repo, kind):
    from csv_dmap.models import MAX_ITEMS_PER_BATCH, USER_ID_MAX_LENGTH

    def worst(i):
        uid = f"{i:06d}".rjust(USER_ID_MAX_LENGTH, "X")
        return (
            row(uid, 1, 1)
            if kind == "unknown"
            else {"ユーザーID": uid, "ログイン回数": "9" * 500, "投稿回数": "x" * 500}
        )

    out = run(local_env, batch([worst(i) for i in range(MAX_ITEMS_PER_BATCH)], start=10_000_000))
    size = len(json.dumps(out))  # ASCII escapes counted, as the contract measures
    assert out["counts"]["failed"] == MAX_ITEMS_PER_BATCH
    assert size <= 128 * 1024, size  # half of the 256 KiB a state may return


def test_an_id_one_character_too_long_never_lands_under_the_user_its_prefix_names(local_env, repo):
    """Systems whose ids are 64-character hashes: a 65-character id is not the user named by its
    first 64 characters. Its row fails alone, carries what the row said (capped) and no userId,
    and its audit item sits under the execution's keys, never under that user's."""
    from csv_dmap.db import get_engine

    real = "f" * 64  # a real user whose id is a 64-character hash
    seed(get_engine(), [real])
    too_long = real + "0"
    out = run(local_env, batch([row(real, 1, 2), row(too_long, 3, 4)]))
    good, bad = out["results"]
    assert (good["status"], good["userId"]) == ("APPLIED", real)
    assert (bad["status"], bad["errorType"]) == ("FAILED", "InvalidUserId")
    assert "userId" not in bad
    assert too_long.startswith(bad["rawUserId"].removesuffix("…")) and bad["rawUserId"] != real
    assert repo.get_stats(real)["login_count"] == 1  # the bad row changed nothing
    reader = AuditLogReader(local_env.client("dynamodb"), local_env.physical_name("AuditTable"))
    history = reader.user_history(real, since=datetime(2026, 11, 15, tzinfo=UTC))
    assert [(h["line"], h["status"]) for h in history] == [(2, "APPLIED")]
    [failed] = reader.failed_items("exec-1")
    assert failed["line"] == 3 and "userId" not in failed and failed["rawUserId"] == bad["rawUserId"]
    stored = {i["pk"]["S"] for i in audit_items(local_env)}
    assert stored == {f"U#{real}", "E#exec-1#01"}  # row index 1: the execution's key number 1
