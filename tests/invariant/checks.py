"""The invariant's assertions, shared by the fault-free and the faulted properties: what the
result files, the audit table and the run summary must say of each row, given the oracle's
expectation (``oracle.py``) and what the harness read from the stores (``harness.Run``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from tests.invariant.harness import Run
from tests.invariant.oracle import Expected


def assert_rows(expected: Sequence[Expected], run: Run, context: str, *, pending: Collection[int] = ()) -> None:
    """Every expected row whose line is not in ``pending`` has exactly one result and one audit
    item, with the oracle's status, error, user and values; a row in ``pending`` has neither."""
    accounted = [row for row in expected if row.line not in pending]
    by_line = {r["line"]: r for r in run.results}
    audit_by_line = {a["line"]: a for a in run.audit}
    assert sorted(by_line) == [r.line for r in accounted], context
    assert sorted(audit_by_line) == [r.line for r in accounted], context
    assert len(run.results) == len(accounted) == len(run.audit), context
    for row in accounted:
        got, audited = by_line[row.line], audit_by_line[row.line]
        where = f"{context}\nline {row.line}: expected {row}, result {got}, audit {audited}"
        assert got["status"] == row.status == audited["status"], where
        assert got.get("errorType") == row.error_type == audited.get("errorType"), where
        if row.user_id:
            assert got.get("userId") == row.user_id == audited.get("userId"), where
        if row.status == "SUPERSEDED":
            assert got.get("supersededBy") == row.superseded_by == audited.get("supersededBy"), where
        if row.status == "APPLIED":
            new = (got["newLoginCount"], got["newPostCount"])
            old = (got.get("oldLoginCount"), got.get("oldPostCount"))
            assert new == row.new == (audited["newLoginCount"], audited["newPostCount"]), where
            expected_old = row.old if row.old is not None else (None, None)
            assert old == expected_old == (audited.get("oldLoginCount"), audited.get("oldPostCount")), where


def assert_counts(expected: Sequence[Expected], summary: dict, context: str, *, pending: Collection[int] = ()) -> None:
    """The summary counts every row once: the oracle's statuses for the rows that ran, ``pending``
    for the rest."""
    assert summary["rows"] == len(expected), f"{context}: {json.dumps(summary)[:800]}"
    for status, key in (("APPLIED", "applied"), ("FAILED", "failed"), ("SUPERSEDED", "superseded")):
        want = sum(1 for r in expected if r.status == status and r.line not in pending)
        assert summary[key] == want, f"{context}: {key} {json.dumps(summary)[:800]}"
    assert summary.get("pending", 0) == len(pending), f"{context}: pending {json.dumps(summary)[:800]}"
    assert summary.get("skipped", 0) == 0, context
