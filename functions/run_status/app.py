"""RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED ("Step Functions Execution Status
Change" through EventBridge) is announced on SNS and gets a run summary, unless AggregateErrors
already wrote one (then only its missing alert is sent)."""

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from csv_dmap.aws import s3_client, sns_client, stepfunctions_client
from csv_dmap.config import RunStatusSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.run_status import ExecutionStatusChange, alert, failure_summary
from csv_dmap.models import RunSummary
from csv_dmap.observability import logger, metrics, tracer
from csv_dmap.summaries import summary_key, write_summary

load(RunStatusSettings)  # cold start: a misconfigured function fails here, naming the variable


def _existing_summary(s3: Any, bucket: str, key: str) -> RunSummary | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return RunSummary.model_validate(json.loads(body))


def _with_error(change: ExecutionStatusChange) -> ExecutionStatusChange:
    """The event may lack Error/Cause: DescribeExecution has them."""
    if change.error or change.status != "FAILED":
        return change
    described = stepfunctions_client().describe_execution(executionArn=change.execution_arn)
    return change.model_copy(update={"error": described.get("error"), "cause": described.get("cause")})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(RunStatusSettings)
    if not settings.results_bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set")
    change = _with_error(ExecutionStatusChange.model_validate(event["detail"]))
    summary = failure_summary(change, report_timezone=settings.report_timezone, now=datetime.now(UTC))
    s3 = s3_client()
    key = summary_key(summary)
    uri = f"s3://{settings.results_bucket}/{key}"
    existing = _existing_summary(s3, settings.results_bucket, key)
    alerted = existing is not None and existing.alert_sent
    if not alerted and settings.alert_topic_arn:
        subject, message = alert(existing or summary, uri, change.execution_arn)
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)
        summary.alert_sent = True
    if existing is None:
        write_summary(s3, settings.results_bucket, summary)

    ended = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    ended.add_dimension(name="Status", value=summary.status)
    ended.add_metric(name="RunEnded", unit=MetricUnit.Count, value=1)
    ended.flush_metrics()
    logger.info(
        "run ended",
        extra={
            "executionName": change.name,
            "status": summary.status,
            "error": summary.error,
            "summaryWritten": existing is None,
            "alertSent": not alerted,
        },
    )
    return {
        "executionName": change.name,
        "status": summary.status,
        "summaryUri": uri,
        "summaryWritten": existing is None,
        "alertSent": summary.alert_sent and not alerted,
    }
