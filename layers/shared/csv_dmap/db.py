"""Aurora MySQL (or SQLite) data access: schema, engine, and the stats repository.

One engine per container (``get_engine``), reused across invocations. The
repository applies one batch in one transaction with a constant number of
statements whatever the batch size:

1. one ``SELECT ... FROM users LEFT JOIN user_stats ... WHERE user_id IN (...)``
   reads existence and old values of every user of the batch;
2. (only with the CREATE policy) one multi-row insert of unknown users;
3. one executemany of an upsert compiled once per dialect
   (MySQL/MariaDB: ``INSERT ... ON DUPLICATE KEY UPDATE``; SQLite:
   ``INSERT ... ON CONFLICT DO UPDATE``), which PyMySQL sends as a single
   multi-row statement.

Idempotence: ``user_stats`` remembers which batch (execution name + first
item index) wrote it last and the values it replaced. When the same batch is
applied again (a Step Functions retry), the old values are taken from that
memory, so the database and the audit log end up exactly as after the first
attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    case,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from .config import Settings, get_settings
from .errors import ConfigurationError, TransientDatabaseError
from .models import USER_ID_MAX_LENGTH, StatsWrite, StoredStats  # noqa: F401

metadata = MetaData()

# User ids are ASCII (models.USER_ID_PATTERN); binary collation keeps them
# case-sensitive in MySQL as they are in SQLite.
UserId = String(USER_ID_MAX_LENGTH).with_variant(
    mysql.VARCHAR(USER_ID_MAX_LENGTH, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)

users = Table(
    "users",
    metadata,
    Column("user_id", UserId, primary_key=True),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    comment="User master; owned by the user service, read here",
)

user_stats = Table(
    "user_stats",
    metadata,
    Column("user_id", UserId, primary_key=True),
    Column("login_count", Integer, nullable=False),
    Column("post_count", Integer, nullable=False),
    # The values the last batch replaced, and which batch that was: what makes
    # a retried batch report the same old values (see module docstring).
    Column("prev_login_count", Integer, nullable=True),
    Column("prev_post_count", Integer, nullable=True),
    Column("last_execution_name", String(80), nullable=False),
    Column("last_batch_index", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    comment="Counts from the daily CSV; written by csv-dmap",
)


def create_schema(engine: Engine) -> None:
    """Create ``users`` and ``user_stats`` if they do not exist."""
    metadata.create_all(engine)


def schema_ddl(dialect_name: str = "mysql") -> str:
    """The CREATE TABLE statements for a dialect, for DBAs who apply DDL by hand."""
    from sqlalchemy.schema import CreateTable

    from sqlalchemy.dialects import sqlite  # not needed on Lambda's hot path

    dialect = {"mysql": mysql.dialect(), "sqlite": sqlite.dialect()}[dialect_name]
    return ";\n\n".join(str(CreateTable(t).compile(dialect=dialect)).strip() for t in metadata.sorted_tables) + ";\n"


# --------------------------------------------------------------------------- engine


def _url_from_secret(settings: Settings) -> URL:
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings.db_secret_arn, transform="json", max_age=300)
    if not isinstance(secret, dict) or "username" not in secret or "password" not in secret:
        raise ConfigurationError(
            f"secret {settings.db_secret_arn} must be JSON with at least username and password "
            "(the format RDS and Secrets Manager rotation use)"
        )
    host = settings.db_host or secret.get("host")
    if not host:
        raise ConfigurationError("no database host: set DbProxyEndpoint/DB_HOST or put host in the secret")
    return URL.create(
        "mysql+pymysql",
        username=secret["username"],
        password=secret["password"],
        host=host,
        port=int(secret.get("port") or settings.db_port),
        database=secret.get("dbname") or settings.db_name,
        query={"charset": "utf8mb4"},
    )


def database_url(settings: Settings) -> URL:
    if settings.database_url:
        return make_url(settings.database_url)
    if settings.db_secret_arn:
        return _url_from_secret(settings)
    raise ConfigurationError(
        "no database configured: set DATABASE_URL (for example sqlite:///csv_dmap.db or "
        "mysql+pymysql://user:pass@host/db) or DB_SECRET_ARN (+ DB_HOST for an RDS Proxy)"
    )


def build_engine(url: URL | str, pool_size: int = 1) -> Engine:
    """An engine tuned for Lambda: a small pool, pre-ping, recycled connections."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        memory = url.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,  # below Aurora's and RDS Proxy's idle timeouts
        connect_args={"connect_timeout": 5, "read_timeout": 60, "write_timeout": 60},
    )


_engine_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The container's engine, built once from the settings."""
    with _engine_lock:
        settings = get_settings()
        return build_engine(database_url(settings), settings.db_pool_size)


# --------------------------------------------------------------------------- repository


