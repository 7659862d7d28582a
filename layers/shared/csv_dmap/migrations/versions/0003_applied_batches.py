"""``applied_batches``: the durable record that a batch committed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

The worker inserts a batch's row in the same transaction as its upsert, so the row
exists exactly when the batch's writes do: a retry of a batch that committed (its
answer lost to a Lambda timeout) finds it and writes nothing again, and ReconcileBatch
tells a batch that committed from one that did not. ``outcomes`` keeps the first
attempt's answer, one code per item, so that every later attempt answers the same.
Rows are pruned after 15 days (redrive is possible for 14).

Expand only: a new table that the previous release never reads (it runs on this schema
as it did on 0002).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_ITEMS_PER_BATCH = 500  # models.MAX_ITEMS_PER_BATCH at this revision: one outcome code per item


def upgrade() -> None:
    if "applied_batches" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "applied_batches",
        sa.Column("execution_name", sa.String(80), primary_key=True),
        sa.Column("first_index", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("outcomes", sa.String(MAX_ITEMS_PER_BATCH), nullable=False),
        sa.Column(
            "committed_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        comment="Batches that committed, written in the batch's own transaction; kept 15 days",
    )
    op.create_index("ix_applied_batches_committed_at", "applied_batches", ["committed_at"])


def downgrade() -> None:
    raise NotImplementedError("csv-dmap never drops schema on its own: restore from a backup instead")
