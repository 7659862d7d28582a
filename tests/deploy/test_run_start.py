"""StartRun: one run per object version, however often EventBridge delivers the event (moto serves
Step Functions, and keeps its name rules: a running execution with the same name and input is
returned again, any other reuse of a name is ExecutionAlreadyExists)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from csv_dmap import runtime
from csv_dmap.errors import InvalidEvent
from csv_dmap.logic.run_start import execution_name, run_start_of
from tests.deploy.functions import Context, handler_module

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "start_run.json").read_text())
NAME_RULE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # what this project's names keep to (AWS allows more)


def event(key: str = "incoming/users.csv", version: str | None = "v1", sequencer: str = "0062E99A88DC407460") -> dict:
    e = copy.deepcopy(EVENT)
    e["detail"]["object"]["key"] = key
    e["detail"]["object"]["sequencer"] = sequencer
    if version is None:
        e["detail"]["object"].pop("version-id")
    else:
        e["detail"]["object"]["version-id"] = version
    return e


@pytest.fixture
def state_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="ap-northeast-1")
        arn = sfn.create_state_machine(
            name="csv-dmap-test",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        )["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        runtime.reset()
        yield arn
        runtime.reset()


def executions(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions", region_name="ap-northeast-1").list_executions(stateMachineArn=arn)[
        "executions"
    ]


def test_a_repeated_event_starts_one_run(state_machine):
    app = handler_module("start_run")
    first = app.lambda_handler(event(), Context())
    again = app.lambda_handler(event(), Context())
    assert first["started"] is True
    assert again["executionName"] == first["executionName"]
    (run,) = executions(state_machine)
    assert run["name"] == first["executionName"] and NAME_RULE.match(run["name"])
    described = boto3.client("stepfunctions", region_name="ap-northeast-1").describe_execution(
        executionArn=run["executionArn"]
    )
    assert json.loads(described["input"]) == {  # the exact upload: ValidateInput reads that version
        "bucket": "csv-dmap-input",
        "key": "incoming/users.csv",
        "versionId": "v1",
        "etag": "b1946ac92492d2347c6235b4d2611184",
    }


def test_a_repeated_event_after_the_run_ended_starts_nothing(state_machine):
    app = handler_module("start_run")
    first = app.lambda_handler(event(), Context())
    boto3.client("stepfunctions", region_name="ap-northeast-1").stop_execution(executionArn=first["executionArn"])
    again = app.lambda_handler(event(), Context())
    assert again == {"executionName": first["executionName"], "started": False}
    assert len(executions(state_machine)) == 1


def test_each_new_version_of_an_object_is_a_run_of_its_own(state_machine):
    app = handler_module("start_run")
    names = {app.lambda_handler(event(version=v), Context())["executionName"] for v in ("v1", "v2", "v3")}
    names.add(app.lambda_handler(event(key="incoming/other.csv"), Context())["executionName"])
    assert len(names) == 4 and len(executions(state_machine)) == 4


def test_names_are_valid_for_any_key_and_fall_back_to_the_sequencer():
    long_key = "incoming/" + "日本語 ファイル (1)#%" * 30 + ".csv"
    start = run_start_of(event(key=long_key, version=None, sequencer="00ABC"))
    assert NAME_RULE.match(start.name) and start.version == "00ABC"
    assert start.name == execution_name("csv-dmap-input", long_key, "00ABC")
    assert execution_name("b", "k", "1") != execution_name("b", "k", "2") != execution_name("b2", "k", "2")
    assert run_start_of(event(key="incoming/users.csv")).name.startswith("users-")


@pytest.mark.parametrize("broken", [{}, {"detail": {}}, {"detail": {"bucket": {"name": "b"}, "object": {"key": "k"}}}])
def test_an_event_without_bucket_key_or_version_is_a_named_error(broken):
    with pytest.raises(InvalidEvent, match="Object Created"):
        run_start_of(broken)


def test_a_folder_marker_starts_no_run(state_machine):
    """The console's "Create folder" writes an empty object ``incoming/``: no run, no rejection alert."""
    out = handler_module("start_run").lambda_handler(event(key="incoming/"), Context())
    assert out == {"executionName": None, "started": False, "skipped": "a folder marker, not a file"}
    assert executions(state_machine) == []
    assert handler_module("start_run").lambda_handler(event(key="incoming/USERS.CSV"), Context())["started"] is True
