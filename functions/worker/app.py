"""Worker of the Distributed Map: applies one ItemBatcher batch to the database
and writes its audit records; with ``Failure`` in the event, reconciles a batch
whose attempts all failed (``BatchNotApplied`` when it never committed). Parse,
call, shape; the logic is in the layer."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_dmap.audit import get_audit_writer
from csv_dmap.config import WorkerSettings, load
from csv_dmap.db import get_repository
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import WorkerEvent
from csv_dmap.observability import logger, metrics, tracer

load(WorkerSettings)  # cold start: a misconfigured function fails here, naming the variable


@logger.inject_lambda_context(correlation_id_path="BatchInput.executionName", log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = WorkerEvent.model_validate(event)
    settings = load(WorkerSettings)
    output = apply_batch(
        batch,
        get_repository(),
        get_audit_writer(),
        unknown_user_policy=settings.unknown_user_policy,
        audit_ttl_days=settings.audit_ttl_days,
    )
    metrics.add_metric(name="WorkerBatches", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="WorkerRowsApplied", unit=MetricUnit.Count, value=output.counts.applied)
    metrics.add_metric(name="WorkerRowsFailed", unit=MetricUnit.Count, value=output.counts.failed)
    if output.counts.audit_missing:  # rows whose audit items DynamoDB refused to the last attempt
        metrics.add_metric(name="WorkerRowsAuditMissing", unit=MetricUnit.Count, value=output.counts.audit_missing)
        logger.warning("audit items missing", extra={"firstIndex": output.first_index, **output.counts.to_dict()})
    logger.info(
        "batch reconciled" if batch.failure else "batch applied",
        extra={
            "firstIndex": output.first_index,
            **output.counts.to_dict(),
            **({"batchError": batch.failure.error} if batch.failure else {}),
        },
    )
    return output.to_payload()
