"""StartRun: one run per uploaded object version, whatever the number of deliveries.

EventBridge delivers an event at least once, and a rule's Step Functions target cannot name the
execution it starts. So a small function starts it, under a name derived from the object version:
Step Functions' StartExecution with the name of an execution that is running with the same input
answers as the first call did, and with the name of a closed one answers ExecutionAlreadyExists
(names are unique per state machine for 90 days) — a repeated event never starts a second run.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidEvent

_STEM_MAX = 40
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class RunStart:
    name: str
    bucket: str
    key: str
    version: str
    version_id: str | None = None  # the object's version-id, when the bucket is versioned
    etag: str | None = None

    def execution_input(self) -> str:
        """The state machine's input; the same for every delivery of the event (idempotency). It
        names the exact object version, so ValidateInput reads the upload that started the run
        even when the key was overwritten since."""
        data: dict[str, str] = {"bucket": self.bucket, "key": self.key}
        if self.version_id:
            data["versionId"] = self.version_id
        if self.etag:
            data["etag"] = self.etag
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def execution_name(bucket: str, key: str, version: str) -> str:
    """``<file stem>-<32 hex digits of sha256(bucket, key, version)>``: readable, at most 73
    characters (Step Functions allows 80) of ``[A-Za-z0-9_-]``, and one name per object version."""
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = _UNSAFE.sub("_", stem).strip("_")[:_STEM_MAX] or "object"
    digest = hashlib.sha256(f"{bucket}\0{key}\0{version}".encode()).hexdigest()[:32]
    return f"{stem}-{digest}"


def run_start_of(event: dict[str, Any]) -> RunStart:
    """The run an S3 "Object Created" event (EventBridge) asks for. The version is the object's
    version-id (the input bucket is versioned), else its sequencer (unique per write of a key)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    bucket = ((detail or {}).get("bucket") or {}).get("name")
    obj = (detail or {}).get("object") or {}
    key, version = obj.get("key"), obj.get("version-id") or obj.get("sequencer")
    if not (
        isinstance(bucket, str) and bucket and isinstance(key, str) and key and isinstance(version, str) and version
    ):
        raise InvalidEvent(
            "not an S3 Object Created event with detail.bucket.name, detail.object.key and "
            "detail.object.version-id or sequencer"
        )
    version_id, etag = obj.get("version-id"), obj.get("etag")
    return RunStart(
        name=execution_name(bucket, key, version),
        bucket=bucket,
        key=key,
        version=version,
        version_id=version_id if isinstance(version_id, str) and version_id else None,
        etag=etag if isinstance(etag, str) and etag else None,
    )


def skip_reason(start: RunStart) -> str | None:
    """Why an object under incoming/ starts no run, or None. The rule matches every object created
    there (EventBridge cannot match the prefix and a case-insensitive ``.csv`` suffix on one key),
    so a folder marker (the console's "Create folder": a key ending in ``/``) is skipped here; any
    other object is a run, and a file that is not CSV is rejected by ValidateInput with a named
    error and an alert, never ignored in silence."""
    if start.key.endswith("/"):
        return "a folder marker, not a file"
    return None
