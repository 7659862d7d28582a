"""Alembic migrations of csv-dmap's schema (``users``, ``user_stats``).

Run them through :mod:`csv_dmap.schema` (``upgrade``, ``current``): it
configures Alembic in code, so no ``alembic.ini`` is needed in Lambda. To write
a new revision on a developer machine::

    python -m csv_dmap.schema revision -m "what changes"

Each revision states its DDL literally (never imports ``csv_dmap.db``): a
migration is frozen history, the metadata moves on.
"""
