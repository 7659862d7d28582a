"""Whether a redrive can mend a run, decided as Step Functions decides where a redrive restarts.

AWS, "Restarting state machine executions with redrive"
(https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html) and "Redriving Map
Runs" (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html): a redrive
restarts at the states that have a ``<stateType>Entered`` event and no ``<stateType>Exited``
event; a state whose error a Catch handled has exited; a Fail state "reenters the Fail state and
fails again". So a run that ended in one of this state machine's Fail states (a rejected file, or
rows whose error rate is above the tolerance, or result files that do not account for the file)
cannot be mended by a redrive, and ``csv-dmap redrive`` refuses it, saying why. A run whose map
(or any task) failed uncaught restarts there: the map reruns only its failed and pending batches.

No I/O here: the history comes from GetExecutionHistory (AWS) or the local runner's checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .run_status import REJECTION_ERRORS


@dataclass(frozen=True)
class RestartPoint:
    """The state a redrive would restart at, its type (``Task``, ``Map``, ``Fail``...) and the
    input it had (a JSON string, when the history carries it)."""

    state: str
    state_type: str
    input: str | None = None


# Events that close (newest first: open) and open (newest first: close) the states nested in an
# inline Map's iterations or a Parallel's branches: those states are not the execution's own.
_NESTED_END = frozenset(
    f"{kind}State{end}" for kind in ("Map", "Parallel") for end in ("Succeeded", "Failed", "Aborted")
)
_NESTED_START = frozenset({"MapStateStarted", "ParallelStateStarted"})


def restart_point(events_newest_first: Iterable[Mapping[str, Any]]) -> RestartPoint | None:
    """The most recent top-level state entered and never exited, from history events newest first
    (GetExecutionHistory with ``reverseOrder=True``); None when every state exited. States inside
    an inline Map's iterations or a Parallel's branches are skipped (a Fail state an iteration
    entered is the iteration's, not the execution's)."""
    exited: set[str] = set()
    depth = 0
    for event in events_newest_first:
        kind = str(event.get("type") or "")
        if kind in _NESTED_END:
            depth += 1
        elif kind in _NESTED_START:
            depth = max(0, depth - 1)
        if depth:
            continue
        if kind.endswith("StateExited"):
            name = (event.get("stateExitedEventDetails") or {}).get("name")
            if isinstance(name, str):
                exited.add(name)
        elif kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            name = details.get("name")
            if isinstance(name, str) and name not in exited:
                return RestartPoint(name, kind[: -len("StateEntered")], details.get("input"))
    return None


def redrive_blocker(execution: str, status: str, error: str | None, point: RestartPoint | None) -> str | None:
    """Why a redrive could not change how ``execution`` ends (one line), or None when it could."""
    if status == "SUCCEEDED":
        return f"execution {execution} ended SUCCEEDED and cannot be redriven"
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return f"execution {execution} is still running"
    if point is None:
        return f"execution {execution} has no state that did not complete: a redrive would run nothing"
    if point.state_type != "Fail":
        return None
    if error in REJECTION_ERRORS:
        return (
            f"execution {execution} rejected its file ({error}): a redrive would read the same file; "
            "fix the file and upload it again"
        )
    return (
        f"execution {execution} ended in its Fail state {point.state} ({error or 'no error'}), which a redrive "
        "re-enters and fails again: every batch ran, and the outcome comes from the rows themselves; "
        "fix the rows (csv-dmap failures) and upload them again"
    )
