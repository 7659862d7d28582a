"""The database schema, created and migrated by Alembic (``csv_dmap/migrations``).

One entry point for every place that needs the schema: the deploy-time custom
resource (``functions/schema_migrator``), the local runner, tests and operators::

    from csv_dmap.schema import upgrade, current, migrate
    upgrade("mysql+pymysql://...")      # or an Engine; idempotent
    current(engine)                     # "0001", ... or None for an empty database
    migrate(engine)                     # upgrade to head unless the database is ahead of this code

A database AHEAD of this code (its revision unknown to this code's migrations, or
a descendant of their head) is left exactly as it is: that is what an update
rollback (CloudFormation runs the previous code's Update against the migrated
database) and the deploy of an older commit meet. Every migration keeps the
previous release working on the schema it leaves (expand, then contract: see
``csv_dmap.migrations``), so the older code runs on the newer schema.

Alembic is configured here in code (script location = the ``migrations``
package beside this module), so nothing else (no ``alembic.ini``) has to ship
with the Lambda layer. A database made by the old ``metadata.create_all``
(tables, no ``alembic_version``) is adopted by revision 0001, which creates
only the tables that are missing.

Alembic itself is installed with the function that migrates
(``functions/schema_migrator/requirements.txt``), not into the layer: the
worker never imports this module, and its package stays as small as it was.

Command line (operators, developers)::

    python -m csv_dmap.schema upgrade  URL [--revision REV]
    python -m csv_dmap.schema current  URL
    python -m csv_dmap.schema revision -m "message"     # new empty revision file
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.engine import URL

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(migrations: Path | None = None) -> Config:
    """Alembic's configuration, without an ini file (``migrations``: another script
    directory than this code's, as tests use to play an older release)."""
    config = Config()
    config.set_main_option("script_location", str(migrations or MIGRATIONS))
    # Revision files are named <rev>_<slug>.py, as 0001_baseline.py.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def head(migrations: Path | None = None) -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(alembic_config(migrations)).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found under {migrations or MIGRATIONS}")
    return revision


@dataclass(frozen=True)
class Migration:
    """What ``migrate`` found and did."""

    before: str | None  # the database's revision before (None: never migrated)
    after: str | None  # ... and after
    head: str  # the newest revision this code knows
    ahead: bool  # the database is ahead of this code: nothing was changed

    def describe(self) -> str:
        if self.ahead:
            return (
                f"database at revision {self.before}, ahead of this code (head {self.head}): "
                "left unchanged (an update rollback or an older release; the schema stays compatible with it)"
            )
        if self.before == self.after:
            return f"database already at {self.after}"
        return f"database migrated from {self.before or 'nothing'} to {self.after}"


def is_ahead(revision: str | None, script: ScriptDirectory) -> bool:
    """True when ``revision`` is one this code does not know, or a descendant of its head."""
    if revision is None:
        return False
    try:
        script.get_revision(revision)
    except CommandError:  # "Can't locate revision identified by ...": written by newer code
        return True
    head_revision = script.get_current_head()
    ancestors = {r.revision for r in script.iterate_revisions(revision, "base")}
    return revision != head_revision and head_revision in ancestors


@contextmanager
def _engine(engine_or_url: Engine | URL | str) -> Iterator[Engine]:
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    from .db import build_engine

    engine = build_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(engine_or_url: Engine | URL | str, revision: str = "head", migrations: Path | None = None) -> str | None:
    """Migrate the database to ``revision`` (default: the newest); return the
    revision it is at afterwards. Running it again is a no-op; a database ahead
    of this code is left alone when ``revision`` is ``head``."""
    with _engine(engine_or_url) as engine:
        if revision == "head":
            return migrate(engine, migrations).after
        _run_upgrade(engine, revision, migrations)
        return current(engine)


def migrate(engine_or_url: Engine | URL | str, migrations: Path | None = None) -> Migration:
    """Upgrade to this code's head, unless the database is ahead of it (then change
    nothing): what the schema custom resource does on every Create and Update."""
    config = alembic_config(migrations)
    script = ScriptDirectory.from_config(config)
    newest = head(migrations)
    with _engine(engine_or_url) as engine:
        before = current(engine)
        if is_ahead(before, script):
            return Migration(before, before, newest, ahead=True)
        _run_upgrade(engine, "head", migrations)
        return Migration(before, current(engine), newest, ahead=False)


def _run_upgrade(engine: Engine, revision: str, migrations: Path | None) -> None:
    config = alembic_config(migrations)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current(engine_or_url: Engine | URL | str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with _engine(engine_or_url) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m csv_dmap.schema", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate a database to a revision (default head)")
    up.add_argument("url", help="SQLAlchemy URL, e.g. mysql+pymysql://user:pass@host/db or sqlite:///csv_dmap.db")
    up.add_argument("--revision", default="head")
    cur = sub.add_parser("current", help="print the revision a database is at")
    cur.add_argument("url")
    rev = sub.add_parser("revision", help="write a new, empty revision file into csv_dmap/migrations/versions")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.command == "upgrade":
        print(upgrade(args.url, args.revision))
    elif args.command == "current":
        print(current(args.url) or "(none)")
    else:
        number = f"{int(head()) + 1:04d}"
        command.revision(alembic_config(), message=args.message, rev_id=number)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
