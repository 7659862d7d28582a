"""``user_stats.last_execution_start``: when the execution that wrote a user last started.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

A late retry of an older execution must never overwrite what a newer execution
wrote: the worker compares this execution's start time (ties broken by
execution name) with the stored one and reports the row SKIPPED
(``NewerExecutionApplied``). Rows written before this revision have NULL:
any execution is newer than them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("user_stats")}
    if "last_execution_start" not in columns:
        op.add_column(
            "user_stats",
            sa.Column(
                "last_execution_start",
                sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
                nullable=True,
            ),
        )


def downgrade() -> None:
    raise NotImplementedError("csv-dmap never drops schema on its own: restore from a backup instead")
