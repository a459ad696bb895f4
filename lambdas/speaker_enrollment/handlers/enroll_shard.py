"""Process one shard of a job's requests under its job type's rules (one Distributed Map child)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import JobRef, composition, logger, metrics, open_job, tracer


@dataclass(frozen=True)
class ShardItem:
    job: JobRef
    shard_index: int

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ShardItem:
        return cls(JobRef.from_event(event), int(event["ShardIndex"]))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = ShardItem.from_event(event)
    job_steps, job = open_job(item.job)
    root = composition()
    count = job_steps.process_shard(job, item.shard_index, root.data_access(job), root.voiceprint_services)
    metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=count)
    return {"ShardIndex": item.shard_index, "Requests": count}
