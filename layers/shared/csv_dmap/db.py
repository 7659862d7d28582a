"""Aurora MySQL (or SQLite) data access: schema, engine, and the stats repository.

One engine per container (``get_engine``), reused across invocations. Its URL
never holds a password that can change: with a Secrets Manager secret (or IAM
authentication) every new connection takes its login from ``Credentials``
(the secret read through Powertools Parameters, cached ``SECRET_MAX_AGE_SECONDS``),
and a login the database refuses (1045, after a rotation) reads the secret
again and is tried once more; refused again it is a ``TransientDatabaseError``
the ASL retries. Only a password fixed in ``DATABASE_URL`` makes 1045 permanent.
``StatsRepository.unit_of_work`` applies one batch in one transaction:

1. ``read``: ``SELECT ... FROM users LEFT JOIN user_stats ... WHERE user_id IN (...)
   ORDER BY user_id FOR UPDATE`` — the batch's users, locked in id order (so two
   batches over the same users wait for each other instead of deadlocking, and
   the second reads what the first committed). SQLite has no row locks: its
   transactions start with ``BEGIN IMMEDIATE``, which serialises writers.
2. ``write``: an upsert (MySQL/MariaDB: multi-row ``INSERT ... ON DUPLICATE
   KEY UPDATE`` statements, the batch's constant columns escaped once; SQLite:
   ``INSERT ... ON CONFLICT DO UPDATE`` as an executemany).

The repository owns its bookkeeping columns: ``prev_*`` (the values the batch
replaced), ``last_execution_name`` / ``last_batch_index`` (which batch wrote the
row), ``last_execution_start`` (when that execution started: "newer wins") and
``updated_at``. A retried batch finds its own name and index on the row and
replaces nothing new: ``prev_*`` stay what the first attempt replaced.

Every statement text stays under 16,384 bytes whatever the batch (RDS Proxy
pins a session on a longer statement): IN lists are chunked by bytes, upserts
hold at most ``MAX_STATEMENT_BYTES``, and PyMySQL's executemany (seeding users)
packs at most that much too.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from .config import DatabaseSettings, load
from .errors import ConfigurationError, PermanentDatabaseError, TransientDatabaseError, UnverifiableDatabaseTls
from .models import MAX_ITEMS_PER_BATCH, USER_ID_MAX_LENGTH, AppliedBatch, StatsWrite, StoredStats

metadata = MetaData()

MAX_STATEMENT_BYTES = 16_000  # RDS Proxy pins sessions on statements of 16,384 bytes or more
IN_LIST_BYTES = 12_000  # the ids of one IN list; the rest of the SELECT is under 1 KB

# User ids are ASCII (models.USER_ID_PATTERN); binary collation keeps them
# case-sensitive in MySQL as they are in SQLite.
UserId = String(USER_ID_MAX_LENGTH).with_variant(
    mysql.VARCHAR(USER_ID_MAX_LENGTH, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)
Moment = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

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
    # When the execution that wrote the row started (UTC): a batch of an older
    # execution never overwrites it. NULL: written before this column existed.
    Column("last_execution_start", Moment, nullable=True),
    comment="Counts from the daily CSV; written by csv-dmap",
)

applied_batches = Table(
    "applied_batches",
    metadata,
    Column("execution_name", String(80), primary_key=True),
    Column("first_index", BigInteger, primary_key=True, autoincrement=False),
    Column("rows_written", Integer, nullable=False),  # users the batch's upsert wrote
    # One code per item of the batch, in the order of its Items (see AppliedBatch): what the
    # first attempt answered, so that a retry answers the same.
    Column("outcomes", String(MAX_ITEMS_PER_BATCH), nullable=False),
    Column("committed_at", Moment, nullable=False),  # UTC, the attempt's clock
    Index("ix_applied_batches_committed_at", "committed_at"),
    comment="Batches that committed, written in the batch's own transaction; kept 15 days",
)

_WRITTEN = (
    "login_count",
    "post_count",
    "prev_login_count",
    "prev_post_count",
    "last_execution_name",
    "last_batch_index",
    "updated_at",
    "last_execution_start",
)


def create_schema(engine: Engine) -> None:
    """Create ``users``, ``user_stats`` and ``applied_batches`` if they do not exist."""
    metadata.create_all(engine)


def schema_ddl(dialect_name: str = "mysql") -> str:
    """The CREATE TABLE statements for a dialect, for DBAs who apply DDL by hand."""
    from sqlalchemy.dialects import sqlite  # not needed on Lambda's hot path
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = {"mysql": mysql.dialect(), "sqlite": sqlite.dialect()}[dialect_name]
    ddl: list[CreateTable | CreateIndex] = [CreateTable(t) for t in metadata.sorted_tables]
    ddl += [CreateIndex(i) for t in metadata.sorted_tables for i in sorted(t.indexes, key=lambda i: str(i.name))]
    return ";\n\n".join(str(d.compile(dialect=dialect)).strip() for d in ddl) + ";\n"


def seed_users(engine: Engine, user_ids: Iterable[str], chunk: int = 100) -> int:
    """Insert users into the master table (idempotent), streaming the ids. For the
    local harness and tests: in production the user service owns ``users``."""
    from itertools import batched

    insert = _insert_users(engine.dialect.name)
    count = 0
    with engine.begin() as conn:
        for ids in batched(user_ids, chunk, strict=False):
            conn.execute(insert, [{"user_id": uid} for uid in ids])
            count += len(ids)
    return count


# --------------------------------------------------------------------------- engine


SECRET_MAX_AGE_SECONDS = 300  # how long a container trusts the secret it read (POWERTOOLS_PARAMETERS_MAX_AGE)
ACCESS_DENIED = 1045  # MySQL/MariaDB: the server (or RDS Proxy) refused the user name or password


class Credentials(Protocol):
    """Where a new connection takes its user name and password: read for every new
    connection, never kept in the engine's URL, so a rotated secret reaches the next one."""

    def login(self) -> tuple[str | None, str | None]:
        """The user name and password of the next connection (None: the URL's)."""
        ...

    def refresh(self) -> bool:
        """Read the credentials again at their source; True when the next login differs."""
        ...


