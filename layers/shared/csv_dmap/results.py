"""Reading what a Distributed Map's ResultWriter wrote, in AWS's layout:
``<Prefix>/<map-run-id>/manifest.json`` listing ``SUCCEEDED_n.json`` /
``FAILED_n.json`` / ``PENDING_n.json``, each a JSON array of child-execution
records whose ``Input`` and ``Output`` are JSON strings.

Result files can reach 5 GB, so records are streamed (ijson), never loaded whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import ijson

STATUSES = ("SUCCEEDED", "FAILED", "PENDING")


def read_manifest(s3, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def iter_records(s3, manifest: dict[str, Any], status: str) -> Iterator[dict[str, Any]]:
    """Every child-execution record of one status, file after file."""
    bucket = manifest["DestinationBucket"]
    for entry in (manifest.get("ResultFiles") or {}).get(status) or []:
        body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"]
        yield from ijson.items(body, "item", use_float=True)


def manifest_keys(s3, bucket: str, execution_name: str) -> list[str]:
    """The manifests ResultWriter wrote for an execution (``results/<execution>/<map-run>/``).
    Used when the map failed and its output does not name the manifest."""
    keys = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"results/{execution_name}/"):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/manifest.json")]
    return keys


def tally_run(s3, bucket: str, keys: list[str]):
    """Count every row of the runs whose manifests are ``keys``."""
    from .logic.tally import RunTally

    tally = RunTally()
    for key in keys:
        manifest = read_manifest(s3, bucket, key)
        for status in STATUSES:
            tally.add(status, iter_records(s3, manifest, status))
    return tally
