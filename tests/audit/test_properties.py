"""Properties of the item builder over generated batches (hypothesis): one key
per row, the per-key bound for any mix of rows, and that what readers get back
from an item is what the worker's result said."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from csv_dmap.audit import audit_items, item_record
from tests.audit.conftest import VALID_ID

valid_ids = st.from_regex(VALID_ID, fullmatch=True)
invalid_ids = st.one_of(st.just(""), st.text(min_size=1, max_size=80).filter(lambda s: not VALID_ID.match(s)))
# Step Functions execution names: 1-80 characters, no whitespace, brackets, wildcards or # % \ ^ | ~ ` $ & , ; : /
execution_names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters=' <>{}[]?*"#%\\^|~`$&,;:/'),
    min_size=1,
    max_size=80,
)
counts = st.integers(min_value=0, max_value=2_147_483_647)


@st.composite
def batches(draw: Any) -> tuple[list[dict[str, Any]], str, datetime]:
    n = draw(st.integers(min_value=1, max_value=300))
    first = draw(st.integers(min_value=0, max_value=10**7))
    lines = sorted(draw(st.sets(st.integers(min_value=2, max_value=10**9), min_size=n, max_size=n)))
    users = draw(st.lists(valid_ids, min_size=1, max_size=20))
    deciders: set[str] = set()
    results = []
    for offset, line in enumerate(lines):
        result: dict[str, Any] = {"index": first + offset, "line": line}
        kind = draw(st.sampled_from(["applied", "failed", "superseded", "skipped", "invalid"]))
        user = draw(st.sampled_from(users))
        if kind != "invalid" and kind != "superseded" and user in deciders:
            kind = "superseded"  # a user decides once per file: the last row of a user wins
        if kind == "invalid":
            result |= {
                "rawUserId": draw(invalid_ids),
                "status": "FAILED",
                "errorType": "InvalidUserId",
                "errorMessage": draw(st.text(min_size=1, max_size=700)),
            }
        elif kind == "superseded":
            result |= {"userId": user, "status": "SUPERSEDED", "supersededBy": line + 1}
        else:
            deciders.add(user)
            result |= {"userId": user, "status": {"applied": "APPLIED", "failed": "FAILED", "skipped": "SKIPPED"}[kind]}
            if kind == "applied":
                result |= {
                    "oldLoginCount": draw(counts),
                    "newLoginCount": draw(counts),
                    "oldPostCount": draw(counts),
                    "newPostCount": draw(counts),
                }
            else:
                result |= {"errorType": "UserNotFound", "errorMessage": "not in users"}
        results.append(result)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=draw(st.integers(0, 10**14)))
    return results, draw(execution_names), start


@settings(max_examples=60, deadline=None)
@given(batches())
def test_one_key_per_row_and_no_key_above_the_bound(batch):
    results, name, start = batch
    items = audit_items(results, execution_name=name, execution_start=start, source_key="k", ttl_days=180)
    assert len({(i["pk"], i["sk"]) for i in items}) == len(results)
    bound = math.ceil(len(results) / 64)
    for key in ("pk", "failedPk"):
        writes = Counter(i[key] for i in items if key in i)
        for value, n in writes.items():
            assert n <= (1 if value.startswith("U#") else bound)


@settings(max_examples=60, deadline=None)
@given(batches(), st.text(min_size=1, max_size=2000))
def test_readers_get_back_what_the_result_said(batch, source_key):
    results, name, start = batch
    items = audit_items(results, execution_name=name, execution_start=start, source_key=source_key, ttl_days=180)
    for result, item in zip(results, items, strict=True):
        record = item_record(item)
        assert record["executionName"] == name
        assert record["line"] == result["line"] and record["rowIndex"] == result["index"]
        assert datetime.fromisoformat(record["timestamp"]) == start
        assert record.get("userId") == result.get("userId")
        for field in (
            "status",
            "oldLoginCount",
            "newLoginCount",
            "oldPostCount",
            "newPostCount",
            "errorType",
            "supersededBy",
        ):
            assert record.get(field) == result.get(field)
        for field, limit in (("rawUserId", 128), ("errorMessage", 512), ("sourceKey", 400)):
            said = result.get(field, source_key if field == "sourceKey" else None)
            if said:
                kept = record[field]
                assert len(kept.encode()) <= limit
                assert kept == said if len(said.encode()) <= limit else said.startswith(kept[:-1])
            else:
                assert field not in record
