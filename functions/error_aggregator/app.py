"""AggregateErrors: in one streaming pass over the ResultWriter files, count the run's rows, check
the count against the file's, write the per-row results dataset and repair missing audit items;
publish metrics, alert, write the run summary, and tell the state machine whether the run
succeeded. The pass itself is ``csv_dmap.aggregation`` (RunStatus makes it too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aggregation import AggregateOptions, RunFacts, aggregate_run
from csv_dmap.audit import get_audit_writer
from csv_dmap.aws import s3_client, sns_client
from csv_dmap.config import AggregateSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.aggregate import alert, needs_alert
from csv_dmap.models import AggregateRequest, AggregateResult, RunSummary
from csv_dmap.observability import logger, metrics, tracer
from csv_dmap.summaries import summary_key, write_summary

load(AggregateSettings)  # cold start: a misconfigured function fails here, naming the variable


def publish_metrics(summary: RunSummary) -> None:
    """The Run* metrics, one data point each per run."""
    metrics.add_metric(name="RunRows", unit=MetricUnit.Count, value=summary.rows)
    metrics.add_metric(name="RunRowsApplied", unit=MetricUnit.Count, value=summary.applied)
    metrics.add_metric(name="RunRowsFailed", unit=MetricUnit.Count, value=summary.failed + summary.pending)
    metrics.add_metric(name="RunRowsSuperseded", unit=MetricUnit.Count, value=summary.superseded)
    metrics.add_metric(name="RunRowsSkipped", unit=MetricUnit.Count, value=summary.skipped)
    metrics.add_metric(name="RunAuditMissing", unit=MetricUnit.Count, value=summary.audit_missing)
    metrics.add_metric(name="RunErrorRate", unit=MetricUnit.Percent, value=summary.error_rate)
    metrics.add_metric(name="RunFailed", unit=MetricUnit.Count, value=int(summary.status != "SUCCEEDED"))
    for kind, count in summary.errors_by_type.items():  # one dimension set per error type
        by_type = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        by_type.add_dimension(name="ErrorType", value=kind)
        by_type.add_metric(name="RunRowsFailedByType", unit=MetricUnit.Count, value=count)
        by_type.flush_metrics()


def options_of(settings: AggregateSettings, tolerance: float | None = None) -> AggregateOptions:
    return AggregateOptions(
        report_timezone=settings.report_timezone,
        tolerated_failure_percentage=settings.tolerated_failure_percentage if tolerance is None else tolerance,
        medium_ratio=settings.severity_medium_ratio,
        row_results_part_rows=settings.row_results_part_rows,
        audit_ttl_days=settings.audit_ttl_days,
    )


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AggregateRequest.model_validate(event)
    settings = load(AggregateSettings)
    details = request.map.get("ResultWriterDetails") or {}
    bucket = details.get("Bucket") or settings.results_bucket
    if not bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set and the map named no ResultWriter bucket")
    facts = RunFacts(
        execution_name=request.execution_name,
        start_time=request.execution_start_time,
        source_bucket=request.source.bucket,
        source_key=request.source.key,
        validation=request.validation,
        config=request.config,
        redrive_count=request.redrive_count,
        map_result=request.map,
    )
    tolerance = request.config.tolerated_failure_percentage if request.config else None
    done = aggregate_run(
        s3_client(),
        bucket,
        facts,
        options_of(settings, tolerance),
        now=datetime.now(UTC),
        audit=get_audit_writer(),
        written_by="AggregateErrors",
    )
    summary = done.summary
    summary.redrivable = False if summary.status != "SUCCEEDED" else None  # RunFailed: a redrive re-enters it
    uri = f"s3://{bucket}/{summary_key(summary)}"
    if needs_alert(summary) and settings.alert_topic_arn:
        subject, message = alert(summary, uri)
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)
        summary.alert_sent = True
    write_summary(s3_client(), bucket, summary)
    publish_metrics(summary)
    logger.info(
        "run aggregated",
        extra={
            "status": summary.status,
            "rows": summary.rows,
            "rowParts": len(done.row_parts),
            "errorRate": summary.error_rate,
            "severity": summary.severity.value,
            "auditMissing": summary.audit_missing,
            "duplicatesSkipped": done.problems.duplicate_records + done.problems.duplicate_files,
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
            "audit_missing": summary.audit_missing,
            "error_rate": summary.error_rate,
            "severity": summary.severity,
            "alert_sent": summary.alert_sent,
            "summary_uri": uri,
        }
    ).to_payload()
