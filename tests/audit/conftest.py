"""Fixtures of the audit tests: moto's DynamoDB with the table created from
template.yaml's AuditTable by the local runner's own function, and a
simulated run's worker results built independently of the layer's code."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runner.template import load_template, table_definition

TABLE = "audit-test"
# The user-id rule (docs/contracts.md), restated here (not imported) so the oracle is the test's own.
VALID_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def ddb(template: dict[str, Any]) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(**table_definition(template, "AuditTable", TABLE))
        yield client


def simulated_results(rows: int, seed: int = 11) -> list[dict[str, Any]]:
    """The worker's results for a file of ``rows`` records, with the
    statuses decided here: the LAST record of a valid user id decides; earlier
    records of that user are SUPERSEDED by its line; invalid ids fail.

    Mix: ~2% invalid ids (empty, spaces, too long, control characters); three
    users with 2,000 records each and 200 users with 20 each (many superseded
    rows); deciding rows 85% APPLIED, 7% FAILED (UserNotFound or
    InvalidLoginCount), 8% SKIPPED; line numbers with gaps (blank lines and
    quoted newlines in the original)."""
    rng = random.Random(seed)
    heavy = [f"HEAVY{i}" for i in range(3)]
    medium = [f"MED{i:03d}" for i in range(200)]
    cells: list[str] = heavy * 2_000 + medium * 20
    invalid = ["", "bad id", "x" * 70, "tab\there", "ユーザー"]
    while len(cells) < rows:
        cells.append(rng.choice(invalid) if rng.random() < 0.02 else f"U{rng.randrange(10**7):07d}")
    cells = cells[:rows]
    rng.shuffle(cells)
    lines, line = [], 2
    for _ in cells:
        lines.append(line)
        line += 1 + (rng.random() < 0.03) * rng.randrange(1, 4)
    last_line = {cell: ln for cell, ln in zip(cells, lines, strict=True) if VALID_ID.match(cell)}
    results = []
    for index, (cell, ln) in enumerate(zip(cells, lines, strict=True)):
        result: dict[str, Any] = {"index": index, "line": ln}
        if not VALID_ID.match(cell):
            result |= {
                "rawUserId": cell,
                "status": "FAILED",
                "errorType": "InvalidUserId",
                "errorMessage": "user id has characters outside A-Z a-z 0-9 _ . : @ -",
            }
        elif last_line[cell] != ln:
            result |= {"userId": cell, "status": "SUPERSEDED", "supersededBy": last_line[cell]}
        else:
            result |= deciding(cell, rng)
        results.append(result)
    return results


def deciding(user: str, rng: random.Random) -> dict[str, Any]:
    draw = rng.random()
    if draw < 0.85:
        old, new = rng.randrange(1000), rng.randrange(1000)
        return {
            "userId": user,
            "status": "APPLIED",
            "oldLoginCount": old,
            "newLoginCount": new,
            "oldPostCount": old * 3,
            "newPostCount": new * 3,
        }
    if draw < 0.92:
        kind = rng.choice(["UserNotFound", "InvalidLoginCount"])
        return {"userId": user, "status": "FAILED", "errorType": kind, "errorMessage": f"{kind} on this row"}
    return {
        "userId": user,
        "status": "SKIPPED",
        "errorType": "NewerExecutionApplied",
        "errorMessage": "execution csv-dmap-newer already applied this user",
    }


def dynamodb_size(item: dict[str, Any]) -> int:
    """Item size by the rules of AWS's "DynamoDB item sizes and formats" page,
    written here independently of the code under test."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if isinstance(value, int):
            significant = str(abs(value)).strip("0") or "0"
            total += -(-len(significant) // 2) + 1
        else:
            total += len(str(value).encode())
    return total
