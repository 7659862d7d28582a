"""ValidateInput: check the uploaded CSV and hand the map its normalised UTF-8 copy.

Raises EmptyFile, InvalidHeader, UnsupportedEncoding, RecordTooLarge, FileTooLarge or
InputNotFound (the ASL ends the run with that Error and the message as Cause, at most
1,000 characters). It reads exactly the object version named in the run's input (``versionId``,
checked against ``etag``), so two uploads of one key within a second are two runs of two versions. The output and the log line are small by construction (capped header)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from csv_dmap.aws import s3_client
from csv_dmap.config import ValidateSettings, load
from csv_dmap.errors import InputNotFound
from csv_dmap.input_files import validate_object
from csv_dmap.models import ValidateRequest
from csv_dmap.observability import log_metrics, logger, metrics, tracer

load(ValidateSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler(capture_response=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = ValidateRequest.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputNotFound(
            f"the run's input must be {{bucket, key[, versionId, etag]}} naming an S3 object: {where}: {first['msg']}"
        ) from None
    result = validate_object(s3_client(), request.input, request.execution_name, load(ValidateSettings).max_input_bytes)
    metrics.add_metric(name="InputRows", unit=MetricUnit.Count, value=result.source_rows)
    metrics.add_metric(name="DuplicateRows", unit=MetricUnit.Count, value=result.duplicate_rows)
    payload = result.to_payload()
    logger.info("input validated", extra=payload)
    return payload