@dataclass
class IamCredentials:
    """IAM database authentication: a token signed for the URL's user is the password of
    every new connection (tokens live 15 minutes)."""

    url: URL
    region: str | None

    def login(self) -> tuple[str | None, str | None]:
        return self.url.username, iam_token(self.url, self.region)

    def refresh(self) -> bool:
        return True  # the next login signs a new token


@dataclass
class SecretCredentials:
    """A Secrets Manager secret in the RDS format (username, password), read through
    Powertools Parameters and cached ``SECRET_MAX_AGE_SECONDS``. Aurora rotates a
    ManageMasterUserPassword secret every 7 days by default, and RDS Proxy takes the
    secret's current password: a refused login reads the secret again (``refresh``).
    With IAM authentication the password is a token signed for the secret's user."""

    arn: str
    iam_region: str | None = None
    iam_url: URL | None = None
    provider: Any = None  # a Powertools SecretsProvider, made on first use

    def secret(self, *, force: bool = False) -> dict[str, Any]:
        if self.provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider
            from botocore.config import Config

            # short timeouts: a new connection waits for this inside the worker's time budget
            self.provider = SecretsProvider(boto_config=Config(connect_timeout=2, read_timeout=5))
        value = self.provider.get(self.arn, max_age=SECRET_MAX_AGE_SECONDS, transform="json", force_fetch=force)
        iam = self.iam_url is not None
        if not isinstance(value, dict) or "username" not in value or ("password" not in value and not iam):
            raise ConfigurationError(
                f"secret {self.arn} must be JSON with at least username and password "
                "(the format RDS and Secrets Manager rotation use)"
            )
        return value

    def login(self) -> tuple[str | None, str | None]:
        secret = self.secret()
        user = str(secret["username"])
        if self.iam_url is not None:  # alternating-users rotation may change the user too
            return user, iam_token(self.iam_url.set(username=user), self.iam_region)
        return user, str(secret["password"])

    def refresh(self) -> bool:
        before = self.secret()
        after = self.secret(force=True)
        return self.iam_url is not None or (before.get("username"), before.get("password")) != (
            after.get("username"),
            after.get("password"),
        )


