"""``s3://bucket/key=LOCAL_FILE`` arguments of the CLI: split at the last ``=``, so that a key
may hold ``=`` (Hive partitions: ``summaries/date=2026-01-01/x.json``); a local file whose
path holds ``=`` is given by another path to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from asl_runner.cli import CannotRun

from . import REGION


def parse_s3_spec(spec: str) -> tuple[str, str, str]:
    m = re.fullmatch(r"s3://([^/]+)/(.+)=([^=]+)", spec)
    if not m:
        raise CannotRun(f"expected s3://bucket/key=LOCAL_FILE, got {spec!r}")
    if not Path(m.group(3)).is_file():
        raise CannotRun(f"--s3-object: no file {m.group(3)}")
    return m.group(1), m.group(2), m.group(3)


def put_local_file(env: Any, spec: str) -> None:
    bucket, key, path = parse_s3_spec(spec)
    s3 = env.client("s3")
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(path, bucket, key)
