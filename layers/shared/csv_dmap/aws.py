"""boto3 clients, one of each per container, created on first use
(forgotten by ``csv_dmap.runtime.reset``)."""

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"})


@lru_cache(maxsize=1)
def s3_client() -> Any:
    return boto3.client("s3", config=_CONFIG)


@lru_cache(maxsize=1)
def sns_client() -> Any:
    return boto3.client("sns", config=_CONFIG)


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def stepfunctions_client() -> Any:
    return boto3.client("stepfunctions", config=_CONFIG)
