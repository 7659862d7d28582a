"""Baseline: ``users`` and ``user_stats`` as csv-dmap created them before migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Databases made earlier by ``metadata.create_all`` already hold these tables
and no ``alembic_version``; and in an existing Aurora the user master
``users`` may belong to another service. So each table is created only when it
is missing, and an existing one is left exactly as it is: upgrading such a
database to 0001 adopts it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_ID_MAX_LENGTH = 64  # models.USER_ID_MAX_LENGTH at this revision


def _user_id() -> sa.types.TypeEngine[str]:
    # ASCII ids with a binary collation: case-sensitive in MySQL as in SQLite.
    return sa.String(USER_ID_MAX_LENGTH).with_variant(
        mysql.VARCHAR(USER_ID_MAX_LENGTH, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("user_id", _user_id(), primary_key=True),
            sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.current_timestamp()),
            comment="User master; owned by the user service, read here",
        )
    if "user_stats" not in existing:
        op.create_table(
            "user_stats",
            sa.Column("user_id", _user_id(), primary_key=True),
            sa.Column("login_count", sa.Integer(), nullable=False),
            sa.Column("post_count", sa.Integer(), nullable=False),
            sa.Column("prev_login_count", sa.Integer(), nullable=True),
            sa.Column("prev_post_count", sa.Integer(), nullable=True),
            sa.Column("last_execution_name", sa.String(80), nullable=False),
            sa.Column("last_batch_index", sa.Integer(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            comment="Counts from the daily CSV; written by csv-dmap",
        )


def downgrade() -> None:
    # Data of record: dropping tables is never automatic. Restore from a snapshot instead.
    raise NotImplementedError("0001 is the baseline; csv-dmap never drops its tables")
