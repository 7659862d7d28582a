"""Regenerate ``recorded.json`` from LocalStack's Step Functions snapshot tests.

LocalStack (Apache-2.0, https://github.com/localstack/localstack) records its Step Functions tests
against AWS: ``tests/aws/services/stepfunctions/v2/**/*.snapshot.json`` holds, per test id, what
AWS answered (``get_execution_history``, outputs, errors), and ``*.validation.json`` the date the
test was last validated against AWS. Those recorded outcomes are the facts this suite holds the
runner to. Only the facts are kept here (event types and state names, status, output, Error and
Cause); no definition, handler or harness of LocalStack is copied.

    python -m tests.conformance.extract /path/to/localstack [--commit HEAD]

reads a bare git directory or a checkout (with ``git show``), and rewrites ``recorded.json``:
every snapshot id with its recorded and validation dates, and the facts of the ids the suite runs
(``catalog.RUN``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conformance import catalog

ROOT = "tests/aws/services/stepfunctions/v2/"
RECORDED = Path(__file__).with_name("recorded.json")

# Events whose details name a state (stateEnteredEventDetails / stateExitedEventDetails) or an
# iteration (map*IterationXxxEventDetails: name and index).
_NAMED = ("stateEnteredEventDetails", "stateExitedEventDetails")
_ITERATION = (
    "mapIterationStartedEventDetails",
    "mapIterationSucceededEventDetails",
    "mapIterationFailedEventDetails",
    "mapIterationAbortedEventDetails",
)
_FAILED = (
    "executionFailedEventDetails",
    "taskFailedEventDetails",
    "lambdaFunctionFailedEventDetails",
    "executionTimedOutEventDetails",
    "taskTimedOutEventDetails",
    "lambdaFunctionTimedOutEventDetails",
    "mapRunFailedEventDetails",
    "executionAbortedEventDetails",
)
_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def event_label(event: dict[str, Any]) -> str:
    """``Type``, ``Type:state`` or ``Type:state#index``: what the suite compares of an event."""
    for key in _NAMED:
        if key in event:
            return f"{event['type']}:{event[key]['name']}"
    for key in _ITERATION:
        if key in event:
            return f"{event['type']}:{event[key]['name']}#{event[key]['index']}"
    return str(event["type"])


def history_facts(history: dict[str, Any]) -> dict[str, Any]:
    """The facts of one recorded ``get_execution_history``."""
    events = history["events"]
    facts: dict[str, Any] = {"events": [event_label(e) for e in events]}
    first = events[0] if events else {}
    if "executionStartedEventDetails" in first:
        facts["input"] = first["executionStartedEventDetails"].get("input")
    # LocalStack's SfnNoneRecursiveParallelTransformer gives the events it reorders the id [0]
    facts["parallel_normalised"] = any(isinstance(e.get("id"), list) for e in events)
    last = events[-1] if events else {}
    status = _TERMINAL.get(last.get("type", ""))
    if status:
        facts["status"] = status
    if "executionSucceededEventDetails" in last:
        facts["output"] = last["executionSucceededEventDetails"].get("output")
    for key in _FAILED:
        if key in last:
            details = last[key]
            facts["error"] = details.get("error")
            facts["cause"] = details.get("cause")
    return facts


def content_facts(content: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, value in content.items():
        if isinstance(value, dict) and isinstance(value.get("events"), list):
            facts[key] = history_facts(value)
        elif key == "describe_execution" and isinstance(value, dict):
            facts[key] = {k: value.get(k) for k in ("status", "output", "error", "cause") if k in value}
        elif key == "cases":
            facts[key] = value
        elif key == "exception" and isinstance(value, dict):
            # the definition, refused when the state machine was created
            facts[key] = {"rejected": f"{value.get('exception_typename')}: {value.get('exception_value')}"}
        elif isinstance(value, dict) and isinstance(value.get("Error"), dict) and "Code" in value["Error"]:
            facts[key] = {"rejected": f"{value['Error']['Code']}: {value['Error'].get('Message')}"}
    return facts


def extract(repo: str, commit: str) -> dict[str, Any]:
    names = _git(repo, "ls-tree", "-r", "--name-only", commit, ROOT).split()
    snapshots: dict[str, Any] = {}
    for name in sorted(n for n in names if n.endswith(".snapshot.json")):
        recorded = json.loads(_git(repo, "show", f"{commit}:{name}"))
        validation_file = name.replace(".snapshot.json", ".validation.json")
        validated = json.loads(_git(repo, "show", f"{commit}:{validation_file}")) if validation_file in names else {}
        for test_id, entry in recorded.items():
            item: dict[str, Any] = {
                "recorded": entry.get("recorded-date"),
                "validated": validated.get(test_id, {}).get("last_validated_date"),
            }
            if catalog.runs(test_id):
                item["facts"] = content_facts(entry["recorded-content"])
            snapshots[test_id] = item
    head = _git(repo, "rev-parse", commit).strip()
    return {
        "source": {
            "repository": "https://github.com/localstack/localstack",
            "license": "Apache-2.0",
            "commit": head,
            "path": ROOT,
        },
        "snapshots": snapshots,
    }


def dumps(data: dict[str, Any]) -> str:
    """One snapshot id a line: a diff shows which recordings changed."""
    compact = {"ensure_ascii": False, "sort_keys": True, "separators": (",", ":")}
    lines = [f" {json.dumps(k, **compact)}:{json.dumps(v, **compact)}" for k, v in sorted(data["snapshots"].items())]
    source = json.dumps(data["source"], **compact)
    return '{"source":' + source + ',\n"snapshots":{\n' + ",\n".join(lines) + "\n}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="LocalStack's repository: a bare git directory or a checkout")
    parser.add_argument("--commit", default="HEAD")
    args = parser.parse_args()
    data = extract(args.repo, args.commit)
    RECORDED.write_text(dumps(data), encoding="utf-8")
    print(
        f"{RECORDED}: {len(data['snapshots'])} snapshot ids, {sum('facts' in s for s in data['snapshots'].values())} with facts"
    )


if __name__ == "__main__":
    main()