def _url_from_secret(settings: DatabaseSettings, secret: dict[str, Any]) -> URL:
    """Where the database is, from the secret and the settings; never its password
    (``SecretCredentials`` gives each new connection the secret's current one)."""
    host = settings.db_host or secret.get("host")
    if not host:
        raise ConfigurationError("no database host: set DbProxyEndpoint/DB_HOST or put host in the secret")
    return URL.create(
        "mysql+pymysql",
        username=secret["username"],
        host=host,
        port=int(secret.get("port") or settings.db_port),
        database=secret.get("dbname") or settings.db_name,
        query={"charset": "utf8mb4"},
    )


def connection_source(settings: DatabaseSettings) -> tuple[URL, Credentials | None]:
    """The database's URL and, when the password is not fixed in it, where each new
    connection takes its credentials (a secret, or IAM authentication)."""
    if settings.database_url:
        return make_url(settings.database_url), None
    if settings.db_secret_arn:
        credentials = SecretCredentials(settings.db_secret_arn, iam_region=settings.db_region)
        url = _url_from_secret(settings, credentials.secret())
        if settings.db_iam_auth:
            credentials.iam_url = url
        return url, credentials
    if settings.db_iam_auth and settings.db_host and settings.db_user:
        url = URL.create(
            "mysql+pymysql",
            username=settings.db_user,
            host=settings.db_host,
            port=settings.db_port,
            database=settings.db_name,
            query={"charset": "utf8mb4"},
        )
        return url, IamCredentials(url, settings.db_region)
    raise ConfigurationError(
        "no database configured: set DATABASE_URL (for example sqlite:///csv_dmap.db or "
        "mysql+pymysql://user:pass@host/db), DB_SECRET_ARN (+ DB_HOST for an RDS Proxy), "
        "or DB_IAM_AUTH=true with DB_HOST and DB_USER"
    )


def database_url(settings: DatabaseSettings) -> URL:
    """The database's URL (without a password when a secret or IAM gives it)."""
    return connection_source(settings)[0]


try:  # PyMySQL is the MySQL driver; SQLite-only environments need not have it
    from pymysql.cursors import Cursor as _PyMySQLCursor

    class BoundedCursor(_PyMySQLCursor):  # type: ignore[misc]
        """PyMySQL's executemany packs rows into multi-row INSERTs up to this many bytes."""

        max_stmt_length = MAX_STATEMENT_BYTES

except ImportError:  # pragma: no cover
    BoundedCursor = None  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach a MySQL database beyond its URL: TLS and IAM authentication."""

    tls: bool = False
    ca_path: str | None = None
    iam_auth: bool = False
    region: str | None = None

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> ConnectionOptions:
        return cls(settings.db_tls, settings.db_ca_path, settings.db_iam_auth, settings.db_region)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not (self.tls or self.iam_auth):  # IAM authentication requires TLS
            return None
        return ssl.create_default_context(cafile=self.ca_path)


def iam_token(url: URL, region: str | None) -> str:
    """A 15-minute IAM authentication token for ``url``'s user (the password of a new connection)."""
    import boto3

    client = boto3.client("rds", region_name=region)
    token: str = client.generate_db_auth_token(
        DBHostname=url.host, Port=url.port or 3306, DBUsername=url.username, Region=region
    )
    return token


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 60},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver's own BEGIN off: ours below
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # Take the write lock when the transaction starts: two local writers
        # cannot both read the same old value (SQLite has no SELECT FOR UPDATE).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def build_engine(
    url: URL | str,
    pool_size: int = 1,
    options: ConnectionOptions | None = None,
    credentials: Credentials | None = None,
) -> Engine:
    """An engine tuned for Lambda: a small pool, pre-ping, recycled connections. With
    ``credentials`` (or IAM authentication in ``options``), every new connection takes
    its user name and password from them, not from the URL."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    options = options or ConnectionOptions()
    connect_args: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 60, "write_timeout": 60}
    if BoundedCursor is not None and url.get_driver_name() == "pymysql":
        connect_args["cursorclass"] = BoundedCursor
    context = options.ssl_context()
    if context is not None:
        connect_args["ssl"] = context
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,  # below Aurora's and RDS Proxy's idle timeouts
        # Locking reads take record locks only (no gap locks), so batches inserting
        # stats for new users do not deadlock on a shared gap; set once per connection.
        isolation_level="READ COMMITTED",
        connect_args=connect_args,
    )
    if credentials is None and options.iam_auth:
        credentials = IamCredentials(url, options.region)
    if credentials is not None:
        _CREDENTIALS[engine] = credentials
        source = credentials

        @event.listens_for(engine, "do_connect")
        def _login(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            user, password = source.login()
            if user is not None:
                cparams["user"] = user
            cparams["password"] = password

    return engine


_CREDENTIALS: WeakKeyDictionary[Engine, Credentials] = WeakKeyDictionary()


def refresh_if_refused(engine: Engine, exc: DBAPIError) -> bool:
    """After a refused login (1045) of an engine whose credentials come from a secret or
    IAM: read them again. True when the next connection logs in differently (worth one
    more attempt now); False for any other error, or credentials fixed in the URL."""
    credentials = _CREDENTIALS.get(engine)
    if credentials is None or _mysql_code(exc.orig) != ACCESS_DENIED:
        return False
    return credentials.refresh()


def connect(engine: Engine) -> Connection:
    """A connection of ``engine``; a login the database refuses after a rotation is tried
    once more with the credentials read again."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        if not refresh_if_refused(engine, exc):
            raise
    return engine.connect()


