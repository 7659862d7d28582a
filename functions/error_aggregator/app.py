"""AggregateErrors: in one streaming pass over the ResultWriter files, count the
run's rows and write the per-row results dataset; publish metrics, alert on a high
error rate, write the run summary, and tell the state machine whether the run succeeded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import s3_client, sns_client
from csv_dmap.config import AggregateSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.aggregate import alert, execution_date, needs_alert, summarise
from csv_dmap.models import AggregateRequest, AggregateResult, RunSummary
from csv_dmap.observability import logger, metrics, tracer
from csv_dmap.results import manifest_keys, tally_run
from csv_dmap.row_results import RowResultsWriter
from csv_dmap.summaries import summary_key, write_summary

load(AggregateSettings)  # cold start: a misconfigured function fails here, naming the variable


def _publish_metrics(summary: RunSummary) -> None:
    """Contract 10: the Run* metrics, one data point each per run."""
    metrics.add_metric(name="RunRows", unit=MetricUnit.Count, value=summary.rows)
    metrics.add_metric(name="RunRowsApplied", unit=MetricUnit.Count, value=summary.applied)
    metrics.add_metric(name="RunRowsFailed", unit=MetricUnit.Count, value=summary.failed + summary.pending)
    metrics.add_metric(name="RunRowsSuperseded", unit=MetricUnit.Count, value=summary.superseded)
    metrics.add_metric(name="RunRowsSkipped", unit=MetricUnit.Count, value=summary.skipped)
    metrics.add_metric(name="RunErrorRate", unit=MetricUnit.Percent, value=summary.error_rate)
    metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=int(summary.status != "SUCCEEDED"))
    for kind, count in summary.errors_by_type.items():  # one dimension set per error type
        by_type = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        by_type.add_dimension(name="ErrorType", value=kind)
        by_type.add_metric(name="RunRowsFailedByType", unit=MetricUnit.Count, value=count)
        by_type.flush_metrics()


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AggregateRequest.model_validate(event)
    settings = load(AggregateSettings)
    s3 = s3_client()
    details = request.map.get("ResultWriterDetails") or {}
    bucket = details.get("Bucket") or settings.results_bucket
    if not bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set and the map named no ResultWriter bucket")
    keys = [details["Key"]] if details.get("Key") else manifest_keys(s3, bucket, request.execution_name)
    day = execution_date(request.execution_start_time, settings.report_timezone)
    with RowResultsWriter(
        s3,
        bucket,
        execution_name=request.execution_name,
        execution_date=day,
        execution_start=request.execution_start_time,
        source_key=request.source.key,
        part_rows=settings.row_results_part_rows,
    ) as rows_out:
        tally = tally_run(s3, bucket, keys, on_row=rows_out.add)
    tolerance = request.config.tolerated_failure_percentage if request.config else settings.tolerated_failure_percentage
    summary = summarise(
        execution_name=request.execution_name,
        start_time=request.execution_start_time,
        now=datetime.now(UTC),
        tally=tally,
        source_bucket=request.source.bucket,
        source_key=request.source.key,
        validation=request.validation,
        config=request.config,
        map_result=request.map,
        tolerated_failure_percentage=tolerance,
        timezone=settings.report_timezone,
        medium_ratio=settings.severity_medium_ratio,
    )
    summary.manifest_key = keys[0] if keys else None
    summary.rows_prefix = f"s3://{bucket}/{rows_out.prefix}"
    uri = f"s3://{bucket}/{summary_key(summary)}"
    if needs_alert(summary) and settings.alert_topic_arn:
        subject, message = alert(summary, uri)
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)
        summary.alert_sent = True
    write_summary(s3, bucket, summary)
    _publish_metrics(summary)
    logger.info(
        "run aggregated",
        extra={
            "status": summary.status,
            "rows": summary.rows,
            "rowParts": len(rows_out.keys),
            "errorRate": summary.error_rate,
            "severity": summary.severity.value,
        },
    )
    return AggregateResult.model_validate(
        {
            "status": summary.status,
            "error": summary.error,
            "cause": f"{summary.cause}; summary: {uri}" if summary.cause else None,
            "rows": summary.rows,
            "applied": summary.applied,
            "failed": summary.failed,
            "superseded": summary.superseded,
            "skipped": summary.skipped,
            "pending": summary.pending,
            "error_rate": summary.error_rate,
            "severity": summary.severity,
            "alert_sent": summary.alert_sent,
            "summary_uri": uri,
        }
    ).to_payload()
