"""ValidateInput: check the uploaded CSV and hand the map its normalised UTF-8 copy.

Raises EmptyFile, InvalidHeader, UnsupportedEncoding, RecordTooLarge, FileTooLarge or
InputNotFound (the ASL ends the run with that Error and the message as Cause, at most
1,000 characters). The output and the log line are small by construction (capped header)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import s3_client
from csv_dmap.config import ValidateSettings, load
from csv_dmap.input_files import validate_object
from csv_dmap.models import ValidateRequest
from csv_dmap.observability import log_metrics, logger, metrics, tracer

load(ValidateSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler(capture_response=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ValidateRequest.model_validate(event)
    result = validate_object(
        s3_client(), request.bucket, request.key, request.execution_name, load(ValidateSettings).max_input_bytes
    )
    metrics.add_metric(name="InputRows", unit=MetricUnit.Count, value=result.source_rows)
    metrics.add_metric(name="DuplicateRows", unit=MetricUnit.Count, value=result.duplicate_rows)
    payload = result.to_payload()
    logger.info("input validated", extra=payload)
    return payload
