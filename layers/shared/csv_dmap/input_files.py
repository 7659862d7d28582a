"""Input objects in S3: validation and the normalised copy under staging/ (docs/contracts.md, "ValidateInput").

The copy is written for every accepted file, and the map always reads it: what
ValidateInput accepted is exactly what reaches the workers.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, BinaryIO, cast
from urllib.parse import quote, unquote, unquote_plus

from botocore.exceptions import ClientError

from .errors import EmptyFile, FileTooLarge, InputNotFound
from .keys import staging_key, staging_prefix
from .logic.validation import LIMITS, Limits, normalise, printable
from .models import RunInput, ValidationResult


def _head(s3: Any, source: RunInput) -> tuple[str, int, str | None, str | None]:
    """Key, size, ETag and version id of exactly the object version the run is about.

    Whether an EventBridge "Object Created" event's ``object.key`` is URL-encoded is not
    documented (S3's own event notifications encode it, a space as ``+``), so a key that is not
    found is tried decoded too. With a version id (StartRun passes it) the decoded key can only
    find that very upload: version ids belong to one key."""
    where = f"s3://{printable(source.bucket, 63)}/{printable(source.key, 300)}"
    extra: dict[str, str] = {"VersionId": source.version_id} if source.version_id else {}
    code = ""
    for key in dict.fromkeys([source.key, unquote_plus(source.key)]):
        try:
            head = s3.head_object(Bucket=source.bucket, Key=key, **extra)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchBucket", "403", "400"):
                continue
            raise
        etag = head.get("ETag")
        if source.etag and etag and source.etag.strip('"') != str(etag).strip('"'):
            raise InputNotFound(
                f"{where} is not the upload that started this run (ETag {printable(etag, 80)}, expected "
                f"{printable(source.etag, 80)}); its own run applies the newer upload"
            )
        return key, int(head["ContentLength"]), etag, head.get("VersionId") or source.version_id
    version = f" (version {printable(source.version_id, 100)})" if source.version_id else ""
    raise InputNotFound(
        f"{where}{version} does not exist or is not readable by the pipeline ({code}); upload the file again"
    )


def check_size(where: str, size: int, max_bytes: int) -> None:
    """The object's size against the pipeline's limits: ``EmptyFile`` or ``FileTooLarge``."""
    if size == 0:
        raise EmptyFile(f"{where} is empty (0 bytes); export it again")
    if size > max_bytes:
        raise FileTooLarge(
            f"{where} is {size:,} bytes, above the limit of {max_bytes:,} (MaxInputBytes); "
            "split it into several files or raise MaxInputBytes"
        )


def validate_object(
    s3: Any,
    source: RunInput,
    execution_name: str,
    max_bytes: int,
    tmp_dir: str | None = None,
    limits: Limits = LIMITS,
) -> ValidationResult:
    """Check the object and write its normalised copy; raise the named rejection otherwise."""
    bucket = source.bucket
    key, size, etag, version_id = _head(s3, source)
    check_size(f"s3://{printable(bucket, 63)}/{printable(key, 300)}", size, max_bytes)

    def opener() -> BinaryIO:
        # Every reading sees the same bytes: the version that started the run when the bucket is
        # versioned, else the object as it was at HEAD (a replaced object fails with PreconditionFailed).
        extra: dict[str, str] = {"VersionId": version_id} if version_id else {}
        if etag:
            extra["IfMatch"] = etag
        return cast(BinaryIO, s3.get_object(Bucket=bucket, Key=key, **extra)["Body"])

    target = staging_key(execution_name, key)
    fd, path = tempfile.mkstemp(suffix=".csv", dir=tmp_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            result = normalise(opener, fh, tmp_dir, limits)
        validation = ValidationResult(
            bucket=bucket,
            key=target,
            source_key=key,
            version_id=version_id,
            byte_size=size,
            encoding=result.encoding_label,
            header=result.header,
            source_rows=result.data_rows,
            duplicate_rows=result.duplicate_rows,
            blank_rows=result.blank_rows,
            row_count=result.data_rows,
            normalized=True,
        )
        extra = {"ContentType": "text/csv; charset=utf-8", "Metadata": _facts_metadata(validation)}
        s3.upload_file(path, bucket, target, ExtraArgs=extra)
    finally:
        os.remove(path)
    return validation


# ValidateInput's counts travel with the copy as its user metadata (ASCII, under S3's 2 KB):
# whoever counts a run that stopped before AggregateErrors (RunStatus) can check its rows against
# them without the execution's history (the local runner has none to ask), and find the original
# (its key percent-encoded, and the version read) for the reject file.
_FACTS = {"row-count": "row_count", "source-rows": "source_rows", "duplicate-rows": "duplicate_rows"}
METADATA_MAX = 1900  # S3: user metadata at most 2 KB, names and values (UTF-8 bytes)


def _facts_metadata(validation: ValidationResult) -> dict[str, str]:
    meta = {name: str(getattr(validation, field)) for name, field in _FACTS.items()}
    meta["blank-rows"] = str(validation.blank_rows)
    meta["encoding"] = validation.encoding.encode("ascii", "replace").decode()
    extra = {"source-key": quote(validation.source_key, safe="/"), "source-version-id": validation.version_id or ""}
    if sum(len(k) + len(v) for k, v in (meta | extra).items()) <= METADATA_MAX:  # else RunStatus goes without
        meta |= {k: v for k, v in extra.items() if v}
    return meta


def staged_facts(s3: Any, bucket: str, execution_name: str) -> ValidationResult | None:
    """What ValidateInput found for ``execution_name``, read back from its copy's metadata;
    None when there is no copy (the run stopped before) or the metadata is not ours."""
    found = s3.list_objects_v2(Bucket=bucket, Prefix=staging_prefix(execution_name), MaxKeys=2)
    contents = found.get("Contents") or []
    if len(contents) != 1:
        return None
    key = contents[0]["Key"]
    head = s3.head_object(Bucket=bucket, Key=key)
    meta = head.get("Metadata") or {}
    try:
        counts = {field: int(meta[name]) for name, field in _FACTS.items()}
        blank = int(meta.get("blank-rows", "0"))
    except (KeyError, ValueError):
        return None
    return ValidationResult(
        bucket=bucket,
        key=key,
        source_key=unquote(str(meta.get("source-key") or "")),
        version_id=meta.get("source-version-id") or None,
        byte_size=int(head.get("ContentLength") or 0),
        encoding=str(meta.get("encoding") or "unknown"),
        header=[],
        blank_rows=blank,
        row_count=counts["row_count"],
        source_rows=counts["source_rows"],
        duplicate_rows=counts["duplicate_rows"],
    )
