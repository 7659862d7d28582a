"""One run per object version, and each run reads its own version: a file uploaded twice within a
second is two S3 versions and two runs (StartRun names each after its version), and each run
applies exactly the rows of the upload that started it, even when the key already holds the
newer upload by the time ValidateInput reads it. SQLite and MariaDB.

The oracle is the two CSV texts: what each run's audit items and the database must say."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from local_runner.exec_cli import run_definition
from local_runner.pipeline import DEFINITION

ROOT = Path(__file__).parents[2]
EVENT = json.loads((ROOT / "events" / "start_run.json").read_text())
USERS = [f"U{n:05d}" for n in range(1, 21)]
FIRST = "user_id,login_count,post_count\n" + "".join(f"{u},1,10\n" for u in USERS)
SECOND = "user_id,login_count,post_count\n" + "".join(f"{u},2,20\n" for u in USERS)


def object_created(bucket: str, key: str, put: dict) -> dict:
    """The EventBridge event S3 sends for one upload (its version id and ETag)."""
    event = copy.deepcopy(EVENT)
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update({"key": key, "version-id": put["VersionId"], "etag": put["ETag"].strip('"')})
    return event


def test_two_uploads_within_a_second_are_two_runs_each_of_its_own_version(local_env):
    from csv_dmap.audit import AuditLogReader
    from csv_dmap.db import get_engine, seed_users
    from csv_dmap.logic.run_start import run_start_of

    seed_users(get_engine(), USERS)
    s3, bucket, key = local_env.client("s3"), local_env.physical_name("InputBucket"), "incoming/users.csv"
    first_put = s3.put_object(Bucket=bucket, Key=key, Body=FIRST.encode())
    second_put = s3.put_object(Bucket=bucket, Key=key, Body=SECOND.encode())  # the key now holds the second
    assert first_put["VersionId"] != second_put["VersionId"]
    runs = [run_start_of(object_created(bucket, key, put)) for put in (first_put, second_put)]
    assert runs[0].name != runs[1].name

    results = [
        run_definition(local_env, DEFINITION, input=json.loads(run.execution_input()), name=run.name) for run in runs
    ]
    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [r.cause for r in results]

    reader = AuditLogReader(local_env.client("dynamodb"), local_env.physical_name("AuditTable"))
    for run, (login, post) in zip(runs, [(1, 10), (2, 20)], strict=True):
        items = [
            i for u in USERS for i in reader.user_history(u, "2000-01-01T00:00:00Z") if i["executionName"] == run.name
        ]
        assert len(items) == len(USERS)
        assert {(i["status"], i.get("newLoginCount"), i.get("newPostCount")) for i in items} == {
            ("APPLIED", login, post)
        }, f"{run.name} applied another version's values"
    with get_engine().connect() as conn:
        from sqlalchemy import text

        final = set(conn.execute(text("SELECT login_count, post_count FROM user_stats")).all())
    assert final == {(2, 20)}  # the later upload, applied last, is what the database holds


def test_a_run_whose_version_was_deleted_is_rejected_as_input_not_found(local_env):
    from csv_dmap.logic.run_start import run_start_of

    s3, bucket, key = local_env.client("s3"), local_env.physical_name("InputBucket"), "incoming/gone.csv"
    put = s3.put_object(Bucket=bucket, Key=key, Body=FIRST.encode())
    s3.delete_object(Bucket=bucket, Key=key, VersionId=put["VersionId"])
    run = run_start_of(object_created(bucket, key, put))
    result = run_definition(local_env, DEFINITION, input=json.loads(run.execution_input()), name=run.name)
    assert (result.status, result.error) == ("FAILED", "InputNotFound")
    assert put["VersionId"] in result.cause and "upload the file again" in result.cause


# S3's EventBridge "Object Created" event: whether detail.object.key is URL-encoded is not settled
# by AWS's docs (S3's own event notifications encode it as a form value: a space as "+"), so
# StartRun passes the key as given and ValidateInput tries it as given, then URL-decoded.
SPACED_KEY = "incoming/my users (1) 日本.csv"
ENCODED_KEY = "incoming/my+users+%281%29+%E6%97%A5%E6%9C%AC.csv"  # as S3 notifications encode it
PERCENT_KEY = "incoming/my%20users%20%281%29%20%E6%97%A5%E6%9C%AC.csv"  # the other common encoding


@pytest.mark.parametrize(
    "event_key", [SPACED_KEY, ENCODED_KEY, PERCENT_KEY], ids=["raw", "plus-encoded", "%20-encoded"]
)
def test_an_event_key_raw_or_url_encoded_reads_the_same_object_version(local_env, event_key):
    """The key with a space, parentheses and non-ASCII characters, given raw or URL-encoded in the
    event, reads the very object and version the event names: the staging copy's metadata names the
    decoded key and that version, and the database holds that version's values, not the newer
    upload the key holds by then."""
    from urllib.parse import quote_plus

    from csv_dmap.db import get_engine, seed_users
    from csv_dmap.input_files import staged_facts
    from csv_dmap.logic.run_start import run_start_of

    assert quote_plus(SPACED_KEY, safe="/") == ENCODED_KEY
    seed_users(get_engine(), USERS)
    s3, bucket = local_env.client("s3"), local_env.physical_name("InputBucket")
    put = s3.put_object(Bucket=bucket, Key=SPACED_KEY, Body=FIRST.encode())
    s3.put_object(Bucket=bucket, Key=SPACED_KEY, Body=SECOND.encode())  # the key now holds another version
    run = run_start_of(object_created(bucket, event_key, put))
    assert run.key == event_key  # StartRun passes the key as given

    result = run_definition(local_env, DEFINITION, input=json.loads(run.execution_input()), name=run.name)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    facts = staged_facts(s3, bucket, run.name)
    assert facts is not None
    assert (facts.source_key, facts.version_id, facts.row_count) == (SPACED_KEY, put["VersionId"], len(USERS))
    with get_engine().connect() as conn:
        from sqlalchemy import text

        final = set(conn.execute(text("SELECT login_count, post_count FROM user_stats")).all())
    assert final == {(1, 10)}  # the event's version, not the key's newer upload


@pytest.mark.parametrize(
    "event_key",
    ["incoming/my_users (1) 日本.csv", "incoming/my+users+%281%29+%E6%97%A5%E6%9C%AC.CSV"],
    ids=["raw", "encoded"],
)
def test_an_event_key_found_neither_as_given_nor_decoded_is_input_not_found_naming_it(local_env, event_key):
    """A key that names no object either way (the object is SPACED_KEY) fails InputNotFound in one
    line naming the key as the event gave it and the version, never botocore's text."""
    from csv_dmap.logic.run_start import run_start_of

    s3, bucket = local_env.client("s3"), local_env.physical_name("InputBucket")
    put = s3.put_object(Bucket=bucket, Key=SPACED_KEY, Body=FIRST.encode())
    run = run_start_of(object_created(bucket, event_key, put))
    result = run_definition(local_env, DEFINITION, input=json.loads(run.execution_input()), name=run.name)
    assert (result.status, result.error) == ("FAILED", "InputNotFound"), (result.error, result.cause)
    assert f"s3://{bucket}/{event_key} (version {put['VersionId']}) does not exist" in result.cause, result.cause
    assert "\n" not in result.cause and "Traceback" not in result.cause
