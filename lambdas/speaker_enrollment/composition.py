"""The composition root: every adapter and domain service a function uses, built once per container from
validated settings. The workflow's handlers and the Voice ID API both take what they need from here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import boto3

from .adapters.dynamodb import (
    DynamoDomainStore,
    DynamoFraudsterStore,
    DynamoJobStore,
    DynamoSessionStore,
    DynamoSpeakerStore,
    DynamoWatchlistStore,
)
from .adapters.dynamodb.partition import DynamoPartition
from .adapters.iam import IamPolicySimulator
from .adapters.kms import KmsMacSigner
from .adapters.s3 import (
    DataAccessSession,
    InboxPrefix,
    S3DataAccess,
    S3Objects,
    S3SessionInbox,
    S3WorkStore,
    data_access_client,
)
from .adapters.stepfunctions import StepFunctionsMaintenance, StepFunctionsWorkflow
from .adapters.voiceprint_cipher import KmsVoiceprintCipher
from .api.authorization import DECISION_CACHE_SIZE, DECISION_TTL_SECONDS, Authorizer, DecisionCache, IamAuthorizer
from .api.dispatcher import VoiceIdApi
from .api.services import ApiServices
from .api.tokens import PageTokens
from .domain.admin.expiry import ExpireSpeakers
from .domain.admin.maintenance import DomainTask, MaintenanceStarter, tasks_by_name
from .domain.admin.purge import PurgeDomain
from .domain.admin.reencrypt import ReencryptVoiceprints
from .domain.admin.sweep import MaintenanceSweep
from .domain.ports import DomainData
from .domain.shared.domain import Deployment
from .domain.shared.job import BatchJob
from .domain.workflow.jobtype import Limits, RecordStores
from .domain.workflow.kinds import JOB_TYPES
from .domain.workflow.sessions import ERROR_TAG, SESSION_UPLOAD_PREFIX, SessionEvaluator, SessionLimits
from .domain.workflow.steps import JobSteps, VoiceprintServices
from .domain.workflow.submission import Submitter, UploadDefaults
from .settings import Settings
from .voiceprint.engine import VoiceprintEngine

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_stepfunctions.client import SFNClient
    from mypy_boto3_sts.client import STSClient


class ClientFactory(Protocol):
    """``boto3.client(service)`` for the services the functions use, typed per service."""

    @overload
    def __call__(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def __call__(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def __call__(self, service: Literal["kms"]) -> KMSClient: ...
    @overload
    def __call__(self, service: Literal["sts"]) -> STSClient: ...
    @overload
    def __call__(self, service: Literal["iam"]) -> IAMClient: ...


def now() -> float:
    return round(time.time(), 3)


@cache
def _boto3_client(service: str) -> Any:
    # boto3 itself is untyped here (only the service stubs are installed): ClientFactory says what each
    # service's client is, and a client made by boto3.client(service) is exactly that.
    return boto3.client(service)


class Composition:
    """What the functions are made of. Nothing is built before it is first asked for, so each function only
    builds (and is only granted) what it uses."""

    def __init__(self, settings: Settings, client: ClientFactory = _boto3_client,
                 clock: Callable[[], float] = now, *, authorizer: Authorizer | None = None) -> None:
        """`authorizer` replaces IAM authorization of the API (the local runtime's open mode): code decides it,
        never a setting or a request."""
        self.settings = settings
        self._client = client
        self.clock = clock
        self._authorizer_override = authorizer
        self.job_types = JOB_TYPES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Composition:
        return cls(Settings.from_env(env))

    # ---------------------------------------------------------------------------------------- stores

    @cached_property
    def jobs(self) -> DynamoJobStore:
        return DynamoJobStore(self._client("dynamodb"), self.settings.jobs_table, self.job_types)

    @cached_property
    def domains(self) -> DynamoDomainStore:
        s = self.settings
        return DynamoDomainStore(self._client("dynamodb"), s.domains_table, s.watchlists_table)

    @cached_property
    def speakers(self) -> DynamoSpeakerStore:
        s = self.settings
        return DynamoSpeakerStore(self._client("dynamodb"), s.speakers_table, s.domains_table, self.cipher)

    @cached_property
    def watchlists(self) -> DynamoWatchlistStore:
        s = self.settings
        return DynamoWatchlistStore(self._client("dynamodb"), s.watchlists_table, s.domains_table)

    @cached_property
    def fraudsters(self) -> DynamoFraudsterStore:
        s = self.settings
        return DynamoFraudsterStore(self._client("dynamodb"), s.fraudsters_table, s.watchlists_table, self.cipher)

    @cached_property
    def cipher(self) -> KmsVoiceprintCipher:
        """Voiceprints sealed under their domain's KMS key (data keys cached per container, bounded)."""
        return KmsVoiceprintCipher(self._client("kms"), self._domain_key,
                                   max_age_seconds=self.settings.tunables.voiceprint_key_cache_seconds)

    def _domain_key(self, domain_id: str) -> str:
        """The domain's KmsKeyId (every domain has one: CreateDomain requires it); the stack's key for a record
        whose domain is gone."""
        domain = self.domains.get(domain_id)
        return domain.kms_key_id if domain is not None and domain.kms_key_id else self.settings.kms_key_id

    @cached_property
    def work(self) -> S3WorkStore:
        return S3WorkStore(self._client("s3"), self.settings.work_bucket)

    @cached_property
    def inbox(self) -> S3Objects:
        return S3Objects(self._client("s3"))

    def data_access(self, job: BatchJob) -> S3DataAccess:
        """S3 access as the job's DataAccessRoleArn (fresh credentials per invocation), asked for with this
        deployment's ExternalId and the job's DomainId and JobId as session tags."""
        session = DataAccessSession(job.data_access_role_arn, self.settings.required("data_access_external_id"),
                                    job.domain_id, job.job_id)
        return S3DataAccess(data_access_client(session))

    # ------------------------------------------------------------------------------------- workflow

    @cached_property
    def limits(self) -> Limits:
        t = self.settings.tunables
        return Limits(t.max_requests_per_job, t.shard_size, t.speaker_quota, t.max_audio_file_bytes,
                      t.fraudster_quota, t.max_speech_seconds, t.min_evaluation_speech_seconds)

    @cached_property
    def steps(self) -> JobSteps:
        return JobSteps(self.jobs, self.work, self.job_types, self.limits, self.clock)

    @cached_property
    def engine(self) -> VoiceprintEngine:
        """Loaded once per container: the model stays warm across shards."""
        t = self.settings.tunables
        return VoiceprintEngine(max_file_bytes=t.max_audio_file_bytes, threads=t.voiceprint_threads or None)

    @cached_property
    def record_stores(self) -> RecordStores:
        return RecordStores(self.speakers, self.fraudsters)

    @cached_property
    def voiceprint_services(self) -> VoiceprintServices:
        return VoiceprintServices(self.record_stores, self.engine, self.cipher)

    @cached_property
    def workflow(self) -> StepFunctionsWorkflow:
        return StepFunctionsWorkflow(self._client("stepfunctions"), self.settings.required("state_machine_arn"))

    @cached_property
    def submitter(self) -> Submitter:
        return Submitter(self.jobs, self.domains, self.watchlists, self.workflow, self.clock)

    @cached_property
    def upload_defaults(self) -> UploadDefaults:
        s = self.settings
        return UploadDefaults(s.output_bucket, s.kms_key_id, s.default_data_access_role_arn)

    # ----------------------------------------------------------------------------------- maintenance

    @cached_property
    def maintenance_tasks(self) -> dict[str, DomainTask]:
        """The background tasks over a domain's data, by name (the maintenance workflow's input)."""
        return dict(tasks_by_name(self.reencrypt, self.purge, self.expire))

    @cached_property
    def reencrypt(self) -> ReencryptVoiceprints:
        return ReencryptVoiceprints(self.domains, (self.speakers, self.fraudsters), self.cipher)

    @cached_property
    def purge(self) -> PurgeDomain:
        s, db = self.settings, self._client("dynamodb")
        places: list[DomainData] = [DynamoPartition(db, s.speakers_table, "CustomerSpeakerId", "Speakers"),
                                    DynamoPartition(db, s.fraudsters_table, "GeneratedFraudsterId", "Fraudsters"),
                                    DynamoPartition(db, s.watchlists_table, "WatchlistId", "Watchlists"),
                                    DynamoPartition(db, s.required("sessions_table"), "SessionId", "Sessions")]
        prefixes = [*(job_type.upload_prefix for job_type in self.job_types), SESSION_UPLOAD_PREFIX]
        places += [InboxPrefix(self._client("s3"), s.inbox_bucket, prefix) for prefix in prefixes]
        return PurgeDomain(self.domains, self.jobs, self.workflow, (self.jobs, self.work), places,
                           DynamoPartition(db, s.jobs_table, "JobId", "Jobs"), self.clock)

    @cached_property
    def expire(self) -> ExpireSpeakers:
        return ExpireSpeakers(self.speakers, self.settings.tunables.speaker_retention_days, self.clock)

    @cached_property
    def maintenance(self) -> MaintenanceStarter:
        """Tasks run in the background, as executions of the DomainMaintenance workflow."""
        return StepFunctionsMaintenance(self._client("stepfunctions"),
                                        self.settings.required("maintenance_state_machine_arn"), self.clock)

    @cached_property
    def sweep(self) -> MaintenanceSweep:
        return MaintenanceSweep(self.domains, self.maintenance, self.clock)

    # ------------------------------------------------------------------------------------- sessions

    @cached_property
    def sessions(self) -> DynamoSessionStore:
        return DynamoSessionStore(self._client("dynamodb"), self.settings.required("sessions_table"))

    @cached_property
    def session_evaluator(self) -> SessionEvaluator:
        t = self.settings.tunables
        limits = SessionLimits(t.max_audio_file_bytes, t.session_retention_days * 86_400.0,
                               min_speech_seconds=t.min_evaluation_speech_seconds)
        return SessionEvaluator(self.sessions, self.domains, self.watchlists, self.speakers, self.fraudsters,
                                S3SessionInbox(self._client("s3"), ERROR_TAG), self.engine, limits, self.clock)

    # ------------------------------------------------------------------------------------------ API

    @cached_property
    def api(self) -> VoiceIdApi:
        s = self.settings
        signer = KmsMacSigner(self._client("kms"), s.required("api_token_key_id"))
        t = s.tunables
        return VoiceIdApi(ApiServices(
            domains=self.domains, jobs=self.jobs, speakers=self.speakers, watchlists=self.watchlists,
            fraudsters=self.fraudsters, submitter=self.submitter, tokens=PageTokens(signer, self.clock),
            clock=self.clock, deployment=self._deployment(), speaker_quota=t.speaker_quota,
            watchlist_quota=t.watchlist_quota, fraudster_quota=t.fraudster_quota, keys=self.cipher,
            maintenance=self.maintenance,
            sessions=self.sessions if s.sessions_table else None,
        ), authorizer=self.authorizer)

    @cached_property
    def authorizer(self) -> Authorizer:
        """Every API request as Voice ID's IAM action, simulated for its caller (decisions cached briefly)."""
        if self._authorizer_override is not None:
            return self._authorizer_override
        return IamAuthorizer(IamPolicySimulator(self._client("iam")), self._deployment(),
                             DecisionCache(DECISION_TTL_SECONDS, DECISION_CACHE_SIZE, time.monotonic))

    def _deployment(self) -> Deployment:
        s = self.settings
        region = s.region or self._client("dynamodb").meta.region_name
        account = s.account_id or str(self._client("sts").get_caller_identity()["Account"])
        return Deployment(region, account)


def api_from_env(env: Mapping[str, str] | None = None, *, authorizer: Authorizer | None = None) -> VoiceIdApi:
    """The Voice ID API bound to the deployment (build it once per container); IAM-authorized unless the caller
    (code, never configuration) passes another `authorizer`."""
    return Composition(Settings.from_env(env), authorizer=authorizer).api
