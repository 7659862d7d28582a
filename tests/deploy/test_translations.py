"""Every configuration deploys: the template, translated as SAM translates it for each parameter set
of the matrix, passes cfn-lint and checkov, and has the properties the deployment needs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests.deploy.conftest import PARAMETER_SETS, TEMPLATE, Translation
from tests.deploy.matrix import condition_parameters

REQUIRED_AXES = {"VpcSubnetIds", "DbSecretArn", "AlertEmail"}


def _strings(node: Any) -> list[str]:
    """Every string a (possibly Fn::If-wrapped) list item can take."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict) and "Fn::If" in node:
        _, yes, no = node["Fn::If"]
        return _strings(yes) + _strings(no)
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        for branch in _strings_or_dicts(policy):
            statements = branch["PolicyDocument"]["Statement"]
            found.extend(s for st in statements for s in _strings_or_dicts(st))
    return found


def _strings_or_dicts(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict) and "Fn::If" in node:
        _, yes, no = node["Fn::If"]
        return _strings_or_dicts(yes) + _strings_or_dicts(no)
    if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] == "AWS::NoValue":
        return []
    return [node] if isinstance(node, dict) else []


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


# ---------------------------------------------------------------- the matrix and the tools


def test_the_matrix_covers_vpc_database_and_alert_email_on_and_off():
    axes = set(condition_parameters(TEMPLATE))
    assert axes >= REQUIRED_AXES
    for axis in axes:
        values = {json.dumps(p.get(axis)) for p in PARAMETER_SETS.values()}
        assert len(values) >= 2, f"{axis} takes one value only in the matrix"
    assert PARAMETER_SETS["defaults"] == {}
    assert all(PARAMETER_SETS["everything"].get(a) for a in REQUIRED_AXES)


def test_cfn_lint_finds_no_error(translation: Translation):
    errors = [m for m in translation.cfn_lint if m["Level"] == "Error"]
    assert not errors, "\n".join(f"{m['Rule']['Id']} {m['Message']}" for m in errors)


def test_checkov_fails_no_check_and_every_skip_says_why(translation: Translation):
    assert translation.checkov_passed > 0, "checkov checked nothing"
    assert not translation.checkov_failed, "\n".join(
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in translation.checkov_failed
    )
    assert translation.checkov_skipped, "the Metadata skips were not read"
    for check in translation.checkov_skipped:
        assert (check.get("check_result") or {}).get("suppress_comment"), check["check_id"]


# ---------------------------------------------------------------- the deploy defects


def test_no_role_names_a_managed_policy_twice(translation: Translation):
    roles = translation.resources("AWS::IAM::Role")
    assert roles
    for logical_id, role in roles.items():
        items = role["Properties"].get("ManagedPolicyArns", [])
        plain = [i for i in items if isinstance(i, str)]
        conditional = [s for i in items if not isinstance(i, str) for s in _strings(i)]
        counts = Counter(plain)
        assert all(n == 1 for n in counts.values()), (logical_id, counts)
        assert not set(plain) & set(conditional), (logical_id, plain, conditional)


def test_vpc_access_comes_from_sam_when_the_worker_is_in_a_vpc(translation: Translation):
    role = translation.template["Resources"]["WorkerFunctionRole"]["Properties"]
    vpc_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    assert _strings(role["ManagedPolicyArns"]).count(vpc_arn) == 1


def test_schedules_are_unnamed(translation: Translation):
    schedules = translation.resources("AWS::Scheduler::Schedule")
    assert schedules
    for schedule in schedules.values():
        assert "Name" not in schedule["Properties"]


def test_data_is_retained_when_the_stack_goes(translation: Translation):
    stores = {**translation.resources("AWS::S3::Bucket"), **translation.resources("AWS::DynamoDB::Table")}
    assert {"InputBucket", "ResultsBucket", "AuditTable"} <= set(stores)
    for logical_id, res in stores.items():
        assert res.get("DeletionPolicy") == "Retain", logical_id
        assert res.get("UpdateReplacePolicy") == "Retain", logical_id


# ---------------------------------------------------------------- nothing fails silently


def test_the_run_status_rule_sends_failed_timed_out_and_aborted_runs_to_run_status(translation: Translation):
    rules = [
        r
        for r in translation.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1
    props = rules[0]["Properties"]
    pattern = props["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert set(pattern["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "CsvDmapStateMachine"}]
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RunStatusFunction", "Arn"]}


