"""Finalize: merge the shards' results, write the output file, set the final status."""

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
    root = composition()
    done = job_steps.finalize(job, int(event["ShardCount"]), root.data_access(job), root.record_stores)
    metrics.add_metric(name=f"Jobs{done.status.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    return {"DomainId": ref.domain_id, "JobId": ref.job_id, "JobStatus": done.status.value}
