"""The template's EventBridge rules on "Step Functions Execution Status Change", emulated for a
local execution: when it ends, every function whose ``EventBridgeRule`` matches the event is
invoked with it, as EventBridge would (in the function's own environment, through the runner's
services). On AWS this is how a run whose map failed, uncaught so that a redrive can restart it,
still gets its run summary and alert (the RunStatus function).

The event is AWS's documented shape
(https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html): ``detail``
carries executionArn, stateMachineArn, name, status, startDate and stopDate (epoch milliseconds),
input, output, error, cause and redriveCount. Patterns are matched on the fields a rule of this
template uses: ``source``, ``detail-type`` and ``detail.status`` (the rule's ``stateMachineArn``
names the one state machine a local run executes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asl_runner import ExecutionResult

from . import ACCOUNT, REGION

if TYPE_CHECKING:
    from .environment import LocalEnvironment

DETAIL_TYPE = "Step Functions Execution Status Change"


def _listed(pattern: Mapping[str, Any], field: str, value: str) -> bool:
    allowed = pattern.get(field)
    return allowed is None or (isinstance(allowed, list) and value in allowed)


def matching_functions(env: LocalEnvironment, status: str) -> list[str]:
    """Logical ids of the template's functions whose EventBridge rule matches a status change to ``status``."""
    found: list[str] = []
    for logical_id, resource in (env.template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "EventBridgeRule":
                continue
            pattern = (event.get("Properties") or {}).get("Pattern") or {}
            detail = pattern.get("detail") or {}
            if (
                _listed(pattern, "source", "aws.states")
                and _listed(pattern, "detail-type", DETAIL_TYPE)
                and _listed(detail, "status", status)
            ):
                found.append(logical_id)
    return found


def _epoch_ms(iso: str | None) -> int | None:
    if not iso:
        return None
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def status_change_event(result: ExecutionResult, execution_input: Any, state_machine_arn: str) -> dict[str, Any]:
    """The EventBridge event AWS emits when ``result``'s execution ends."""
    checkpoint = result.checkpoint
    start = checkpoint.start_time if checkpoint else None
    name = checkpoint.name if checkpoint else result.execution_arn.rsplit(":", 1)[-1]
    detail = {
        "executionArn": result.execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": name,
        "status": result.status,
        "startDate": _epoch_ms(start),
        "stopDate": int(datetime.now().timestamp() * 1000),
        "input": json.dumps(execution_input, ensure_ascii=False),
        "output": json.dumps(result.output, ensure_ascii=False) if result.status == "SUCCEEDED" else None,
        "error": result.error,
        "cause": result.cause,
        "redriveCount": checkpoint.redrive_count if checkpoint else 0,
    }
    return {
        "version": "0",
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": ACCOUNT,
        "region": REGION,
        "resources": [result.execution_arn],
        "detail": detail,
    }


def emit_status_change(env: LocalEnvironment, result: ExecutionResult, execution_input: Any) -> list[str]:
    """Invoke the functions the template's rules send ``result``'s status change to; their names."""
    from .services import TemplateServices

    targets = matching_functions(env, result.status)
    if not targets:
        return []
    state_machine_arn = result.execution_arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    event = status_change_event(result, execution_input, state_machine_arn)
    services = TemplateServices(env)
    try:
        for logical_id in targets:
            services.invoke_function(env.physical_name(logical_id), event)
    finally:
        if env.containers is not None:
            env.containers.release()
    return targets