def test_every_rule_target_has_a_dead_letter_queue_and_retries(translation: Translation):
    queues = translation.resources("AWS::SQS::Queue")
    for logical_id, rule in translation.resources("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            arn = target["DeadLetterConfig"]["Arn"]
            assert arn["Fn::GetAtt"][0] in queues, logical_id
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    for queue in queues.values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")


def test_asynchronously_invoked_functions_keep_failed_events(translation: Translation):
    for logical_id in ("StartRunFunction", "RunStatusFunction", "DailyReportFunction"):
        props = translation.template["Resources"][logical_id]["Properties"]
        assert props["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}


def test_uploads_start_runs_through_the_starter_function_only(translation: Translation):
    s3_rules = [
        r
        for r in translation.resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == ["aws.s3"]
    ]
    assert len(s3_rules) == 1
    (target,) = s3_rules[0]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["StartRunFunction", "Arn"]}
    assert "InputTransformer" not in target  # the function needs the object's version-id


def _alarm_metrics(alarm: dict[str, Any]) -> set[str]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return {props["MetricName"]}
    return {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}


def test_alarms_notify_the_alert_topic_and_cover_every_failure_mode(translation: Translation):
    alarms = translation.resources("AWS::CloudWatch::Alarm")
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}], logical_id
    watched = Counter(m for alarm in alarms.values() for m in _alarm_metrics(alarm))
    required = {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "RunErrorRate",
        "Errors",
        "Throttles",
        "Duration",
        "ThrottledRequests",
        "Invocations",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateOpenMapRunCount",
    }
    assert required <= set(watched)
    proxy = {"DatabaseConnections", "MaxDatabaseConnectionsAllowed"}
    # A proxy is watched when one is named or the stack creates its own (behind an RDS Proxy):
    # read from the parameters, falling back to the template's defaults (DatabaseMode=create).
    effective = {
        name: translation.parameters.get(name, str(spec.get("Default", "")))
        for name, spec in TEMPLATE["Parameters"].items()
    }
    if effective["DbProxyEndpoint"] or effective["DatabaseMode"] == "create":
        assert proxy <= set(watched)
    else:
        assert not proxy & set(watched)
    duration = next(a for a in alarms.values() if _alarm_metrics(a) == {"Duration"})["Properties"]
    assert duration["ExtendedStatistic"] == "p99"
    worker_timeout_ms = translation.template["Resources"]["WorkerFunction"]["Properties"]["Timeout"] * 1000
    assert duration["Threshold"] < worker_timeout_ms


def test_the_alert_topic_key_lets_cloudwatch_and_eventbridge_publish(translation: Translation):
    topic = translation.template["Resources"]["AlertTopic"]["Properties"]
    key_id = topic["KmsMasterKeyId"]["Ref"]
    key = translation.template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    services = set()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        principal = statement.get("Principal", {}).get("Service", [])
        if {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(_actions(statement)):
            services |= {principal} if isinstance(principal, str) else set(principal)
    assert {"events.amazonaws.com", "cloudwatch.amazonaws.com"} <= services


def test_the_dashboard_shows_runs_rows_errors_duration_connections_and_throttles(translation: Translation):
    (dashboard,) = translation.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "ExecutionsStarted",
        "RunEnded",
        "WorkerRowsApplied",
        "RunRowsFailedByType",
        "RunErrorRate",
        "Duration",
        "DatabaseConnections",
        "ThrottledRequests",
    ):
        assert metric in body, metric


# ---------------------------------------------------------------- least privilege, retention


def test_every_function_logs_to_a_group_with_retention(translation: Translation):
    groups = translation.resources("AWS::Logs::LogGroup")
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    functions = translation.resources("AWS::Lambda::Function")
    assert len(functions) >= 7
    for logical_id, fn in functions.items():
        ref = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert ref in groups, logical_id


def test_the_state_machine_role_has_only_the_actions_it_uses(translation: Translation):
    role = translation.template["Resources"]["CsvDmapStateMachineRole"]
    statements = _statements(role)
    actions = {a for s in statements for a in _actions(s)}
    assert not {"states:UpdateMapRun", "states:ListMapRuns", "states:DescribeMapRun"} & actions
    for statement in statements:
        if {"s3:PutObject", "s3:AbortMultipartUpload"} & set(_actions(statement)):
            assert statement["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
        if "s3:GetObject" in _actions(statement) and "InputBucket" in json.dumps(statement["Resource"]):
            assert statement["Resource"] == {"Fn::Sub": "${InputBucket.Arn}/staging/*"}
    assert "s3:ListBucket" not in actions
