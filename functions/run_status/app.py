"""RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED ("Step Functions Execution Status
Change" through EventBridge) gets its run summary and an alert. A run whose map failed (a batch
that did not commit, left uncaught so that a redrive restarts at the map) is aggregated from its
result files exactly as AggregateErrors would: counts, per-row dataset, audit repair. The summary
says whether a redrive can mend the run (``csv_dmap.logic.redrive``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from csv_dmap.aggregation import AggregateOptions, RunFacts, aggregate_run
from csv_dmap.audit import get_audit_writer
from csv_dmap.aws import s3_client, sns_client, stepfunctions_client
from csv_dmap.config import RunStatusSettings, load
from csv_dmap.errors import ConfigurationError
from csv_dmap.input_files import staged_facts
from csv_dmap.logic.aggregate import alert
from csv_dmap.logic.redrive import RestartPoint, redrive_blocker, restart_point
from csv_dmap.logic.run_status import (
    ENDED_STATUSES,
    REJECTION_ERRORS,
    ExecutionStatusChange,
    cause_text,
    ended_error,
    failure_summary,
    source_of,
    start_time_of,
    status_change_of,
)
from csv_dmap.models import RunConfig, RunSummary, ValidationResult
from csv_dmap.observability import logger, metrics, tracer
from csv_dmap.summaries import summary_key, write_summary

load(RunStatusSettings)  # cold start: a misconfigured function fails here, naming the variable

HISTORY_EVENTS = 100  # the newest events hold the state a redrive restarts at (the map's children are not in it)
# A Map Run can outlive its execution: it waits for EXPRESS children (at most 5 minutes each) and
# may still be writing its results (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
MAP_RUN_WAIT_SECONDS = 420
POLL_SECONDS = 10


def _existing_summary(s3: Any, bucket: str, key: str) -> RunSummary | None:
    """The summary already at ``key``; a damaged one is treated as absent (and replaced), named in the log."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        return RunSummary.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        logger.warning("damaged run summary replaced", extra={"key": key, "reason": str(exc).splitlines()[0]})
        return None


def _described(change: ExecutionStatusChange) -> ExecutionStatusChange:
    """Error, Cause and redriveCount are not in the event's documented schema (real events carry
    them): DescribeExecution has them. Locally, where Step Functions does not know the execution,
    the event's own fields stand."""
    if change.redrive_count is not None and (change.error or change.status != "FAILED"):
        return change
    try:
        described = stepfunctions_client().describe_execution(executionArn=change.execution_arn)
    except (ClientError, BotoCoreError) as exc:
        logger.info("execution not described", extra={"reason": str(exc)[:300]})
        return change.model_copy(update={"redrive_count": change.redrive_count or 0})
    return change.model_copy(
        update={
            "error": change.error or described.get("error"),
            "cause": change.cause or described.get("cause"),
            "redrive_count": int(described.get("redriveCount") or 0),
        }
    )


def _history(execution_arn: str) -> list[dict[str, Any]] | None:
    """The execution's newest history events (newest first), or None when Step Functions cannot
    tell (the local runner's executions are not in its history)."""
    try:
        answer = stepfunctions_client().get_execution_history(
            executionArn=execution_arn, reverseOrder=True, includeExecutionData=True, maxResults=HISTORY_EVENTS
        )
    except (ClientError, BotoCoreError) as exc:
        logger.info("no execution history", extra={"executionArn": execution_arn, "reason": str(exc)[:300]})
        return None
    events: list[dict[str, Any]] = answer.get("events", [])
    return events


def _wait_for_map_runs(execution_arn: str, context: LambdaContext) -> None:
    """Until the execution's Map Runs are no longer RUNNING (their results are written), or the
    wait's budget or the invocation's time is spent; then the result files are read as they are."""
    states = stepfunctions_client()
    deadline = time.monotonic() + MAP_RUN_WAIT_SECONDS
    while True:
        try:
            runs = states.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
            running = [
                r["mapRunArn"]
                for r in runs
                if states.describe_map_run(mapRunArn=r["mapRunArn"]).get("status") == "RUNNING"
            ]
        except (ClientError, BotoCoreError) as exc:
            logger.info("map runs not listed", extra={"reason": str(exc)[:300]})
            return
        if not running:
            return
        left = min(deadline - time.monotonic(), context.get_remaining_time_in_millis() / 1000 - 300)
        if left <= 0:
            logger.warning("map runs still running: their results may be incomplete", extra={"mapRuns": running})
            return
        time.sleep(min(POLL_SECONDS, left))


