"""The harness of the invariant's properties: one local environment per test module (moto and
a database seeded with the strategies' users), on SQLite and on MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.invariant.harness import PipelineHarness
from tests.invariant.strategies import SEEDED

BATCH = 7  # MaxItemsPerBatch of the harness's runs


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def harness(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('inv') / 'csv_dmap.sqlite'}"
    else:
        url = request.getfixturevalue("mariadb_url")
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in ("user_stats", "users", "applied_batches", "alembic_version"):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
    # Small batches, so that a file of a few dozen rows spans several child executions: a user's
    # superseded rows and its deciding row land in different batches, as in a large file.
    with PipelineHarness(url, users=SEEDED, parameters={"MaxItemsPerBatch": str(BATCH)}) as h:
        yield h
