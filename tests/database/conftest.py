"""Fixtures of the schema tests: a brand-new, empty database per test, on
SQLite and on the real MariaDB (Aurora's stand-in)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests import mariadb

_counter = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of an empty database (no tables at all, not even alembic_version)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'schema.sqlite'}"
        return
    server = request.getfixturevalue("mariadb_server")
    name = f"csv_dmap_schema_{os.getpid()}_{next(_counter)}"
    yield mariadb.database_url(server, name)
    mariadb.drop_database(server, name)


@pytest.fixture
def empty_engine(empty_url: str) -> Iterator[Engine]:
    from csv_dmap.db import build_engine

    engine = build_engine(empty_url)
    yield engine
    engine.dispose()