def _state_input(point: RestartPoint | None) -> tuple[ValidationResult | None, RunConfig | None]:
    """ValidateInput's and DetermineConcurrency's results, from the input of the state the run
    stopped in (the map, or a state after it)."""
    try:
        data = json.loads(point.input or "") if point else None
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    try:
        validation = ValidationResult.model_validate(data["validation"]) if "validation" in data else None
        config = RunConfig.model_validate(data["config"]) if "config" in data else None
    except ValidationError:
        return None, None
    return validation, config


def _staged(bucket: str, execution_name: str) -> ValidationResult | None:
    """ValidateInput's counts from its copy's metadata, when the history did not give them."""
    if not bucket:
        return None
    try:
        return staged_facts(s3_client(), bucket, execution_name)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("no validation facts", extra={"reason": str(exc)[:300]})
        return None


def _aggregated(
    change: ExecutionStatusChange, settings: RunStatusSettings, point: RestartPoint | None, now: datetime
) -> RunSummary:
    validation, config = _state_input(point)
    bucket, key = source_of(change)
    validation = validation or _staged(bucket, change.name)
    error = ended_error(change)
    facts = RunFacts(
        execution_name=change.name,
        start_time=start_time_of(change),
        source_bucket=bucket,
        source_key=key,
        validation=validation,
        config=config,
        redrive_count=change.redrive_count or 0,
        map_result={"Error": error, "Cause": cause_text(change.cause), **({"State": point.state} if point else {})},
    )
    options = AggregateOptions(
        report_timezone=settings.report_timezone,
        tolerated_failure_percentage=config.tolerated_failure_percentage
        if config
        else settings.tolerated_failure_percentage,
        medium_ratio=settings.severity_medium_ratio,
        row_results_part_rows=settings.row_results_part_rows,
        audit_ttl_days=settings.audit_ttl_days,
    )
    assert settings.results_bucket is not None
    ended = datetime.fromtimestamp(change.stop_date / 1000, tz=UTC) if change.stop_date else now
    done = aggregate_run(
        s3_client(),
        settings.results_bucket,
        facts,
        options,
        now=ended,
        audit=get_audit_writer(),
        written_by="RunStatus",
    )
    summary = done.summary
    summary.status = change.status  # FAILED, TIMED_OUT or ABORTED: the execution's own
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(RunStatusSettings)
    if not settings.results_bucket:
        raise ConfigurationError("RESULTS_BUCKET is not set")
    change = status_change_of(event)
    if change.status not in ENDED_STATUSES:  # RUNNING (a start or a redrive), SUCCEEDED: nothing to do
        logger.info("status change ignored", extra={"executionName": change.name, "status": change.status})
        return {"executionName": change.name, "status": change.status, "ignored": True}
    change = _described(change)
    now = datetime.now(UTC)
    history = _history(change.execution_arn)
    point = restart_point(history) if history is not None else None
    s3 = s3_client()
    key = summary_key(failure_summary(change, report_timezone=settings.report_timezone, now=now))
    uri = f"s3://{settings.results_bucket}/{key}"
    existing = _existing_summary(s3, settings.results_bucket, key)
    kept = (
        existing is not None
        and existing.written_by == "AggregateErrors"
        and (existing.redrive_count == (change.redrive_count or 0))
    )
    if kept:
        assert existing is not None
        summary = existing  # the run ended in RunFailed after AggregateErrors counted it
    elif change.error in REJECTION_ERRORS:
        summary = failure_summary(change, report_timezone=settings.report_timezone, now=now)
    else:
        _wait_for_map_runs(change.execution_arn, context)
        summary = _aggregated(change, settings, point, now)
    if history is not None:
        summary.redrivable = redrive_blocker(change.name, change.status, change.error, point) is None
    alerted = summary.alert_sent if kept else False
    if not alerted and settings.alert_topic_arn:
        subject, message = alert(summary, uri, change.execution_arn)
        sns_client().publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)
        summary.alert_sent = True
    if not kept or not alerted:
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
            "restartState": point.state if point else None,
            "redrivable": summary.redrivable,
            "summaryWritten": not kept,
            "alertSent": not alerted and summary.alert_sent,
        },
    )
    return {
        "executionName": change.name,
        "status": summary.status,
        "summaryUri": uri,
        "summaryWritten": not kept,
        "alertSent": not alerted and summary.alert_sent,
        "redrivable": summary.redrivable,
    }
