"""What every handler shares: Powertools, the composition root built once per container, the job reference."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..composition import Composition
from ..domain.shared.job import BatchJob
from ..domain.workflow.steps import JobSteps

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def composition() -> Composition:
    """Settings are read and validated here, at cold start: a missing or invalid variable fails the first
    invocation with a message naming it."""
    return Composition.from_env()


@dataclass(frozen=True)
class JobRef:
    """The state machine's job reference: ``{"DomainId": ..., "JobId": ...}``."""

    domain_id: str
    job_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> JobRef:
        return cls(str(event["DomainId"]), str(event["JobId"]))


def open_job(ref: JobRef) -> tuple[JobSteps, BatchJob]:
    """Correlate this invocation's logs with the job, and load the job."""
    bind_job(ref)
    steps = composition().steps
    return steps, steps.load(ref.domain_id, ref.job_id)


def bind_job(ref: JobRef) -> None:
    """Correlate every log line of this invocation with the job."""
    logger.append_keys(domain_id=ref.domain_id, job_id=ref.job_id)
    logger.set_correlation_id(ref.job_id)
    tracer.put_annotation("JobId", ref.job_id)
