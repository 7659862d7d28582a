"""The state-level events of an execution's history, as Step Functions records them.

``EventLog`` numbers every event it is given (ids from 1, as ``GetExecutionHistory`` does: AWS's
causes name them, "... (entered at the event id #2) ..."), and keeps the events themselves only
when asked (``RunOptions.record_events``): numbering costs one locked increment per event.

The event types are AWS's (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html):
``ExecutionStarted``, ``<Type>StateEntered`` / ``<Type>StateExited`` for every state type (a Fail
state only enters), ``TaskScheduled`` / ``TaskStarted`` / ``TaskSucceeded`` | ``TaskFailed`` for an
optimised integration (``arn:aws:states:::lambda:invoke``), ``LambdaFunctionScheduled`` /
``LambdaFunctionStarted`` / ``LambdaFunctionSucceeded`` | ``LambdaFunctionFailed`` for a bare Lambda
ARN, ``ParallelStateStarted`` / ``ParallelStateSucceeded`` | ``ParallelStateFailed``,
``MapStateStarted`` / ``MapIterationStarted`` / ``MapIterationSucceeded`` | ``MapIterationFailed`` |
``MapIterationAborted`` / ``MapStateSucceeded`` | ``MapStateFailed``, ``MapRunStarted`` /
``MapRunSucceeded`` | ``MapRunFailed`` for a Distributed Map, ``ExecutionSucceeded`` |
``ExecutionFailed``.

The 25,000-event limit is counted by ``limits.History``, which does not depend on this log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

# Where an event happened: () for the execution's own states, else one step per enclosing
# Parallel branch (state, branch index) or inline Map iteration (state, item index).
Branch = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    name: str | None = None  # the state (StateEntered/StateExited) or the Map (iteration events)
    index: int | None = None  # the item of a Map iteration event
    error: str | None = None
    cause: str | None = None
    branch: Branch = ()

    def label(self) -> str:
        """``Type``, ``Type:state`` or ``Type:map#index``, as a conformance test compares them."""
        if self.name is None:
            return self.type
        return f"{self.type}:{self.name}" + ("" if self.index is None else f"#{self.index}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("name", "index", "error", "cause"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.branch:
            out["branch"] = [list(step) for step in self.branch]
        return out


class EventLog:
    """Numbers an execution's events (thread-safe) and keeps them when ``keep``."""

    def __init__(self, keep: bool = False, last_id: int = 0) -> None:
        self.keep = keep
        self.last_id = last_id
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(
        self,
        type: str,
        name: str | None = None,
        *,
        index: int | None = None,
        error: str | None = None,
        cause: str | None = None,
        branch: Branch = (),
    ) -> int:
        """Record one event; returns its id."""
        with self._lock:
            self.last_id += 1
            if self.keep:
                self.events.append(Event(self.last_id, type, name, index, error, cause, branch))
            return self.last_id
