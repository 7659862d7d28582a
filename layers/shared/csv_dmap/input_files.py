"""Input objects in S3: validation and the normalised copy under staging/ (contract 1).

The copy is written for every accepted file, and the map always reads it: what
ValidateInput accepted is exactly what reaches the workers.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, BinaryIO, cast
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from .errors import EmptyFile, FileTooLarge, InputNotFound
from .logic.validation import LIMITS, Limits, normalise, printable
from .models import ValidationResult

STAGING_PREFIX = "staging/"


def _head(s3: Any, bucket: str, key: str) -> tuple[str, int, str | None]:
    """Key, size and ETag of the object; S3 event keys can arrive URL-encoded, so try the decoded key too."""
    for candidate in dict.fromkeys([key, unquote_plus(key)]):
        try:
            head = s3.head_object(Bucket=bucket, Key=candidate)
            return candidate, int(head["ContentLength"]), head.get("ETag")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound", "403"):
                raise
    raise InputNotFound(
        f"s3://{printable(bucket, 63)}/{printable(key, 300)} does not exist or is not readable by the pipeline"
    )


def staging_key(execution_name: str, source_key: str) -> str:
    return f"{STAGING_PREFIX}{execution_name}/{os.path.basename(source_key)}"


def validate_object(
    s3: Any,
    bucket: str,
    key: str,
    execution_name: str,
    max_bytes: int,
    tmp_dir: str | None = None,
    limits: Limits = LIMITS,
) -> ValidationResult:
    """Check the object and write its normalised copy; raise the named rejection otherwise."""
    key, size, etag = _head(s3, bucket, key)
    where = f"s3://{printable(bucket, 63)}/{printable(key, 300)}"
    if size == 0:
        raise EmptyFile(f"{where} is empty (0 bytes); export it again")
    if size > max_bytes:
        raise FileTooLarge(
            f"{where} is {size:,} bytes, above the limit of {max_bytes:,} (MaxInputBytes); "
            "split it into several files or raise MaxInputBytes"
        )

    def opener() -> BinaryIO:
        # Both readings see the same object: a replaced object fails the read (PreconditionFailed).
        extra = {"IfMatch": etag} if etag else {}
        return cast(BinaryIO, s3.get_object(Bucket=bucket, Key=key, **extra)["Body"])

    target = staging_key(execution_name, key)
    fd, path = tempfile.mkstemp(suffix=".csv", dir=tmp_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            result = normalise(opener, fh, tmp_dir, limits)
        s3.upload_file(path, bucket, target, ExtraArgs={"ContentType": "text/csv; charset=utf-8"})
    finally:
        os.remove(path)
    return ValidationResult(
        bucket=bucket,
        key=target,
        source_key=key,
        byte_size=size,
        encoding=result.encoding_label,
        header=result.header,
        source_rows=result.data_rows,
        duplicate_rows=result.duplicate_rows,
        blank_rows=result.blank_rows,
        row_count=result.data_rows,
        normalized=True,
    )
