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

import base64
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from .choice import timestamp
from .distributed_map import DistributedMapRun, MapEnvironment, max_concurrency
from .errors import DefinitionError, ExecutionTimedOut, StatesError, located, matches, runtime_error
from .events import Branch, Event, EventLog
from .limits import HISTORY_EVENT_LIMIT, History, check_payload, check_result
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
from .paths import (
    JSON,
    PathNotFound,
    apply_input_path,
    not_found_for_field,
    path_integer,
    read_path,
    write_path,
)
from .redrive import Checkpoint, MapRunCheckpoint, NotRedrivable, Visit
from .services import Services
from .templates import evaluate_expression, render

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
    record_events: bool = False  # keep the execution's history events in ExecutionResult.events
    clock: Callable[[], float] = time.monotonic  # seconds, for TimeoutSeconds (of a task, of the execution)


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
    events: list[Event] = field(default_factory=list)  # with RunOptions.record_events: this attempt's history

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
        self.started = self.options.clock()
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
        log = EventLog(self.options.record_events, self.previous.last_event_id if self.previous else 0)
        log.emit("ExecutionStarted" if start_at is None else "ExecutionRedriven")
        try:
            check_payload(input, "the execution input")
            # ExecutionStarted (or ExecutionRedriven), ExecutionSucceeded/Failed
            history.add(2, "(execution)" if start_at is None else "(redrive)")
            state, state_input = start_at or (None, input)
            output = MachineRun(self, history, log, top=True).run(
                self.definition, state_input, context, journal=journal, start_at=state
            )
            check_payload(output, "the execution output")
            result = ExecutionResult("SUCCEEDED", output=output)
            log.emit("ExecutionSucceeded")
        except ExecutionTimedOut:
            result = ExecutionResult("TIMED_OUT", error="States.Timeout")
            log.emit("ExecutionTimedOut", error=result.error)
        except StatesError as err:
            result = ExecutionResult("FAILED", error=err.error or None, cause=err.cause or None)
            log.emit("ExecutionFailed", error=result.error, cause=result.cause)
        result.execution_arn, result.map_runs, result.retries = self.arn, self.map_runs, self.retries
        result.history_events = history.events
        result.events = log.events
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
            last_event_id=log.last_id,
            visits=journal,
            map_runs={**(self.previous.map_runs if self.previous else {}), **self.map_checkpoints},
        )
        return result

    def check_timeout(self) -> None:
        """The definition's TimeoutSeconds: the execution ends TIMED_OUT once it ran longer."""
        limit = self.definition.TimeoutSeconds
        if limit is not None and self.options.clock() - self.started > limit:
            raise ExecutionTimedOut()

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
        log = EventLog()
        log.emit("ExecutionStarted")
        return MachineRun(self, history, log).run(processor, child_input, context)


