"""Alembic environment, configured by :mod:`csv_dmap.schema` (no alembic.ini).

The caller puts an open SQLAlchemy ``Connection`` in
``config.attributes["connection"]``; migrations run on it, online only
(offline SQL scripts are not part of the deploy path).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from csv_dmap.db import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise TypeError("csv_dmap migrations run through csv_dmap.schema.upgrade(), which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not supported: run csv_dmap.schema.upgrade() against a database")
run_migrations_online()