_engine_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The container's engine, built once from the settings (forgotten by ``csv_dmap.runtime.reset``)."""
    with _engine_lock:
        return engine_from_settings(load(DatabaseSettings))  # the function's database piece (worker, migrator)


# The default endpoint of an RDS Proxy: its certificate comes from ACM, which the system trust store
# verifies; a cluster or instance endpoint presents the RDS CA, which it does not
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy.howitworks.html#rds-proxy-security).
RDS_PROXY_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?")


def check_tls_host(url: URL, options: ConnectionOptions) -> None:
    """A TLS connection the system trust store cannot verify fails at cold start, naming the host,
    rather than at every batch with a certificate error."""
    host = url.host or ""
    if (options.tls or options.iam_auth) and not options.ca_path and host and not RDS_PROXY_ENDPOINT.fullmatch(host):
        raise UnverifiableDatabaseTls(
            f"database host {host!r} is not an RDS Proxy endpoint (<proxy>.proxy-<id>.<region>.rds.amazonaws.com): "
            "TLS to it cannot be verified with the system trust store, which lacks the RDS CA. Set DbProxyEndpoint "
            "to the proxy's endpoint, or ship the RDS CA bundle and set DB_CA_PATH"
        )


def engine_from_settings(settings: DatabaseSettings) -> Engine:
    """The engine the settings describe: URL, pool, TLS, and where logins come from."""
    url, credentials = connection_source(settings)
    options = ConnectionOptions.from_settings(settings)
    check_tls_host(url, options)
    return build_engine(url, settings.db_pool_size, options, credentials)


# --------------------------------------------------------------------------- faults

# MySQL/MariaDB error numbers that mean "try again": too many connections, server
# shutdown, lock wait timeout, deadlock, connection killed, can't connect, server
# gone, lost connection, disconnected for inactivity.
TRANSIENT_MYSQL_ERRORS = frozenset({1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 4031})
_SECRET_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _mysql_code(orig: BaseException | None) -> int | None:
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def classify(exc: DBAPIError, *, refreshable: bool = False) -> TransientDatabaseError | PermanentDatabaseError:
    """The named batch error for a driver error, with a one-line cause (no traceback, no password).

    A refused login (1045) is transient when the credentials come from a secret or IAM
    (``refreshable``: they were just read again, and a rotation may still be settling);
    with a password fixed in the URL no retry can change it."""
    orig = exc.orig
    code = _mysql_code(orig)
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    text = str(args[1] if code is not None and len(args) > 1 else orig)
    line = _SECRET_IN_URL.sub(r"\1***@", text.strip().splitlines()[0] if text.strip() else "")
    cause = f"{type(orig).__name__}{f' {code}' if code is not None else ''}: {line}"[:1000]
    if code == ACCESS_DENIED:
        if refreshable:
            return TransientDatabaseError(
                f"database refused the login with the credentials just read again from their source: {cause}"
            )
        return PermanentDatabaseError(
            f"database refused the login, and its password is fixed in DATABASE_URL (no secret to read again): {cause}"
        )
    sqlite_busy = type(orig).__name__ == "OperationalError" and ("locked" in line or "busy" in line)
    if code in TRANSIENT_MYSQL_ERRORS or exc.connection_invalidated or sqlite_busy:
        return TransientDatabaseError(f"database unavailable: {cause}")
    return PermanentDatabaseError(f"database error: {cause}")


