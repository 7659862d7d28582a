"""DailyReport: the previous day's runs (Asia/Tokyo by default) as
daily-reports/YYYY-MM-DD.json and .html, announced on SNS. ``{"date": "YYYY-MM-DD"}``
in the event re-runs a given day."""

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.typing import LambdaContext
from csv_dmap.aws import s3_client, sns_client
from csv_dmap.config import get_settings
from csv_dmap.errors import ConfigurationError
from csv_dmap.logic.daily_report import build_report, render_html, render_text
from csv_dmap.models import ReportRequest
from csv_dmap.observability import logger, tracer
from csv_dmap.summaries import summaries_of


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    if not settings.results_bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set")
    request = ReportRequest.model_validate(event if isinstance(event, dict) else {})
    now = datetime.now(timezone.utc)
    day = request.report_date or (now.astimezone(ZoneInfo(settings.report_timezone)).date() - timedelta(days=1))
    s3 = s3_client()
    report = build_report(day.isoformat(), settings.report_timezone, summaries_of(s3, settings.results_bucket, day), now)
    base = f"daily-reports/{day.isoformat()}"
    s3.put_object(Bucket=settings.results_bucket, Key=f"{base}.json", ContentType="application/json",
                  Body=json.dumps(report, ensure_ascii=False, indent=2).encode())
    s3.put_object(Bucket=settings.results_bucket, Key=f"{base}.html", ContentType="text/html; charset=utf-8",
                  Body=render_html(report).encode())
    links = {"json": f"s3://{settings.results_bucket}/{base}.json", "html": f"s3://{settings.results_bucket}/{base}.html"}
    if settings.alert_topic_arn:
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=f"[csv-dmap] daily report {day.isoformat()}",
                             Message=render_text(report, links))
    logger.info("daily report written", extra={"date": day.isoformat(), "executions": report["executions"]})
    return {"date": day.isoformat(), "executions": report["executions"], "reportKeys": [f"{base}.json", f"{base}.html"]}
