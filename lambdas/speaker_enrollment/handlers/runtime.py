"""What every handler shares: Powertools, settings, and the adapters built once per container."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.dynamodb import (
    DynamoDomainStore,
    DynamoFraudsterStore,
    DynamoJobStore,
    DynamoSpeakerStore,
    DynamoWatchlistStore,
)
from ..adapters.s3 import S3DataAccess, S3Objects, S3WorkStore, data_access_client
from ..adapters.stepfunctions import StepFunctionsWorkflow
from ..domain.job import SpeakerEnrollmentJob
from ..domain.steps import JobSteps, Limits
from ..settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def now() -> float:
    return round(time.time(), 3)


@dataclass(frozen=True)
class JobRef:
    """The state machine's job reference: ``{"DomainId": ..., "JobId": ...}``."""

    domain_id: str
    job_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> JobRef:
        return cls(str(event["DomainId"]), str(event["JobId"]))


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return boto3.client(service)


def limits() -> Limits:
    s = settings()
    return Limits(s.max_requests_per_job, s.shard_size, s.speaker_quota, s.max_audio_file_bytes, s.fraudster_quota)


def steps() -> JobSteps:
    return JobSteps(job_store(), work_store(), limits(), now)


def job_store() -> DynamoJobStore:
    return DynamoJobStore(_client("dynamodb"), settings().jobs_table)


def domain_store() -> DynamoDomainStore:
    return DynamoDomainStore(_client("dynamodb"), settings().domains_table)


def speaker_store() -> DynamoSpeakerStore:
    return DynamoSpeakerStore(_client("dynamodb"), settings().speakers_table, settings().domains_table)


def watchlist_store() -> DynamoWatchlistStore:
    return DynamoWatchlistStore(_client("dynamodb"), settings().watchlists_table, settings().domains_table)


def fraudster_store() -> DynamoFraudsterStore:
    return DynamoFraudsterStore(_client("dynamodb"), settings().fraudsters_table, settings().watchlists_table)


def work_store() -> S3WorkStore:
    return S3WorkStore(_client("s3"), settings().work_bucket)


def inbox_objects() -> S3Objects:
    return S3Objects(_client("s3"))


def workflow() -> StepFunctionsWorkflow:
    return StepFunctionsWorkflow(_client("stepfunctions"), settings().state_machine_arn)


def data_access(job: SpeakerEnrollmentJob) -> S3DataAccess:
    """S3 access as the job's DataAccessRoleArn (fresh credentials per invocation)."""
    return S3DataAccess(data_access_client(job.data_access_role_arn, f"enrollment-{job.job_id}"))


def open_job(ref: JobRef) -> tuple[JobSteps, SpeakerEnrollmentJob]:
    """Correlate this invocation's logs with the job, and load the job."""
    bind_job(ref)
    job_steps = steps()
    return job_steps, job_steps.load(ref.domain_id, ref.job_id)


def bind_job(ref: JobRef) -> None:
    """Correlate every log line of this invocation with the job."""
    logger.append_keys(domain_id=ref.domain_id, job_id=ref.job_id)
    logger.set_correlation_id(ref.job_id)
    tracer.put_annotation("JobId", ref.job_id)
