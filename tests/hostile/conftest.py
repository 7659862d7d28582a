"""Fixtures of the hostile-file tests: one moto S3 bucket per module, and the
hypothesis profiles (``hostile``: the default, well under two minutes on a shared
machine; ``--hypothesis-profile=long`` for a deeper run)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    "print_blob": True,
}
settings.register_profile("hostile", max_examples=300, **_COMMON)
settings.register_profile("long", max_examples=2000, **_COMMON)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile("hostile")


class Bucket:
    """An S3 bucket served by moto, and fresh keys for each generated file."""

    name = "hostile-input"

    def __init__(self, s3: Any):
        self.s3 = s3
        self._ids = itertools.count()

    def put(self, body: bytes) -> str:
        key = f"incoming/f{next(self._ids)}.csv"
        self.s3.put_object(Bucket=self.name, Key=key, Body=body)
        return key

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.name, Key=key)["Body"].read())


@pytest.fixture(scope="module")  # not the session: an outer mock_aws would leak moto state into later tests
def bucket() -> Iterator[Bucket]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="ap-northeast-1")
        s3.create_bucket(Bucket=Bucket.name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
        yield Bucket(s3)