# --------------------------------------------------------------------------- repository


def _insert_users(dialect: str) -> Insert:
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(users).on_conflict_do_nothing(index_elements=[users.c.user_id])
    stmt = mysql.insert(users)
    return stmt.on_duplicate_key_update(user_id=stmt.inserted.user_id)


def _insert_ignoring_duplicates(table: Table, dialect: str) -> Insert:
    """INSERT that leaves an existing row alone: 1 row inserted, or 0 when the key exists."""
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing()
    return mysql.insert(table).prefix_with("IGNORE")


def _upsert(dialect: str) -> Insert | None:
    """SQLite's upsert statement; None on MySQL/MariaDB, whose upserts are sent as text
    (``mysql_upserts``, see ``StatsRepository.send_upsert``)."""
    if dialect in ("mysql", "mariadb"):
        return None
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        lite = sqlite.insert(user_stats)
        return lite.on_conflict_do_update(
            index_elements=[user_stats.c.user_id], set_={c: lite.excluded[c] for c in _WRITTEN}
        )
    raise ConfigurationError(f"database dialect {dialect!r} is not supported (use MySQL/MariaDB or SQLite)")


def id_chunks(user_ids: Iterable[str], budget: int = IN_LIST_BYTES) -> Iterator[list[str]]:
    """Sorted, distinct ids in runs whose quoted IN-list text stays within ``budget`` bytes."""
    chunk: list[str] = []
    used = 0
    for uid in sorted(set(user_ids)):
        cost = len(uid.encode()) + 4  # quotes, comma, space
        if chunk and used + cost > budget:
            yield chunk
            chunk, used = [], 0
        chunk.append(uid)
        used += cost
    if chunk:
        yield chunk


Row = tuple[str, int, int, int | None, int | None]  # user_id, login, post, prev_login, prev_post
_ROW_COLUMNS = ("user_id", "login_count", "post_count", "prev_login_count", "prev_post_count")
_CONSTANT_COLUMNS = ("last_execution_name", "last_batch_index", "updated_at", "last_execution_start")
_UPSERT_PREFIX = f"INSERT INTO user_stats ({', '.join(_ROW_COLUMNS + _CONSTANT_COLUMNS)}) VALUES "
_UPSERT_SUFFIX = " ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in _WRITTEN)


def _int(value: int | None) -> str:
    return "NULL" if value is None else str(int(value))


def mysql_upserts(rows: Iterable[Row], literals: str) -> Iterator[str]:
    """Multi-row upserts of ``rows`` (each followed by the batch's escaped constant
    ``literals``), every statement at most ``MAX_STATEMENT_BYTES`` bytes."""
    from pymysql.converters import escape_string

    budget = MAX_STATEMENT_BYTES - len(_UPSERT_PREFIX) - len(_UPSERT_SUFFIX)
    tail = f",{literals})"
    tail_bytes = len(tail.encode())
    parts: list[str] = []
    used = 0
    for uid, login, post, prev_login, prev_post in rows:
        head = f"('{escape_string(uid)}',{int(login)},{int(post)},{_int(prev_login)},{_int(prev_post)}"
        size = len(head.encode()) + tail_bytes + 1
        if parts and used + size > budget:
            yield _UPSERT_PREFIX + ",".join(parts) + _UPSERT_SUFFIX
            parts, used = [], 0
        parts.append(head + tail)
        used += size
    if parts:
        yield _UPSERT_PREFIX + ",".join(parts) + _UPSERT_SUFFIX


_COLUMNS = (
    users.c.user_id,
    user_stats.c.login_count,
    user_stats.c.post_count,
    user_stats.c.prev_login_count,
    user_stats.c.prev_post_count,
    user_stats.c.last_execution_name,
    user_stats.c.last_batch_index,
    user_stats.c.last_execution_start,
)
_READ = (
    select(*_COLUMNS)
    .select_from(users.outerjoin(user_stats, users.c.user_id == user_stats.c.user_id))
    .where(users.c.user_id.in_(bindparam("ids", expanding=True)))
    .order_by(users.c.user_id)
)
_READ_LOCKED = _READ.with_for_update()


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class BatchRef:
    """The batch a unit of work writes for: its execution and first item index."""

    execution_name: str
    batch_index: int
    execution_start: datetime  # naive UTC
    updated_at: datetime  # naive UTC
    now: datetime = field(default_factory=_utc_now)  # naive UTC: this attempt's clock (applied_batches)


