"""The layer's per-container singletons, and the one way to forget them.

A Lambda container builds its settings, database engine, repository, audit
writer and boto3 clients once and reuses them across invocations. Whoever runs
the functions in a changing environment (tests, a local harness switching
endpoints or databases) calls ``reset()`` between environments.
"""

from __future__ import annotations


def reset() -> None:
    """Forget every per-container singleton; the next use builds it anew from the environment."""
    from . import audit, aws, config, db

    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    for cached in (db.get_repository, db.get_engine):
        cached.cache_clear()
    config.forget()
    audit.get_audit_writer.cache_clear()
    for client in (aws.s3_client, aws.sns_client, aws.dynamodb_client, aws.stepfunctions_client):
        client.cache_clear()
