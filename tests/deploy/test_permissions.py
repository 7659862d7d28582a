"""What the functions and the state machine may do, read from their policies in template.yaml (SAM
copies inline statements into the roles as they are): exactly what their code calls, on the
prefixes it uses."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.conftest import TEMPLATE

RES = TEMPLATE["Resources"]


def _policies(logical_id: str) -> list[Any]:
    return list(RES[logical_id]["Properties"].get("Policies", []))


def grants(logical_id: str) -> dict[str, set[str]]:
    """Action -> the resources (as JSON text, conditions appended) the inline statements grant it on."""
    out: dict[str, set[str]] = {}
    for policy in _policies(logical_id):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                for resource in resources:
                    text = json.dumps(resource, sort_keys=True)
                    if "Condition" in statement:
                        text += " if " + json.dumps(statement["Condition"], sort_keys=True)
                    out.setdefault(action, set()).add(text)
    return out


def _sub(text: str) -> str:
    return json.dumps({"Fn::Sub": text}, sort_keys=True)


def _templates(logical_id: str) -> set[str]:
    """The SAM policy templates a function uses (S3CrudPolicy, ...)."""
    return {k for p in _policies(logical_id) if isinstance(p, dict) for k in p if k != "Statement"}


def test_validate_input_reads_the_exact_upload_version_and_writes_only_its_staging_copy():
    # StartRun hands over the object's version; GetObject/HeadObject with VersionId need
    # s3:GetObjectVersion. SAM's S3CrudPolicy granted it, with DeleteObject, PutObjectAcl and
    # PutLifecycleConfiguration on every object of the bucket: gone.
    assert _templates("ValidateInputFunction") == set()
    assert grants("ValidateInputFunction") == {
        "s3:GetObject": {_sub("${InputBucket.Arn}/incoming/*")},
        "s3:GetObjectVersion": {_sub("${InputBucket.Arn}/incoming/*")},
        "s3:PutObject": {_sub("${InputBucket.Arn}/staging/*")},
        "s3:AbortMultipartUpload": {_sub("${InputBucket.Arn}/staging/*")},
    }


def test_run_status_reads_a_failed_run_and_writes_its_summary_and_rows():
    granted = grants("RunStatusFunction")
    prefixes = ("results", "summaries", "rows")
    staging = _sub("${InputBucket.Arn}/staging/*")  # ValidateInput's counts, in its copy's metadata
    upload = _sub("${InputBucket.Arn}/incoming/*")  # the reject file is written from the original upload
    assert granted["s3:GetObject"] == {_sub(f"${{ResultsBucket.Arn}}/{p}/*") for p in prefixes} | {staging, upload}
    assert granted["s3:GetObjectVersion"] == {upload}  # the version the run read
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        written = ("summaries", "rows", "rejects")
        assert granted[action] == {_sub(f"${{ResultsBucket.Arn}}/{p}/*") for p in written}, action

    def listing(bucket: str, prefixes: Any) -> str:
        condition = json.dumps({"StringLike": {"s3:prefix": prefixes}}, sort_keys=True)
        return json.dumps({"Fn::GetAtt": [bucket, "Arn"]}, sort_keys=True) + " if " + condition

    assert granted["s3:ListBucket"] == {
        listing("ResultsBucket", [f"{p}/*" for p in prefixes]),
        listing("InputBucket", "staging/*"),
    }
    # Built from the state machine's name with !Sub, never a !Ref to it (no dependency cycle).
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    executions = _sub(f"{arn}:execution:${{AWS::StackName}}:*")
    for action in ("states:DescribeExecution", "states:GetExecutionHistory", "states:ListMapRuns"):
        assert granted[action] == {executions}, action
    # it waits until the run's Map Runs stop writing results (ListMapRuns, then DescribeMapRun)
    assert granted["states:DescribeMapRun"] == {_sub(f"{arn}:mapRun:${{AWS::StackName}}/*")}
    assert "CsvDmapStateMachine" not in json.dumps(_policies("RunStatusFunction"))
    assert _templates("RunStatusFunction") == {"SNSPublishMessagePolicy", "DynamoDBWritePolicy"}
    named = {k: v for p in _policies("RunStatusFunction") if isinstance(p, dict) for k, v in p.items()}
    assert named["SNSPublishMessagePolicy"] == {"TopicName": {"Fn::GetAtt": ["AlertTopic", "TopicName"]}}
    assert named["DynamoDBWritePolicy"] == {"TableName": {"Ref": "AuditTable"}}  # repairs missing audit items
    assert set(granted) == {
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:ListMapRuns",
        "states:DescribeMapRun",
    }


def test_the_state_machine_may_redrive_its_map_run_children_only():
    # "Step Functions needs appropriate permission to redrive a Map Run": RedriveExecution on
    # execution:<state machine>/<Map Run label>:* (AWS's least privilege). The parent's executions,
    # execution:<state machine>:<name>, are redriven by operators, not by the state machine.
    granted = grants("CsvDmapStateMachine")
    children = _sub("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}/*")
    assert granted["states:RedriveExecution"] == {children}
    assert granted["states:StartExecution"] == {
        _sub("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}")
    }  # EXPRESS children are started again with StartExecution on a redrive
