"""Enroll one shard of a job's requests (one Distributed Map child)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..voiceprint.engine import VoiceprintEngine
from .runtime import (
    JobRef,
    data_access,
    fraudster_store,
    limits,
    logger,
    metrics,
    open_job,
    settings,
    speaker_store,
    tracer,
)


@dataclass(frozen=True)
class ShardItem:
    job: JobRef
    shard_index: int

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ShardItem:
        return cls(JobRef.from_event(event), int(event["ShardIndex"]))


@cache
def engine() -> VoiceprintEngine:
    """Loaded once per container: the model stays warm across shards."""
    return VoiceprintEngine(max_file_bytes=limits().max_audio_file_bytes,
                            threads=settings().voiceprint_threads or None)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = ShardItem.from_event(event)
    job_steps, job = open_job(item.job)
    count = job_steps.enroll_shard(job, item.shard_index, data_access(job), speaker_store(), engine(),
                                   fraudsters=fraudster_store())
    metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=count)
    return {"ShardIndex": item.shard_index, "Requests": count}
