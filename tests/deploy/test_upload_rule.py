"""The rule that starts runs matches every object created under incoming/ of the input bucket,
whatever the case of its extension, and nothing else: tested on the template's own pattern with
EventBridge's pattern semantics as moto's events backend implements them (its EventPattern, which
its rules use; moto's TestEventPattern API is a stub), first checked against AWS's documented
examples of the operators involved."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from csv_dmap.keys import staging_key
from tests.deploy.conftest import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "start_run.json").read_text())
BUCKET = EVENT["detail"]["bucket"]["name"]


def _pattern() -> dict[str, Any]:
    events = TEMPLATE["Resources"]["StartRunFunction"]["Properties"]["Events"]
    pattern = copy.deepcopy(events["CsvUploaded"]["Properties"]["Pattern"])
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "InputBucket"}]
    pattern["detail"]["bucket"]["name"] = [BUCKET]  # as CloudFormation resolves it
    return dict(pattern)


def _event(key: str, bucket: str = BUCKET, detail_type: str = "Object Created") -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event["detail"]["object"]["key"] = key
    event["detail"]["bucket"]["name"] = bucket
    event["detail-type"] = detail_type
    return dict(event)


def _matches(event: dict[str, Any], pattern: dict[str, Any] | None = None) -> bool:
    return bool(EventPattern.load(json.dumps(pattern or _pattern())).matches_event(event))


# AWS's examples (Content filtering in Amazon EventBridge event patterns): prefix matching is
# case-sensitive, "suffix" with "equals-ignore-case" is not, and a wildcard is case-sensitive.
@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"}, True),
        ({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-03T18:43:48Z"}, False),
        ({"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"FileName": "a.PNG"}, True),
        ({"FileName": [{"suffix": ".png"}]}, {"FileName": "a.PNG"}, False),
        ({"key": [{"wildcard": "incoming/*.csv"}]}, {"key": "incoming/USERS.CSV"}, False),  # case-sensitive
        ({"key": [{"wildcard": "incoming/*.csv"}]}, {"key": "incoming/a/users.csv"}, True),
    ],
)
def test_the_matcher_agrees_with_aws_documented_examples(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert _matches(event, pattern) is expected


@pytest.mark.parametrize(
    "key",
    [
        "incoming/users.csv",
        "incoming/USERS.CSV",  # some exports are named so; a wildcard on .csv misses it
        "incoming/Users.Csv",
        "incoming/2026-11-23/users.csv",
        "incoming/users.xlsx",  # not a CSV: a run that ValidateInput rejects with a named error
        "incoming/users",
    ],
)
def test_every_upload_under_incoming_starts_a_run(key: str):
    assert _matches(_event(key))


@pytest.mark.parametrize(
    "event",
    [
        _event(staging_key("users-0123", "incoming/users.csv")),  # ValidateInput's copy: never a run of its own
        _event("results/users.csv"),
        _event("Incoming/users.csv"),  # the prefix is the folder's name as written
        _event("users.csv"),
        _event("incoming/users.csv", bucket="another-bucket"),
        _event("incoming/users.csv", detail_type="Object Deleted"),
    ],
)
def test_nothing_else_starts_a_run(event: dict[str, Any]):
    assert not _matches(event)
