"""A simulated 100,000-row run through the item builder. The
partition key value of every write, in the table and in every GSI (key names
read from template.yaml), never exceeds the stated bound, and an applied row
costs one write unit."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pytest

from csv_dmap.audit import audit_items
from tests.audit.conftest import dynamodb_size, simulated_results

ROWS = 100_000
BATCH = 500  # the largest batch the worker takes
SHARE = 64  # the stated bound: ceil(n / 64) writes of an n-row run per key value
START = "2026-11-22T00:30:00.123Z"
EXECUTION = "csv-dmap-20261122T003000-3f1c2a"


def table_keys(template: dict[str, Any]) -> tuple[str, list[str]]:
    props = template["Resources"]["AuditTable"]["Properties"]
    (hash_key,) = [k["AttributeName"] for k in props["KeySchema"] if k["KeyType"] == "HASH"]
    gsi_keys = [
        k["AttributeName"]
        for g in props.get("GlobalSecondaryIndexes", [])
        for k in g["KeySchema"]
        if k["KeyType"] == "HASH"
    ]
    return hash_key, gsi_keys


@pytest.fixture(scope="module")
def run() -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    results = simulated_results(ROWS)
    batches = [
        audit_items(
            results[i : i + BATCH],
            execution_name=EXECUTION,
            execution_start=START,
            source_key="incoming/2026-11-22/users.csv",
            ttl_days=180,
        )
        for i in range(0, ROWS, BATCH)
    ]
    return results, batches


def test_the_simulation_has_what_the_bound_must_survive(run):
    results, _ = run
    statuses = Counter(r["status"] for r in results)
    assert set(statuses) == {"APPLIED", "FAILED", "SUPERSEDED", "SKIPPED"}
    assert statuses["SUPERSEDED"] > 6_000  # the heavy users' earlier rows
    assert sum(1 for r in results if "rawUserId" in r) > 1_000
    assert sum(1 for r in results if r["status"] == "FAILED" and "userId" in r) > 1_000


def test_one_item_per_row_and_no_two_rows_share_a_key(run):
    _, batches = run
    items = [i for b in batches for i in b]
    assert len(items) == ROWS
    assert len({(i["pk"], i["sk"]) for i in items}) == ROWS


def test_no_partition_key_value_of_the_table_or_a_gsi_exceeds_the_bound(run, template):
    _, batches = run
    hash_key, gsi_keys = table_keys(template)
    assert gsi_keys, "the template defines the failed-rows index"
    bound = math.ceil(ROWS / SHARE)
    for key in [hash_key, *gsi_keys]:
        writes = Counter(i[key] for b in batches for i in b if key in i)
        value, most = writes.most_common(1)[0]
        assert most <= bound, f"{key}={value} takes {most} writes of a {ROWS}-row run (bound {bound})"


def test_the_bound_holds_at_every_moment_not_only_over_the_run(run, template):
    # Batches run concurrently, each over consecutive rows: within one batch of
    # 500 rows no key value may take more than ceil(500 / 64) = 8 writes.
    _, batches = run
    hash_key, gsi_keys = table_keys(template)
    for items in batches:
        for key in [hash_key, *gsi_keys]:
            writes = Counter(i[key] for i in items if key in i)
            assert max(writes.values(), default=0) <= math.ceil(BATCH / SHARE)


def test_a_user_key_takes_at_most_one_write_per_run_however_often_the_user_appears(run, template):
    results, batches = run
    hash_key, _ = table_keys(template)
    user_keys = Counter(i[hash_key] for b in batches for i in b if i[hash_key].startswith("U#"))
    assert max(user_keys.values()) == 1
    heavy_rows = sum(1 for r in results if r.get("userId") == "HEAVY0")
    assert heavy_rows == 2_000 and user_keys["U#HEAVY0"] == 1


def test_an_applied_row_costs_one_write_unit(run, template):
    _, batches = run
    _, gsi_keys = table_keys(template)
    applied = [i for b in batches for i in b if i["status"] == "APPLIED"]
    assert len(applied) > 50_000
    for item in applied:
        assert not set(gsi_keys) & set(item), "an applied row enters no index"
        # JSON spelling over-counts DynamoDB's size (quotes, colons, braces): an upper bound
        assert len(json.dumps(item, ensure_ascii=False).encode()) < 1024


def test_even_the_largest_applied_item_is_under_one_kilobyte(template):
    # 80-character execution name (Step Functions' maximum) in 4-byte characters,
    # a 64-character id, a 1,024-byte S3 key, counts at their maximum.
    name = "𝔘" * 80
    result = {
        "index": 9_999_999_999,
        "line": 9_999_999_999,
        "userId": "U" * 64,
        "status": "APPLIED",
        "oldLoginCount": 2_147_483_647,
        "newLoginCount": 2_147_483_646,
        "oldPostCount": 2_147_483_645,
        "newPostCount": 2_147_483_644,
    }
    (item,) = audit_items([result], execution_name=name, execution_start=START, source_key="k" * 1024, ttl_days=180)
    _, gsi_keys = table_keys(template)
    assert not set(gsi_keys) & set(item)
    assert dynamodb_size(item) < 1024


def test_failed_rows_enter_the_failed_index_and_nothing_else_does(run, template):
    results, batches = run
    _, gsi_keys = table_keys(template)
    items = [i for b in batches for i in b]
    in_index = [i for i in items if set(gsi_keys) & set(i)]
    assert len(in_index) == sum(1 for r in results if r["status"] == "FAILED")
    assert {i["status"] for i in in_index} == {"FAILED"}


def test_a_retried_batch_builds_the_same_keys_even_when_its_outcome_changed(run):
    results, batches = run
    again = audit_items(
        results[:BATCH],
        execution_name=EXECUTION,
        execution_start=START,
        source_key="incoming/2026-11-22/users.csv",
        ttl_days=180,
    )
    assert again == batches[0]
    # reconciliation of a failed batch: the same rows, now FAILED with the batch's error
    reconciled = [
        {k: v for k, v in r.items() if k not in ("oldLoginCount", "newLoginCount", "oldPostCount", "newPostCount")}
        | ({"status": "FAILED", "errorType": "TransientDatabaseError"} if r["status"] == "APPLIED" else {})
        for r in results[:BATCH]
    ]
    rebuilt = audit_items(
        reconciled,
        execution_name=EXECUTION,
        execution_start=START,
        source_key="incoming/2026-11-22/users.csv",
        ttl_days=180,
    )
    assert [(i["pk"], i["sk"]) for i in rebuilt] == [(i["pk"], i["sk"]) for i in batches[0]]
