"""boto3 clients, one of each per container, created on first use."""

from functools import lru_cache

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"})


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3", config=_CONFIG)


@lru_cache(maxsize=1)
def sns_client():
    return boto3.client("sns", config=_CONFIG)


@lru_cache(maxsize=1)
def dynamodb_client():
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def stepfunctions_client():
    return boto3.client("stepfunctions", config=_CONFIG)


def reset_clients() -> None:
    """Forget the clients (tests and the local runner switch endpoints)."""
    for client in (s3_client, sns_client, dynamodb_client, stepfunctions_client):
        client.cache_clear()
