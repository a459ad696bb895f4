"""Prepare: read and validate the manifest, write the shards, mark the job IN_PROGRESS."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import JobRef, composition, logger, metrics, open_job, private_errors, traced


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = JobRef.from_event(event)
    job_steps, job = open_job(ref)
    prepared = job_steps.prepare(job, composition().data_access(job))
    metrics.add_metric(name="RequestsReceived", unit=MetricUnit.Count, value=prepared.total_requests)
    return {"DomainId": ref.domain_id, "JobId": ref.job_id, "ShardsKey": prepared.shards_key,
            "ShardCount": prepared.shard_count}
