"""DetermineConcurrency: MaxConcurrency, MaxItemsPerBatch and tolerance for the map.

The history (the last 7 days' run summaries) only tunes the plan: an object under
``summaries/`` that cannot be used is skipped and named in a warning, never a failed run."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.aws import s3_client
from csv_dmap.config import PlanSettings, load
from csv_dmap.logic.concurrency import limits_from, plan
from csv_dmap.models import ConcurrencyRequest, RunSummary
from csv_dmap.observability import logger, tracer
from csv_dmap.summaries import S3Summaries, recent_summaries

load(PlanSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context(correlation_id_path="executionName")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ConcurrencyRequest.model_validate(event)
    settings = load(PlanSettings)
    history: list[RunSummary] = []
    if settings.results_bucket:
        today = datetime.now(ZoneInfo(settings.report_timezone)).date()
        recent = recent_summaries(S3Summaries(s3_client(), settings.results_bucket), today)
        for skipped in recent.skipped:
            logger.warning("run summary skipped", extra=skipped.to_payload())
        history = recent.runs
    config = plan(
        request.row_count,
        request.byte_size,
        limits=limits_from(settings),
        tolerated_failure_percentage=settings.tolerated_failure_percentage,
        history=history,
        target_seconds=settings.target_duration_seconds,
        max_items=settings.max_items_per_batch,
    )
    logger.info("run planned", extra=config.to_payload())
    return config.to_payload()
