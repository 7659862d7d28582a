"""The invariant, end to end: for every generated hostile file, every row of an
accepted file is applied exactly once — database, audit log, result files and
run summary agree — or reported as not applied with its reason; a rejected file
changes nothing and fails with a named error.

The expectation comes from ``oracle.py`` (standard library only, written from
the contracts); the run is the real definition under the local runner, with the
template's functions, moto, and SQLite or MariaDB."""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, text

from tests.invariant import oracle
from tests.invariant.harness import PipelineHarness
from tests.invariant.strategies import SEEDED, HostileFile, hostile_files

_names = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def harness(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('inv') / 'csv_dmap.sqlite'}"
    else:
        url = request.getfixturevalue("mariadb_url")
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in ("user_stats", "users", "alembic_version"):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
    # Small batches, so that a file of a few dozen rows spans several child executions: a user's
    # superseded rows and its deciding row land in different batches, as in a large file.
    with PipelineHarness(url, users=SEEDED, parameters={"MaxItemsPerBatch": "7"}) as h:
        yield h


def _check(h: PipelineHarness, hostile: HostileFile) -> None:
    before = h.stats()
    expected = oracle.predict(hostile.data, set(SEEDED), before)
    run = h.run(hostile.data, name=f"inv-{next(_names):05d}")
    context = f"{hostile.description}: {hostile.data[:400]!r}"

    if expected.rejected:
        assert run.status == "FAILED", context
        assert run.error == expected.rejected, f"{context}: {run.error}: {run.cause}"
        assert run.cause and "Traceback" not in run.cause and len(run.cause) <= 32_768, context
        assert h.stats() == before, context
        assert run.audit == [], context
        return

    assert run.error in (None, "ErrorRateExceeded"), f"{context}: {run.error}: {run.cause}"
    by_line = {r["line"]: r for r in run.results}
    audit_by_line = {a["line"]: a for a in run.audit}
    assert sorted(by_line) == [r.line for r in expected.rows], context
    assert sorted(audit_by_line) == [r.line for r in expected.rows], context
    assert len(run.results) == len(expected.rows) == len(run.audit), context
    for row in expected.rows:
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
    assert h.stats() == expected.final_stats, context
    summary = run.summary
    assert summary["rows"] == len(expected.rows), context
    for status, key in (("APPLIED", "applied"), ("FAILED", "failed"), ("SUPERSEDED", "superseded")):
        assert summary[key] == expected.count(status), f"{context}: {key} {json.dumps(summary)[:500]}"
    assert summary.get("pending", 0) == 0 and summary.get("skipped", 0) == 0, context


EXAMPLES = int(os.environ.get("CSV_DMAP_INVARIANT_EXAMPLES", "25"))  # deeper: CSV_DMAP_INVARIANT_EXAMPLES=500


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile=hostile_files())
def test_every_row_accounted_for(harness, hostile):
    _check(harness, hostile)
