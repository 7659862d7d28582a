"""Alembic migrations: ``upgrade head`` gives exactly the metadata, re-running
is a no-op, and databases made before migrations existed are adopted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text

from csv_dmap import schema
from csv_dmap.db import metadata

APP_TABLES = {"users", "user_stats", "applied_batches"}


def differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to reach csv_dmap.db.metadata."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


def shape(engine: Engine) -> dict[str, Any]:
    """Tables as the database itself reports them (order-insensitive), read
    with SQLAlchemy's inspector: an oracle independent of Alembic's comparator."""
    insp = inspect(engine)
    comments = engine.dialect.supports_comments  # SQLite keeps no comments
    out: dict[str, Any] = {}
    for table in sorted(APP_TABLES):
        columns = {
            c["name"]: (str(c["type"]).split(" COLLATE")[0], c["nullable"], c.get("comment"))
            for c in insp.get_columns(table)
        }
        out[table] = {
            "columns": columns,
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "comment": insp.get_table_comment(table).get("text") if comments else None,
        }
    return out


def ddl_counter(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().split()[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    return seen


def test_upgrade_head_on_an_empty_database_gives_exactly_the_metadata(empty_engine: Engine) -> None:
    assert schema.current(empty_engine) is None
    assert schema.upgrade(empty_engine) == schema.head()
    assert schema.current(empty_engine) == schema.head()
    assert set(inspect(empty_engine).get_table_names()) == APP_TABLES | {"alembic_version"}
    assert differences(empty_engine) == []


def test_upgrade_head_matches_what_create_all_makes(empty_url: str, tmp_path) -> None:
    from csv_dmap.db import build_engine

    migrated = build_engine(empty_url)
    schema.upgrade(migrated)
    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite'}" if empty_url.startswith("sqlite") else None
    if reference_url is None:  # MariaDB: the reference goes into a second schema of the same server
        name = f"{migrated.url.database}_ref"
        with migrated.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
        reference_url = migrated.url.set(database=name).render_as_string(hide_password=False)
    reference = build_engine(reference_url)
    metadata.drop_all(reference)
    metadata.create_all(reference)
    try:
        assert shape(migrated) == shape(reference)
    finally:
        metadata.drop_all(reference)
        if migrated.dialect.name != "sqlite":
            with migrated.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{reference.url.database}`"))
        reference.dispose()
        migrated.dispose()


def test_the_comparison_notices_a_schema_that_drifted(empty_engine: Engine) -> None:
    # The oracle of the tests above can fail: a missing column is a difference.
    schema.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("ALTER TABLE user_stats DROP COLUMN prev_post_count"))
    drift = differences(empty_engine)
    assert [d[0] for d in drift] == ["add_column"] and drift[0][3].name == "prev_post_count"


def test_running_upgrade_again_changes_nothing(empty_engine: Engine) -> None:
    schema.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO users (user_id) VALUES ('U00001')"))
    before = shape(empty_engine)
    statements = ddl_counter(empty_engine)
    assert schema.upgrade(empty_engine) == schema.head()
    assert statements == []  # no DDL, no version bump
    assert shape(empty_engine) == before
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM users")).scalars().all() == ["U00001"]


def test_a_database_made_by_create_all_is_adopted_with_its_data(empty_engine: Engine) -> None:
    # The schema as deployments before migrations made it: tables, no alembic_version.
    metadata.create_all(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO users (user_id) VALUES ('U00001'), ('U00002')"))
        conn.execute(
            text(
                "INSERT INTO user_stats (user_id, login_count, post_count, last_execution_name, last_batch_index,"
                " updated_at) VALUES ('U00001', 3, 7, 'run-1', 0, '2026-11-23 10:00:00')"
            )
        )
    assert schema.current(empty_engine) is None
    assert schema.upgrade(empty_engine) == schema.head()
    assert differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM users ORDER BY user_id")).scalars().all() == ["U00001", "U00002"]
        row = conn.execute(text("SELECT login_count, post_count FROM user_stats")).one()
    assert tuple(row) == (3, 7)


def test_a_users_table_owned_by_another_service_is_left_alone(empty_engine: Engine) -> None:
    # An existing Aurora where the user service already keeps `users` (with its own columns).
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE users (user_id VARCHAR(64) NOT NULL PRIMARY KEY,"
                " created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, email VARCHAR(200))"
            )
        )
        conn.execute(text("INSERT INTO users (user_id, email) VALUES ('U00001', 'a@example.com')"))
    schema.upgrade(empty_engine)
    insp = inspect(empty_engine)
    assert "email" in {c["name"] for c in insp.get_columns("users")}
    assert "user_stats" in insp.get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM users")).scalar_one() == "a@example.com"


def test_upgrade_accepts_a_url_and_reports_the_revision(empty_url: str) -> None:
    assert schema.upgrade(empty_url) == schema.head()
    assert schema.current(empty_url) == schema.head()


def test_command_line_upgrade_and_current(empty_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main(["current", empty_url]) == 0
    assert capsys.readouterr().out.strip() == "(none)"
    assert schema.main(["upgrade", empty_url]) == 0
    assert capsys.readouterr().out.strip() == schema.head()
    assert schema.main(["current", empty_url]) == 0
    assert capsys.readouterr().out.strip() == schema.head()


def test_revisions_form_one_line_from_the_baseline() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema.alembic_config())
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001" and revisions[-1].down_revision is None
    assert len(script.get_heads()) == 1
    # Numbered 0001, 0002, ... each revising the one before.
    numbers = [int(r.revision) for r in reversed(revisions)]
    assert numbers == list(range(1, len(numbers) + 1))


# --------------------------------------------------------------------------- rollback and older releases


def previous_release(tmp_path: Path) -> Path:
    """The migrations as the release before this one shipped them: this code's script
    directory without its newest revision."""
    previous = tmp_path / "previous_release_migrations"
    shutil.copytree(schema.MIGRATIONS, previous, ignore=shutil.ignore_patterns("__pycache__"))
    [newest] = (previous / "versions").glob(f"{schema.head()}_*.py")
    newest.unlink()
    return previous


def test_the_previous_releases_update_leaves_a_database_this_release_migrated_alone(
    empty_engine: Engine, tmp_path: Path
) -> None:
    """An update migrates forward, a later resource fails, and the rollback's Update runs the
    previous release's code against the migrated database (or an older commit is deployed)."""
    previous = previous_release(tmp_path)
    assert schema.head(previous) != schema.head()
    schema.upgrade(empty_engine)  # this release's Update
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO users (user_id) VALUES ('U00001')"))
    before = shape(empty_engine)
    statements = ddl_counter(empty_engine)
    outcome = schema.migrate(empty_engine, previous)  # the rollback's Update, with the previous code
    assert outcome.ahead and (outcome.before, outcome.after) == (schema.head(), schema.head())
    assert outcome.head == schema.head(previous)
    assert "ahead of this code" in outcome.describe() and schema.head() in outcome.describe()
    assert statements == []  # nothing written: no DDL, no version change
    assert shape(empty_engine) == before and schema.current(empty_engine) == schema.head()
    assert schema.upgrade(empty_engine, migrations=previous) == schema.head()  # the same through upgrade()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM users")).scalars().all() == ["U00001"]


def test_alembic_alone_cannot_locate_the_newer_revision(empty_engine: Engine, tmp_path: Path) -> None:
    # The failure the check above prevents: what a plain upgrade of the previous release does.
    from alembic import command
    from alembic.util import CommandError

    previous = previous_release(tmp_path)
    schema.upgrade(empty_engine)
    config = schema.alembic_config(previous)
    with empty_engine.begin() as conn, pytest.raises(CommandError, match="Can't locate revision identified by"):
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def test_a_database_behind_the_previous_release_is_still_migrated_by_it(empty_engine: Engine, tmp_path: Path) -> None:
    previous = previous_release(tmp_path)
    outcome = schema.migrate(empty_engine, previous)
    assert not outcome.ahead and (outcome.before, outcome.after) == (None, schema.head(previous))
