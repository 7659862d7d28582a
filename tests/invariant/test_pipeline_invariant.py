"""The invariant, end to end: for every generated hostile file, every row of an
accepted file is applied exactly once — database, audit log, result files and
run summary agree — or reported as not applied with its reason; a rejected file
changes nothing and fails with a named error.

The expectation comes from ``oracle.py`` (standard library only, written from
the contracts); the run is the real definition under the local runner, with the
template's functions, moto, and SQLite or MariaDB."""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, given, settings

from tests.invariant import oracle
from tests.invariant.checks import assert_counts, assert_rows
from tests.invariant.harness import PipelineHarness
from tests.invariant.strategies import SEEDED, HostileFile, hostile_files

_names = itertools.count(1)


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
    assert_rows(expected.rows, run, context)
    assert h.stats() == expected.final_stats, context
    assert_counts(expected.rows, run.summary, context)


EXAMPLES = int(os.environ.get("CSV_DMAP_INVARIANT_EXAMPLES", "25"))  # deeper: CSV_DMAP_INVARIANT_EXAMPLES=500


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile=hostile_files())
def test_every_row_accounted_for(harness, hostile):
    _check(harness, hostile)
