"""The CloudFormation custom-resource protocol (used by functions/schema_migrator), minimally: parse the request,
run an action within the Lambda's time, and ALWAYS answer with a PUT of the
response object to the pre-signed ``ResponseURL``.

AWS's documented contract (CloudFormation User Guide, "Custom resource
request objects" and "Custom resource response objects"): the body is JSON
with Status SUCCESS|FAILED, Reason (required when FAILED), PhysicalResourceId,
StackId, RequestId, LogicalResourceId, optional NoEcho and Data; at most
4,096 bytes; sent with an empty Content-Type. A function that never answers
leaves the stack waiting up to an hour, so even a timeout answers FAILED.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

REASON_MAX = 1_000  # characters at most; and the whole response stays within RESPONSE_MAX_BYTES
RESPONSE_MAX_BYTES = 4_096
SAFETY_SECONDS = 10.0  # answer this long before Lambda's timeout
PUT_ATTEMPTS = 3


class Request(BaseModel):
    """The fields of a custom-resource request that the response echoes or uses."""

    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: str
    StackId: str
    RequestId: str
    LogicalResourceId: str
    ResourceType: str = "Custom::Resource"
    PhysicalResourceId: str | None = None
    ResourceProperties: dict[str, Any] = {}


class Context(Protocol):
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass
class Outcome:
    status: Literal["SUCCESS", "FAILED"]
    reason: str = ""
    data: dict[str, str] = field(default_factory=dict)


Action = Callable[[Request], Mapping[str, str]]


def response_body(request: Request, outcome: Outcome, physical_id: str) -> bytes:
    """The JSON response; the Reason is shortened (with "…") until the whole fits in 4,096 bytes."""
    reason = outcome.reason if len(outcome.reason) <= REASON_MAX else outcome.reason[: REASON_MAX - 1] + "…"
    body = _body(request, outcome, physical_id, reason)
    if len(body) <= RESPONSE_MAX_BYTES:
        return body
    low, high = 0, len(reason)  # the longest prefix that fits (escaping makes bytes per character vary)
    while low < high:
        mid = (low + high + 1) // 2
        if len(_body(request, outcome, physical_id, reason[:mid] + "…")) <= RESPONSE_MAX_BYTES:
            low = mid
        else:
            high = mid - 1
    return _body(request, outcome, physical_id, reason[:low] + "…")


def _body(request: Request, outcome: Outcome, physical_id: str, reason: str) -> bytes:
    body = {
        "Status": outcome.status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": request.StackId,
        "RequestId": request.RequestId,
        "LogicalResourceId": request.LogicalResourceId,
        "NoEcho": False,
        "Data": outcome.data,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def send(url: str, body: bytes, *, attempts: int = PUT_ATTEMPTS, pause: float = 1.0) -> int:
    """PUT the response; retried, since a lost answer hangs the stack. Returns the HTTP status."""
    last: Exception | None = None
    for attempt in range(attempts):
        req = urllib.request.Request(
            url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return int(resp.status)
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(pause * (attempt + 1))
    raise ConnectionError(f"could not deliver the response to CloudFormation after {attempts} attempts: {last}")


def _run_with_deadline(action: Action, request: Request, seconds: float) -> Outcome:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["data"] = dict(action(request))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable FAILED
            result["error"] = exc

    worker = threading.Thread(target=target, name="custom-resource-action", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        return Outcome("FAILED", f"{request.RequestType} did not finish within {seconds:.0f} s (the Lambda's time)")
    if "error" in result:
        exc = result["error"]
        return Outcome("FAILED", f"{type(exc).__name__}: {exc}")
    return Outcome("SUCCESS", "", {k: str(v) for k, v in result["data"].items()})


def handle(
    event: Mapping[str, Any],
    context: Context,
    *,
    on_create_or_update: Action,
    physical_id: Callable[[Request], str],
    log: Callable[[str, dict[str, Any]], None] = lambda msg, extra: None,
) -> Outcome:
    """Run ``on_create_or_update`` for Create and Update; Delete does nothing
    (the schema and its data outlive the stack's custom resource). Answer
    CloudFormation in every case, and return what was answered."""
    request = Request.model_validate(event)
    pid = request.PhysicalResourceId or physical_id(request)
    if request.RequestType == "Delete":
        outcome = Outcome("SUCCESS", "nothing to do on Delete: the database and its data are kept")
    else:
        budget = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
        outcome = _run_with_deadline(on_create_or_update, request, budget)
        if outcome.status == "FAILED":
            outcome.reason += f" (log stream {context.log_stream_name})"
    log("answering CloudFormation", {"status": outcome.status, "reason": outcome.reason, "data": outcome.data})
    send(request.ResponseURL, response_body(request, outcome, pid))
    return outcome
