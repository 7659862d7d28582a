"""What an execution leaves behind so that it can be redriven, as Step Functions'
``RedriveExecution`` does (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html):

- "it continues the failed execution from the unsuccessful step and uses the same input";
  the steps that succeeded are not run again. A state is unsuccessful when it was entered and
  never exited (AWS: no ``<stateType>Exited`` event for its ``<stateType>Entered`` event,
  https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html). A state whose
  error a Catch handled *has* exited: the history AWS records for a caught Map reads
  ``MapStateFailed, MapStateExited, PassStateEntered`` (LocalStack's snapshot test
  ``test_map_state_catch``, recorded against AWS). The redrive restarts at the first state
  entered and not exited, with the input it had then. When that is a Fail state, the redrive
  "reenters the Fail state and fails again" (AWS, "Restarting state machine executions with
  redrive"): a run whose failure was caught cannot be mended by a redrive.
- A Distributed Map that is redriven keeps its Map Run (same ARN) and runs again only the child
  executions that did not succeed: failed ones and those never started (pending). The records of
  the children that succeeded are carried into the new ResultWriter files from the previous
  attempt's, so the manifest again covers every child once.
- ``$$.Execution.StartTime`` stays the original start; ``$$.Execution.RedriveCount`` counts the
  redrives and ``$$.Execution.RedriveTime`` is the last redrive's time. History events add up
  across attempts (the 25,000-event limit is the execution's, not the attempt's).
- A SUCCEEDED execution cannot be redriven (``ExecutionNotRedrivable``).

Inline Map and Parallel states that are redriven run again whole (AWS reruns only their failed
iterations and branches): a limit of this runner, said here.

The checkpoint is plain JSON (``to_json`` / ``from_json``), so that a harness can keep it on disk
between the run and the redrive; the objects the map reads and wrote must then be where they
were (the harness's business).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .paths import JSON

REDRIVABLE_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


class NotRedrivable(Exception):
    """The execution cannot be redriven; the message says why (AWS: ExecutionNotRedrivable)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Visit(_Strict):
    """One top-level state, in the order entered: its input, and whether it exited."""

    state: str
    input: Any = None
    exited: bool = False


class Unit(_Strict):
    """A child execution of a Distributed Map: the index of its first item and how many items."""

    first: int = Field(ge=0)
    count: int = Field(ge=1)


class MapRunCheckpoint(_Strict):
    map_run_id: str
    map_run_arn: str
    succeeded: list[Unit] = Field(default_factory=list)
    manifest: dict[str, str] | None = None  # {"Bucket", "Key"} of the ResultWriter manifest, once written
    outputs: dict[int, Any] = Field(default_factory=dict)  # without a ResultWriter: first index -> output
    redrive_count: int = 0
    source: dict[str, Any] | None = None  # what the children were cut from: reader parameters, batch limits


class Checkpoint(_Strict):
    name: str
    state_machine_name: str
    input: Any = None
    start_time: str
    status: str
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0
    redrive_time: str | None = None
    history_events: int = 0
    last_event_id: int = 0  # the id of the attempt's last history event: a redrive numbers on from it
    visits: list[Visit] = Field(default_factory=list)
    map_runs: dict[str, MapRunCheckpoint] = Field(default_factory=dict)

    def restart_point(self) -> tuple[int, Visit]:
        """(position, visit) of the state a redrive starts at; ``NotRedrivable`` when none."""
        if self.status not in REDRIVABLE_STATUSES:
            raise NotRedrivable(f"execution {self.name} is {self.status} and cannot be redriven")
        for position, visit in enumerate(self.visits):
            if not visit.exited:
                return position, visit
        raise NotRedrivable(f"execution {self.name} has no state that did not complete: nothing to redrive")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: JSON) -> Checkpoint:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top)"
            raise NotRedrivable(f"not an execution checkpoint: {where}: {first['msg']}") from None