# applied_batches is kept this long: a Map Run can be redriven for 14 days after its execution
# ended, and a redriven batch that committed must find its record. A day of margin covers the run.
APPLIED_BATCHES_KEPT = timedelta(days=15)
PRUNE_EVERY_ROWS = 50_000  # the batch whose rows reach a multiple of this prunes (about 1 in 100)
PRUNE_LIMIT = 1_000  # records one prune deletes: 10 times the 100 that batches of 500 rows write between two


def prune_due(first_index: int, items: int) -> bool:
    """Whether the batch of item indexes [first_index, first_index + items) prunes old records:
    the one that reaches a multiple of ``PRUNE_EVERY_ROWS`` (the first batch of every run too)."""
    last = first_index + max(items, 1) - 1
    return first_index % PRUNE_EVERY_ROWS == 0 or first_index // PRUNE_EVERY_ROWS != last // PRUNE_EVERY_ROWS


_RECORD = select(applied_batches.c.rows_written, applied_batches.c.outcomes, applied_batches.c.committed_at).where(
    applied_batches.c.execution_name == bindparam("name"), applied_batches.c.first_index == bindparam("first")
)
_RECORD_LOCKED = _RECORD.with_for_update()
_RECORD_OUTCOMES = (
    applied_batches.update()
    .where(applied_batches.c.execution_name == bindparam("name"), applied_batches.c.first_index == bindparam("first"))
    .values(rows_written=bindparam("rows"), outcomes=bindparam("outcomes"))
)
_PRUNE = {
    # single-table DELETE with ORDER BY and LIMIT: a range of the committed_at index, oldest first
    "mysql": "DELETE FROM applied_batches WHERE committed_at < :cutoff ORDER BY committed_at LIMIT :limit",
    # SQLite's DELETE has no LIMIT (unless compiled with it)
    "sqlite": (
        "DELETE FROM applied_batches WHERE rowid IN "
        "(SELECT rowid FROM applied_batches WHERE committed_at < :cutoff ORDER BY committed_at LIMIT :limit)"
    ),
}


@dataclass
class UnitOfWork:
    """One batch's transaction: ``claim`` the batch, ``read`` its users (locked),
    ``write`` the upsert and ``record`` what it did; or, reconciling, ``find``."""

    conn: Connection
    repo: StatsRepository
    batch: BatchRef
    lock: bool = True

    def claim(self) -> AppliedBatch | None:
        """Take the batch: its ``applied_batches`` row, inserted now, commits with the upsert.
        Another attempt of the same batch still in its transaction holds that row: this waits
        for it. None: the batch never committed (this attempt applies it); else the record of
        the attempt that committed it (this one is a retry and writes nothing)."""
        row = {
            "execution_name": self.batch.execution_name,
            "first_index": self.batch.batch_index,
            "rows_written": 0,
            "outcomes": "",
            "committed_at": self.batch.now,
        }
        if self.conn.execute(self.repo.claim_batch, row).rowcount == 1:
            return None
        return self.find()

    def find(self) -> AppliedBatch | None:
        """The batch's record, if it committed: a locking read, so an attempt that is still
        committing it is waited for, never missed."""
        key = {"name": self.batch.execution_name, "first": self.batch.batch_index}
        found = self.conn.execute(_RECORD_LOCKED, key).first()
        return None if found is None else AppliedBatch(found.outcomes, found.rows_written, found.committed_at)

    def read(self, user_ids: Iterable[str], create_missing: bool = False) -> dict[str, StoredStats]:
        """What the database holds for each of ``user_ids`` that exists in ``users``
        (every id, when ``create_missing``: unknown users are inserted first)."""
        ids = set(user_ids)
        stored = dict(self.repo.read(self.conn, ids, lock=self.lock))
        missing = ids - stored.keys()
        if create_missing and missing:
            self.conn.execute(self.repo.insert_users, [{"user_id": uid} for uid in sorted(missing)])
            stored.update(self.repo.read(self.conn, missing, lock=self.lock))
        return stored

    def write(self, writes: Sequence[StatsWrite]) -> None:
        """Upsert the final values and the values they replace (``StatsWrite.prev_*``, decided
        by ``csv_dmap.logic.decide``), with the batch's bookkeeping."""
        if writes:
            rows = [(w.user_id, w.login_count, w.post_count, w.prev_login_count, w.prev_post_count) for w in writes]
            self.repo.send_upsert(self.conn, rows, self.batch)

    def record(self, outcomes: str, rows_written: int) -> None:
        """Complete the claimed record with what the batch did; the batch that reaches a
        multiple of ``PRUNE_EVERY_ROWS`` also deletes up to ``PRUNE_LIMIT`` records older than
        ``APPLIED_BATCHES_KEPT`` (an index range, oldest first)."""
        key = {"name": self.batch.execution_name, "first": self.batch.batch_index}
        self.conn.execute(_RECORD_OUTCOMES, {**key, "rows": rows_written, "outcomes": outcomes})
        if prune_due(self.batch.batch_index, len(outcomes)):
            self.repo.prune(self.conn, self.batch.now - APPLIED_BATCHES_KEPT)


