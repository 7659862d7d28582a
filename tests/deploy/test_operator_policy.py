"""OperatorPolicy grants exactly what the operator CLI calls on a stack (`csv-dmap --stack ...`),
on that stack's resources, and docs/deploy-operations.md lists the same actions. The calls are read
from the CLI's code: every method of the AWS clients it calls (an operation of S3, DynamoDB, Step
Functions or CloudFormation in botocore's models), and every paginator it asks for."""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from csv_dmap import audit, reports, summaries
from csv_dmap_cli import backends, cli, rejects
from tests.deploy.conftest import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
# What the CLI runs against a stack: its AWS backend and the shared readers and writers it uses.
CODE = [
    backends.AwsBackend,
    backends.stack_outputs,
    cli.aws_backend,
    summaries.S3Summaries,  # how the summary reader lists and reads the results bucket
    reports.write_report,
    audit.AuditLogReader,
    rejects.cmd_rejects,
    rejects._open,
]
SERVICES = {"s3": "s3", "dynamodb": "dynamodb", "stepfunctions": "states", "cloudformation": "cloudformation"}
# S3 operations authorised under another action's name (Service Authorization Reference, Amazon S3).
S3_ACTIONS = {"ListObjectsV2": "ListBucket", "HeadObject": "GetObject"}


def _operations() -> dict[str, str]:
    """snake_case operation name -> IAM action, over the services the CLI reaches."""
    session = botocore.session.get_session()
    found: dict[str, list[str]] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            action = S3_ACTIONS.get(operation, operation) if service == "s3" else operation
            found.setdefault(xform_name(operation), []).append(f"{prefix}:{action}")
    return {name: actions[0] for name, actions in found.items() if len(actions) == 1}


def called_actions() -> set[str]:
    operations = _operations()
    calls: set[str] = set()
    for obj in CODE:
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(obj)))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                name = str(node.args[0].value)
            if name in operations:
                calls.add(operations[name])
    return calls


def _statements() -> list[dict[str, Any]]:
    return list(TEMPLATE["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"]["Statement"])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted_actions() -> set[str]:
    return {action for s in _statements() for action in _listed(s["Action"])}


def test_the_scan_sees_the_clis_calls():
    calls = called_actions()
    # status (ListMapRuns/DescribeMapRun), redrive (history, then RedriveExecution), failures
    # and history (the audit log), runs (summaries), report (writes it): a scan that misses one is broken
    assert {"states:ListMapRuns", "states:RedriveExecution", "dynamodb:Query", "s3:ListBucket", "s3:PutObject"} <= calls


def test_the_operator_policy_grants_exactly_what_the_cli_calls():
    assert granted_actions() == called_actions()


def test_the_operator_policy_is_scoped_to_this_stack():
    texts = {json.dumps(r, sort_keys=True) for s in _statements() for r in _listed(s["Resource"])}
    assert all(t != '"*"' for t in texts)
    by_action: dict[str, set[str]] = {}
    for statement in _statements():
        for action in _listed(statement["Action"]):
            by_action.setdefault(action, set()).update(
                json.dumps(r, sort_keys=True) for r in _listed(statement["Resource"])
            )
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    for action in (
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:ListMapRuns",
        "states:RedriveExecution",
    ):
        assert by_action[action] == {json.dumps({"Fn::Sub": f"{arn}:execution:${{AWS::StackName}}:*"})}, action
    assert by_action["s3:GetObject"] == {
        json.dumps({"Fn::Sub": "${ResultsBucket.Arn}/summaries/*"}),
        json.dumps({"Fn::Sub": "${ResultsBucket.Arn}/rejects/*"}),
    }
    assert by_action["s3:PutObject"] == {json.dumps({"Fn::Sub": "${ResultsBucket.Arn}/daily-reports/*"})}
    (listing,) = [s for s in _statements() if "s3:ListBucket" in _listed(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "summaries/*"}}
    assert {json.loads(t).get("Fn::GetAtt", [""])[0] for t in by_action["dynamodb:Query"]} >= {"AuditTable"}
    assert "ManagedPolicyName" not in TEMPLATE["Resources"]["OperatorPolicy"]["Properties"]  # IAM names are global
    assert TEMPLATE["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}


def test_the_docs_list_the_same_actions():
    text = (ROOT / "docs" / "deploy-operations.md").read_text(encoding="utf-8")
    section = text.split("## Operator permissions", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:s3|dynamodb|states|cloudformation):[A-Za-z]+)`", section))
    assert listed == granted_actions()
