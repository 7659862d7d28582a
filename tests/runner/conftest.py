import json

import boto3
import pytest
from moto import mock_aws

from asl_runner import Execution, LocalServices, RunOptions

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("in-bucket", "out-bucket"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def run(definition, input=None, functions=None, **options):
    """Run a small definition; returns the ExecutionResult."""
    services = LocalServices(functions or {}, region=REGION, account=ACCOUNT)
    options = RunOptions(region=REGION, account=ACCOUNT, **options)
    return Execution(definition, services, name="exec-1", state_machine_name="sm", options=options).run(
        input if input is not None else {}
    )


def machine(states: dict, start: str | None = None) -> dict:
    return {"StartAt": start or next(iter(states)), "States": states}


def read_json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(autouse=True)
def _local_stores(monkeypatch, tmp_path):
    """Every local run of these tests keeps its audit table and S3 under the test's own directory."""
    from tests.e2e.local_lab import isolate_local_stores

    isolate_local_stores(monkeypatch, tmp_path)
