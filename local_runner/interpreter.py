"""Executes an ASL definition (JSONPath mode) on one machine.

States: Task (Lambda ``lambda:invoke`` with Payload, a bare function ARN, SNS
publish), Pass, Choice, Wait (no real sleep), Succeed, Fail, Parallel, Map
(INLINE and DISTRIBUTED, see ``distributed_map``). Input/output processing:
InputPath, Parameters, ResultSelector, ResultPath, OutputPath, the context
object and intrinsic functions. Retry (with backoff, MaxDelaySeconds and
jitter computed but not slept) and Catch.

Before a run starts, the definition is checked twice: against AWS's fields
(``asl_lint``) and against what this runner implements (``check_supported``);
anything it would otherwise ignore stops the run with the state and field.
"""

from __future__ import annotations

import json
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .asl_lint import lint
from .paths import (
    StatesError,
    apply_input_path,
    intrinsic_names,
    read_path,
    render,
    runtime_error,
    write_path,
    SUPPORTED_INTRINSICS,
)

from . import ACCOUNT, REGION
PAYLOAD_LIMIT = 256 * 1024


class DefinitionError(ValueError):
    """The definition is not valid ASL, or uses what the runner does not implement."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- support check

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
_SUPPORTED_FIELDS = {
    "Task": _COMMON | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "TimeoutSeconds"},
    "Pass": _COMMON | {"Parameters", "Result", "ResultPath"},
    "Choice": _COMMON | {"Choices", "Default"},
    "Wait": _COMMON | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON,
    "Fail": {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Map": _COMMON
    | {
        "ItemsPath", "ItemReader", "ItemSelector", "Parameters", "ItemBatcher", "ItemProcessor", "Iterator",
        "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label",
        "ResultSelector", "ResultPath", "Retry", "Catch",
    },
}
_SUPPORTED_READER = {"Resource", "ReaderConfig", "Parameters"}
_SUPPORTED_READER_CONFIG = {"InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath"}
_SUPPORTED_INPUT_TYPES = {"CSV", "JSON", "JSONL"}
_SUPPORTED_WRITER = {"Resource", "Parameters"}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SNS_PUBLISH = "arn:aws:states:::sns:publish"


def _resource_supported(resource: str) -> bool:
    return resource in (LAMBDA_INVOKE, SNS_PUBLISH) or (
        resource.startswith("arn:aws:lambda:") and ":function:" in resource
    )


def check_supported(definition: dict, where: str = "States") -> list[str]:
    problems = []
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        problems.append(f"{where}: QueryLanguage {definition['QueryLanguage']} is not supported (JSONPath only)")
    for name, state in (definition.get("States") or {}).items():
        here = f"{where}/{name}"
        kind = state.get("Type")
        for key in sorted(set(state) - _SUPPORTED_FIELDS.get(kind, set())):
            problems.append(f"{here}: field {key} of a {kind} state is not supported by the local runner")
        for key, value in state.items():
            if isinstance(value, (dict, list, str)):
                for fn in intrinsic_names(json.dumps(value)):
                    if fn not in SUPPORTED_INTRINSICS:
                        problems.append(f"{here}/{key}: intrinsic States.{fn} is not supported by the local runner")
        if kind == "Task" and not _resource_supported(str(state.get("Resource", ""))):
            problems.append(f"{here}: Resource {state.get('Resource')!r} is not supported by the local runner "
                            f"(supported: {LAMBDA_INVOKE}, a Lambda function ARN, {SNS_PUBLISH})")
        if "${" in json.dumps(state):
            problems.append(f"{here}: unresolved DefinitionSubstitutions placeholder "
                            f"({json.dumps(state).split('${', 1)[1].split('}', 1)[0]}); pass --template or --function")
        if kind == "Map":
            reader = state.get("ItemReader") or {}
            for key in sorted(set(reader) - _SUPPORTED_READER):
                problems.append(f"{here}/ItemReader: field {key} is not supported by the local runner")
            config = reader.get("ReaderConfig") or {}
            for key in sorted(set(config) - _SUPPORTED_READER_CONFIG):
                problems.append(f"{here}/ItemReader/ReaderConfig: field {key} is not supported by the local runner")
            if reader and config.get("InputType") not in _SUPPORTED_INPUT_TYPES:
                problems.append(f"{here}/ItemReader/ReaderConfig: InputType {config.get('InputType')!r} "
                                f"is not supported (supported: {', '.join(sorted(_SUPPORTED_INPUT_TYPES))})")
            if reader and reader.get("Resource") != "arn:aws:states:::s3:getObject":
                problems.append(f"{here}/ItemReader: Resource {reader.get('Resource')!r} is not supported")
            writer = state.get("ResultWriter") or {}
            for key in sorted(set(writer) - _SUPPORTED_WRITER):
                problems.append(f"{here}/ResultWriter: field {key} is not supported by the local runner")
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            problems += check_supported(processor, f"{here}/{'ItemProcessor' if 'ItemProcessor' in state else 'Iterator'}")
        for i, branch in enumerate(state.get("Branches") or []):
            problems += check_supported(branch, f"{here}/Branches/{i}")
    return problems


# --------------------------------------------------------------------------- resources


class Resources:
    """What Task states call: Lambda handlers (in-process) and AWS APIs (boto3, moto)."""

    def __init__(self, functions: dict[str, Callable] | None = None, env=None):
        self.functions = dict(functions or {})
        self.env = env

    def register(self, name_or_arn: str, handler: Callable) -> None:
        self.functions[name_or_arn] = handler

    def _handler(self, function: str) -> tuple[Callable, Any]:
        candidates = [function]
        if ":function:" in function:
            name = function.split(":function:", 1)[1].split(":", 1)[0]
            candidates += [name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"]
        for c in candidates:
            if c in self.functions:
                return self.functions[c], None
        if self.env is not None:
            for c in candidates:
                logical_id = self.env.function_for_arn(c)
                if logical_id:
                    from .lambda_loader import LocalLambdaContext, load_handler

                    spec = self.env.functions[logical_id]
                    handler = load_handler(spec.module_path, spec.function_name)
                    name = self.env.physical_name(logical_id)
                    memory = int(self.env.resolve(spec.memory_size))
                    return handler, lambda: LocalLambdaContext(
                        function_name=name, timeout_seconds=spec.timeout, memory_limit_in_mb=memory)
        raise StatesError("Lambda.ResourceNotFoundException", f"Function not found: {function}")

    def invoke_lambda(self, function: str, payload: Any) -> Any:
        handler, make_context = self._handler(function)
        from .lambda_loader import LocalLambdaContext

        context = make_context() if make_context else LocalLambdaContext(function_name=function.rsplit(":", 1)[-1])
        event = json.loads(json.dumps(payload))  # what crosses the wire is JSON
        if len(json.dumps(event)) > PAYLOAD_LIMIT:
            raise StatesError("States.DataLimitExceeded", f"the payload to {function} exceeds 256 KiB")
        try:
            result = handler(event, context)
        except Exception as exc:  # noqa: BLE001 - a function error becomes the ASL error named after it
            name = type(exc).__name__
            raise StatesError(name, json.dumps({
                "errorMessage": str(exc), "errorType": name,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_exception(exc)[-6:],
            }, ensure_ascii=False)) from exc
        text = json.dumps(result, ensure_ascii=False, default=str)
        if len(text.encode()) > PAYLOAD_LIMIT:
            raise StatesError("States.DataLimitExceeded", f"the output of {function} exceeds 256 KiB")
        return json.loads(text)

    def call(self, resource: str, parameters: Any) -> Any:
        if resource == LAMBDA_INVOKE:
            if not isinstance(parameters, dict) or "FunctionName" not in parameters:
                raise runtime_error("lambda:invoke needs Parameters.FunctionName")
            payload = self.invoke_lambda(parameters["FunctionName"], parameters.get("Payload", {}))
            return {
                "ExecutedVersion": "$LATEST",
                "Payload": payload,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": str(uuid.uuid4())},
                "StatusCode": 200,
            }
        if resource.startswith("arn:aws:lambda:"):
            return self.invoke_lambda(resource, parameters)
        if resource == SNS_PUBLISH:
            import boto3

            client = boto3.client("sns", region_name=REGION)
            try:
                response = client.publish(**parameters)
            except Exception as exc:  # noqa: BLE001 - mapped to the service integration's error name
                raise StatesError(f"SNS.{type(exc).__name__}", str(exc)) from exc
            return {"MessageId": response["MessageId"], "SdkHttpMetadata": {"HttpStatusCode": 200}}
        raise runtime_error(f"unsupported resource {resource}")


# --------------------------------------------------------------------------- execution


@dataclass
class RunOptions:
    """Knobs of a run. ``sleep`` receives every Retry/Wait delay (not slept by default)."""

    sleep: Callable[[float], None] = lambda seconds: None
    local_max_threads: int = 64  # a thread pool of 10,000 helps nobody on one machine
    on_batch_done: Callable[[int, bool], None] | None = None  # (items in the batch, succeeded?)
    on_items_read: Callable[[int], None] | None = None
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class ExecutionResult:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    execution_arn: str = ""
    map_runs: list[dict] = field(default_factory=list)
    retries: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _matches(error_equals: list[str], error: str, task_like: bool = True) -> bool:
    for name in error_equals:
        if name == error:
            return True
        if name == "States.ALL" and error != "States.Runtime":
            return True
        if name == "States.TaskFailed" and task_like and error not in ("States.Timeout", "States.Runtime"):
            return True
    return False


class Execution:
    def __init__(
        self,
        definition: dict,
        resources: Resources,
        *,
        name: str | None = None,
        state_machine_name: str = "local",
        options: RunOptions | None = None,
    ):
        problems = lint(definition)
        problems += check_supported(definition)
        if problems:
            raise DefinitionError(problems)
        self.definition = definition
        self.resources = resources
        self.name = name or str(uuid.uuid4())
        self.state_machine_name = state_machine_name
        self.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{state_machine_name}"
        self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{state_machine_name}:{self.name}"
        self.options = options or RunOptions()
        self.map_runs: list[dict] = []
        self.retries: list[dict] = []
        self._lock = threading.Lock()

    # -------------------------------------------------------------- entry point
    def run(self, input: Any) -> ExecutionResult:
        context = {
            "Execution": {
                "Id": self.arn, "Input": input, "Name": self.name,
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/local", "StartTime": now_iso(), "RedriveCount": 0,
            },
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
        }
        try:
            output = self.run_machine(self.definition, input, context)
            result = ExecutionResult("SUCCEEDED", output=output)
        except StatesError as err:
            result = ExecutionResult("FAILED", error=err.error, cause=err.cause)
        result.execution_arn, result.map_runs, result.retries = self.arn, self.map_runs, self.retries
        return result

    # -------------------------------------------------------------- machine loop
    def run_machine(self, machine: dict, data: Any, context: dict) -> Any:
        states = machine["States"]
        name = machine["StartAt"]
        while True:
            state = states[name]
            ctx = {**context, "State": {"EnteredTime": now_iso(), "Name": name, "RetryCount": 0}}
            kind = state["Type"]
            if kind == "Succeed":
                return apply_input_path(state.get("OutputPath", "$"), apply_input_path(state.get("InputPath", "$"), data, ctx), ctx)
            if kind == "Fail":
                error = read_path(state["ErrorPath"], data, ctx) if "ErrorPath" in state else state.get("Error", "States.Fail")
                cause = read_path(state["CausePath"], data, ctx) if "CausePath" in state else state.get("Cause", "")
                raise StatesError(str(error), str(cause))
            if kind == "Choice":
                effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
                target = self._choose(state, effective, ctx, name)
                data = apply_input_path(state.get("OutputPath", "$"), effective, ctx)
                name = target
                continue
            if kind == "Wait":
                effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
                self.options.sleep(self._wait_seconds(state, effective, ctx))
                data = apply_input_path(state.get("OutputPath", "$"), effective, ctx)
            elif kind == "Pass":
                effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
                if "Parameters" in state:
                    result = render(state["Parameters"], effective, ctx)
                else:
                    result = state.get("Result", effective)
                data = self._output(state, data, result, ctx)
            else:  # Task, Parallel, Map: retriable
                try:
                    result = self._with_retry(state, name, data, ctx)
                    data = self._output(state, data, result, ctx)
                except StatesError as err:
                    catcher = next(
                        (c for c in state.get("Catch") or [] if _matches(c["ErrorEquals"], err.error)), None
                    )
                    if catcher is None:
                        raise
                    data = write_path(catcher.get("ResultPath", "$"), data, {"Error": err.error, "Cause": err.cause})
                    name = catcher["Next"]
                    continue
            if state.get("End"):
                return data
            name = state["Next"]

    def _output(self, state: dict, raw_input: Any, result: Any, ctx: dict) -> Any:
        if "ResultSelector" in state:
            result = render(state["ResultSelector"], result, ctx)
        combined = write_path(state.get("ResultPath", "$"), raw_input, result)
        return apply_input_path(state.get("OutputPath", "$"), combined, ctx)

    def _with_retry(self, state: dict, name: str, data: Any, ctx: dict) -> Any:
        attempts = [0] * len(state.get("Retry") or [])
        while True:
            try:
                return self._execute(state, name, data, ctx)
            except StatesError as err:
                index = next(
                    (i for i, r in enumerate(state.get("Retry") or []) if _matches(r["ErrorEquals"], err.error)), None
                )
                if index is None:
                    raise
                retrier = state["Retry"][index]
                if attempts[index] >= retrier.get("MaxAttempts", 3):
                    raise
                delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempts[index]
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, retrier["MaxDelaySeconds"])
                if retrier.get("JitterStrategy") == "FULL":
                    delay = self.options.rng.uniform(0, delay)
                attempts[index] += 1
                with self._lock:
                    self.retries.append({"state": name, "error": err.error, "attempt": attempts[index], "delay": delay})
                self.options.sleep(delay)
                ctx = {**ctx, "State": {**ctx["State"], "RetryCount": sum(attempts)}}

    def _execute(self, state: dict, name: str, data: Any, ctx: dict) -> Any:
        effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
        kind = state["Type"]
        if kind == "Task":
            parameters = render(state["Parameters"], effective, ctx) if "Parameters" in state else effective
            started = time.monotonic()
            result = self.resources.call(state["Resource"], parameters)
            if "TimeoutSeconds" in state and time.monotonic() - started > state["TimeoutSeconds"]:
                raise StatesError("States.Timeout", f"{name} ran longer than TimeoutSeconds={state['TimeoutSeconds']}")
            return result
        if kind == "Parallel":
            parameters = render(state["Parameters"], effective, ctx) if "Parameters" in state else effective
            with ThreadPoolExecutor(max_workers=len(state["Branches"])) as pool:
                futures = [pool.submit(self.run_machine, b, parameters, ctx) for b in state["Branches"]]
                return [f.result() for f in futures]
        if kind == "Map":
            mode = ((state.get("ItemProcessor") or {}).get("ProcessorConfig") or {}).get("Mode", "INLINE")
            if mode == "DISTRIBUTED":
                from .distributed_map import DistributedMapRun

                return DistributedMapRun(self, state, name, effective, ctx).run()
            return self._inline_map(state, effective, ctx)
        raise runtime_error(f"unexpected state type {kind}")

    def _inline_map(self, state: dict, effective: Any, ctx: dict) -> list:
        items = read_path(state.get("ItemsPath", "$"), effective, ctx)
        if not isinstance(items, list):
            raise runtime_error(f"ItemsPath {state.get('ItemsPath', '$')!r} did not select an array")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        selector = state.get("ItemSelector", state.get("Parameters"))
        limit = self.map_concurrency(state, effective, ctx)

        def one(index_item):
            index, item = index_item
            if selector is not None:
                item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
                item = render(selector, effective, item_ctx)
            return self.run_machine(processor, item, ctx)

        with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items) or 1))) as pool:
            return list(pool.map(one, enumerate(items)))

    def map_concurrency(self, state: dict, effective: Any, ctx: dict) -> int:
        value = state.get("MaxConcurrency", 0)
        if "MaxConcurrencyPath" in state:
            value = read_path(state["MaxConcurrencyPath"], effective, ctx)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise runtime_error(f"MaxConcurrency must be a non-negative integer, got {value!r}")
        return min(value or 10_000, self.options.local_max_threads)

    # -------------------------------------------------------------- Choice and Wait
    def _choose(self, state: dict, data: Any, ctx: dict, name: str) -> str:
        for rule in state["Choices"]:
            if _evaluate_rule(rule, data, ctx):
                return rule["Next"]
        if "Default" in state:
            return state["Default"]
        raise StatesError("States.NoChoiceMatched", f"no Choice rule of {name} matched and there is no Default")

    @staticmethod
    def _wait_seconds(state: dict, data: Any, ctx: dict) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            return float(read_path(state["SecondsPath"], data, ctx))
        stamp = state.get("Timestamp") or read_path(state["TimestampPath"], data, ctx)
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _evaluate_rule(rule: dict, data: Any, ctx: dict) -> bool:
    if "And" in rule:
        return all(_evaluate_rule(r, data, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(_evaluate_rule(r, data, ctx) for r in rule["Or"])
    if "Not" in rule:
        return not _evaluate_rule(rule["Not"], data, ctx)
    variable = rule["Variable"]
    try:
        value = read_path(variable, data, ctx)
        present = True
    except StatesError:
        value, present = None, False
    for op, expected in rule.items():
        if op in ("Variable", "Next", "Comment"):
            continue
        if op.endswith("Path") and not op.startswith("Is"):
            expected = read_path(expected, data, ctx)
            op = op[:-4]
        if op == "IsPresent":
            return present == expected
        if not present:
            raise runtime_error(f"Invalid path {variable!r}: the choice state's condition path references an invalid value")
        if op == "IsNull":
            return (value is None) == expected
        if op == "IsNumeric":
            return (isinstance(value, (int, float)) and not isinstance(value, bool)) == expected
        if op == "IsString":
            return isinstance(value, str) == expected
        if op == "IsBoolean":
            return isinstance(value, bool) == expected
        if op == "IsTimestamp":
            return (_timestamp(value) is not None) == expected
        if op == "StringMatches":
            import fnmatch

            return isinstance(value, str) and fnmatch.fnmatchcase(value, expected.replace("\\*", "[*]"))
        if op == "BooleanEquals":
            return isinstance(value, bool) and value == expected
        for prefix, kind in (("String", str), ("Numeric", (int, float)), ("Timestamp", "ts")):
            if op.startswith(prefix):
                comparison = op[len(prefix):]
                if kind == "ts":
                    left, right = _timestamp(value), _timestamp(expected)
                    if left is None or right is None:
                        return False
                else:
                    if not isinstance(value, kind) or isinstance(value, bool):
                        return False
                    left, right = value, expected
                return {
                    "Equals": left == right,
                    "LessThan": left < right,
                    "GreaterThan": left > right,
                    "LessThanEquals": left <= right,
                    "GreaterThanEquals": left >= right,
                }[comparison]
        raise runtime_error(f"unknown Choice comparison {op}")
    raise runtime_error("Choice rule without a comparison")
