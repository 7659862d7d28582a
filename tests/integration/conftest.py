"""Helpers of the integration tests: seeding users (through the layer's
``db.seed_users``, which the local harness uses too) and reading a user's stats
straight from the tables (the layer has no reader for tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from csv_dmap.db import seed_users, user_stats


def seed(engine: Engine, ids: list[str]) -> None:
    seed_users(engine, ids)


def stats(engine: Engine, user_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(user_stats).where(user_stats.c.user_id == user_id)).mappings().first()
        return dict(row) if row else None
