"""The AuditTable definition in template.yaml: keys and the sparse index the
layer relies on, TTL and PITR, the audit parameters, the table class chosen by
the numbers, and that the local runner still creates it in moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from csv_dmap.audit import FAILED_INDEX, FAILED_KEY, audit_items
from local_runner.template import parameter_defaults
from tests.audit.conftest import TABLE, dynamodb_size

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def table(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]["AuditTable"]


def test_keys_are_pk_sk_and_there_is_no_lsi_and_one_sparse_failed_index(table):
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert "LocalSecondaryIndexes" not in props  # no 10 GB item-collection limit to mind
    (gsi,) = props["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == FAILED_INDEX
    assert gsi["KeySchema"] == [{"AttributeName": FAILED_KEY, "KeyType": "HASH"}]
    defined = {a["AttributeName"] for a in props["AttributeDefinitions"]}
    assert defined == {"pk", "sk", FAILED_KEY}  # CloudFormation rejects unused definitions


def test_the_failed_index_projects_every_attribute_a_failed_item_can_carry(table):
    projection = table["Properties"]["GlobalSecondaryIndexes"][0]["Projection"]
    assert projection["ProjectionType"] == "INCLUDE"
    results = [
        {
            "index": 0,
            "line": 2,
            "userId": "U1",
            "status": "FAILED",
            "errorType": "InvalidPostCount",
            "errorMessage": "m",
            "oldLoginCount": 1,
            "newLoginCount": 2,
            "oldPostCount": 3,
            "newPostCount": 4,
        },
        {
            "index": 1,
            "line": 3,
            "rawUserId": "bad id",
            "status": "FAILED",
            "errorType": "InvalidUserId",
            "errorMessage": "m",
        },
        {
            "index": 2,
            "line": 4,
            "userId": "U2",
            "status": "FAILED",
            "supersededBy": 9,
            "errorType": "X",
            "errorMessage": "m",
        },
    ]
    items = audit_items(
        results, execution_name="e", execution_start="2026-11-22T00:00:00Z", source_key="k", ttl_days=180
    )
    carried = {name for item in items for name in item} - {"pk", "sk", FAILED_KEY, "ttl"}
    assert carried <= set(projection["NonKeyAttributes"])


def test_ttl_and_point_in_time_recovery_stay_on_and_a_replaced_table_is_retained(table):
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_table_class_and_warm_throughput_are_parameters(template, table):
    props = table["Properties"]
    assert props["TableClass"] == {"Ref": "AuditTableClass"}
    assert props["WarmThroughput"] == {
        "Fn::If": [
            "HasAuditWarmThroughput",
            {"WriteUnitsPerSecond": {"Ref": "AuditWarmWriteUnits"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    params = template["Parameters"]
    assert params["AuditTableClass"]["AllowedValues"] == ["STANDARD", "STANDARD_INFREQUENT_ACCESS"]
    assert params["AuditWarmWriteUnits"]["Default"] == 0  # the free default warm throughput
    assert template["Conditions"]["HasAuditWarmThroughput"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuditWarmWriteUnits"}, 0]}]
    }
    text = (ROOT / "template.yaml").read_text()
    parameters_block = text[text.index("\nParameters:") : text.index("\nConditions:")]
    tail = parameters_block[parameters_block.index("  # ---- audit") :]
    assert "AuditTableClass:" in tail and "AuditWarmWriteUnits:" in tail


# Standard-IA relative to Standard, us-east-1 on-demand: requests cost 25% more
# (AWS's China price list states both classes: ¥0.0725 vs ¥0.058 per 10 write
# units), storage $0.10 instead of $0.25 per GB-month (AWS: "reduce storage costs
# by up to 60 percent"). Standard's prices are bench/prices.json's.
IA_REQUEST_FACTOR = 1.25
IA_STORAGE_PER_GB_MONTH = 0.10
ITEM_OVERHEAD_BYTES = 100  # per item (and per index entry) in storage billing


def yearly_cost(table_class: str, write_units_per_run: float, bytes_per_run: float, ttl_days: int) -> float:
    """A steady-state year of daily runs: 365 runs' writes, and the GB-months of
    ``ttl_days`` runs kept at every moment."""
    prices = json.loads((ROOT / "bench" / "prices.json").read_text())["dynamodb"]
    per_write = prices["onDemandPerWriteRequestUnit"]
    per_gb_month = prices["storagePerGbMonth"]
    if table_class == "STANDARD_INFREQUENT_ACCESS":
        per_write, per_gb_month = per_write * IA_REQUEST_FACTOR, IA_STORAGE_PER_GB_MONTH
    gb_months = bytes_per_run / 2**30 * ttl_days * 12
    return 365 * write_units_per_run * per_write + gb_months * per_gb_month


def test_the_default_table_class_is_the_cheaper_for_a_year_of_daily_million_row_runs(template):
    rows, failed_every = 1_000_000, 100  # 1% failed rows, the rest applied
    results = [
        {
            "index": i,
            "line": i + 2,
            "userId": f"U{i:07d}",
            "status": "FAILED",
            "errorType": "UserNotFound",
            "errorMessage": "user is not in the users table",
        }
        if i % failed_every == 0
        else {
            "index": i,
            "line": i + 2,
            "userId": f"U{i:07d}",
            "status": "APPLIED",
            "oldLoginCount": 120,
            "newLoginCount": 121,
            "oldPostCount": 480,
            "newPostCount": 484,
        }
        for i in range(failed_every)
    ]
    sample = audit_items(
        results,
        execution_name="csv-dmap-20261122T003000Z-1a2b3c4d",
        execution_start="2026-11-22T00:30:00.123Z",
        source_key="incoming/2026-11-22/users.csv",
        ttl_days=180,
    )
    scale = rows / len(sample)
    units = scale * sum(-(-dynamodb_size(i) // 1024) * (2 if FAILED_KEY in i else 1) for i in sample)
    stored = scale * sum(
        dynamodb_size(i)
        + ITEM_OVERHEAD_BYTES
        + (dynamodb_size({k: v for k, v in i.items() if k != "ttl"}) + ITEM_OVERHEAD_BYTES if FAILED_KEY in i else 0)
        for i in sample
    )
    assert units == pytest.approx(1.01 * rows)  # one unit per applied row, two per failed row
    ttl_days = int(parameter_defaults(template)["AuditTtlDays"])
    costs = {c: yearly_cost(c, units, stored, ttl_days) for c in ("STANDARD", "STANDARD_INFREQUENT_ACCESS")}
    assert template["Parameters"]["AuditTableClass"]["Default"] == min(costs, key=costs.__getitem__)


def test_the_local_runner_creates_the_table_from_the_template(ddb, template):
    description = ddb.describe_table(TableName=TABLE)["Table"]
    assert [k["AttributeName"] for k in description["KeySchema"]] == ["pk", "sk"]
    (gsi,) = description["GlobalSecondaryIndexes"]
    assert gsi["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": template["Resources"]["AuditTable"]["Properties"]["GlobalSecondaryIndexes"][0][
            "Projection"
        ]["NonKeyAttributes"],
    }