def _is_transient(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


class StatsRepository:
    """Reads and writes ``users`` / ``user_stats`` for one batch at a time."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._upsert = self._build_upsert(engine.dialect.name)
        self._insert_users = self._build_insert_users(engine.dialect.name)
        self._upsert_sql: str | None = None  # MySQL: the upsert compiled once, for the driver's executemany

    @staticmethod
    def _build_upsert(dialect: str):
        columns = (
            "login_count",
            "post_count",
            "prev_login_count",
            "prev_post_count",
            "last_execution_name",
            "last_batch_index",
            "updated_at",
        )
        if dialect in ("mysql", "mariadb"):
            stmt = mysql.insert(user_stats)
            return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns})
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            stmt = sqlite.insert(user_stats)
            return stmt.on_conflict_do_update(
                index_elements=[user_stats.c.user_id], set_={c: stmt.excluded[c] for c in columns}
            )
        raise ConfigurationError(f"database dialect {dialect!r} is not supported (use MySQL/MariaDB or SQLite)")

    @staticmethod
    def _build_insert_users(dialect: str):
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(users).on_conflict_do_nothing(index_elements=[users.c.user_id])
        stmt = mysql.insert(users)
        return stmt.on_duplicate_key_update(user_id=stmt.inserted.user_id)

    # Old values of every user of the batch in one statement. When this very
    # batch wrote the row last (a retry), the old values are the ones it
    # replaced; the CASE keeps that decision in the server and the result to
    # three columns (a NULL old login count: the user has no stats yet).
    _retry = (user_stats.c.last_execution_name == bindparam("execution")) & (
        user_stats.c.last_batch_index == bindparam("batch_index"))
    _read = (
        select(
            users.c.user_id,
            case((_retry, user_stats.c.prev_login_count), else_=user_stats.c.login_count).label("old_login"),
            case((_retry, user_stats.c.prev_post_count), else_=user_stats.c.post_count).label("old_post"),
        )
        .select_from(users.outerjoin(user_stats, users.c.user_id == user_stats.c.user_id))
        .where(users.c.user_id.in_(bindparam("ids", expanding=True)))
    )

    def apply(
        self,
        user_ids: Sequence[str],
        compute: Callable[[dict[str, StoredStats]], Iterable[StatsWrite]],
        *,
        execution_name: str,
        batch_index: int,
        updated_at: datetime,
        create_missing_users: bool = False,
    ) -> None:
        """In one transaction: read the stored stats of ``user_ids``, let
        ``compute`` decide the writes from them, and upsert those writes.

        ``compute`` receives, for each user id that exists in ``users`` (or
        every id, when ``create_missing_users``), what it held before this
        batch; when this very batch wrote it last (a retry), that is the
        remembered previous value, not the value the first attempt wrote.
        """
        try:
            with self.engine.begin() as conn:
                unique = list(dict.fromkeys(user_ids))
                params = {"ids": unique, "execution": execution_name, "batch_index": batch_index}
                stored = {uid: StoredStats(login, post) for uid, login, post in conn.execute(self._read, params)}
                if create_missing_users:
                    missing = [uid for uid in unique if uid not in stored]
                    if missing:
                        conn.execute(self._insert_users, [{"user_id": uid} for uid in missing])
                        stored.update({uid: StoredStats() for uid in missing})
                writes = [
                    {
                        "user_id": w.user_id,
                        "login_count": w.login_count,
                        "post_count": w.post_count,
                        "prev_login_count": w.prev_login_count,
                        "prev_post_count": w.prev_post_count,
                        "last_execution_name": execution_name,
                        "last_batch_index": batch_index,
                        "updated_at": updated_at,
                    }
                    for w in compute(stored)
                ]
                if writes:
                    self._send_upsert(conn, writes)
        except DBAPIError as exc:
            if _is_transient(exc):
                raise TransientDatabaseError(f"database unavailable: {exc.orig!r}"[:500]) from exc
            raise

    def _send_upsert(self, conn, writes: list[dict]) -> None:
        """MySQL/MariaDB: the statement compiled once (for the server version of
        this engine) and handed to PyMySQL's executemany, which sends it as one
        multi-row INSERT; this skips SQLAlchemy's per-row parameter processing
        (27% of the upsert's time at 500 rows). SQLite keeps SQLAlchemy's path,
        whose DateTime handling it needs."""
        if conn.dialect.name in ("mysql", "mariadb"):
            if self._upsert_sql is None:
                self._upsert_sql = str(self._upsert.compile(dialect=conn.dialect))
            conn.exec_driver_sql(self._upsert_sql, writes)
        else:
            conn.execute(self._upsert, writes)

    # Read helpers for tests, the local runner and operators.
    def get_stats(self, user_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(user_stats).where(user_stats.c.user_id == user_id)).mappings().first()
            return dict(row) if row else None

    def seed_users(self, user_ids: Iterable[str], chunk: int = 5000) -> int:
        """Insert users into the master table (idempotent), streaming the ids."""
        from itertools import batched

        count = 0
        with self.engine.begin() as conn:
            for ids in batched(user_ids, chunk):
                conn.execute(self._insert_users, [{"user_id": uid} for uid in ids])
                count += len(ids)
        return count



@lru_cache(maxsize=1)
def get_repository() -> StatsRepository:
    return StatsRepository(get_engine())