class StatsRepository:
    """Reads and writes ``users`` / ``user_stats`` / ``applied_batches`` for one batch at a time."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.upsert = _upsert(self.dialect)
        self.insert_users = _insert_users(self.dialect)
        self.claim_batch = _insert_ignoring_duplicates(applied_batches, self.dialect)

    @contextmanager
    def unit_of_work(self, batch: BatchRef, *, lock: bool = True) -> Iterator[UnitOfWork]:
        """A transaction for one batch; driver errors come out as the named batch errors."""
        try:
            with connect(self.engine) as conn, conn.begin():
                yield UnitOfWork(conn, self, batch, lock)
        except DBAPIError as exc:
            raise classify(exc, refreshable=self.engine in _CREDENTIALS) from exc

    def read(self, conn: Connection, user_ids: Iterable[str], *, lock: bool) -> Mapping[str, StoredStats]:
        stmt = _READ_LOCKED if lock else _READ
        stored: dict[str, StoredStats] = {}
        for chunk in id_chunks(user_ids):
            for uid, login, post, prev_login, prev_post, name, index, start in conn.execute(stmt, {"ids": chunk}):
                stored[uid] = StoredStats(login, post, prev_login, prev_post, name, index, start)
        return stored

    def prune(self, conn: Connection, before: datetime, limit: int = PRUNE_LIMIT) -> int:
        """Delete up to ``limit`` ``applied_batches`` records committed before ``before``."""
        sql = _PRUNE["sqlite" if self.dialect == "sqlite" else "mysql"]
        stmt = text(sql).bindparams(bindparam("cutoff", type_=Moment), bindparam("limit", type_=Integer))
        return int(conn.execute(stmt, {"cutoff": before, "limit": limit}).rowcount)

    def send_upsert(self, conn: Connection, rows: list[Row], batch: BatchRef) -> None:
        """Write ``rows`` and the batch's bookkeeping.

        MySQL/MariaDB: multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` statements of
        at most ``MAX_STATEMENT_BYTES``, the batch's constant columns escaped once
        (by the driver) instead of once per row: PyMySQL's executemany escaped
        every value of every row, 24% of the path's time at 500 rows, and sent
        them as parameters again for each row. SQLite: SQLAlchemy's executemany."""
        constants = {
            "last_execution_name": batch.execution_name,
            "last_batch_index": batch.batch_index,
            "updated_at": batch.updated_at,
            "last_execution_start": batch.execution_start,
        }
        if self.dialect in ("mysql", "mariadb"):
            driver = conn.connection.dbapi_connection
            assert driver is not None
            literals = ",".join(driver.escape(constants[c]) for c in _CONSTANT_COLUMNS)
            for statement in mysql_upserts(rows, literals):
                # no parameters: the text goes to cursor.execute as is (a '%' in a value stays one)
                conn.exec_driver_sql(statement, execution_options={"no_parameters": True})
        else:
            assert self.upsert is not None  # set for every dialect but MySQL/MariaDB
            conn.execute(self.upsert, [{**dict(zip(_ROW_COLUMNS, row, strict=True)), **constants} for row in rows])


@lru_cache(maxsize=1)
def get_repository() -> StatsRepository:
    """The container's repository (forgotten by ``csv_dmap.runtime.reset``)."""
    return StatsRepository(get_engine())
