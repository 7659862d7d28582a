"""Shared fixtures: environment for Powertools and moto, the databases
(SQLite and the real MariaDB), and the local stand-ins of the stack."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "csv-dmap-test",
        "POWERTOOLS_METRICS_NAMESPACE": "CsvDmapTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)

import pytest
from sqlalchemy import text

from tests import mariadb


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    try:
        return mariadb.server_url()
    except RuntimeError as exc:  # fail loudly, never skip
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def mariadb_url(mariadb_server):
    # One database per test process: several checkouts (and xdist workers) can
    # share one server without dropping each other's tables.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"csv_dmap_test_{worker}_{os.getpid()}"
    url = mariadb.database_url(mariadb_server, name)
    yield url
    mariadb.drop_database(mariadb_server, name)


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def database_url(request, tmp_path) -> str:
    """Each test gets an empty schema, on SQLite and on MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'csv_dmap.sqlite'}"
    url = request.getfixturevalue("mariadb_url")
    from csv_dmap.db import build_engine, metadata

    engine = build_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as conn:  # and the migrations' own bookkeeping, so the schema is made anew
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


@pytest.fixture
def local_env(database_url):
    """moto + the template's resources + the database, as the functions see them."""
    from local_runner.environment import LocalEnvironment

    with LocalEnvironment(database_url=database_url) as env:
        yield env
        from csv_dmap.db import get_engine

        get_engine().dispose()


@pytest.fixture
def engine(database_url):
    from csv_dmap.db import build_engine, create_schema

    eng = build_engine(database_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def count_statements(engine):
    """Attach a counter of statements sent to the database (an executemany is one)."""
    from sqlalchemy import event

    counter = {"n": 0, "statements": []}

    def before(conn, cursor, statement, parameters, context, executemany):
        counter["n"] += 1
        counter["statements"].append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    return counter


def table_rows(engine, table: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY user_id")).mappings()]


def git_status() -> list[str]:
    """Tracked files changed and untracked files not ignored, as git sees the checkout: what a
    command that must leave the checkout as it found it is compared on, before and after."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return sorted(done.stdout.splitlines())
