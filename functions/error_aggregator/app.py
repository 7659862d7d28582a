"""AggregateErrors: count the run's rows from the ResultWriter files, publish
metrics, alert on a high error rate, write the run summary, and tell the
state machine whether the run succeeded."""

from datetime import datetime, timezone

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import s3_client, sns_client
from csv_dmap.config import get_settings
from csv_dmap.logic.aggregate import alert, needs_alert, summarise
from csv_dmap.models import AggregateRequest, AggregateResult
from csv_dmap.observability import logger, metrics, tracer
from csv_dmap.results import manifest_keys, tally_run
from csv_dmap.summaries import summary_key, write_summary


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = AggregateRequest.model_validate(event)
    settings = get_settings()
    s3 = s3_client()
    details = request.map.get("ResultWriterDetails") or {}
    bucket = details.get("Bucket") or settings.results_bucket
    keys = [details["Key"]] if details.get("Key") else manifest_keys(s3, bucket, request.execution_name)
    tally = tally_run(s3, bucket, keys)
    tolerance = request.config.tolerated_failure_percentage if request.config else settings.tolerated_failure_percentage
    summary = summarise(
        execution_name=request.execution_name,
        start_time=request.execution_start_time,
        now=datetime.now(timezone.utc),
        tally=tally,
        source_bucket=request.source.bucket,
        source_key=request.source.key,
        validation=request.validation,
        config=request.config,
        map_result=request.map,
        tolerated_failure_percentage=tolerance,
        timezone=settings.report_timezone,
    )
    summary.manifest_key = keys[0] if keys else None
    uri = f"s3://{bucket}/{summary_key(summary)}"
    if needs_alert(summary) and settings.alert_topic_arn:
        subject, message = alert(summary, uri)
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)
        summary.alert_sent = True
    write_summary(s3, bucket, summary)

    metrics.add_metric(name="RowsProcessed", unit=MetricUnit.Count, value=summary.rows)
    metrics.add_metric(name="RowsApplied", unit=MetricUnit.Count, value=summary.applied)
    metrics.add_metric(name="RowsFailed", unit=MetricUnit.Count, value=summary.failed + summary.pending)
    metrics.add_metric(name="ErrorRate", unit=MetricUnit.Percent, value=summary.error_rate)
    metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=int(summary.status != "SUCCEEDED"))
    for kind, count in summary.errors_by_type.items():  # one dimension set per error type
        by_type = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        by_type.add_dimension(name="ErrorType", value=kind)
        by_type.add_metric(name="RowsFailedByType", unit=MetricUnit.Count, value=count)
        by_type.flush_metrics()
    logger.info("run aggregated", extra={"status": summary.status, "rows": summary.rows,
                                          "errorRate": summary.error_rate, "severity": summary.severity.value})
    return AggregateResult(
        status=summary.status, error=summary.error, cause=(f"{summary.cause}; summary: {uri}" if summary.cause else None),
        rows=summary.rows, applied=summary.applied, failed=summary.failed + summary.pending,
        error_rate=summary.error_rate, severity=summary.severity, alert_sent=summary.alert_sent, summary_uri=uri,
    ).to_payload()
