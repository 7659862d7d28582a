"""Alembic migrations of csv-dmap's schema (``users``, ``user_stats``, ``applied_batches``).

Run them through :mod:`csv_dmap.schema` (``migrate``, ``upgrade``, ``current``): it
configures Alembic in code, so no ``alembic.ini`` is needed in Lambda. To write
a new revision on a developer machine::

    python -m csv_dmap.schema revision -m "what changes"

Each revision states its DDL literally (never imports ``csv_dmap.db``): a
migration is frozen history, the metadata moves on.

The rule every revision keeps: **the previous release keeps working on the schema
it leaves** (expand, then contract). The previous release's code meets a migrated
database in two ordinary ways: a stack update that migrated forward and then failed
on a later resource rolls back, and CloudFormation's rollback sends the schema
custom resource an Update handled by the previous code, while the functions go back
to the previous code too; and an older commit may be deployed on purpose. The
migrator then finds a database ahead of it, answers SUCCESS and changes nothing
(``csv_dmap.schema.migrate``): that is safe only because of this rule.

- **Expand** (one release): add what the new code needs in a form the previous code
  does not notice: new tables, new NULL-able columns or columns with a default, new
  indexes. The new code copes with rows the previous code writes meanwhile (NULL in
  the new column, no row in the new table).
- **Contract** (a later release, once no release that reads the old shape can run
  again: neither deployed nor a rollback target): drop or rename what only older code
  used, tighten a column to NOT NULL.
- Never in one release: drop or rename a table or column the previous release reads
  or writes; add a NOT NULL column without a default that the previous release does
  not write; change a type so that the previous release's values no longer fit.
- ``downgrade`` is never run: a rollback leaves the expanded schema in place.
"""
