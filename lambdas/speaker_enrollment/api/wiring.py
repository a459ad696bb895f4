"""``api_from_env()``: the API bound to the deployment's tables, state machine and token key (Settings)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import boto3

from ..adapters.dynamodb import (
    DynamoDomainStore,
    DynamoFraudsterStore,
    DynamoJobStore,
    DynamoSpeakerStore,
    DynamoWatchlistStore,
)
from ..adapters.kms import KmsMacSigner
from ..adapters.stepfunctions import StepFunctionsWorkflow
from ..domain.domain import Deployment
from ..domain.job import SpeakerEnrollmentJob
from ..settings import Settings
from .dispatcher import VoiceIdApi
from .services import ApiServices
from .tokens import PageTokens


def now() -> float:
    return round(time.time(), 3)


class _NoWorkflow:
    """Stands in when STATE_MACHINE_ARN is unset: accepted jobs stay SUBMITTED, and the log says why."""

    def start(self, job: SpeakerEnrollmentJob) -> None:
        raise RuntimeError(f"cannot run job {job.job_id}: STATE_MACHINE_ARN is not set")


def api_from_env(env: Mapping[str, str] | None = None) -> VoiceIdApi:
    """Build the API from the environment (docs/architecture.md). Build it once per container."""
    settings = Settings.from_env(env)
    dynamodb = boto3.client("dynamodb")
    workflow: Any = (StepFunctionsWorkflow(boto3.client("stepfunctions"), settings.state_machine_arn)
                     if settings.state_machine_arn else _NoWorkflow())
    signer = KmsMacSigner(boto3.client("kms"), settings.api_token_key_id) if settings.api_token_key_id else None
    services = ApiServices(
        domains=DynamoDomainStore(dynamodb, settings.domains_table, settings.watchlists_table),
        jobs=DynamoJobStore(dynamodb, settings.jobs_table),
        speakers=DynamoSpeakerStore(dynamodb, settings.speakers_table, settings.domains_table),
        watchlists=DynamoWatchlistStore(dynamodb, settings.watchlists_table, settings.domains_table),
        fraudsters=DynamoFraudsterStore(dynamodb, settings.fraudsters_table, settings.watchlists_table),
        workflow=workflow, tokens=PageTokens(signer, now), clock=now,
        deployment=Deployment(settings.region or dynamodb.meta.region_name, _account(settings)),
        speaker_quota=settings.speaker_quota, watchlist_quota=settings.watchlist_quota,
        fraudster_quota=settings.fraudster_quota,
    )
    return VoiceIdApi(services)


def _account(settings: Settings) -> str:
    return settings.account_id or str(boto3.client("sts").get_caller_identity()["Account"])
