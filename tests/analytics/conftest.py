"""Fixtures of the analytics tests: moto S3 (in process, and as a separate server
process for memory measurements) and ResultWriter files written the way AWS does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "ap-northeast-1"
BUCKET = "results"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in a process of its own: S3 bodies then stream over HTTP, and what moto
    stores does not count in this process's memory."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ ResultWriter files


def result(index: int, status: str, **fields: Any) -> dict[str, Any]:
    """One worker result (camelCase)."""
    return {"index": index, "line": index + 2, "status": status, **fields}


def write_result_writer(
    s3: Any,
    execution: str,
    *,
    succeeded: Sequence[Sequence[dict[str, Any]]] = (),
    failed: Sequence[tuple[Sequence[dict[str, Any]], str, str]] = (),
    pending: Sequence[Sequence[dict[str, Any]]] = (),
    map_run: str = "run-1",
    records_per_file: int = 1_000_000,
) -> str:
    """Write ``results/<execution>/<map_run>/`` as AWS's ResultWriter does: a manifest and
    arrays of child-execution records whose Input/Output are JSON strings. ``succeeded`` are
    the worker outputs' result lists; ``failed`` are (items, Error, Cause); ``pending`` items."""
    prefix = f"results/{execution}/{map_run}/"
    records: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for results in succeeded:
        output = {
            "executionName": execution,
            "firstIndex": results[0]["index"] if results else 0,
            "counts": {"total": len(results)},
            "results": list(results),
        }
        records["SUCCEEDED"].append(
            {"Status": "SUCCEEDED", "Input": json.dumps({"Items": []}), "Output": json.dumps(output)}
        )
    for items, error, cause in failed:
        records["FAILED"].append(
            {"Status": "FAILED", "Input": json.dumps({"Items": list(items)}), "Error": error, "Cause": cause}
        )
    for items in pending:
        records["PENDING"].append({"Status": "PENDING", "Input": json.dumps({"Items": list(items)})})
    files: dict[str, list[dict[str, Any]]] = {}
    for status, recs in records.items():
        entries = []
        for n, start in enumerate(range(0, len(recs), records_per_file)):
            key = f"{prefix}{status}_{n}.json"
            body = json.dumps(recs[start : start + records_per_file]).encode()
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            entries.append({"Key": key, "Size": len(body)})
        files[status] = entries
    manifest = {
        "DestinationBucket": BUCKET,
        "MapRunArn": f"arn:aws:states:{REGION}:123456789012:mapRun:sm/x:{map_run}",
        "ResultFiles": files,
    }
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}manifest.json", Body=json.dumps(manifest).encode())
    return f"{prefix}manifest.json"
