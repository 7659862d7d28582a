"""Runs a scenario with asl_runner and compares it with what AWS recorded.

A ``Scenario`` is ours: the definition, the input, the Lambda handlers and the S3 objects written
for this suite to reproduce one recorded scenario (cited by its snapshot id). Only the expected
values come from the recording (``recorded``). S3 is a dictionary here (``MemoryServices``): the
runner reaches S3 only through ``Services.open_object`` and ``Services.put_file``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from asl_runner import DefinitionError, Execution, ExecutionResult, LocalServices, RunOptions, prepare
from asl_runner.paths import JSON

from . import normalise, recorded

REGION = "us-east-1"
ACCOUNT = "111111111111"  # the account LocalStack's recordings show
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/local"
Handler = Callable[[Any, Any], Any]
# Lambda's response headers that change with every call, as LocalStack's transformers store them
LAMBDA_HEADERS = {"Date": "date", "X-Amzn-Trace-Id": "X-Amzn-Trace-Id"}


class Clock:
    """Time as the runs see it: a Wait or a Retry's delay (RunOptions.sleep) and a function that
    "runs for a minute" (``functions/wait_60_seconds``) move it on, without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CLOCK = Clock()


class MemoryServices(LocalServices):
    """Lambda handlers called in-process (``LocalServices``), S3 objects in a dictionary."""

    def __init__(self, functions: dict[str, Handler], objects: dict[tuple[str, str], bytes]) -> None:
        super().__init__(functions, region=REGION, account=ACCOUNT)
        self.objects = dict(objects)

    def open_object(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        if (bucket, key) not in self.objects:
            raise KeyError(f"NoSuchKey: s3://{bucket}/{key}")
        return io.BytesIO(self.objects[(bucket, key)])

    def put_file(self, path: str, bucket: str, key: str) -> None:
        self.objects[(bucket, key)] = Path(path).read_bytes()


@dataclass(frozen=True)
class Run:
    """One execution of a scenario; ``key`` names its recording in the snapshot (a history key,
    or ``cases/<n>`` for the n-th case of a ``cases`` list)."""

    definition: JSON
    input: JSON = field(default_factory=dict)
    key: str = "get_execution_history"


@dataclass(frozen=True)
class Scenario:
    id: str  # LocalStack's snapshot test id: the recording this reproduces
    runs: tuple[Run, ...]
    functions: dict[str, Handler] = field(default_factory=dict)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    # what the recording shows in place of values of ours (LocalStack's RegexTransformers)
    substitutions: dict[str, str] = field(default_factory=dict)
    # fields whose values the recording replaced, wherever they are (LocalStack's JsonpathTransformer "$..name")
    field_placeholders: dict[str, str] = field(default_factory=dict)
    output_placeholder: str | None = None  # the whole output, replaced in the recording
    # inside the runner's subset, but not reproduced: why (the test asserts the divergence holds)
    diverged: str | None = None


@dataclass
class Outcome:
    key: str
    input: JSON = None
    result: ExecutionResult | None = None
    rejected: list[str] | None = None  # the lint's problems, when the runner rejects the definition


def run(scenario: Scenario) -> list[Outcome]:
    outcomes = []
    for item in scenario.runs:
        try:
            definition = prepare(item.definition)
        except DefinitionError as exc:
            outcomes.append(Outcome(item.key, rejected=exc.problems))
            continue
        services = MemoryServices(scenario.functions, scenario.objects)
        CLOCK.now = 0.0
        options = RunOptions(
            region=REGION,
            account=ACCOUNT,
            record_events=True,
            local_max_threads=1,
            clock=CLOCK.time,
            sleep=CLOCK.advance,
        )
        execution = Execution(definition, services, name="execution", state_machine_name="machine", options=options)
        outcomes.append(Outcome(item.key, item.input, result=execution.run(item.input)))
    return outcomes


def _substituted(value: Any, substitutions: dict[str, str], fields: dict[str, str] | None = None) -> Any:
    """Our value with LocalStack's replacements applied, as the recording holds it."""
    text = json.dumps(value, ensure_ascii=False)
    for ours, placeholder in substitutions.items():
        text = text.replace(ours, placeholder)
    return _fields_replaced(json.loads(text), fields or {})


def _fields_replaced(value: Any, fields: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: fields[k] if k in fields else _fields_replaced(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_fields_replaced(v, fields) for v in value]
    return value


def recorded_keys(facts: dict[str, Any]) -> set[str]:
    """The executions a recording holds: its histories, or its cases (a create-time rejection:
    one run, ``exception``)."""
    keys = {k for k in facts if k not in ("describe_execution", "cases")}
    keys |= {f"cases/{n}" for n in range(len(facts.get("cases", [])))}
    return keys or {k for k in facts if k == "describe_execution"}  # a status is all some recordings keep


def _recording(facts: dict[str, Any], key: str) -> dict[str, Any]:
    if key.startswith("cases/"):
        case = facts["cases"][int(key.split("/", 1)[1])]
        return {"status": "SUCCEEDED", "input": case["input"], "output": case["output"]}
    result: dict[str, Any] = facts[key]
    return result


def compare(scenario: Scenario) -> list[str]:
    """Every difference between the runs of ``scenario`` and AWS's recording."""
    facts = recorded.facts(scenario.id)
    problems: list[str] = []
    keys = {run.key for run in scenario.runs}
    if keys != recorded_keys(facts):
        return [f"the runs {sorted(keys)} are not the recorded executions {sorted(recorded_keys(facts))}"]
    for outcome in run(scenario):
        expected = _recording(facts, outcome.key)
        if "rejected" in expected:
            if outcome.rejected is None:
                problems.append(
                    f"{outcome.key}: AWS refused the definition ({expected['rejected']:.300}); the runner took it"
                )
            continue
        if outcome.rejected is not None:
            problems.append(f"{outcome.key}: the runner rejected the definition: {outcome.rejected}")
            continue
        assert outcome.result is not None
        problems += [f"{outcome.key}: {p}" for p in _compare_run(outcome.result, outcome.input, expected, scenario)]
    return problems


def _compare_run(result: ExecutionResult, given: JSON, expected: dict[str, Any], scenario: Scenario) -> list[str]:
    subs = {ROLE_ARN: "snf_role_arn", **scenario.substitutions}
    problems = []
    ours = _substituted(result.to_json(), subs, {**LAMBDA_HEADERS, **scenario.field_placeholders})
    if scenario.output_placeholder is not None and ours["status"] == "SUCCEEDED":
        ours["output"] = scenario.output_placeholder
    if "input" in expected:  # the run reproduces the recorded execution: same input
        theirs = normalise.as_recorded(expected["input"])
        problems += normalise.differences(theirs, _substituted(given, subs, scenario.field_placeholders), "input")
    if expected.get("status") and ours["status"] != expected["status"]:
        problems.append(
            f"status {ours['status']} ({ours['error']}: {ours['cause']!s:.300}), recorded {expected['status']}"
        )
    elif ours["status"] == "SUCCEEDED" and "output" in expected:
        problems += normalise.differences(normalise.as_recorded(expected["output"]), ours["output"], "output")
    elif ours["status"] == "FAILED":
        for field_name in ("error", "cause"):
            if field_name in expected:
                recorded_value = (
                    normalise.as_recorded(expected[field_name]) if field_name == "cause" else expected[field_name]
                )
                problems += normalise.differences(recorded_value, ours[field_name], field_name)
    if "events" in expected:
        theirs = normalise.canonical(expected["events"])
        labels = [e.label() for e in result.events]
        labels = _substituted(labels, subs)
        if expected.get("parallel_normalised"):
            labels = normalise.localstack_parallel_walk(labels)
        mine = normalise.canonical(labels)
        if mine != theirs:
            problems.append("events differ:\n  recorded: " + " ".join(theirs) + "\n  runner:   " + " ".join(mine))
    return problems
