"""Process one shard of a job's requests under its job type's rules (one Distributed Map child), from request
`StartAt` on, until done or the invocation's time runs short; the state machine calls it again from where it
stopped (`Done` false)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import JobRef, composition, logger, metrics, open_job, private_errors, traced


@dataclass(frozen=True)
class ShardItem:
    """The Map item ``{"DomainId","JobId","ShardIndex","ShardKey"}``, plus ``StartAt`` in a continuation."""

    job: JobRef
    shard_index: int
    shard_key: str
    start: int

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ShardItem:
        return cls(JobRef.from_event(event), int(event["ShardIndex"]), str(event.get("ShardKey", "")),
                   int(event.get("StartAt", 0)))


@dataclass(frozen=True)
class LambdaDeadline:
    context: LambdaContext

    def remaining_seconds(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = ShardItem.from_event(event)
    job_steps, job = open_job(item.job)
    root = composition()
    progress = job_steps.process_shard(job, item.shard_index, root.data_access(job), root.voiceprint_services,
                                       start=item.start, deadline=LambdaDeadline(context))
    metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=progress.processed)
    if not progress.done:
        logger.info("shard continues in another invocation", extra={"shard": item.shard_index,
                                                                    "next_request": progress.next_start})
    return {"DomainId": item.job.domain_id, "JobId": item.job.job_id, "ShardIndex": item.shard_index,
            "ShardKey": item.shard_key, "StartAt": progress.next_start, "Done": progress.done}
