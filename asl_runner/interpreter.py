"""Executes a parsed ASL definition (JSONPath mode) on one machine.

States: Task (``lambda:invoke`` with Payload, a bare function ARN, ``sns:publish``),
Pass, Choice, Wait (no real sleep: ``RunOptions.sleep`` receives the delay),
Succeed, Fail, Parallel, Map (INLINE and DISTRIBUTED, see ``distributed_map``).
Input/output processing: InputPath, Parameters, ResultSelector, ResultPath,
OutputPath, the context object and intrinsic functions. Retry (backoff,
MaxDelaySeconds, jitter computed but not slept) and Catch.

AWS's limits hold (``limits``): 256 KiB for the execution input and every state's
effective input and output (``States.DataLimitExceeded``), 25,000 history events
for a Standard execution, Error and Cause lengths. The definition is linted before
a run starts; anything the runner would otherwise ignore stops it, naming state and field.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .distributed_map import DistributedMapRun, MapEnvironment, max_concurrency
from .errors import DefinitionError, StatesError, matches, runtime_error
from .limits import HISTORY_EVENT_LIMIT, History, check_payload
from .lint import lint
from .model import (
    LAMBDA_INVOKE,
    SNS_PUBLISH,
    Choice,
    Definition,
    Fail,
    Machine,
    Map,
    Parallel,
    Pass,
    ResultState,
    Succeed,
    Task,
    Wait,
    parse,
)
from .paths import JSON, apply_input_path, read_path, write_path
from .redrive import Checkpoint, MapRunCheckpoint, NotRedrivable, Visit
from .services import Services
from .templates import render

Context = dict[str, Any]


@dataclass
class RunOptions:
    """Knobs of a run. ``sleep`` receives every Retry/Wait delay (not slept by default)."""

    sleep: Callable[[float], None] = lambda seconds: None
    local_max_threads: int = 64  # a thread pool of 10,000 helps nobody on one machine
    on_batch_done: Callable[[int, bool], None] | None = None  # (items in the batch, succeeded?)
    on_items_read: Callable[[int], None] | None = None
    rng: random.Random = field(default_factory=random.Random)
    region: str = "us-east-1"
    account: str = "123456789012"
    history_limit: int | None = HISTORY_EVENT_LIMIT  # None: no limit (an Express execution)


@dataclass
class ExecutionResult:
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    execution_arn: str = ""
    map_runs: list[dict[str, Any]] = field(default_factory=list)
    retries: list[dict[str, Any]] = field(default_factory=list)
    history_events: int = 0
    checkpoint: Checkpoint | None = None  # what a redrive of this execution needs (``Execution.redrive``)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prepare(definition: JSON | Definition) -> Definition:
    """The typed definition, after the lint; ``DefinitionError`` lists every problem."""
    if isinstance(definition, Definition):
        return definition
    problems = lint(definition, runnable=True)
    if problems:
        raise DefinitionError(problems)
    return parse(definition)


class Execution:
    def __init__(
        self,
        definition: JSON | Definition,
        services: Services,
        *,
        name: str | None = None,
        state_machine_name: str = "local",
        options: RunOptions | None = None,
    ) -> None:
        self.definition = prepare(definition)
        self.services = services
        self.options = options or RunOptions()
        self.name = name or str(uuid.uuid4())
        region, account = self.options.region, self.options.account
        self.state_machine_name = state_machine_name
        self.state_machine_arn = f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
        self.arn = f"arn:aws:states:{region}:{account}:execution:{state_machine_name}:{self.name}"
        self.map_runs: list[dict[str, Any]] = []
        self.retries: list[dict[str, Any]] = []
        self.previous: Checkpoint | None = None
        self.map_checkpoints: dict[str, MapRunCheckpoint] = {}
        self._continued: set[str] = set()
        self._lock = threading.Lock()

    def run(self, input: JSON) -> ExecutionResult:
        return self._run(input, self._context(input, now_iso(), 0, None), journal=[])

    def redrive(self, checkpoint: Checkpoint) -> ExecutionResult:
        """Continue a FAILED (TIMED_OUT, ABORTED) execution from its first unsuccessful state,
        with that state's input; ``NotRedrivable`` when it cannot be (see ``asl_runner.redrive``)."""
        position, visit = checkpoint.restart_point()
        if visit.state not in self.definition.States:
            raise NotRedrivable(f"the checkpoint restarts at state {visit.state!r}, which the definition does not have")
        if checkpoint.name != self.name or checkpoint.state_machine_name != self.state_machine_name:
            raise NotRedrivable(
                f"the checkpoint is of execution {checkpoint.state_machine_name}:{checkpoint.name}, "
                f"not {self.state_machine_name}:{self.name}"
            )
        self.previous = checkpoint
        context = self._context(checkpoint.input, checkpoint.start_time, checkpoint.redrive_count + 1, now_iso())
        return self._run(
            checkpoint.input,
            context,
            journal=list(checkpoint.visits[:position]),
            start_at=(visit.state, visit.input),
            history_base=checkpoint.history_events,
        )

    def _context(self, input: JSON, start_time: str, redrive_count: int, redrive_time: str | None) -> Context:
        execution: dict[str, Any] = {
            "Id": self.arn,
            "Input": input,
            "Name": self.name,
            "RoleArn": f"arn:aws:iam::{self.options.account}:role/local",
            "StartTime": start_time,
            "RedriveCount": redrive_count,
        }
        if redrive_time is not None:
            execution["RedriveTime"] = redrive_time
        return {
            "Execution": execution,
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
        }

    def _run(
        self,
        input: JSON,
        context: Context,
        *,
        journal: list[Visit],
        start_at: tuple[str, JSON] | None = None,
        history_base: int = 0,
    ) -> ExecutionResult:
        history = History(self.options.history_limit)
        history.events = history_base
        try:
            check_payload(input, "the execution input")
            # ExecutionStarted (or ExecutionRedriven), ExecutionSucceeded/Failed
            history.add(2, "(execution)" if start_at is None else "(redrive)")
            state, state_input = start_at or (None, input)
            output = MachineRun(self, history, top=True).run(
                self.definition, state_input, context, journal=journal, start_at=state
            )
            check_payload(output, "the execution output")
            result = ExecutionResult("SUCCEEDED", output=output)
        except StatesError as err:
            result = ExecutionResult("FAILED", error=err.error, cause=err.cause)
        result.execution_arn, result.map_runs, result.retries = self.arn, self.map_runs, self.retries
        result.history_events = history.events
        result.checkpoint = Checkpoint(
            name=self.name,
            state_machine_name=self.state_machine_name,
            input=input,
            start_time=context["Execution"]["StartTime"],
            status=result.status,
            error=result.error,
            cause=result.cause,
            redrive_count=context["Execution"]["RedriveCount"],
            redrive_time=context["Execution"].get("RedriveTime"),
            history_events=history.events,
            visits=journal,
            map_runs={**(self.previous.map_runs if self.previous else {}), **self.map_checkpoints},
        )
        return result

    def previous_map_run(self, state: str) -> MapRunCheckpoint | None:
        """The map run a redrive continues, handed out once (a later visit of the state, or a
        Retry of it, starts a map run afresh)."""
        with self._lock:
            if self.previous is None or state in self._continued:
                return None
            self._continued.add(state)
            return self.previous.map_runs.get(state)

    def record_map_checkpoint(self, state: str, checkpoint: MapRunCheckpoint) -> None:
        with self._lock:
            self.map_checkpoints[state] = checkpoint

    def record_retry(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.retries.append(entry)

    def record_map_run(self, stats: dict[str, Any]) -> None:
        with self._lock:
            self.map_runs.append(stats)

    def run_child(self, processor: Machine, child_input: JSON, context: Context, execution_type: str) -> JSON:
        """A child execution of a Distributed Map: its own history (none for Express)."""
        history = History(self.options.history_limit if execution_type == "STANDARD" else None)
        history.add(2, "(child execution)")
        return MachineRun(self, history).run(processor, child_input, context)


class MachineRun:
    """Runs the states of one execution's history (a machine and its branches)."""

    def __init__(self, execution: Execution, history: History, top: bool = False) -> None:
        self.execution = execution
        self.options = execution.options
        self.services = execution.services
        self.history = history
        self.top = top  # the execution's own machine (and its Parallel branches), not a map's child

    def run(
        self,
        machine: Machine,
        data: JSON,
        context: Context,
        *,
        journal: list[Visit] | None = None,
        start_at: str | None = None,
    ) -> JSON:
        """Run ``machine`` from ``start_at`` (default StartAt). With a ``journal``, every state
        entered is appended to it, marked exited once it left for its next state or ended the
        machine. A state whose error a Catch handled has exited, as on AWS (its history reads
        ``MapStateFailed, MapStateExited, <next>Entered``): see ``asl_runner.redrive``."""
        name = start_at or machine.StartAt
        while True:
            state = machine.States[name]
            self.history.add(2, name)  # StateEntered, StateExited
            if journal is not None:
                journal.append(Visit(state=name, input=data))
            ctx = {**context, "State": {"EnteredTime": now_iso(), "Name": name, "RetryCount": 0}}
            data, following, _caught = self._step(state, name, data, ctx)
            check_payload(data, f"the output of state {name!r}")
            if journal is not None:
                journal[-1] = journal[-1].model_copy(update={"exited": True})
            if following is None:
                return data
            name = following

    def _step(self, state: Any, name: str, data: JSON, ctx: Context) -> tuple[JSON, str | None, bool]:
        """(output, next state or None at the end, whether a Catch handled an error)."""
        if isinstance(state, Succeed):
            return apply_input_path(state.OutputPath, apply_input_path(state.InputPath, data, ctx), ctx), None, False
        if isinstance(state, Fail):
            raise self._failure(state, data, ctx)
        if isinstance(state, Choice):
            effective = apply_input_path(state.InputPath, data, ctx)
            return apply_input_path(state.OutputPath, effective, ctx), self._choose(state, effective, ctx, name), False
        if isinstance(state, Wait):
            effective = apply_input_path(state.InputPath, data, ctx)
            self.options.sleep(_wait_seconds(state, effective, ctx))
            return apply_input_path(state.OutputPath, effective, ctx), state.Next, False
        if isinstance(state, Pass):
            return self._pass(state, name, data, ctx), state.Next, False
        return self._retriable(state, name, data, ctx)

    @staticmethod
    def _failure(state: Fail, data: JSON, ctx: Context) -> StatesError:
        error = read_path(state.ErrorPath, data, ctx) if state.ErrorPath else state.Error or "States.Fail"
        cause = read_path(state.CausePath, data, ctx) if state.CausePath else state.Cause or ""
        return StatesError(str(error), str(cause))

    def _pass(self, state: Pass, name: str, data: JSON, ctx: Context) -> JSON:
        effective = apply_input_path(state.InputPath, data, ctx)
        if state.Parameters is not None:
            result = render(state.Parameters, effective, ctx)
            check_payload(result, f"the input of state {name!r}")
        else:
            result = state.Result if state.has("Result") else effective
        combined = write_path(state.ResultPath, data, result)
        return apply_input_path(state.OutputPath, combined, ctx)

    def _retriable(self, state: ResultState, name: str, data: JSON, ctx: Context) -> tuple[JSON, str | None, bool]:
        """Task, Parallel, Map: Retry, then Catch."""
        try:
            result = self._with_retry(state, name, data, ctx)
        except StatesError as err:
            catcher = next((c for c in state.Catch if matches(c.ErrorEquals, err)), None)
            if catcher is None:
                raise
            return write_path(catcher.ResultPath, data, {"Error": err.error, "Cause": err.cause}), catcher.Next, True
        if state.ResultSelector is not None:
            result = render(state.ResultSelector, result, ctx)
        combined = write_path(state.ResultPath, data, result)
        return apply_input_path(state.OutputPath, combined, ctx), state.Next, False

    def _with_retry(self, state: ResultState, name: str, data: JSON, ctx: Context) -> JSON:
        attempts = [0] * len(state.Retry)
        while True:
            try:
                return self._execute(state, name, data, ctx)
            except StatesError as err:
                index = next((i for i, r in enumerate(state.Retry) if matches(r.ErrorEquals, err)), None)
                if index is None or attempts[index] >= state.Retry[index].MaxAttempts:
                    raise
                retrier = state.Retry[index]
                delay = retrier.IntervalSeconds * retrier.BackoffRate ** attempts[index]
                if retrier.MaxDelaySeconds is not None:
                    delay = min(delay, retrier.MaxDelaySeconds)
                if retrier.JitterStrategy == "FULL":
                    delay = self.options.rng.uniform(0, delay)
                attempts[index] += 1
                self.execution.record_retry(
                    {"state": name, "error": err.error, "attempt": attempts[index], "delay": delay}
                )
                self.options.sleep(delay)
                ctx = {**ctx, "State": {**ctx["State"], "RetryCount": sum(attempts)}}

    def _execute(self, state: ResultState, name: str, data: JSON, ctx: Context) -> JSON:
        effective = apply_input_path(state.InputPath, data, ctx)
        if isinstance(state, Map):
            check_payload(effective, f"the input of state {name!r}")
            return self._map(state, name, effective, ctx)
        parameters = render(state.Parameters, effective, ctx) if state.Parameters is not None else effective
        check_payload(parameters, f"the input of state {name!r}")
        if isinstance(state, Task):
            return self._task(state, name, parameters)
        assert isinstance(state, Parallel)
        self.history.add(2, name)  # ParallelStateStarted, ParallelStateSucceeded
        with ThreadPoolExecutor(max_workers=len(state.Branches)) as pool:
            futures = [pool.submit(self.run, branch, parameters, ctx) for branch in state.Branches]
            return [f.result() for f in futures]

    def _task(self, state: Task, name: str, parameters: JSON) -> JSON:
        self.history.add(3, name)  # TaskScheduled, TaskStarted, TaskSucceeded/Failed
        started = time.monotonic()
        result = self._call(state.Resource, parameters)
        if state.TimeoutSeconds is not None and time.monotonic() - started > state.TimeoutSeconds:
            raise StatesError("States.Timeout", f"{name} ran longer than TimeoutSeconds={state.TimeoutSeconds}")
        check_payload(result, f"the result of state {name!r}")
        return result

    def _call(self, resource: str, parameters: JSON) -> JSON:
        if resource == LAMBDA_INVOKE:
            if not isinstance(parameters, dict) or "FunctionName" not in parameters:
                raise runtime_error("lambda:invoke needs Parameters.FunctionName")
            payload = self.services.invoke_function(parameters["FunctionName"], parameters.get("Payload", {}))
            return {
                "ExecutedVersion": "$LATEST",
                "Payload": payload,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": str(uuid.uuid4())},
                "StatusCode": 200,
            }
        if resource == SNS_PUBLISH:
            return self.services.publish(parameters)
        return self.services.invoke_function(resource, parameters)

    def _map(self, state: Map, name: str, effective: JSON, ctx: Context) -> JSON:
        if state.distributed:
            self.history.add(2, name)  # MapRunStarted, MapRunSucceeded
            environment = MapEnvironment(
                services=self.services,
                run_child=self.execution.run_child,
                state_machine_arn=self.execution.state_machine_arn,
                state_machine_name=self.execution.state_machine_name,
                region=self.options.region,
                account=self.options.account,
                max_threads=self.options.local_max_threads,
                on_batch_done=self.options.on_batch_done,
                on_items_read=self.options.on_items_read,
            )
            previous = self.execution.previous_map_run(name) if self.top else None
            map_run = DistributedMapRun(environment, state, name, effective, ctx, previous=previous)
            try:
                return map_run.run()
            finally:
                self.execution.record_map_run(map_run.stats)
                if self.top:
                    self.execution.record_map_checkpoint(name, map_run.checkpoint())
        return self._inline_map(state, name, effective, ctx)

    def _inline_map(self, state: Map, name: str, effective: JSON, ctx: Context) -> list[JSON]:
        items = read_path(state.ItemsPath, effective, ctx)
        if not isinstance(items, list):
            raise runtime_error(f"ItemsPath {state.ItemsPath!r} did not select an array")
        limit = max_concurrency(state, effective, ctx, self.options.local_max_threads)
        self.history.add(2 + 2 * len(items), name)  # MapStateStarted/Succeeded, MapIterationStarted/Succeeded

        def one(index_item: tuple[int, JSON]) -> JSON:
            index, item = index_item
            if state.selector is not None:
                item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
                item = render(state.selector, effective, item_ctx)
            return self.run(state.processor, item, ctx)

        with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items) or 1))) as pool:
            return list(pool.map(one, enumerate(items)))

    @staticmethod
    def _choose(state: Choice, data: JSON, ctx: Context, name: str) -> str:
        for branch in state.Choices:
            if branch.rule.evaluate(data, ctx):
                return branch.next
        if state.Default is not None:
            return state.Default
        raise StatesError("States.NoChoiceMatched", f"no Choice rule of {name} matched and there is no Default")


def _wait_seconds(state: Wait, data: JSON, ctx: Context) -> float:
    if state.Seconds is not None:
        return float(state.Seconds)
    if state.SecondsPath is not None:
        return float(read_path(state.SecondsPath, data, ctx))
    stamp = state.Timestamp or read_path(str(state.TimestampPath), data, ctx)
    moment = datetime.fromisoformat(str(stamp))
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
