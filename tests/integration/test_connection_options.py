"""TLS and IAM database authentication options reach the driver: an SSL context,
and a fresh signed token as the password of every new connection."""

from __future__ import annotations

import ssl

import pytest
from sqlalchemy import event

from csv_dmap.config import DatabaseSettings
from csv_dmap.db import ConnectionOptions, build_engine, database_url


class Stop(Exception):
    pass


def connect_params(engine) -> list[dict]:
    """Parameters of each connection attempt, stopped before the network."""
    seen: list[dict] = []

    @event.listens_for(engine, "do_connect")
    def capture(dialect, record, cargs, cparams):
        seen.append(dict(cparams))
        raise Stop

    return seen


def test_settings_read_the_options_from_the_environment():
    settings = DatabaseSettings.from_env(
        {
            "DB_TLS": "true",
            "DB_CA_PATH": "/opt/ca.pem",
            "DB_IAM_AUTH": "true",
            "DB_USER": "worker",
            "DB_HOST": "proxy.example",
            "AWS_REGION": "ap-northeast-1",
        }
    )
    assert ConnectionOptions.from_settings(settings) == ConnectionOptions(True, "/opt/ca.pem", True, "ap-northeast-1")
    url = database_url(settings)
    assert (url.username, url.host, url.password) == ("worker", "proxy.example", None)


def test_without_options_there_is_no_tls_and_the_url_password():
    engine = build_engine("mysql+pymysql://u:pw@db.example:3306/x")
    seen = connect_params(engine)
    with pytest.raises(Stop):
        engine.connect()
    assert "ssl" not in seen[0] and seen[0]["password"] == "pw"


def test_tls_gives_the_driver_a_verifying_context():
    engine = build_engine("mysql+pymysql://u:pw@db.example:3306/x", options=ConnectionOptions(tls=True))
    seen = connect_params(engine)
    with pytest.raises(Stop):
        engine.connect()
    context = seen[0]["ssl"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_iam_auth_signs_a_new_token_for_every_connection(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    engine = build_engine(
        "mysql+pymysql://worker@proxy.example:3306/x", options=ConnectionOptions(iam_auth=True, region="ap-northeast-1")
    )
    calls: list[dict] = []

    @event.listens_for(engine, "do_connect")
    def capture(dialect, record, cargs, cparams):
        calls.append(dict(cparams))
        raise Stop

    for _ in range(2):
        with pytest.raises(Stop):
            engine.connect()
    tokens = [c["password"] for c in calls]
    assert all(t.startswith("proxy.example:3306/?Action=connect") and "DBUser=worker" in t for t in tokens)
    assert all("X-Amz-Signature=" in t for t in tokens)
    assert all(isinstance(c["ssl"], ssl.SSLContext) for c in calls)  # IAM authentication requires TLS


@pytest.mark.parametrize(
    ("host", "tls", "iam", "ca", "refused"),
    [
        ("csv-dmap-1234.proxy-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", True, False, None, False),
        ("prod.cluster-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", True, False, None, True),
        ("prod.cluster-ro-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False, True, None, True),
        ("db-1.abcdefghijkl.ap-northeast-1.rds.amazonaws.com", True, False, "/opt/rds-ca.pem", False),
        ("prod.cluster-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False, False, None, False),
        ("127.0.0.1", False, False, None, False),
    ],
)
def test_tls_that_the_system_trust_store_cannot_verify_is_refused_at_start(host, tls, iam, ca, refused):
    """RDS Proxy's certificate comes from ACM (trusted by the system store); a cluster or instance
    endpoint presents the RDS CA, which it lacks: without a CA bundle that is a named error naming
    the host, before any connection, never a certificate error at every batch."""
    from sqlalchemy.engine import make_url

    from csv_dmap.db import ConnectionOptions, check_tls_host
    from csv_dmap.errors import ConfigurationError, UnverifiableDatabaseTls

    url = make_url(f"mysql+pymysql://app@{host}:3306/csv_dmap")
    options = ConnectionOptions(tls=tls, ca_path=ca, iam_auth=iam)
    if refused:
        with pytest.raises(UnverifiableDatabaseTls, match=rf"^database host '{host}' is not an RDS Proxy endpoint"):
            check_tls_host(url, options)
        assert issubclass(UnverifiableDatabaseTls, ConfigurationError)
    else:
        check_tls_host(url, options)