class MachineRun:
    """Runs the states of one execution's history (a machine, its Parallel branches and inline
    Map iterations, each a ``branch`` of it)."""

    def __init__(
        self, execution: Execution, history: History, log: EventLog, top: bool = False, branch: Branch = ()
    ) -> None:
        self.execution = execution
        self.options = execution.options
        self.services = execution.services
        self.history = history
        self.log = log
        self.top = top  # the execution's own machine (and its Parallel branches), not a map's child
        self.branch = branch
        self.failure_event: str | None = None  # what a Parallel or Map state records when it fails for good

    def emit(self, type: str, name: str | None = None, **details: Any) -> int:
        return self.log.emit(type, name, branch=self.branch, **details)

    def within(self, state: str, index: int) -> MachineRun:
        """The run of a Parallel branch or an inline Map iteration of ``state``."""
        return MachineRun(self.execution, self.history, self.log, self.top, (*self.branch, (state, index)))

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
            entered = self.emit(f"{state.Type}StateEntered", name)
            if journal is not None:
                journal.append(Visit(state=name, input=data))
            # RetryCount only where there is a Retry to count (what AWS gives a Pass state has none)
            retry = {"RetryCount": 0} if isinstance(state, ResultState) else {}
            ctx = {**context, "State": {"EnteredTime": now_iso(), "Name": name, **retry}}
            try:
                self.execution.check_timeout()
                data, following, _caught = self._step(state, name, data, ctx, entered)
                self.execution.check_timeout()
                check_result(data, name)
            except StatesError as err:
                raise located(err, name, entered) from None
            self.emit(f"{state.Type}StateExited", name)
            if journal is not None:
                journal[-1] = journal[-1].model_copy(update={"exited": True})
            if following is None:
                return data
            name = following

    def _step(self, state: Any, name: str, data: JSON, ctx: Context, entered: int) -> tuple[JSON, str | None, bool]:
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
        return self._retriable(state, name, data, ctx, entered)

    @staticmethod
    def _failure(state: Fail, data: JSON, ctx: Context) -> StatesError:
        """The Fail state's Error and Cause; ErrorPath and CausePath take a path or an intrinsic
        function. A Fail state without Error (Cause) fails the execution without one, as AWS does."""
        error = _field(state.ErrorPath, "ErrorPath", data, ctx) if state.ErrorPath else state.Error or ""
        cause = _field(state.CausePath, "CausePath", data, ctx) if state.CausePath else state.Cause or ""
        failure = StatesError(str(error), str(cause))
        failure.located = True  # the definition's own Error and Cause, whatever they say
        return failure

    def _pass(self, state: Pass, name: str, data: JSON, ctx: Context) -> JSON:
        effective = apply_input_path(state.InputPath, data, ctx)
        if state.Parameters is not None:
            result = render(state.Parameters, effective, ctx)
            check_payload(result, f"the input of state {name!r}")
        else:
            result = state.Result if state.has("Result") else effective
        combined = write_path(state.ResultPath, data, result)
        return apply_input_path(state.OutputPath, combined, ctx)

    def _retriable(
        self, state: ResultState, name: str, data: JSON, ctx: Context, entered: int
    ) -> tuple[JSON, str | None, bool]:
        """Task, Parallel, Map: Retry, then Catch."""
        try:
            result = self._with_retry(state, name, data, ctx, entered)
        except StatesError as err:
            catcher = next((c for c in state.Catch if matches(c.ErrorEquals, err)), None)
            if catcher is None:
                raise
            return write_path(catcher.ResultPath, data, {"Error": err.error, "Cause": err.cause}), catcher.Next, True
        if state.ResultSelector is not None:
            result = render(state.ResultSelector, result, ctx)
        combined = write_path(state.ResultPath, data, result)
        return apply_input_path(state.OutputPath, combined, ctx), state.Next, False

    def _with_retry(self, state: ResultState, name: str, data: JSON, ctx: Context, entered: int) -> JSON:
        attempts = [0] * len(state.Retry)
        while True:
            self.failure_event = None
            try:
                return self._execute(state, name, data, ctx)
            except StatesError as failure:
                err = located(failure, name, entered)
                index = next((i for i, r in enumerate(state.Retry) if matches(r.ErrorEquals, err)), None)
                if index is None or attempts[index] >= state.Retry[index].MaxAttempts:
                    # AWS records a Parallel's or Map's failure once it is not retried: a retry
                    # starts the state again (ParallelStateStarted, MapStateStarted) after the
                    # failed branch or iteration (recorded by AWS: test_parallel_state_retry,
                    # test_map_state_retry)
                    if self.failure_event is not None:
                        self.emit(self.failure_event)
                    raise err from None
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
            timeout = state.TimeoutSeconds
            if state.TimeoutSecondsPath is not None:
                timeout = path_integer("TimeoutSecondsPath", state.TimeoutSecondsPath, effective, ctx)
            return self._task(state, name, parameters, timeout)
        assert isinstance(state, Parallel)
        return self._parallel(state, name, parameters, ctx)

    def _parallel(self, state: Parallel, name: str, parameters: JSON, ctx: Context) -> list[JSON]:
        self.history.add(2, name)  # ParallelStateStarted, ParallelStateSucceeded
        self.emit("ParallelStateStarted")
        with ThreadPoolExecutor(max_workers=len(state.Branches)) as pool:
            futures = [
                pool.submit(self.within(name, i).run, branch, parameters, ctx)
                for i, branch in enumerate(state.Branches)
            ]
            outputs, error = _gather(futures)
        if error is not None:
            self.failure_event = "ParallelStateFailed"
            raise error
        self.emit("ParallelStateSucceeded")
        return outputs

    def _task(self, state: Task, name: str, parameters: JSON, timeout_seconds: int | None) -> JSON:
        self.history.add(3, name)  # TaskScheduled, TaskStarted, TaskSucceeded/Failed
        kind = "Task" if state.Resource in (LAMBDA_INVOKE, SNS_PUBLISH) else "LambdaFunction"
        self.emit(f"{kind}Scheduled")
        self.emit(f"{kind}Started")
        started = self.options.clock()
        try:
            result = self._call(state.Resource, parameters)
        except StatesError as err:
            self.emit(f"{kind}Failed", error=err.error, cause=err.cause)
            raise
        if timeout_seconds is not None and self.options.clock() - started > timeout_seconds:
            # no Cause: AWS gives none (recorded: test_timeouts.py::TestTimeouts::test_fixed_timeout_service_lambda,
            # test_task_service_lambda.py::TestTaskServiceLambda::test_invoke_timeout)
            timeout = StatesError("States.Timeout", "")
            self.emit(f"{kind}TimedOut", error=timeout.error)
            raise timeout
        try:
            check_result(result, _task_source(state.Resource))
        except StatesError as err:
            err.task_result = True  # a task's failure: States.ALL catches it (errors.matches)
            self.emit(f"{kind}Failed", error=err.error, cause=err.cause)
            raise
        self.emit(f"{kind}Succeeded")
        return result

    def _call(self, resource: str, parameters: JSON) -> JSON:
        if resource == LAMBDA_INVOKE:
            if not isinstance(parameters, dict) or "FunctionName" not in parameters:
                raise runtime_error("lambda:invoke needs Parameters.FunctionName")
            try:
                payload = self.services.invoke_function(parameters["FunctionName"], _lambda_event(parameters))
            except StatesError as err:
                raise _integration_error(err) from None
            return lambda_invoke_result(payload, tail=parameters.get("LogType") == "Tail")
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
                emit=self.emit,
            )
            previous = self.execution.previous_map_run(name) if self.top else None
            map_run = DistributedMapRun(environment, state, name, effective, ctx, previous=previous)
            try:
                output = map_run.run()
            except StatesError:
                # a failure of the map run fails the state; one of its settings, before the run started, does not
                self.failure_event = "MapStateFailed" if map_run.run_started else None
                raise
            finally:
                self.execution.record_map_run(map_run.stats)
                if self.top:
                    self.execution.record_map_checkpoint(name, map_run.checkpoint())
            self.emit("MapStateSucceeded")
            return output
        return self._inline_map(state, name, effective, ctx)

    def _inline_map(self, state: Map, name: str, effective: JSON, ctx: Context) -> list[JSON]:
        items = read_path(state.ItemsPath, effective, ctx)
        if not isinstance(items, list):
            raise runtime_error(f"ItemsPath {state.ItemsPath!r} did not select an array")
        limit = max_concurrency(state, effective, ctx, self.options.local_max_threads)
        self.history.add(2 + 2 * len(items), name)  # MapStateStarted/Succeeded, MapIterationStarted/Succeeded
        self.emit("MapStateStarted")
        failed = threading.Event()  # once an iteration failed, no other starts (AWS stops the Map)

        def one(index_item: tuple[int, JSON]) -> JSON:
            index, item = index_item
            if failed.is_set():
                return None
            self.emit("MapIterationStarted", name, index=index)
            try:
                if state.selector is not None:
                    item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
                    item = render(state.selector, effective, item_ctx)
                output = self.within(name, index).run(state.processor, item, ctx)
            except StatesError:
                failed.set()
                self.emit("MapIterationFailed", name, index=index)
                raise
            self.emit("MapIterationSucceeded", name, index=index)
            return output

        with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items) or 1))) as pool:
            outputs, error = _gather([pool.submit(one, pair) for pair in enumerate(items)])
        if error is not None:
            self.failure_event = "MapStateFailed"
            raise error
        self.emit("MapStateSucceeded")
        return outputs

    @staticmethod
    def _choose(state: Choice, data: JSON, ctx: Context, name: str) -> str:
        for branch in state.Choices:
            if branch.rule.evaluate(data, ctx):
                return branch.next
        if state.Default is not None:
            return state.Default
        raise StatesError("States.NoChoiceMatched", f"no Choice rule of {name} matched and there is no Default")


