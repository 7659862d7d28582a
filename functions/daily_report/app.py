"""DailyReport: the previous day's runs (Asia/Tokyo by default) as
daily-reports/YYYY-MM-DD.json and .html, plus a one-line copy for Athena under
daily-reports/date=YYYY-MM-DD/report.json, announced on SNS. ``{"date": "YYYY-MM-DD"}``
in the event re-runs a given day. An object under ``summaries/`` that cannot be used is
skipped, named in a warning and in the report (``skippedSummaries``); the report is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import s3_client, sns_client
from csv_dmap.config import ReportSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.daily_report import build_report, render_text
from csv_dmap.models import ReportRequest
from csv_dmap.observability import logger, tracer
from csv_dmap.reports import write_report
from csv_dmap.summaries import S3Summaries, summaries_of

load(ReportSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(ReportSettings)
    if not settings.results_bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set")
    request = ReportRequest.model_validate(event if isinstance(event, dict) else {})
    now = datetime.now(UTC)
    day = request.report_date or (now.astimezone(ZoneInfo(settings.report_timezone)).date() - timedelta(days=1))
    s3 = s3_client()
    found = summaries_of(S3Summaries(s3, settings.results_bucket), day)
    for skipped in found.skipped:
        logger.warning("run summary skipped", extra=skipped.to_payload())
    report = build_report(day.isoformat(), settings.report_timezone, found.runs, now, found.skipped)
    keys = write_report(s3, settings.results_bucket, day.isoformat(), report)
    links = {"json": f"s3://{settings.results_bucket}/{keys[0]}", "html": f"s3://{settings.results_bucket}/{keys[1]}"}
    if settings.alert_topic_arn:
        sns_client().publish(
            TopicArn=settings.alert_topic_arn,
            Subject=f"[csv-dmap] daily report {day.isoformat()}",
            Message=render_text(report, links),
        )
    logger.info("daily report written", extra={"date": day.isoformat(), "executions": report["executions"]})
    return {"date": day.isoformat(), "executions": report["executions"], "reportKeys": keys}
