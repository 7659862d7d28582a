"""StartRun: an uploaded CSV (S3 "Object Created" through EventBridge) starts one run of the state
machine, named after the object version; a repeated delivery of the event starts nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import stepfunctions_client
from csv_dmap.config import StartRunSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.run_start import run_start_of, skip_reason
from csv_dmap.observability import logger, tracer

load(StartRunSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(StartRunSettings)
    if not settings.state_machine_arn:
        raise ConfigurationError("STATE_MACHINE_ARN is not set")
    start = run_start_of(event)
    skipped = skip_reason(start)
    if skipped:
        logger.info("upload skipped", extra={"key": start.key, "reason": skipped})
        return {"executionName": None, "started": False, "skipped": skipped}
    sfn = stepfunctions_client()
    try:
        response = sfn.start_execution(
            stateMachineArn=settings.state_machine_arn, name=start.name, input=start.execution_input()
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info(
            "run already started for this object version", extra={"executionName": start.name, "key": start.key}
        )
        return {"executionName": start.name, "started": False}
    logger.info("run started", extra={"executionName": start.name, "key": start.key, "version": start.version})
    return {"executionName": start.name, "executionArn": response["executionArn"], "started": True}
