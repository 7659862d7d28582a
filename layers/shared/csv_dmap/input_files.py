"""Input objects in S3: validation and the normalised copy under staging/."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from .errors import EmptyFile, FileTooLarge, InputNotFound
from .logic.validation import ENCODING_LABELS, scan, write_normalised
from .models import ValidationResult

STAGING_PREFIX = "staging/"


def _head(s3, bucket: str, key: str) -> tuple[str, int]:
    """Size of the object; S3 event keys can arrive URL-encoded, so try the decoded key too."""
    for candidate in dict.fromkeys([key, unquote_plus(key)]):
        try:
            return candidate, s3.head_object(Bucket=bucket, Key=candidate)["ContentLength"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound", "403"):
                raise
    raise InputNotFound(f"s3://{bucket}/{key} does not exist or is not readable by the pipeline")


def staging_key(execution_name: str, source_key: str) -> str:
    return f"{STAGING_PREFIX}{execution_name}/{os.path.basename(source_key)}"


def validate_object(s3, bucket: str, key: str, execution_name: str, max_bytes: int,
                    tmp_dir: str | None = None) -> ValidationResult:
    key, size = _head(s3, bucket, key)
    if size == 0:
        raise EmptyFile(f"s3://{bucket}/{key} is empty (0 bytes); export it again")
    if size > max_bytes:
        raise FileTooLarge(
            f"s3://{bucket}/{key} is {size:,} bytes, above the limit of {max_bytes:,} (MaxInputBytes); "
            "split it into several files or raise MaxInputBytes"
        )

    def opener():
        return s3.get_object(Bucket=bucket, Key=key)["Body"]

    result = scan(opener, tmp_dir)
    target, rows = key, result.data_rows
    if result.needs_normalising:
        target = staging_key(execution_name, key)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv", dir=tmp_dir,
                                         delete=False) as fh:
            path = fh.name
            rows = write_normalised(opener, result, fh)
        try:
            s3.upload_file(path, bucket, target, ExtraArgs={"ContentType": "text/csv; charset=utf-8"})
        finally:
            os.remove(path)
    return ValidationResult(
        bucket=bucket,
        key=target,
        source_key=key,
        byte_size=size,
        encoding=ENCODING_LABELS[result.encoding],
        header=result.header,
        source_rows=result.data_rows,
        duplicate_rows=result.duplicate_rows,
        row_count=rows,
        normalized=result.needs_normalising,
    )
