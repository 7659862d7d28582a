"""The names the template gives its resources: each is the stack's own (two stacks of one account
and region, even of one stage, never collide), and each is valid for every stack name up to the one
limit that remains (the state machine's 80 characters), because no CloudFormation Rule or
Condition can measure a stack name's length. The names are evaluated as CloudFormation would, from
the template, for the stack names below."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.conftest import TEMPLATE
from tests.deploy.matrix import PSEUDO, evaluate

UUID = "51af3dc0-da77-11e4-872e-1234567db123"
OTHER_UUID = "7c0e1f2a-3b4c-11f0-9d8e-0a1b2c3d4e5f"

# Names unique in an account and region (a second stack with the same name fails), with the limit
# and the characters AWS allows: the CloudFormation resource schemas (cfn-lint's copy) and the
# services' API references (CreateDBProxy: "must begin with a letter and must contain only ASCII
# letters, digits, and hyphens; it can't end with a hyphen or contain two consecutive hyphens").
ACCOUNT_UNIQUE: dict[tuple[str, str], tuple[int, str]] = {
    ("AWS::Serverless::LayerVersion", "LayerName"): (140, r"[a-zA-Z0-9_-]+"),
    ("AWS::Logs::LogGroup", "LogGroupName"): (512, r"[.\-_/#A-Za-z0-9]+"),
    ("AWS::KMS::Alias", "AliasName"): (256, r"alias/[a-zA-Z0-9:/_-]+"),
    ("AWS::Serverless::StateMachine", "Name"): (80, r"[A-Za-z0-9_-]+"),
    ("AWS::RDS::DBProxy", "DBProxyName"): (60, r"[A-Za-z](-?[A-Za-z0-9])*"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): (255, r"[A-Za-z0-9_-]+"),
    # Glue folds a database name to lower case when it stores it (DatabaseInput); Athena wants
    # lower-case letters, digits and underscores, at most 255 characters.
    ("AWS::Glue::Database", "DatabaseInput.Name"): (255, r"[A-Za-z][A-Za-z0-9_]*"),
    ("AWS::Athena::WorkGroup", "Name"): (128, r"[a-zA-Z0-9._-]+"),
}
# Names that need only be unique inside another resource of the stack, or that name no resource.
SCOPED: dict[tuple[str, str], str] = {
    ("AWS::RDS::DBProxyTargetGroup", "TargetGroupName"): "a proxy's target group (always `default`)",
    ("AWS::Athena::NamedQuery", "Name"): "a query of the stack's own workgroup",
    ("AWS::Glue::Table", "TableInput.Name"): "a table of the stack's own Glue database",
    ("AWS::SNS::Topic", "DisplayName"): "the sender shown in e-mails; the topic's name is generated",
    ("AWS::EC2::VPCEndpoint", "ServiceName"): "the AWS service the endpoint reaches",
    ("AWS::CloudWatch::Alarm", "MetricName"): "the metric an alarm reads",
}
# A stack name is a letter, then letters, digits and hyphens, up to 128 characters (CloudFormation's
# CreateStack); these are the awkward ones up to the state machine's limit.
STACK_NAMES = ["a", "csv-dmap-dev", "csv-dmap-dev-", "A--b", "Prod-Tokyo-2", "x" * 80, "a-" * 39 + "z9"]


def _named(resource: dict[str, Any]) -> dict[str, Any]:
    """Property path -> value of every name the resource gives (not a reference to another one)."""
    props = resource.get("Properties") or {}
    found = {key: value for key, value in props.items() if key.endswith("Name")}
    for nested in ("DatabaseInput", "TableInput"):
        if isinstance(props.get(nested), dict) and "Name" in props[nested]:
            found[f"{nested}.Name"] = props[nested]["Name"]
    return {k: v for k, v in found.items() if not (isinstance(v, dict) and set(v) & {"Ref", "Fn::GetAtt"})}


def _rule(logical_id: str) -> tuple[int, str]:
    """The limit and the allowed characters of the account-unique name a resource gives."""
    resource = TEMPLATE["Resources"][logical_id]
    (rule,) = [
        ACCOUNT_UNIQUE[(resource["Type"], p)] for p in _named(resource) if (resource["Type"], p) in ACCOUNT_UNIQUE
    ]
    return rule


def names(stack: str, uuid: str = UUID, **parameters: str) -> dict[str, str]:
    """Logical id -> the account-unique name it gets in a stack called ``stack``."""
    values = {
        **parameters,
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:aws:cloudformation:{PSEUDO['AWS::Region']}:123456789012:stack/{stack}/{uuid}",
    }
    out = {}
    for logical_id, resource in TEMPLATE["Resources"].items():
        for path, value in _named(resource).items():
            if (resource["Type"], path) in ACCOUNT_UNIQUE:
                out[logical_id] = str(evaluate(value, TEMPLATE, values))
    return out


def test_every_name_the_template_gives_is_known_to_be_unique_or_scoped():
    given = {(r["Type"], path) for r in TEMPLATE["Resources"].values() for path in _named(r)}
    assert {("AWS::Glue::Database", "DatabaseInput.Name"), ("AWS::RDS::DBProxy", "DBProxyName")} <= given
    assert given - set(ACCOUNT_UNIQUE) - set(SCOPED) == set(), "a new name: is it unique in the account?"


def test_two_stacks_of_one_stage_get_names_of_their_own():
    first, second = names("csv-dmap-dev", Stage="dev"), names("csv-dmap-dev-2", OTHER_UUID, Stage="dev")
    assert set(first) == set(second) and len(first) >= len(ACCOUNT_UNIQUE)
    assert {lid: name for lid, name in first.items() if second[lid] == name} == {}


def test_the_glue_database_is_the_stack_name_with_underscores():
    assert names("csv-dmap-dev")["AnalyticsDatabase"] == "csv_dmap_dev"
    assert names("Csv-Dmap-Prod-2")["AnalyticsDatabase"] == "Csv_Dmap_Prod_2"  # stored as csv_dmap_prod_2


def test_metrics_of_two_stacks_are_apart():
    # The application's metrics carry a `service` dimension (Powertools: POWERTOOLS_SERVICE_NAME);
    # the error-rate alarm and the dashboard read this stack's only.
    service = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert evaluate(service, TEMPLATE, {"AWS::StackName": "a"}) != evaluate(service, TEMPLATE, {"AWS::StackName": "b"})
    alarm = TEMPLATE["Resources"]["RunErrorRateAlarm"]["Properties"]
    assert {"Name": "service", "Value": service} in alarm["Dimensions"]
    body = TEMPLATE["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    searches = re.findall(r"SEARCH\('([^']*)'", body)
    assert searches and all('service=\\"${AWS::StackName}\\"' in s for s in searches), searches
    assert '"service", "csv-dmap"' not in body


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_name_is_valid_for_stack_names_up_to_80_characters(stack: str):
    for logical_id, name in names(stack).items():
        limit, allowed = _rule(logical_id)
        assert len(name) <= limit and re.fullmatch(allowed, name), (logical_id, name)


def test_the_state_machine_is_the_name_that_bounds_the_stack_name():
    # The longest stack name each name accepts: its limit less what the template adds to the stack
    # name. 80 (the state machine's) is the smallest; a name that lowers it must change the docs.
    bounds = {}
    for logical_id, name in names("s").items():
        if name != names("t")[logical_id]:  # derived from the stack name
            bounds[logical_id] = _rule(logical_id)[0] - (len(name) - 1)
    assert min(bounds.values()) == 80 and min(bounds, key=bounds.get) == "CsvDmapStateMachine"
    assert "DbProxy" not in bounds  # from the stack's unique id: any stack name fits