def _lambda_event(parameters: dict[str, Any]) -> JSON:
    """What a function called by ``lambda:invoke`` receives (recorded by AWS: LocalStack's snapshots
    ``test_lambda_task_service.py::TestTaskServiceLambda::test_invoke`` and ``test_invoke_json_values``):
    no Payload, or null, is no payload (the Python runtime gives the handler {}); a string is sent as
    it is, so it is the JSON text of the event ("0.0" is 0.0); anything else is sent as JSON."""
    payload = parameters.get("Payload")
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError as exc:
            # not recorded: what Lambda's Python runtime answers to a payload that is no JSON
            raise StatesError(
                "Runtime.UnmarshalError",
                json.dumps(
                    {"errorMessage": f"Unable to unmarshal input: {exc}", "errorType": "Runtime.UnmarshalError"}
                ),
            ) from None
    return payload


def lambda_invoke_result(payload: JSON, tail: bool = False) -> dict[str, Any]:
    """What ``arn:aws:states:::lambda:invoke`` returns for a function's response (recorded by AWS:
    LocalStack's snapshot ``test_context_object.py::TestSnfBase::test_result_selector``): the payload
    and the HTTP response of Lambda's Invoke, its Content-Length that of the payload as the Python
    runtime serialises it."""
    request_id = str(uuid.uuid4())
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(len(json.dumps(payload, ensure_ascii=False).encode())),
        "Content-Type": "application/json",
        "Date": formatdate(usegmt=True),
        "X-Amz-Executed-Version": "$LATEST",
        "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    log: dict[str, str] = {}
    if tail:  # LogType "Tail": the end of the invocation's log, base64 (what the runner has of it)
        lines = f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n"
        log = {"LogResult": base64.b64encode(lines.encode()).decode()}
        headers["X-Amz-Log-Result"] = log["LogResult"]
    return {
        "ExecutedVersion": "$LATEST",
        **log,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _task_source(resource: str) -> str:
    """How AWS names a task in its Cause: the service of an integration, a bare function's ARN."""
    if resource.startswith("arn:aws:states:::"):
        return resource.removeprefix("arn:aws:states:::").split(":", 1)[0]
    return resource


def _integration_error(err: StatesError) -> StatesError:
    """A function's error through ``lambda:invoke``: Step Functions writes the runtime's error
    document again, without spaces (the bare function ARN passes it on as the runtime wrote it)."""
    try:
        document = json.loads(err.cause)
    except ValueError:
        return err
    if not isinstance(document, dict):
        return err
    again = StatesError(err.error, json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    again.located = err.located
    return again


def _field(expression: str, field: str, data: JSON, ctx: Context) -> JSON:
    try:
        return evaluate_expression(expression, data, ctx)
    except PathNotFound as err:
        raise not_found_for_field(err, field, data) from None


def _gather(futures: list[Future[JSON]]) -> tuple[list[JSON], StatesError | None]:
    """The outputs of branches or iterations in order, or the error of the first that failed
    (in time, as AWS fails a Parallel or Map state with it)."""
    for future in as_completed(futures):
        error = future.exception()
        if isinstance(error, StatesError):
            return [], error
        if error is not None:
            raise error
    return [f.result() for f in futures], None


WAIT_LIMIT_SECONDS = (
    2**31 - 1
)  # AWS fails a longer wait (recorded: test_wait.py::TestSfnWait::test_timestamp_too_far_in_future_boundary)


def _wait_seconds(state: Wait, data: JSON, ctx: Context) -> float:
    """The delay of a Wait state; the errors in AWS's words (recorded by AWS: LocalStack's snapshots
    ``test_wait.py::TestSfnWait::test_base_wait_seconds_path`` and ``test_wait_timestamppath``)."""
    if state.Seconds is not None:
        delay = float(state.Seconds)
    elif state.SecondsPath is not None:
        value = read_path(state.SecondsPath, data, ctx)
        if not isinstance(value, int) or isinstance(value, bool):
            raise runtime_error(
                f"The SecondsPath parameter cannot be parsed as a long value: {state.SecondsPath} == {value}"
            )
        if value < 0:
            raise runtime_error(
                f"The SecondsPath parameter references a negative value: {state.SecondsPath} == {value}"
            )
        delay = float(value)
    else:
        stamp = state.Timestamp or read_path(str(state.TimestampPath), data, ctx)
        moment = timestamp(stamp)
        if moment is None:
            raise runtime_error(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {state.TimestampPath} == {stamp}"
            )
        delay = max(0.0, (moment - datetime.now(UTC)).total_seconds())
    if delay > WAIT_LIMIT_SECONDS:
        raise runtime_error("Wait state delay is too long.")
    return delay
