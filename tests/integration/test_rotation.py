"""Credentials that survive rotation, on MariaDB with the secret in moto's Secrets Manager.

Aurora rotates a ManageMasterUserPassword secret every 7 days by default, and RDS Proxy
authenticates clients with the secret's current password. Here the database user's password
and the secret change in the middle of a run of batches, and the connections the engine holds
are closed by the server (as an idle timeout, a failover or the pool's recycling ends them):
every new connection must log in with the new password, and no batch may fail for it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from csv_dmap.audit import AuditLogWriter
from csv_dmap.config import DatabaseSettings
from csv_dmap.db import (
    StatsRepository,
    build_engine,
    classify,
    engine_from_settings,
    metadata,
    seed_users,
)
from csv_dmap.errors import PermanentDatabaseError, TransientDatabaseError
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import WorkerEvent
from local_runner.template import load_template, table_definition

pytestmark = pytest.mark.mariadb

REGION = "ap-northeast-1"
USERS = [f"R{i:04d}" for i in range(60)]


class Server:
    """The MariaDB server as its administrator sees it: the application user and its sessions."""

    def __init__(self, admin: Engine, user: str, database: str) -> None:
        self.admin, self.user, self.database = admin, user, database

    def set_password(self, password: str) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f"ALTER USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{password}'"))

    def close_sessions(self) -> int:
        """End every session of the application user, as the server does to an idle one."""
        with self.admin.begin() as conn:
            ids = conn.execute(
                text("SELECT id FROM information_schema.PROCESSLIST WHERE user = :u"), {"u": self.user}
            ).scalars()
            killed = 0
            for session in list(ids):
                conn.execute(text(f"KILL CONNECTION {int(session)}"))
                killed += 1
        return killed


@pytest.fixture
def server(mariadb_server: str, mariadb_url: str) -> Iterator[Server]:
    database = make_url(mariadb_url).database
    user = f"csvdmap_rot_{os.getpid()}"
    admin = create_engine(mariadb_server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
        conn.execute(text(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'first-password'"))
        conn.execute(text(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'127.0.0.1'"))
    schema = create_engine(mariadb_url)
    metadata.drop_all(schema)
    metadata.create_all(schema)
    seed_users(schema, USERS)
    schema.dispose()
    yield Server(admin, user, str(database))
    with admin.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
    admin.dispose()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition(load_template(), "AuditTable", "audit-rotation"))
        yield {"secrets": secrets, "dynamodb": dynamodb}


def secret_value(server: Server, password: str) -> str:
    # The RDS format; host and port as RDS writes them for the cluster.
    return json.dumps(
        {"engine": "mysql", "username": server.user, "password": password, "host": "127.0.0.1", "port": 3306}
    )


def batch(number: int) -> WorkerEvent:
    users = USERS[number * 10 : (number + 1) * 10]
    return WorkerEvent.model_validate(
        {
            "BatchInput": {"executionName": "rotation", "executionStartTime": "2026-12-07T00:30:00Z", "sourceKey": "k"},
            "Items": [
                {"index": number * 10 + i, "row": {"user_id": u, "login_count": str(number), "post_count": "7"}}
                for i, u in enumerate(users)
            ],
        }
    )


def stored_logins(admin: Engine, database: str) -> dict[str, int]:
    with admin.connect() as conn:
        rows = conn.execute(text(f"SELECT user_id, login_count FROM `{database}`.user_stats"))
        return {uid: login for uid, login in rows}


def test_a_rotation_in_the_middle_of_a_run_fails_no_batch(server: Server, aws: dict[str, Any]) -> None:
    arn = aws["secrets"].create_secret(Name="csv-dmap/db", SecretString=secret_value(server, "first-password"))["ARN"]
    settings = DatabaseSettings(DB_SECRET_ARN=arn, DB_NAME=server.database, AWS_REGION=REGION)
    engine = engine_from_settings(settings)
    assert engine.url.password is None  # the password never lives in the engine
    repository = StatsRepository(engine)
    audit = AuditLogWriter(aws["dynamodb"], "audit-rotation", concurrency=1)
    outputs = []
    for number in range(6):
        if number == 3:  # the rotation: the database's password, then the secret's
            server.set_password("second-password")
            aws["secrets"].put_secret_value(SecretId=arn, SecretString=secret_value(server, "second-password"))
            assert server.close_sessions() >= 1  # the session logged in with the old password ends
        outputs.append(apply_batch(batch(number), repository, audit))
    assert [o.counts.applied for o in outputs] == [10] * 6
    assert stored_logins(server.admin, server.database) == {u: i // 10 for i, u in enumerate(USERS)}
    engine.dispose()


def test_a_database_ahead_of_its_secret_is_a_transient_refusal_then_applies(
    server: Server, aws: dict[str, Any]
) -> None:
    """Between the rotation changing the password and the secret's new version (or a proxy
    still holding the old one), the login is refused: a TransientDatabaseError, which the ASL
    retries; the retry after the secret has caught up applies the batch."""
    arn = aws["secrets"].create_secret(Name="csv-dmap/db", SecretString=secret_value(server, "first-password"))["ARN"]
    engine = engine_from_settings(DatabaseSettings(DB_SECRET_ARN=arn, DB_NAME=server.database, AWS_REGION=REGION))
    repository = StatsRepository(engine)
    audit = AuditLogWriter(aws["dynamodb"], "audit-rotation", concurrency=1)
    apply_batch(batch(0), repository, audit)
    server.set_password("second-password")
    server.close_sessions()
    with pytest.raises(TransientDatabaseError, match=r"refused the login .* read again .*1045"):
        apply_batch(batch(1), repository, audit)
    aws["secrets"].put_secret_value(SecretId=arn, SecretString=secret_value(server, "second-password"))
    assert apply_batch(batch(1), repository, audit).counts.applied == 10  # the ASL's retry
    engine.dispose()


def test_a_refused_password_fixed_in_the_url_is_permanent_and_says_so(server: Server) -> None:
    url = make_url(f"mysql+pymysql://{server.user}:wrong-password@127.0.0.1:3306/{server.database}")
    engine = build_engine(url)
    repository = StatsRepository(engine)
    with pytest.raises(PermanentDatabaseError) as info:
        apply_batch(batch(0), repository, AuditLogWriter(None, "unused"))
    message = str(info.value)
    assert "password is fixed in DATABASE_URL" in message and "1045" in message
    assert "wrong-password" not in message
    engine.dispose()


def test_iam_logins_are_refreshable_and_a_static_url_is_not() -> None:
    import pymysql

    refused = OperationalError("connect", {}, pymysql.err.OperationalError(1045, "Access denied for user 'w'"))
    assert isinstance(classify(refused, refreshable=True), TransientDatabaseError)
    assert isinstance(classify(refused), PermanentDatabaseError)
    iam = build_engine("mysql+pymysql://w@db.example:3306/x", options=_iam_options())
    from csv_dmap.db import refresh_if_refused

    assert refresh_if_refused(iam, refused)  # a new token for the next login
    assert not refresh_if_refused(build_engine("mysql+pymysql://w:pw@db.example:3306/x"), refused)
    iam.dispose()


def _iam_options() -> Any:
    from csv_dmap.db import ConnectionOptions

    return ConnectionOptions(iam_auth=True, region=REGION)
