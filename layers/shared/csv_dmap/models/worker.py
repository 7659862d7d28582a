"""The worker's contract (docs/contracts.md, "Worker input" and "Worker output"): what the ItemBatcher sends, what the
worker answers.

- ``WorkerEvent``: ``{"Items": [{"index": n, "row": {...}}, ...], "BatchInput": {...}}``
  (the ``{"index", "row"}`` shape comes from the Map's ItemSelector), plus
  ``Failure`` (``{"Error", "Cause"}``) when the ItemProcessor asks the worker to
  reconcile a batch whose retries are exhausted.
- ``ItemResult`` / ``WorkerOutput``: the answer; ResultWriter stores it in
  ``SUCCEEDED_n.json``. A result carries ``auditMissing: true`` (and the counts
  ``auditMissing``, their number) when its audit item could not be written by the
  batch's last attempt (ReconcileBatch); the status is the database's truth all the same. Its serialised size is bounded by construction: every
  result takes at most ``MAX_RESULT_BYTES`` as ``json.dumps`` writes it (echoed
  strings are capped after escaping), so a batch of ``MAX_ITEMS_PER_BATCH``
  rows answers in at most ``MAX_OUTPUT_BYTES`` (128 KiB, half of the 256 KiB a
  state may return).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .rows import LINE_MAX, RowStatus, cap_escaped

# The largest batch the worker answers for (DetermineConcurrency never plans more).
MAX_ITEMS_PER_BATCH = 500
MAX_RESULT_BYTES = 256  # one result as json.dumps writes it, ", " separator included
AUDIT_MISSING_BYTES = len(', "auditMissing": true')  # 22: what the flag adds to a result
ENVELOPE_BYTES = 1024  # executionName, firstIndex, counts and the brackets
MAX_OUTPUT_BYTES = 140 * 1024
RAW_USER_ID_BUDGET = 48  # escaped bytes of an invalid user id a result echoes
assert MAX_ITEMS_PER_BATCH * (MAX_RESULT_BYTES + AUDIT_MISSING_BYTES) + ENVELOPE_BYTES <= MAX_OUTPUT_BYTES


class BatchItem(BaseModel):
    """One item of a batch, as the Map's ItemSelector shapes it."""

    index: int = Field(ge=0, le=LINE_MAX)
    row: Any


class BatchInput(BaseModel):
    """The ItemBatcher's BatchInput: the same for every batch of a run."""

    model_config = ConfigDict(populate_by_name=True)

    execution_name: str = Field(alias="executionName", min_length=1, max_length=80)
    source_key: str = Field(alias="sourceKey", default="")
    source_bucket: str = Field(alias="sourceBucket", default="")
    execution_start_time: str | None = Field(alias="executionStartTime", default=None)


class Failure(BaseModel):
    """What a Catch puts at ``$.Failure``: the error name and its cause."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: str = Field(alias="Error", default="States.TaskFailed")
    cause: str = Field(alias="Cause", default="")

    def message(self, limit: int = 200) -> str:
        """The cause in one line: a Lambda error's ``errorMessage`` (its Cause is the
        runtime's JSON with a stack trace), else the first line of the text."""
        text = self.cause
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            text = parsed["errorMessage"]
        first = text.strip().splitlines()[0] if text.strip() else self.error
        return first if len(first) <= limit else first[: limit - 1] + "…"


class WorkerEvent(BaseModel):
    """``{"Items": [...], "BatchInput": {...}}`` as defined by AWS, and ``Failure`` in reconcile mode."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[BatchItem] = Field(alias="Items", min_length=1, max_length=MAX_ITEMS_PER_BATCH)
    batch_input: BatchInput = Field(alias="BatchInput")
    failure: Failure | None = Field(alias="Failure", default=None)


@dataclass(slots=True)  # not frozen: built once per row on the hot path (frozen __init__ costs ~2x)
class ItemResult:
    """The outcome of one row (docs/contracts.md, "Worker output")."""

    index: int
    line: int
    status: RowStatus
    user_id: str | None = None  # a valid user id
    raw_user_id: str | None = None  # what the row said, when it is not a valid id
    old_login_count: int | None = None
    new_login_count: int | None = None
    old_post_count: int | None = None
    new_post_count: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    superseded_by: int | None = None
    # the row's audit item could not be written (DynamoDB refused it through ReconcileBatch,
    # the last attempt): the aggregator rewrites it from this result
    audit_missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        """camelCase, None fields left out, free text capped so the result fits ``MAX_RESULT_BYTES``
        (and the ``auditMissing`` flag after it)."""
        pairs = (
            ("index", self.index),
            ("line", self.line),
            ("userId", self.user_id),
            ("rawUserId", None if self.raw_user_id is None else cap_escaped(self.raw_user_id, RAW_USER_ID_BUDGET)),
            ("status", self.status.value),
            ("oldLoginCount", self.old_login_count),
            ("newLoginCount", self.new_login_count),
            ("oldPostCount", self.old_post_count),
            ("newPostCount", self.new_post_count),
            ("errorType", self.error_type),
            ("errorMessage", self.error_message),
            ("supersededBy", self.superseded_by),
        )
        out: dict[str, Any] = {k: v for k, v in pairs if v is not None}
        if self.error_message is not None:
            out["errorMessage"] = ""
            room = MAX_RESULT_BYTES - 2 - len(json.dumps(out))
            out["errorMessage"] = cap_escaped(self.error_message, max(room, 0))
        if self.audit_missing:
            out["auditMissing"] = True
        return out


@dataclass(frozen=True, slots=True)
class BatchCounts:
    total: int
    applied: int
    failed: int
    superseded: int = 0
    skipped: int = 0
    audit_missing: int = 0  # results with auditMissing (whatever their status)

    @classmethod
    def of(cls, results: list[ItemResult]) -> BatchCounts:
        by = {status: 0 for status in RowStatus}
        for result in results:
            by[result.status] += 1
        return cls(
            total=len(results),
            applied=by[RowStatus.APPLIED],
            failed=by[RowStatus.FAILED],
            superseded=by[RowStatus.SUPERSEDED],
            skipped=by[RowStatus.SKIPPED],
            audit_missing=sum(1 for result in results if result.audit_missing),
        )

    def to_dict(self) -> dict[str, int]:
        """The counts; ``auditMissing`` only when some audit item could not be written."""
        counts = {
            "total": self.total,
            "applied": self.applied,
            "failed": self.failed,
            "superseded": self.superseded,
            "skipped": self.skipped,
        }
        if self.audit_missing:
            counts["auditMissing"] = self.audit_missing
        return counts


@dataclass(frozen=True, slots=True)
class WorkerOutput:
    execution_name: str
    first_index: int
    counts: BatchCounts
    results: list[ItemResult]
    # the results as ``ItemResult.to_dict`` shaped them, when the maker already did (the worker
    # serialises each batch's results once, for the audit items and for its answer)
    dicts: list[dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    def result_dicts(self) -> list[dict[str, Any]]:
        return self.dicts if self.dicts is not None else [r.to_dict() for r in self.results]

    def to_payload(self, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The JSON-ready dict the handler returns (``results``: ``result_dicts()`` already made)."""
        return {
            "executionName": cap_escaped(self.execution_name, 480),
            "firstIndex": self.first_index,
            "counts": self.counts.to_dict(),
            "results": self.result_dicts() if results is None else results,
        }
